# ml kernels and models (src/ml/kernels, src/ml/nn): unit tests, gradient checks, model tests.
# The kernels are hot loops that gcc vectorises only at -O3; with SO_NATIVE (default ON) they are
# also built for this machine's vector ISA (AVX-512 on the project's Zen 4 hosts). The flags apply
# to so_ml alone.
option(SO_NATIVE "Build the ml kernels with -march=native" ON)
get_target_property(so_ml_kind so_ml TYPE)
if(NOT so_ml_kind STREQUAL "INTERFACE_LIBRARY")
  target_compile_options(so_ml PRIVATE -O3 -fno-math-errno -fno-trapping-math -ffp-contract=fast -fopenmp-simd)
  if(SO_NATIVE)
    target_compile_options(so_ml PRIVATE -march=native)
  endif()
endif()

so_add_test(NAME ml_gradcheck SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_gradcheck.c LIBS so_ml m
            CASES linear layernorm rmsnorm gelu silu softmax attention attention_gqa embedding
                  crossentropy gpt gpt_gqa_rms gpt_threads
            TIMEOUT 60)
so_add_test(NAME ml_kernels SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_kernels.c LIBS so_ml m
            CASES sgemm sgemm_c matmul vmath attention_fast attention_cached pool_determinism
                  pool_fork TIMEOUT 60)
so_add_test(NAME ml_models SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_models.c LIBS so_ml m
            CASES gpt_params gpt_errors gpt_pieces gpt_memorize mlp_blobs mlp_mse logreg linreg
                  small_gradcheck
            TIMEOUT 60)
