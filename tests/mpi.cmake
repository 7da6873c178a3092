# The mpi transport under mpirun (src/comm/mpi): the collective matrix with SO_TRANSPORT=mpi and
# with the default (shm on one host) at np 3 and 4, a rank that exits abruptly, ranks that call
# different collectives, and a program that initialised MPI itself. Built only
# when find_package(MPI) found Open MPI; the script skips (77) without mpirun at run time.
if(MPI_C_FOUND)
  add_executable(mpi_coll_matrix ${CMAKE_CURRENT_LIST_DIR}/multiproc/mpi_coll_matrix.c)
  target_link_libraries(mpi_coll_matrix PRIVATE so_coll so_comm so_core)
  foreach(spec "matrix_np4_mpi;4;mpi" "matrix_np3_mpi;3;mpi" "matrix_np4_shm;4;shm"
               "matrix_np3_shm;3;shm" "fault_np4;4;fault" "desync_np3;3;desync"
               "appinit_np3;3;appinit")
    list(GET spec 0 name)
    list(GET spec 1 np)
    list(GET spec 2 mode)
    add_test(NAME mpi.${name} COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/multiproc/mpi_run.sh
                                      $<TARGET_FILE:mpi_coll_matrix> ${np} ${mode})
    set_tests_properties(mpi.${name} PROPERTIES TIMEOUT 120 LABELS "mpi;multiproc"
                         SKIP_RETURN_CODE 77 PROCESSORS 2)
  endforeach()
endif()

# Across namespace hosts (root; skips otherwise): shm within a host, mpi across; and all-mpi.
if(MPI_C_FOUND)
  add_test(NAME netns.mpi_comm COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/netns/netns_mpi_comm.sh
                                       $<TARGET_FILE:mpi_coll_matrix>
                                       ${PROJECT_SOURCE_DIR}/scripts/netns-hosts.sh)
  set_tests_properties(netns.mpi_comm PROPERTIES TIMEOUT 200 LABELS "netns;multiproc;mpi"
                       SKIP_RETURN_CODE 77 PROCESSORS 2)
endif()
