// simd.h — the one SIMD vocabulary. A kernel is written once against these names and compiled
// once per instruction set (see kernels_avx512.cc, kernels_avx2.cc, kernels_base.cc): SIMD main
// loop over VW lanes, then a `// leftovers` scalar tail.
//
//   VF            vector of VW floats
//   VLOAD(p)      unaligned load of VW floats          VSTORE(p, v)   unaligned store
//   VSET1(s)      broadcast                            VZERO()        all zeros
//   VADD/VMUL(a,b)                                     VFMA(a, b, c)  a*b + c
//   VREDUCE(v)    horizontal sum as float
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>
#define KAN_VW 16
typedef __m512 VF;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(s) _mm512_set1_ps(s)
#define VZERO() _mm512_setzero_ps()
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VREDUCE(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define KAN_VW 8
typedef __m256 VF;
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET1(s) _mm256_set1_ps(s)
#define VZERO() _mm256_setzero_ps()
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
static inline float kan_reduce256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
#define VREDUCE(v) kan_reduce256(v)
#elif defined(__SSE2__)
// x86-64 baseline: SSE2, no FMA (mul then add).
#include <emmintrin.h>
#define KAN_VW 4
typedef __m128 VF;
#define VLOAD(p) _mm_loadu_ps(p)
#define VSTORE(p, v) _mm_storeu_ps((p), (v))
#define VSET1(s) _mm_set1_ps(s)
#define VZERO() _mm_setzero_ps()
#define VADD(a, b) _mm_add_ps((a), (b))
#define VMUL(a, b) _mm_mul_ps((a), (b))
#define VFMA(a, b, c) _mm_add_ps(_mm_mul_ps((a), (b)), (c))
static inline float kan_reduce128(__m128 s) {
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
#define VREDUCE(v) kan_reduce128(v)
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define KAN_VW 4
typedef float32x4_t VF;
#define VLOAD(p) vld1q_f32(p)
#define VSTORE(p, v) vst1q_f32((p), (v))
#define VSET1(s) vdupq_n_f32(s)
#define VZERO() vdupq_n_f32(0.0f)
#define VADD(a, b) vaddq_f32((a), (b))
#define VMUL(a, b) vmulq_f32((a), (b))
#define VFMA(a, b, c) vfmaq_f32((c), (a), (b))
#define VREDUCE(v) vaddvq_f32(v)
#else
// Portable fallback: one lane.
#define KAN_VW 1
typedef float VF;
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VSET1(s) (s)
#define VZERO() 0.0f
#define VADD(a, b) ((a) + (b))
#define VMUL(a, b) ((a) * (b))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VREDUCE(v) (v)
#endif
