# Tests of the data and training stack: optimizers, checkpoints, datasets, tokenizers, train CLI.
so_add_test(NAME optim SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_optim.c LIBS so_ml
            CASES sgd adam adamw adagrad adagrad_row lars lamb schedule clip resume errors)
so_add_test(NAME ckpt SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_ckpt.c LIBS so_ml
            CASES crc32 roundtrip errors corrupt fuzz atomic kill_during_save resume st_roundtrip
                  st_reject st_fuzz)
so_add_test(NAME data SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_data.c LIBS so_data
            CASES load malformed split_scale batcher corpus lm_batch entropy)
so_add_test(NAME tokenizer SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_tokenizer.c LIBS so_data
            CASES byte bpe_known bpe_fortunes save_load load_fuzz)
# The train command line: loss decreases, stop + resume in a new process == straight run (cmp of
# the checkpoints), clear errors for corrupt/truncated checkpoints and missing data.
add_test(NAME train_cli.all COMMAND ${CMAKE_CURRENT_LIST_DIR}/shell/train_cli.sh $<TARGET_FILE:scaleout>)
set_tests_properties(train_cli.all PROPERTIES TIMEOUT 120 LABELS "unit;cli" SKIP_RETURN_CODE 77)
