so_add_test(NAME core SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_core.c
            CASES errors dtype_half reduce sizes params)
