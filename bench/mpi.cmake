# The Open MPI peer of `scaleout bench allreduce`: bench/mpi_allreduce.c built as its own MPI
# program, build/bench/so_mpi_allreduce, when find_package(MPI) found a C MPI (top CMakeLists).
# The scaleout tool learns its path (SO_MPI_PEER) for `scaleout bench allreduce --vs-mpi`.
# The same source is compiled into the scaleout tool too (every C file of bench/ is), where it is
# empty because SO_MPI_PEER_MAIN is not defined there.
if(MPI_C_FOUND)
  add_executable(so_mpi_allreduce ${CMAKE_CURRENT_LIST_DIR}/mpi_allreduce.c)
  target_compile_definitions(so_mpi_allreduce PRIVATE SO_MPI_PEER_MAIN=1)
  target_link_libraries(so_mpi_allreduce PRIVATE MPI::MPI_C)
  # Open MPI's headers are not -Wpedantic/-Wundef clean; the peer is not our code's style gate.
  target_compile_options(so_mpi_allreduce PRIVATE -Wno-pedantic -Wno-undef)
  # Open MPI leaks by design at exit; under SO_SANITIZE the peer stays uninstrumented.
  if(SO_SANITIZE)
    target_compile_options(so_mpi_allreduce PRIVATE -fno-sanitize=all)
    target_link_options(so_mpi_allreduce PRIVATE -fno-sanitize=all)
  endif()
  target_compile_definitions(scaleout PRIVATE SO_MPI_PEER="$<TARGET_FILE:so_mpi_allreduce>")
  add_dependencies(scaleout so_mpi_allreduce)
endif()
