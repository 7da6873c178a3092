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
