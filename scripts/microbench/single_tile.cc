// single_tile.cc — the single-sample forward's register tile alone, on synthetic rows: how many ns
// per input it needs when its rows come from L1, L2 or L3, with nothing else of the layer around
// it (docs/performance-log.md's single-sample bound cites these numbers). A standalone copy of
// the loops, not the kernel itself: AVX2 + FMA, k = 3, G = 5 (NB = 8), O = 64 outputs (8 vectors
// of accumulators).
//   raw:    the model's rows read directly (the kernel's raw form): per input its k+1 coefficient
//           rows and its wb, ws and mask rows — 7 vector loads, 8 multiplies/FMAs per 8 outputs;
//   folded: ws·mask·coef and wb·mask prepared once (the folded form's panels of 32 outputs, k+1
//           zero rows before and k after each input's NB rows) — 5 loads, 5 FMAs per 8 outputs.
// Build and run (x86-64 with AVX2):
//   g++ -O2 -mavx2 -mfma -o /tmp/single_tile scripts/microbench/single_tile.cc
//   /tmp/single_tile 8 64 392 784          # inputs per call: L1, L2, a half's rows (L3), all
// Run two at once (`/tmp/single_tile 392 & /tmp/single_tile 392`) to see both cores streaming.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

constexpr int O = 64, NB = 8, K1 = 4;                             // raw form
constexpr int PW = 32, NR = NB + 2 * (K1 - 1) + 1, IB = 8;        // folded form
constexpr size_t RSTR = (size_t)NR * PW, PSTR = IB * RSTR, BSTR = 2 * PSTR;

__attribute__((noinline)) static void raw(float* y, const float* coef, const float* wb, const float* ws,
                                          const float* mask, const int* sp, const float* w, const float* bv, int I) {
  __m256 acc[8];
#pragma GCC unroll 8
  for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
  for (int i = 0; i < I; ++i) {
    const float* r0 = coef + ((size_t)i * NB + sp[i]) * O;
    const __m256 bvv = _mm256_set1_ps(bv[i]);
    __m256 wj[K1];
#pragma GCC unroll 8
    for (int j = 0; j < K1; ++j) wj[j] = _mm256_set1_ps(w[i * K1 + j]);
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) {
      const size_t io = (size_t)i * O + v * 8;
      const __m256 mk = _mm256_loadu_ps(mask + io);
      const __m256 wsm = _mm256_mul_ps(_mm256_loadu_ps(ws + io), mk), wbm = _mm256_mul_ps(_mm256_loadu_ps(wb + io), mk);
      __m256 s = _mm256_mul_ps(wj[0], _mm256_loadu_ps(r0 + v * 8));
#pragma GCC unroll 8
      for (int j = 1; j < K1; ++j) s = _mm256_fmadd_ps(wj[j], _mm256_loadu_ps(r0 + j * O + v * 8), s);
      acc[v] = _mm256_fmadd_ps(wsm, s, _mm256_fmadd_ps(wbm, bvv, acc[v]));
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < 8; ++v) _mm256_storeu_ps(y + v * 8, acc[v]);
}

__attribute__((noinline)) static void folded(float* y, const float* cf, const float* wbm, const int* off,
                                             const float* w, const float* bv, int I) {
  __m256 acc[8];
#pragma GCC unroll 8
  for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
  for (int i = 0; i < I; ++i) {
    const float* rows = cf + (size_t)(i / IB) * BSTR + (size_t)(i % IB) * RSTR + (size_t)off[i] * PW;
    const float* wb = wbm + (size_t)i * O;
    const __m256 bvv = _mm256_set1_ps(bv[i]);
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(wb + v * 8), bvv, acc[v]);
#pragma GCC unroll 8
    for (int j = 0; j < K1; ++j) {
      const __m256 wj = _mm256_set1_ps(w[i * K1 + j]);
#pragma GCC unroll 8
      for (int v = 0; v < 8; ++v) acc[v] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(rows + (v / 4) * PSTR + j * PW + (v % 4) * 8), acc[v]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < 8; ++v) _mm256_storeu_ps(y + v * 8, acc[v]);
}

template <typename F>
static double ns_per_input(int I, F fn) {
  std::vector<double> t;
  for (int r = 0; r < 15; ++r) {
    const int reps = 2000000 / I + 10;
    const auto t0 = std::chrono::steady_clock::now();
    for (int q = 0; q < reps; ++q) fn();
    t.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / reps / I);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    const int I = std::atoi(argv[a]);
    if (I < 1) { std::fprintf(stderr, "usage: single_tile I...\n"); return 1; }
    const size_t nb = (I + IB - 1) / IB;
    float* coef = (float*)std::aligned_alloc(64, (size_t)I * NB * O * 4);
    float* wb = (float*)std::aligned_alloc(64, (size_t)I * O * 4);
    float* ws = (float*)std::aligned_alloc(64, (size_t)I * O * 4);
    float* mask = (float*)std::aligned_alloc(64, (size_t)I * O * 4);
    float* cf = (float*)std::aligned_alloc(64, nb * BSTR * 4);
    float* wbm = (float*)std::aligned_alloc(64, (size_t)I * O * 4);
    for (size_t q = 0; q < (size_t)I * NB * O; ++q) coef[q] = (float)(q % 7) * 0.01f;
    for (size_t q = 0; q < nb * BSTR; ++q) cf[q] = (float)(q % 7) * 0.01f;
    for (size_t q = 0; q < (size_t)I * O; ++q) { wb[q] = 0.5f; ws[q] = 0.7f; mask[q] = 1.0f; wbm[q] = 0.5f; }
    std::vector<int> sp(I), off(I);
    std::vector<float> w((size_t)I * K1, 0.25f), bv(I, 0.3f);
    std::srand(1);
    for (int i = 0; i < I; ++i) { sp[i] = std::rand() % (NB - K1 + 1); off[i] = sp[i] + K1; }
    alignas(64) float y[O];
    const double tr = ns_per_input(I, [&] { raw(y, coef, wb, ws, mask, sp.data(), w.data(), bv.data(), I); });
    const float y0 = y[3];
    const double tf = ns_per_input(I, [&] { folded(y, cf, wbm, off.data(), w.data(), bv.data(), I); });
    std::printf("I=%d: raw %.1f ns per input, folded %.1f (rows %.0f KB / %.0f KB; checksum %g %g)\n", I, tr, tf,
                I * (K1 * O + 3 * O) * 4 / 1024.0, I * (K1 * 2 * PW + O) * 4 / 1024.0, y0, y[3]);
    std::free(coef); std::free(wb); std::free(ws); std::free(mask); std::free(cf); std::free(wbm);
  }
}
