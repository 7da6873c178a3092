# The shared-memory transport (src/comm/shm/), driven directly by forked ranks.
so_add_test(NAME shm
            SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_shm.c
                    ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_shm_harness.c
            LIBS so_comm
            CASES sizes sizes_small_ring fifo bidir pairs3 pairs4 pairs8 reduce2 reduce3 reduce4
                  desync killed_sender killed_receiver timeout interrupt notify peer_closed
                  setup_deadline
            LABELS multiproc tsan
            TIMEOUT 120)

# Throwaway measurements (not a test, not built by default):
#   cmake --build build --target shm_bench && build/tests/shm_bench [ranks] | shm_bench comm [ranks]
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_shm_bench.c)
  add_executable(shm_bench EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_shm_bench.c
                           ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_shm_harness.c
                           ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c)
  target_include_directories(shm_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(shm_bench PRIVATE so_coll so_comm so_core)
endif()

# The same transport under so_comm (so_test_ranks over "shm"), failure model included.
so_add_test(NAME shm_comm
            SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_shm_comm.c
                    ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c
            LIBS so_comm
            CASES allreduce2 allreduce3 allreduce4 killed abort
            LABELS multiproc tsan
            TIMEOUT 120)
