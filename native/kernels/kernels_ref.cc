// kernels_ref.cc — the scalar reference twin of kernels_impl.inc: the layer math of DESIGN.md as
// plain loops, one (sample, input, output) at a time. The SIMD paths are tested against it, and
// KAN_SIMD=scalar selects it at run time.
#include "kernels.h"
#include "bspline.h"

namespace kan {
namespace scalar {
namespace {

// Active basis values for x[b,i]: N[j] multiplies coefficient row m = s-k+j when 0 <= m < NB.
static int active_basis(const KanLayerArgs& a, int b, int i, float* N, float* D) {
  const int k = a.k, NK = a.G + 2 * k + 1, KP = NK + 2 * k;
  const float xv = a.x[(size_t)b * a.ldx + i];
  const int s = kan_find_span(a.grid + (size_t)i * NK, NK, xv, a.row_t0[i], a.row_invh[i], a.row_uni[i] != 0);
  if (s < 0) return -1;
  if (D) kan_basis_deriv(a.kpad + (size_t)i * KP, s, xv, k, N, D);
  else kan_basis(a.kpad + (size_t)i * KP, s, xv, k, N);
  return s;
}

static void kan_forward(const KanLayerArgs& a, int b0, int b1, void*) {
  const int I = a.I, O = a.O, k = a.k, NB = a.G + k;
  for (int b = b0; b < b1; ++b) {
    for (int o = 0; o < O; ++o) a.y[(size_t)b * O + o] = 0.0f;
    for (int i = 0; i < I; ++i) {
      float N[8];
      const int s = active_basis(a, b, i, N, nullptr);
      const float xv = a.x[(size_t)b * a.ldx + i];
      const float bv = kan_base_value(a.base, xv);
      for (int o = 0; o < O; ++o) {
        float spline = 0.0f;
        if (s >= 0)
          for (int j = 0; j <= k; ++j) {
            const int m = s - k + j;
            if (m >= 0 && m < NB) spline += N[j] * a.coef[((size_t)i * NB + m) * O + o];
          }
        const size_t io = (size_t)i * O + o;
        a.y[(size_t)b * O + o] += a.mask[io] * (a.wb[io] * bv + a.ws[io] * spline);
      }
    }
  }
}

static void kan_backward(const KanLayerArgs& a, int i0, int i1, void*) {
  const int O = a.O, k = a.k, NB = a.G + k;
  for (int i = i0; i < i1; ++i) {
    if (a.overwrite) {
      for (size_t q = (size_t)i * NB * O; q < (size_t)(i + 1) * NB * O; ++q) a.dcoef[q] = 0.0f;
      for (size_t q = (size_t)i * O; q < (size_t)(i + 1) * O; ++q) a.dwb[q] = a.dws[q] = 0.0f;
    }
    for (int b = 0; b < a.B; ++b) {
      float N[8], D[8];
      const int s = active_basis(a, b, i, N, D);
      const float xv = a.x[(size_t)b * a.ldx + i];
      const float bv = kan_base_value(a.base, xv), dbv = kan_base_deriv(a.base, xv);
      float dxv = 0.0f;
      for (int o = 0; o < O; ++o) {
        const size_t io = (size_t)i * O + o;
        const float dy = a.dy[(size_t)b * O + o], mk = a.mask[io];
        float spline = 0.0f, dspline = 0.0f;
        if (s >= 0)
          for (int j = 0; j <= k; ++j) {
            const int m = s - k + j;
            if (m < 0 || m >= NB) continue;
            const size_t r = ((size_t)i * NB + m) * O + o;
            spline += N[j] * a.coef[r];
            dspline += D[j] * a.coef[r];
            a.dcoef[r] += dy * mk * a.ws[io] * N[j];
          }
        a.dwb[io] += dy * mk * bv;
        a.dws[io] += dy * mk * spline;
        dxv += dy * mk * (a.wb[io] * dbv + a.ws[io] * dspline);
      }
      if (a.dx) a.dx[(size_t)b * a.ldx + i] += dxv;
    }
  }
}

static void gemm(float* C, const float* A, const float* Bm, int M, int N, int K, int m0, int m1) {
  (void)M;
  for (int m = m0; m < m1; ++m)
    for (int n = 0; n < N; ++n) {
      float acc = C[(size_t)m * N + n];
      for (int p = 0; p < K; ++p) acc += A[(size_t)m * K + p] * Bm[(size_t)p * N + n];
      C[(size_t)m * N + n] = acc;
    }
}

static void adam(float* p, float* m, float* v, const float* g, size_t n, float lr, float beta1,
                 float beta2, float eps, float wd, float bc1, float bc2) {
  for (size_t q = 0; q < n; ++q) {
    const float gq = g[q] + wd * p[q];
    m[q] = beta1 * m[q] + (1.0f - beta1) * gq;
    v[q] = beta2 * v[q] + (1.0f - beta2) * gq * gq;
    const float mhat = m[q] / bc1, vhat = v[q] / bc2;
    p[q] -= lr * mhat / (__builtin_sqrtf(vhat) + eps);
  }
}

static void sgd(float* p, float* buf, const float* g, size_t n, float lr, float momentum, float wd) {
  for (size_t q = 0; q < n; ++q) {
    const float gq = g[q] + wd * p[q];
    buf[q] = momentum * buf[q] + gq;
    p[q] -= lr * buf[q];
  }
}

static double fma_probe(long iters, float* sink) {
  float acc[4] = {1.0f, 1.001f, 1.002f, 1.003f};
  for (long it = 0; it < iters; ++it)
    for (int c = 0; c < 4; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
  *sink = acc[0] + acc[1] + acc[2] + acc[3];
  return 8.0 * (double)iters;
}

static double read_probe(const float* p, size_t n, float* sink) {
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (size_t q = 0; q < n; q += 4)
    for (int c = 0; c < 4; ++c) acc[c] += p[q + c];
  *sink += acc[0] + acc[1] + acc[2] + acc[3];
  return 4.0 * (double)n;
}

// The kernels' tiles in plain form (see the SIMD tile_probe): which 0 forward (2 samples, 32
// outputs, 8 inputs), 1 backward R rows and dwb, 2 backward dx (64 samples, 32 outputs); k = 3.
static double tile_probe(int which, long iters, float* mem, float* sink) {
  constexpr int K1 = 4, IB = 8, O = 32, NR = 15, NS = 64;
  float* cf = mem;                 // (IB, NR, O)
  float* r = cf + IB * NR * O;     // (NR, O)
  float* dy = r + NR * O;          // (NS, O)
  float* wbm = dy + NS * O;        // (IB, O)
  float* dwb = wbm + IB * O;       // (O)
  float* dx = dwb + O;             // (NS)
  for (int q = 0; q < IB * NR * O; ++q) cf[q] = 1e-3f * (float)(q % 97);
  for (int q = 0; q < NR * O; ++q) r[q] = 0.0f;
  for (int q = 0; q < NS * O; ++q) dy[q] = 1e-3f * (float)(q % 31);
  for (int q = 0; q < IB * O; ++q) wbm[q] = 0.5f;
  for (int q = 0; q < O; ++q) dwb[q] = 0.0f;
  for (int q = 0; q < NS; ++q) dx[q] = 0.0f;
  float acc = 0.0f;
  for (long it = 0; it < iters; ++it) {
    if (which == 0) {
      for (int b = 0; b < 2; ++b)
        for (int o = 0; o < O; ++o) {
          float t = 0.0f;
          for (int i = 0; i < IB; ++i) {
            const float* rr = cf + ((size_t)i * NR + 1 + (b * IB + i) * 5 % 8) * O + o;
            t += wbm[i * O + o] * 0.1f * (float)(b * IB + i);
            for (int j = 0; j < K1; ++j) t += (0.25f + 1e-3f * (float)((b * K1 + j) * IB + i)) * rr[j * O];
          }
          dwb[o] = t;
        }
    } else {
      for (int c = 0; c < NS; ++c) {
        const float* cr = cf + (size_t)((c / 8) % 5) * O;
        float* rr = r + (size_t)((c / 8) % 5) * O;
        float t = 0.0f;
        for (int o = 0; o < O; ++o) {
          const float g = dy[c * O + o];
          if (which == 1) {
            dwb[o] += 0.1f * g;
            for (int j = 0; j < K1; ++j) rr[j * O + o] += 0.25f * g;
          } else {
            float dsp = wbm[o] * 0.2f;
            for (int j = 0; j < K1; ++j) dsp += -0.5f * cr[j * O + o];
            t += g * dsp;
          }
        }
        dx[c] += t;
      }
    }
    __asm__ __volatile__("" ::: "memory");  // each call is done anew (no hoisting)
    acc += dwb[it & (O - 1)] + r[it & (O - 1)] + dx[it & (NS - 1)];
  }
  *sink = acc;
  return which == 0 ? 2.0 * 2 * IB * (K1 + 1) * O * (double)iters
                    : 2.0 * NS * O * (which == 1 ? K1 + 1 : K1 + 2) * (double)iters;
}

}  // namespace

static size_t finite_scan(const float* x, size_t n) {
  for (size_t q = 0; q < n; ++q)
    if (x[q] - x[q] != 0.0f) return q;
  return n;
}

extern const KernelTable table = {"scalar", kan_forward, kan_backward, gemm, adam, sgd, fma_probe, read_probe, tile_probe, finite_scan};

}  // namespace scalar
}  // namespace kan
