// Portable build of kernels_impl.inc: the architecture's baseline (SSE2 on x86-64, NEON on arm64).
#define KAN_ISA base
#define KAN_ISA_NAME "baseline"
#include "kernels_impl.inc"
