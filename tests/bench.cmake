# Benchmark machinery and smoke runs. These check correctness only (#wrong == 0, exit 0), never
# timing: a benchmark is not a test. The smoke runs use tiny sweeps with fixed iteration counts.
so_add_test(NAME bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_bench.c
            ${PROJECT_SOURCE_DIR}/bench/bench_common.c
            LIBS so_coll so_comm
            CASES check_matches_kernels check_offset sweep flags labels_and_factors)
target_include_directories(test_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench)

# `scaleout bench <coll> -n 2` over each transport, every algorithm of the collective, a few
# sizes (odd ones too); the bench exits 1 if any row has #wrong > 0.
foreach(tr tcp shm)
  foreach(coll allreduce reducescatter allgather alltoall bcast)
    add_test(NAME bench_smoke.${coll}.${tr}
             COMMAND scaleout bench ${coll} -n 2 --transport ${tr} --algo all
                     --sizes 8,100,4K,200000 --iters 3 --warmup 1 --no-model)
    set_tests_properties(bench_smoke.${coll}.${tr} PROPERTIES LABELS "multiproc" TIMEOUT 60
                         PROCESSORS 2 PASS_REGULAR_EXPRESSION "no wrong elements in all")
  endforeach()
  add_test(NAME bench_smoke.pingpong.${tr}
           COMMAND scaleout bench pingpong -n 2 --transport ${tr} --sizes 8,4K,64K --iters 5)
  set_tests_properties(bench_smoke.pingpong.${tr} PROPERTIES LABELS "multiproc" TIMEOUT 60
                       PROCESSORS 2 PASS_REGULAR_EXPRESSION "fit t = alpha")
endforeach()
# Odd group size and another dtype/op: 3 ranks, i32 max, reduce-scatter rounding to blocks.
add_test(NAME bench_smoke.allreduce.tcp3_i32_max
         COMMAND scaleout bench allreduce -n 3 --transport tcp --algo all --dtype i32 --op max
                 --sizes 4,1000,65536 --iters 2 --warmup 0 --no-model)
set_tests_properties(bench_smoke.allreduce.tcp3_i32_max PROPERTIES LABELS "multiproc" TIMEOUT 60
                     PROCESSORS 2 PASS_REGULAR_EXPRESSION "no wrong elements in all")
add_test(NAME bench_smoke.memcpy COMMAND scaleout bench memcpy --min 1M --max 2M)
set_tests_properties(bench_smoke.memcpy PROPERTIES LABELS "unit" TIMEOUT 60
                     PASS_REGULAR_EXPRESSION "2MiB")
# The Open MPI peer, same tiny sweep, when it was built (and mpirun exists).
if(TARGET so_mpi_allreduce)
  find_program(SO_MPIRUN NAMES mpirun)
  if(SO_MPIRUN)
    add_test(NAME bench_smoke.mpi_allreduce
             COMMAND ${SO_MPIRUN} --allow-run-as-root --oversubscribe -np 2
                     --mca oob_tcp_if_include lo $<TARGET_FILE:so_mpi_allreduce>
                     --sizes 8,100,4K,200000 --iters 3 --warmup 1)
    set_tests_properties(bench_smoke.mpi_allreduce PROPERTIES LABELS "mpi" TIMEOUT 60
                         PROCESSORS 2 PASS_REGULAR_EXPRESSION "no wrong elements in all")
    # `--vs-mpi`: ours, then the peer on the same sizes, then the comparison table.
    add_test(NAME bench_smoke.vs_mpi
             COMMAND scaleout bench allreduce -n 2 --transport tcp --sizes 8,4K --iters 3
                     --warmup 1 --no-model --vs-mpi)
    set_tests_properties(bench_smoke.vs_mpi PROPERTIES LABELS "mpi" TIMEOUT 60 PROCESSORS 2
                         PASS_REGULAR_EXPRESSION "ours vs Open MPI.*4KiB")
  endif()
endif()
