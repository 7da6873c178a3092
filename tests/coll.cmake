# Collectives (src/coll): one CTest case per (transport, world size) of the all-reduce matrix,
# plus one per feature. Each case forks its ranks (tests/so_test_ranks.c).
so_add_test(NAME coll
            SOURCES ${CMAKE_CURRENT_LIST_DIR}/multiproc/test_coll.c
                    ${CMAKE_CURRENT_LIST_DIR}/so_test_ranks.c
            LIBS so_coll so_comm
            CASES matrix_tcp_1 matrix_tcp_2 matrix_tcp_3 matrix_tcp_4 matrix_tcp_5 matrix_tcp_8
                  matrix_shm_1 matrix_shm_2 matrix_shm_3 matrix_shm_4 matrix_shm_5 matrix_shm_8
                  ops_dtypes bf16_accumulates_in_f32 rs_ag rs_ag_equals_ring alltoall rooted
                  barrier subgroups nonblocking counters model_golden selector alpha_beta_knob
                  edge desync multihost ring_chunks
            LABELS multiproc TIMEOUT 120)
