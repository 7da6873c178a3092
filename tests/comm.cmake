# Tests of the process group (src/comm): the stores, point-to-point over every transport, and
# the failure model. Multi-process cases fork their ranks through tests/so_test_ranks.c.
so_add_test(NAME store SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_store.c LIBS so_comm
            CASES file tcp malformed_frame random_frames LABELS unit tsan TIMEOUT 60)
so_add_test(NAME comm SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_comm.c
            ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c LIBS so_comm
            CASES ring1_tcp ring2_tcp ring3_tcp ring4_tcp ring8_tcp ring2_shm ring4_shm ring3_auto
                  big_tcp big_shm reduce_tcp reduce_shm many_tcp many_shm split_tcp async_tcp
                  mixed_auto recreate_tcp
            LABELS multiproc tsan TIMEOUT 120)
so_add_test(NAME comm_fault SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_comm_fault.c
            ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c LIBS so_comm
            CASES killed_mid_transfer never_sends desync poisoned_fast abort_then_regroup
                  init_from_env_torchrun dies_during_create init_from_env_mpi
                  stray_connection killed_mid_transfer_shm never_sends_shm desync_shm
                  abort_then_regroup_shm hang_names_culprit
            LABELS multiproc tsan TIMEOUT 90)
