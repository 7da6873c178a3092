# Data-parallel machinery (src/parallel): the gradient reducer against plain all-reduce, its
# overlap accounting and its errors, on forked ranks; and the gnuplot helper (bench/plot.c) and
# Chrome-trace writer (bench/trace.c) that the benchmarks and demos draw with.
so_add_test(NAME parallel
            SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_parallel.c
                    ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c
            LIBS so_parallel so_coll so_comm
            CASES bitwise_tcp_2 bitwise_tcp_3 bitwise_tcp_4 bitwise_shm_2 bitwise_shm_3
                  bitwise_shm_4 accounting errors peer_dies
            LABELS multiproc TIMEOUT 120)
so_add_test(NAME plot
            SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_plot.c ${PROJECT_SOURCE_DIR}/bench/plot.c
                    ${PROJECT_SOURCE_DIR}/bench/trace.c
            CASES csv png trace
            LABELS unit TIMEOUT 60)
target_include_directories(test_plot PRIVATE ${PROJECT_SOURCE_DIR}/bench)
