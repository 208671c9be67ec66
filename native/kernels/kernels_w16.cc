// The AVX-512 path's kernel code at 16 lanes, on AVX2 + FMA (compiled with -mavx2 -mfma -O1): each
// 16-lane vector a pair of AVX2 vectors (simd.h, KAN_EMU16). A testing path: it lets the tests run
// the VW = 16 code (panel widths, tile shapes, tails) on CPUs without AVX-512; never chosen
// automatically.
#define KAN_EMU16 1
#define KAN_ISA w16
#define KAN_ISA_NAME "w16"
#include "kernels_impl.inc"
static_assert(KAN_VW == 16, "the w16 path must compile the kernels at 16 lanes (KAN_EMU16 in simd.h)");
