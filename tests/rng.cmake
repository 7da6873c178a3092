# Random numbers and statistics (src/core/rng.c, mt19937.c, stats.c, hist.c, progress.c).
so_add_test(NAME rng SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_rng.c
            CASES cpython_vectors live_python mt_known mt_state rng_basic rng_unbiased rng_streams
                  rng_normal rng_shuffle book_bsp)
target_compile_definitions(test_rng PRIVATE SO_GOLDEN_DIR="${CMAKE_CURRENT_LIST_DIR}/golden")
so_add_test(NAME stats SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_stats.c
            CASES percentile_numpy percentile_inplace_random moments hist_layout hist_percentiles
                  summary progress_format)
