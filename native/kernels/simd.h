// simd.h — the one SIMD vocabulary. A kernel is written once against these names and compiled
// once per instruction set (see kernels_avx512.cc, kernels_avx2.cc, kernels_base.cc): SIMD main
// loop over VW lanes, then a `// leftovers` scalar tail.
//
//   VF            vector of VW floats
//   VLOAD(p)      unaligned load of VW floats          VSTORE(p, v)   unaligned store
//   VSET1(s)      broadcast                            VZERO()        all zeros
//   VADD/VMUL(a,b)                                     VFMA(a, b, c)  a*b + c
//   VREDUCE(v)    horizontal sum as float
//   VSUB/VDIV/VMIN/VMAX(a,b)                           (VMAX(a, b) returns b when a is NaN)
//
//   VI            vector of VW int32                   VILOAD(p), VISET1(s), VIADD(a,b), VIMIN, VIMAX
//   VCVTT(v)      float -> int32, truncating           VCVTF(vi)      int32 -> float
//   VASF(vi)      reinterpret int32 bits as float      VSHL23(vi)     vi << 23
//   VGATHER(p, vi)  p[vi[lane]] for each lane           VISTORE(p, vi) store VW int32
//   VM            lane mask: VLT/VGE/VGT/VEQ(a, b) (false on NaN), VMAND(m1, m2),
//                 VSEL(m, a, b) = m ? a : b (floats), VISEL(m, a, b) (ints)
//   VTAB(lo, hi, vi)  table lookup: per lane entry vi[lane] of the 2·VW floats lo (0..VW-1), hi
//                 (VW..2VW-1), vi in [0, 2·VW); where KAN_HAS_VTAB is 1 (AVX2: two vpermps and a
//                 blend; AVX-512: one vpermt2ps), else not defined
//   VLOADN(p, n)  the first n lanes from p (0 <= n <= VW), zeros after; touches no memory past
//                 p + n (masked loads). Where KAN_HAS_VLOADN is 1 (AVX2, AVX-512, w16)
//   VTW(r), VREDUCEW(p)  VW×VW transpose in place; VW vectors' horizontal sums as one vector
//                 (bitwise VREDUCE of each). Where KAN_HAS_TW is 1 (AVX2, AVX-512, w16)
//   VPIN(v)       keeps v in a register from here on (an empty asm that claims to change it): the
//                 compiler cannot turn its uses back into loads from where it came from (a
//                 load-bound loop reusing a loaded vector); AVX2 and AVX-512, a no-op elsewhere
//                 (SSE: 0.93x, its spills cost more than the loads)
#pragma once
#include <stdint.h>

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// AVX2 pieces shared by the AVX2 path and w16 (whose vectors are pairs of AVX2 vectors).
#include <immintrin.h>
static inline __m256 kan_tab256(__m256 lo, __m256 hi, __m256i i) {  // entries 0..15, bit 3 of i picks hi
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, i), _mm256_permutevar8x32_ps(hi, i),
                          _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)));
}
static inline __m256i kan_first256(int n) {  // lanes 0..n-1 set (n clipped to 0..8): a maskload mask
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// 8×8 blocks: kan_t8(r) transposes the 8 vectors r[0..7] in place (r[q][l] becomes r[l][q]);
// kan_reduce8(p) the 8 vectors at p (8 floats apart) to one vector of their horizontal sums, each
// summed in the AVX2 path's VREDUCE order (so bitwise VREDUCE of each)
static inline void kan_t8(__m256* r) {
  const __m256 a0 = _mm256_unpacklo_ps(r[0], r[1]), a1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 a2 = _mm256_unpacklo_ps(r[2], r[3]), a3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 a4 = _mm256_unpacklo_ps(r[4], r[5]), a5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 a6 = _mm256_unpacklo_ps(r[6], r[7]), a7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 b0 = _mm256_shuffle_ps(a0, a2, _MM_SHUFFLE(1, 0, 1, 0)), b1 = _mm256_shuffle_ps(a0, a2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 b2 = _mm256_shuffle_ps(a1, a3, _MM_SHUFFLE(1, 0, 1, 0)), b3 = _mm256_shuffle_ps(a1, a3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 b4 = _mm256_shuffle_ps(a4, a6, _MM_SHUFFLE(1, 0, 1, 0)), b5 = _mm256_shuffle_ps(a4, a6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 b6 = _mm256_shuffle_ps(a5, a7, _MM_SHUFFLE(1, 0, 1, 0)), b7 = _mm256_shuffle_ps(a5, a7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(b0, b4, 0x20); r[4] = _mm256_permute2f128_ps(b0, b4, 0x31);
  r[1] = _mm256_permute2f128_ps(b1, b5, 0x20); r[5] = _mm256_permute2f128_ps(b1, b5, 0x31);
  r[2] = _mm256_permute2f128_ps(b2, b6, 0x20); r[6] = _mm256_permute2f128_ps(b2, b6, 0x31);
  r[3] = _mm256_permute2f128_ps(b3, b7, 0x20); r[7] = _mm256_permute2f128_ps(b3, b7, 0x31);
}
static inline __m256 kan_reduce8(const float* p) {
  // kan_reduce256's tree for each vector v: t = v.lo + v.hi; u = t0 + t2, w = t1 + t3; u + w
  __m256 t[4];
  for (int q = 0; q < 4; ++q) {
    const __m256 v = _mm256_loadu_ps(p + 8 * q), x = _mm256_loadu_ps(p + 8 * (q + 4));
    t[q] = _mm256_add_ps(_mm256_permute2f128_ps(v, x, 0x20), _mm256_permute2f128_ps(v, x, 0x31));  // [t_q | t_q+4]
  }
  const __m256 s01 = _mm256_add_ps(_mm256_shuffle_ps(t[0], t[1], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t[0], t[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 s23 = _mm256_add_ps(_mm256_shuffle_ps(t[2], t[3], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t[2], t[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm256_add_ps(_mm256_shuffle_ps(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
}
#endif

#if defined(KAN_EMU16) && defined(__AVX2__) && defined(__FMA__)
// 16 lanes as pairs of AVX2 vectors (kernels_w16.cc, compiled at -O1): the AVX-512 path's kernel code — its
// vector width, panel widths and tile shapes — run on a CPU without AVX-512, so the tests can
// exercise that code everywhere. Lane for lane the same operations as the AVX-512 macros below.
#include <immintrin.h>
#define KAN_VW 16
struct VF { __m256 l, h; };
struct VI { __m256i l, h; };
struct VM { __m256 l, h; };
#define KAN_W16_F2(name, op) \
  static inline VF name(VF a, VF b) { return {op(a.l, b.l), op(a.h, b.h)}; }
KAN_W16_F2(kan16_add, _mm256_add_ps)
KAN_W16_F2(kan16_sub, _mm256_sub_ps)
KAN_W16_F2(kan16_mul, _mm256_mul_ps)
KAN_W16_F2(kan16_div, _mm256_div_ps)
KAN_W16_F2(kan16_min, _mm256_min_ps)
KAN_W16_F2(kan16_max, _mm256_max_ps)
#undef KAN_W16_F2
static inline VF kan16_load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
static inline void kan16_store(float* p, VF v) { _mm256_storeu_ps(p, v.l); _mm256_storeu_ps(p + 8, v.h); }
static inline VF kan16_set1(float s) { return {_mm256_set1_ps(s), _mm256_set1_ps(s)}; }
static inline VF kan16_fma(VF a, VF b, VF c) { return {_mm256_fmadd_ps(a.l, b.l, c.l), _mm256_fmadd_ps(a.h, b.h, c.h)}; }
static inline float kan16_reduce(VF v) {  // the halves added first, as _mm512_reduce_add_ps does
  const __m256 t = _mm256_add_ps(v.l, v.h);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
static inline VI kan16_iload(const void* p) {
  const __m256i* q = (const __m256i*)p;
  return {_mm256_loadu_si256(q), _mm256_loadu_si256(q + 1)};
}
static inline void kan16_istore(void* p, VI v) {
  __m256i* q = (__m256i*)p;
  _mm256_storeu_si256(q, v.l);
  _mm256_storeu_si256(q + 1, v.h);
}
static inline VI kan16_iset1(int s) { return {_mm256_set1_epi32(s), _mm256_set1_epi32(s)}; }
#define KAN_W16_I2(name, op) \
  static inline VI name(VI a, VI b) { return {op(a.l, b.l), op(a.h, b.h)}; }
KAN_W16_I2(kan16_iadd, _mm256_add_epi32)
KAN_W16_I2(kan16_imin, _mm256_min_epi32)
KAN_W16_I2(kan16_imax, _mm256_max_epi32)
#undef KAN_W16_I2
static inline VI kan16_cvtt(VF v) { return {_mm256_cvttps_epi32(v.l), _mm256_cvttps_epi32(v.h)}; }
static inline VF kan16_cvtf(VI v) { return {_mm256_cvtepi32_ps(v.l), _mm256_cvtepi32_ps(v.h)}; }
static inline VF kan16_asf(VI v) { return {_mm256_castsi256_ps(v.l), _mm256_castsi256_ps(v.h)}; }
static inline VI kan16_shl23(VI v) { return {_mm256_slli_epi32(v.l, 23), _mm256_slli_epi32(v.h, 23)}; }
static inline VF kan16_gather(const float* p, VI vi) {
  return {_mm256_i32gather_ps(p, vi.l, 4), _mm256_i32gather_ps(p, vi.h, 4)};
}
template <int CMP>
static inline VM kan16_cmp(VF a, VF b) { return {_mm256_cmp_ps(a.l, b.l, CMP), _mm256_cmp_ps(a.h, b.h, CMP)}; }
static inline VM kan16_mand(VM a, VM b) { return {_mm256_and_ps(a.l, b.l), _mm256_and_ps(a.h, b.h)}; }
static inline VF kan16_sel(VM m, VF a, VF b) { return {_mm256_blendv_ps(b.l, a.l, m.l), _mm256_blendv_ps(b.h, a.h, m.h)}; }
static inline VI kan16_isel(VM m, VI a, VI b) {
  const VF r = kan16_sel(m, kan16_asf(a), kan16_asf(b));
  return {_mm256_castps_si256(r.l), _mm256_castps_si256(r.h)};
}
static inline __m256 kan16_tab32(VF lo, VF hi, __m256i i) {  // bit 4 picks hi, as vpermt2ps
  return _mm256_blendv_ps(kan_tab256(lo.l, lo.h, i), kan_tab256(hi.l, hi.h, i),
                          _mm256_castsi256_ps(_mm256_slli_epi32(i, 27)));
}
static inline VF kan16_tab(VF lo, VF hi, VI i) { return {kan16_tab32(lo, hi, i.l), kan16_tab32(lo, hi, i.h)}; }
#define VLOAD(p) kan16_load(p)
#define VSTORE(p, v) kan16_store((p), (v))
#define VSET1(s) kan16_set1(s)
#define VZERO() kan16_set1(0.0f)
#define VADD(a, b) kan16_add((a), (b))
#define VMUL(a, b) kan16_mul((a), (b))
#define VFMA(a, b, c) kan16_fma((a), (b), (c))
#define VREDUCE(v) kan16_reduce(v)
#define VSUB(a, b) kan16_sub((a), (b))
#define VDIV(a, b) kan16_div((a), (b))
#define VMIN(a, b) kan16_min((a), (b))
#define VMAX(a, b) kan16_max((a), (b))
#define VILOAD(p) kan16_iload(p)
#define VISTORE(p, v) kan16_istore((p), (v))
#define VISET1(s) kan16_iset1(s)
#define VIADD(a, b) kan16_iadd((a), (b))
#define VIMIN(a, b) kan16_imin((a), (b))
#define VIMAX(a, b) kan16_imax((a), (b))
#define VCVTT(v) kan16_cvtt(v)
#define VCVTF(v) kan16_cvtf(v)
#define VASF(v) kan16_asf(v)
#define VSHL23(v) kan16_shl23(v)
#define VGATHER(p, vi) kan16_gather((p), (vi))
#define VLT(a, b) kan16_cmp<_CMP_LT_OQ>((a), (b))
#define VGE(a, b) kan16_cmp<_CMP_GE_OQ>((a), (b))
#define VEQ(a, b) kan16_cmp<_CMP_EQ_OQ>((a), (b))
#define VGT(a, b) kan16_cmp<_CMP_GT_OQ>((a), (b))
#define VMAND(a, b) kan16_mand((a), (b))
#define VSEL(m, a, b) kan16_sel((m), (a), (b))
#define VISEL(m, a, b) kan16_isel((m), (a), (b))
#define KAN_HAS_VTAB 1
#define VTAB(lo, hi, vi) kan16_tab((lo), (hi), (vi))
static inline VF kan16_loadn(const float* p, int n) {
  return {_mm256_maskload_ps(p, kan_first256(n)), _mm256_maskload_ps(p + 8, kan_first256(n - 8))};
}
#define KAN_HAS_VLOADN 1
#define VLOADN(p, n) kan16_loadn((p), (n))
// 16×16 as four 8×8 blocks; the 16 sums one kan16_reduce each (bitwise VREDUCE)
static inline void kan16_tw(VF* r) {
  __m256 q[4][8];  // blocks: rows 0-7 / 8-15 × columns 0-7 (.l) / 8-15 (.h)
  for (int i = 0; i < 8; ++i) {
    q[0][i] = r[i].l; q[1][i] = r[i].h; q[2][i] = r[8 + i].l; q[3][i] = r[8 + i].h;
  }
  for (int b = 0; b < 4; ++b) kan_t8(q[b]);
  for (int i = 0; i < 8; ++i) {
    r[i] = {q[0][i], q[2][i]};
    r[8 + i] = {q[1][i], q[3][i]};
  }
}
static inline VF kan16_reducew(const float* p) {
  alignas(32) float t[16];
  for (int q = 0; q < 16; ++q) t[q] = kan16_reduce({_mm256_loadu_ps(p + 16 * q), _mm256_loadu_ps(p + 16 * q + 8)});
  return {_mm256_load_ps(t), _mm256_load_ps(t + 8)};
}
#define KAN_HAS_TW 1
#define VTW(r) kan16_tw(r)
#define VREDUCEW(p) kan16_reducew(p)
#elif defined(__AVX512F__)
#include <immintrin.h>
#define KAN_VW 16
typedef __m512 VF;
#define VPIN(v) __asm__("" : "+v"(v))
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(s) _mm512_set1_ps(s)
#define VZERO() _mm512_setzero_ps()
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VREDUCE(v) _mm512_reduce_add_ps(v)
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VDIV(a, b) _mm512_div_ps((a), (b))
#define VMIN(a, b) _mm512_min_ps((a), (b))
#define VMAX(a, b) _mm512_max_ps((a), (b))
typedef __m512i VI;
typedef __mmask16 VM;
#define VILOAD(p) _mm512_loadu_si512((const void*)(p))
#define VISTORE(p, v) _mm512_storeu_si512((void*)(p), (v))
#define VISET1(s) _mm512_set1_epi32(s)
#define VIADD(a, b) _mm512_add_epi32((a), (b))
#define VIMIN(a, b) _mm512_min_epi32((a), (b))
#define VIMAX(a, b) _mm512_max_epi32((a), (b))
#define VCVTT(v) _mm512_cvttps_epi32(v)
#define VCVTF(v) _mm512_cvtepi32_ps(v)
#define VASF(v) _mm512_castsi512_ps(v)
#define VSHL23(v) _mm512_slli_epi32((v), 23)
#define VGATHER(p, vi) _mm512_i32gather_ps((vi), (p), 4)
#define VLT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define VGE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GE_OQ)
#define VEQ(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define VGT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define VMAND(a, b) ((VM)((a) & (b)))
#define VSEL(m, a, b) _mm512_mask_blend_ps((m), (b), (a))
#define VISEL(m, a, b) _mm512_mask_blend_epi32((m), (b), (a))
#define KAN_HAS_VTAB 1
#define VTAB(lo, hi, vi) _mm512_permutex2var_ps((lo), (vi), (hi))
#define KAN_HAS_VLOADN 1
#define VLOADN(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p))
// 16×16 transpose in place: 32-bit then 64-bit interleaves within 128-bit lanes, then two
// rounds of 128-bit lane shuffles
static inline void kan_t16(__m512* r) {
  __m512 t[16], u[16];
  for (int q = 0; q < 8; ++q) {
    t[2 * q] = _mm512_unpacklo_ps(r[2 * q], r[2 * q + 1]);
    t[2 * q + 1] = _mm512_unpackhi_ps(r[2 * q], r[2 * q + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // u[4q + e], 128-bit lane g: column 4g + e of rows 4q..4q+3
    const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int e = 0; e < 4; ++e) {
    const __m512 v01 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88), w01 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
    const __m512 v23 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88), w23 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
    r[e] = _mm512_shuffle_f32x4(v01, v23, 0x88);
    r[8 + e] = _mm512_shuffle_f32x4(v01, v23, 0xDD);
    r[4 + e] = _mm512_shuffle_f32x4(w01, w23, 0x88);
    r[12 + e] = _mm512_shuffle_f32x4(w01, w23, 0xDD);
  }
}
// The 16 vectors at p (16 floats apart) to one vector of their horizontal sums, each in
// _mm512_reduce_add_ps's order (256-bit halves, then 128-bit halves, then lanes 0+2 and 1+3, then
// those two): bitwise VREDUCE of each, in 4 rounds of pairwise shuffles and adds for all 16
static inline __m512 kan_reduce16(const float* p) {
  __m512 a[8], b[4], c[2];
  for (int q = 0; q < 8; ++q) {  // [halves of vector 2q summed | of vector 2q+1]
    const __m512 x = _mm512_loadu_ps(p + 32 * q), y = _mm512_loadu_ps(p + 32 * q + 16);
    a[q] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x44), _mm512_shuffle_f32x4(x, y, 0xEE));
  }
  for (int q = 0; q < 4; ++q)  // 128-bit lane g: vector 4q + g's four partial sums
    b[q] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * q], a[2 * q + 1], 0x88), _mm512_shuffle_f32x4(a[2 * q], a[2 * q + 1], 0xDD));
  for (int q = 0; q < 2; ++q)  // lane g: vector 8q + g's two, then vector 8q + 4 + g's two
    c[q] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * q], b[2 * q + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(b[2 * q], b[2 * q + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // lane g, element e: the sum of vector g + 4e; into element g + 4e
  const __m512 f = _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), f);
}
#define KAN_HAS_TW 1
#define VTW(r) kan_t16(r)
#define VREDUCEW(p) kan_reduce16(p)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define KAN_VW 8
typedef __m256 VF;
#define VPIN(v) __asm__("" : "+x"(v))
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
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VDIV(a, b) _mm256_div_ps((a), (b))
#define VMIN(a, b) _mm256_min_ps((a), (b))
#define VMAX(a, b) _mm256_max_ps((a), (b))
typedef __m256i VI;
typedef __m256 VM;
#define VILOAD(p) _mm256_loadu_si256((const __m256i*)(p))
#define VISTORE(p, v) _mm256_storeu_si256((__m256i*)(p), (v))
#define VISET1(s) _mm256_set1_epi32(s)
#define VIADD(a, b) _mm256_add_epi32((a), (b))
#define VIMIN(a, b) _mm256_min_epi32((a), (b))
#define VIMAX(a, b) _mm256_max_epi32((a), (b))
#define VCVTT(v) _mm256_cvttps_epi32(v)
#define VCVTF(v) _mm256_cvtepi32_ps(v)
#define VASF(v) _mm256_castsi256_ps(v)
#define VSHL23(v) _mm256_slli_epi32((v), 23)
#define VGATHER(p, vi) _mm256_i32gather_ps((p), (vi), 4)
#define VLT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define VGE(a, b) _mm256_cmp_ps((a), (b), _CMP_GE_OQ)
#define VEQ(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define VGT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define VMAND(a, b) _mm256_and_ps((a), (b))
#define VSEL(m, a, b) _mm256_blendv_ps((b), (a), (m))
#define VISEL(m, a, b) _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), (m)))
#define KAN_HAS_VTAB 1
#define VTAB(lo, hi, vi) kan_tab256((lo), (hi), (vi))
#define KAN_HAS_VLOADN 1
#define VLOADN(p, n) _mm256_maskload_ps((p), kan_first256(n))
#define KAN_HAS_TW 1
#define VTW(r) kan_t8(r)
#define VREDUCEW(p) kan_reduce8(p)
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
#define VSUB(a, b) _mm_sub_ps((a), (b))
#define VDIV(a, b) _mm_div_ps((a), (b))
#define VMIN(a, b) _mm_min_ps((a), (b))
#define VMAX(a, b) _mm_max_ps((a), (b))
typedef __m128i VI;
typedef __m128 VM;
static inline __m128i kan_sel128i(__m128i m, __m128i a, __m128i b) { return _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b)); }
static inline __m128i kan_min128i(__m128i a, __m128i b) { return kan_sel128i(_mm_cmplt_epi32(a, b), a, b); }
static inline __m128i kan_max128i(__m128i a, __m128i b) { return kan_sel128i(_mm_cmpgt_epi32(a, b), a, b); }
static inline __m128 kan_gather128(const float* p, __m128i vi) {
  alignas(16) int32_t idx[4];
  _mm_store_si128((__m128i*)idx, vi);
  return _mm_set_ps(p[idx[3]], p[idx[2]], p[idx[1]], p[idx[0]]);
}
#define VILOAD(p) _mm_loadu_si128((const __m128i*)(p))
#define VISTORE(p, v) _mm_storeu_si128((__m128i*)(p), (v))
#define VISET1(s) _mm_set1_epi32(s)
#define VIADD(a, b) _mm_add_epi32((a), (b))
#define VIMIN(a, b) kan_min128i((a), (b))
#define VIMAX(a, b) kan_max128i((a), (b))
#define VCVTT(v) _mm_cvttps_epi32(v)
#define VCVTF(v) _mm_cvtepi32_ps(v)
#define VASF(v) _mm_castsi128_ps(v)
#define VSHL23(v) _mm_slli_epi32((v), 23)
#define VGATHER(p, vi) kan_gather128((p), (vi))
#define VLT(a, b) _mm_cmplt_ps((a), (b))
#define VGE(a, b) _mm_cmpge_ps((a), (b))
#define VEQ(a, b) _mm_cmpeq_ps((a), (b))
#define VGT(a, b) _mm_cmpgt_ps((a), (b))
#define VMAND(a, b) _mm_and_ps((a), (b))
#define VSEL(m, a, b) _mm_or_ps(_mm_and_ps((m), (a)), _mm_andnot_ps((m), (b)))
#define VISEL(m, a, b) kan_sel128i(_mm_castps_si128(m), (a), (b))
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
#define VSUB(a, b) vsubq_f32((a), (b))
#define VDIV(a, b) vdivq_f32((a), (b))
#define VMIN(a, b) vminnmq_f32((a), (b))
#define VMAX(a, b) vmaxnmq_f32((a), (b))
typedef int32x4_t VI;
typedef uint32x4_t VM;
static inline float32x4_t kan_gather_neon(const float* p, int32x4_t vi) {
  float32x4_t r = vdupq_n_f32(p[vgetq_lane_s32(vi, 0)]);
  r = vsetq_lane_f32(p[vgetq_lane_s32(vi, 1)], r, 1);
  r = vsetq_lane_f32(p[vgetq_lane_s32(vi, 2)], r, 2);
  return vsetq_lane_f32(p[vgetq_lane_s32(vi, 3)], r, 3);
}
#define VILOAD(p) vld1q_s32((const int32_t*)(p))
#define VISTORE(p, v) vst1q_s32((int32_t*)(p), (v))
#define VISET1(s) vdupq_n_s32(s)
#define VIADD(a, b) vaddq_s32((a), (b))
#define VIMIN(a, b) vminq_s32((a), (b))
#define VIMAX(a, b) vmaxq_s32((a), (b))
#define VCVTT(v) vcvtq_s32_f32(v)
#define VCVTF(v) vcvtq_f32_s32(v)
#define VASF(v) vreinterpretq_f32_s32(v)
#define VSHL23(v) vshlq_n_s32((v), 23)
#define VGATHER(p, vi) kan_gather_neon((p), (vi))
#define VLT(a, b) vcltq_f32((a), (b))
#define VGE(a, b) vcgeq_f32((a), (b))
#define VEQ(a, b) vceqq_f32((a), (b))
#define VGT(a, b) vcgtq_f32((a), (b))
#define VMAND(a, b) vandq_u32((a), (b))
#define VSEL(m, a, b) vbslq_f32((m), (a), (b))
#define VISEL(m, a, b) vbslq_s32((m), (a), (b))
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
#define VSUB(a, b) ((a) - (b))
#define VDIV(a, b) ((a) / (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
typedef int32_t VI;
typedef bool VM;
static inline float kan_asf(int32_t v) { float f; __builtin_memcpy(&f, &v, 4); return f; }
#define VILOAD(p) (*(const int32_t*)(p))
#define VISTORE(p, v) (*(int32_t*)(p) = (v))
#define VISET1(s) ((int32_t)(s))
#define VIADD(a, b) ((a) + (b))
#define VIMIN(a, b) ((a) < (b) ? (a) : (b))
#define VIMAX(a, b) ((a) > (b) ? (a) : (b))
#define VCVTT(v) ((int32_t)(v))
#define VCVTF(v) ((float)(v))
#define VASF(v) kan_asf(v)
#define VSHL23(v) ((int32_t)((uint32_t)(v) << 23))
#define VGATHER(p, vi) ((p)[vi])
#define VLT(a, b) ((a) < (b))
#define VGE(a, b) ((a) >= (b))
#define VEQ(a, b) ((a) == (b))
#define VGT(a, b) ((a) > (b))
#define VMAND(a, b) ((a) && (b))
#define VSEL(m, a, b) ((m) ? (a) : (b))
#define VISEL(m, a, b) ((m) ? (a) : (b))
#endif

#ifndef KAN_HAS_VTAB
#define KAN_HAS_VTAB 0
#endif
#ifndef VPIN
#define VPIN(v) ((void)0)
#endif
#ifndef KAN_HAS_VLOADN
#define KAN_HAS_VLOADN 0
#endif
#ifndef KAN_HAS_TW
#define KAN_HAS_TW 0
#endif

// exp(x) for every lane (Cephes' expf: range reduction by ln 2, degree-6 polynomial, exponent
// bits; relative error ~2e-7 on [-87, 88]; inputs are clamped there, NaN gives NaN or a finite
// value depending on the instruction set's min/max — callers pass finite values).
static inline VF kan_vexp(VF x) {
  x = VMIN(VMAX(x, VSET1(-87.0f)), VSET1(88.0f));
  VF fx = VFMA(x, VSET1(1.44269504088896341f), VSET1(0.5f));
  VF t = VCVTF(VCVTT(fx));
  fx = VSEL(VGT(t, fx), VSUB(t, VSET1(1.0f)), t);  // floor
  x = VSUB(x, VMUL(fx, VSET1(0.693359375f)));
  x = VSUB(x, VMUL(fx, VSET1(-2.12194440e-4f)));
  VF y = VSET1(1.9875691500e-4f);
  y = VFMA(y, x, VSET1(1.3981999507e-3f));
  y = VFMA(y, x, VSET1(8.3334519073e-3f));
  y = VFMA(y, x, VSET1(4.1665795894e-2f));
  y = VFMA(y, x, VSET1(1.6666665459e-1f));
  y = VFMA(y, x, VSET1(5.0000001201e-1f));
  y = VFMA(y, VMUL(x, x), VADD(x, VSET1(1.0f)));
  VI e = VSHL23(VIADD(VCVTT(fx), VISET1(127)));
  return VMUL(y, VASF(e));
}
