// AVX2 + FMA build of kernels_impl.inc (compiled with -mavx2 -mfma).
#define KAN_ISA avx2
#define KAN_ISA_NAME "avx2"
#include "kernels_impl.inc"
