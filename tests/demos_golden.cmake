# Golden tests of the library code behind the chapter 1, 2, 3 and 5 demos (dist.h, harness.h):
# the book's exact numbers through the demos' functions, and their invariants on real processes.
so_add_test(NAME demos_ch01_05 SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden/test_demos_ch01_05.c
            ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c
            LIBS so_infra so_model so_data so_coll so_comm LABELS golden TIMEOUT 60
            CASES md5 shards hashing bsp_pyr vclock gossip_k8 fixed_order_k4 raft_k3 raft_k5 scaling_study mm1 batchq
                  sum_orders moe_533 env_json trials)
