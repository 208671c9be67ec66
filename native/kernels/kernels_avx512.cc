// AVX-512 build of kernels_impl.inc (compiled with -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma).
#define KAN_ISA avx512
#define KAN_ISA_NAME "avx512"
#include "kernels_impl.inc"
