# The book's analytical models (src/model/): every DET number of chapters 1-5 as a golden test.
so_add_test(NAME models_ch01_05 SOURCES ${CMAKE_CURRENT_LIST_DIR}/golden/test_models_ch01_05.c
            LIBS so_model LABELS golden
            CASES ch01 ch02 ch03_speedup ch03_cost ch03_workdepth_roofline ch03_ring ch04_costs
                  ch04_allreduce ch04_bucket ch05 helpers)
# The CLI prints the same numbers: `scaleout model all` checked against the book's printed digits.
add_test(NAME model_cli.all COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/golden/model_cli_check.sh
         $<TARGET_FILE:scaleout>)
set_tests_properties(model_cli.all PROPERTIES LABELS golden TIMEOUT 60 SKIP_RETURN_CODE 77)
