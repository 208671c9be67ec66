// ops.cc — dispatch, per-call tables and threading around the range kernels (see ops.h).
#include "ops.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "bspline.h"
#include "thread_pool.h"

namespace kan {

// ---------------------------------------------------------------------------------------------
// SIMD path selection

static bool cpu_supports(const std::string& name) {
  if (name == "scalar" || name == "baseline") return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (name == "avx2" || name == "w16") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (name == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("fma");
#endif
  return false;
}

static const KernelTable* table_for(const std::string& name) {
  if (name == "scalar") return &scalar::table;
  if (name == "baseline") return &base::table;
#if defined(__x86_64__) || defined(_M_X64)
  if (name == "avx2") return &avx2::table;
  if (name == "w16") return &w16::table;
#ifndef KAN_NO_AVX512  // (left out of some test builds, see CMakeLists.txt)
  if (name == "avx512") return &avx512::table;
#endif
#endif
  return nullptr;
}

static const KernelTable* choose_initial() {
  if (const char* env = std::getenv("KAN_SIMD")) {
    std::string want(env);
    if (table_for(want) && cpu_supports(want)) return table_for(want);
  }
  for (const char* n : {"avx512", "avx2", "baseline"})
    if (table_for(n) && cpu_supports(n)) return table_for(n);
  return &base::table;
}

static std::atomic<const KernelTable*> g_table{choose_initial()};
static inline const KernelTable& T() { return *g_table.load(std::memory_order_acquire); }

const char* simd_name() { return T().name; }

std::vector<std::string> simd_available() {
  std::vector<std::string> out;
  for (const char* n : {"avx512", "avx2", "baseline", "scalar", "w16"})
    if (table_for(n) && cpu_supports(n)) out.push_back(n);
  return out;
}

bool simd_set(const std::string& name) {
  const KernelTable* t = table_for(name);
  if (!t || !cpu_supports(name)) return false;
  g_table.store(t, std::memory_order_release);
  return true;
}

int threads_get() { return ThreadPool::instance().size(); }
void threads_set(int n) { ThreadPool::instance().resize(n); }

// Threads worth using for `work` multiply-adds: about 64k per thread at least.
static int threads_for(double work, long max_split) {
  int nth = ThreadPool::instance().size();
  long by_work = (long)(work / 65536.0);
  if (by_work < nth) nth = (int)std::max(1L, by_work);
  if (max_split < nth) nth = (int)std::max(1L, max_split);
  return nth;
}

static void parallel_rows(long rows, double work, const std::function<void(long, long)>& fn) {
  const int nth = threads_for(work, rows);
  ThreadPool::instance().run(nth, [&](int ith, int n) {
    long lo, hi;
    split_range(rows, ith, n, &lo, &hi);
    if (lo < hi) fn(lo, hi);
  });
}

// ---------------------------------------------------------------------------------------------
// KAN layer

// Per-call tables: the knot rows padded with k virtual knots on each side (spacing = the row's
// mean spacing; they only feed basis functions whose index is outside 0..NB-1, which are dropped)
// and, per row, t0, 1/h and whether the row is uniform (then the span is found by one multiply).
struct KnotTables {
  std::vector<float> kpad, t0, invh, hi;
  std::vector<int> uni;
  std::vector<float> grid;  // the grid these tables were made from
  int I = 0, G = 0, k = 0;
};

static void make_knot_tables(KnotTables& kt, const float* grid, int I, int G, int k) {
  const int NK = G + 2 * k + 1, KP = NK + 2 * k;
  kt.kpad.resize((size_t)I * KP);
  kt.t0.resize(I); kt.invh.resize(I); kt.hi.resize(I); kt.uni.resize(I);
  for (int i = 0; i < I; ++i) {
    const float* t = grid + (size_t)i * NK;
    float* tp = kt.kpad.data() + (size_t)i * KP;
    const float t0 = t[0], tl = t[NK - 1];
    float h = (tl - t0) / (float)(NK - 1);
    if (!(h > 0.0f) || !std::isfinite(h)) h = 1.0f;
    for (int j = 0; j < k; ++j) tp[j] = t0 - (float)(k - j) * h;
    std::memcpy(tp + k, t, sizeof(float) * NK);
    for (int j = 0; j < k; ++j) tp[k + NK + j] = tl + (float)(j + 1) * h;
    // 2: uniform to 1e-6·h (basis from the cardinal pieces: SIMD prepass without gathers);
    // 1: uniform to 1e-3·h (span by one multiply, de Boor on the stored knots); 0: adapted.
    // Rows whose float spacing is not a finite positive number (a span wider than the float
    // range, infinite or NaN knots) are never uniform: the binary search handles them safely.
    const double hd = ((double)tl - t0) / (NK - 1);
    double dev = 0.0;
    for (int m = 0; m < NK; ++m) {
      const double d = std::fabs((double)t[m] - ((double)t0 + m * hd));
      if (!(d <= dev)) dev = d;  // keeps NaN
    }
    const bool finite_h = std::isfinite(hd) && hd > 0.0 && std::isfinite((tl - t0) / (float)(NK - 1));
    const int uniform = !finite_h ? 0 : dev <= 1e-6 * hd ? 2 : dev <= 1e-3 * hd ? 1 : 0;
    kt.t0[i] = t0;
    kt.invh[i] = 1.0f / h;
    kt.hi[i] = tl;
    kt.uni[i] = uniform;
  }
}

// The tables of the last few grids this thread saw (a model's layers), reused while a grid is
// bytewise the same (one memcmp instead of rebuilding: what makes small-batch calls cheap).
static const KnotTables& knot_tables_for(const float* grid, int I, int G, int k) {
  constexpr int SLOTS = 8;
  thread_local KnotTables cache[SLOTS];
  thread_local int next = 0;
  const size_t n = (size_t)I * (G + 2 * k + 1);
  for (KnotTables& kt : cache)
    if (kt.I == I && kt.G == G && kt.k == k && kt.grid.size() == n && std::memcmp(kt.grid.data(), grid, n * sizeof(float)) == 0)
      return kt;
  KnotTables& kt = cache[next];
  next = (next + 1) % SLOTS;
  make_knot_tables(kt, grid, I, G, k);
  kt.grid.assign(grid, grid + n);
  kt.I = I; kt.G = G; kt.k = k;
  return kt;
}

template <typename TT>
static TT* scratch_of(std::vector<unsigned char>& buf, size_t bytes) {
  if (buf.size() < bytes) buf.resize(bytes);
  return reinterpret_cast<TT*>(buf.data());
}

// The same layer restricted to its inputs i0..I-1: every per-input pointer moved by i0 rows, x's
// columns by i0 (its row stride ldx stays).
static KanLayerArgs kan_inputs_from(const KanLayerArgs& a, int i0) {
  const int NK = a.G + 2 * a.k + 1, NB = a.G + a.k, KP = NK + 2 * a.k;
  KanLayerArgs r = a;
  r.I = a.I - i0;
  r.x += i0;
  if (r.dx) r.dx += i0;
  r.grid += (size_t)i0 * NK;
  r.coef += (size_t)i0 * NB * a.O;
  r.wb += (size_t)i0 * a.O; r.ws += (size_t)i0 * a.O; r.mask += (size_t)i0 * a.O;
  r.kpad += (size_t)i0 * KP; r.row_t0 += i0; r.row_invh += i0; r.row_hi += i0; r.row_uni += i0;
  return r;
}

void kan_layer_forward(float* y, const float* x, const float* grid, const float* coef,
                       const float* wb, const float* ws, const float* mask,
                       int B, int I, int O, int G, int k, int base) {
  const KnotTables& kt = knot_tables_for(grid, I, G, k);
  KanLayerArgs a{};
  a.y = y; a.x = x; a.grid = grid; a.coef = coef; a.wb = wb; a.ws = ws; a.mask = mask;
  a.kpad = kt.kpad.data(); a.row_t0 = kt.t0.data(); a.row_invh = kt.invh.data(); a.row_hi = kt.hi.data(); a.row_uni = kt.uni.data();
  a.B = B; a.I = I; a.O = O; a.G = G; a.k = k; a.base = base; a.ldx = I;
  const KernelTable& tab = T();
  // fold ws·mask into a copy of a block's rows when there are several samples per row; decided
  // from (B, G, k) alone, so every thread count gives the same bits
  a.fold = B >= 16 && (long)(G + k) <= 2L * B;
  const size_t per = KAN_FWD_SCRATCH(k, O, G, a.fold != 0);
  thread_local std::vector<unsigned char> buf;
  if (B == 1 && I >= 32 && (double)I * O * (k + 3) >= 131072.0) {
    // One sample through a wide layer (the latency case): the sample split has nothing to split,
    // and one thread cannot go faster than its tile's rate over all the inputs. So the inputs go
    // in two fixed halves, each summed into its own row, y = first half + second half — on two
    // threads when the pool has them, else one after the other (the same bits either way).
    const int h = (I / 2 + 15) & ~15;
    unsigned char* sc = scratch_of<unsigned char>(buf, 2 * per + (size_t)O * sizeof(float) + 64);
    KanLayerArgs a1 = kan_inputs_from(a, h);
    a1.y = (float*)(((uintptr_t)(sc + 2 * per) + 63) & ~(uintptr_t)63);
    a.I = h;
    ThreadPool::instance().run(threads_for((double)I * O * (k + 3), 2), [&](int ith, int n) {
      if (ith == 0) tab.kan_forward(a, 0, 1, sc);
      if (ith == 1 || n == 1) tab.kan_forward(a1, 0, 1, sc + per);
    });
    for (int o = 0; o < O; ++o) y[o] += a1.y[o];
    return;
  }
  const int nth = threads_for((double)B * I * O * (k + 3), B);
  if (a.fold && I >= 64 && B >= 64 && G + k >= KAN_MANY_ROWS) {
    // A wide layer with many rows: each thread must fold ws·mask into the rows of every input it
    // sums (at G = 32 a 784×64 layer's 7 MB of coefficients, ~6 % of its forward). Split by
    // samples alone, every thread folds them all; so the inputs go in two fixed halves, y = first
    // half's sums + second's (the second summed into y1), and on an even thread count each half is
    // a thread pair's own (odd: every thread both halves on its samples). The same bits for any
    // thread count. Paired, Zen 4, 2 threads, B = 1024: 784×64 G=32 1.01–1.03×, G=20 1.01×; with
    // fewer rows it did not pay (G=5 1.01×, 100×100 G=10 0.98×; on Zen 3 0.87× at 100×100).
    const int h = I / 2;
    KanLayerArgs a1 = kan_inputs_from(a, h);
    a.I = h;
    unsigned char* sc = scratch_of<unsigned char>(buf, per * nth + (size_t)B * O * sizeof(float) + 64);
    float* y1 = (float*)(((uintptr_t)(sc + per * nth) + 63) & ~(uintptr_t)63);
    a1.y = y1;
    ThreadPool::instance().run(nth, [&](int ith, int n) {
      const bool pairs = n % 2 == 0;
      long lo, hi;
      split_range(B, pairs ? ith / 2 : ith, pairs ? n / 2 : n, &lo, &hi);
      if (lo >= hi) return;
      if (!pairs || ith % 2 == 0) tab.kan_forward(a, (int)lo, (int)hi, sc + per * ith);
      if (!pairs || ith % 2 == 1) tab.kan_forward(a1, (int)lo, (int)hi, sc + per * ith);
    });
    parallel_rows(B, (double)B * O, [&](long lo, long hi) {
      for (size_t q = (size_t)lo * O; q < (size_t)hi * O; ++q) y[q] += y1[q];
    });
    return;
  }
  unsigned char* sc = scratch_of<unsigned char>(buf, per * nth);
  ThreadPool::instance().run(nth, [&](int ith, int n) {
    long lo, hi;
    split_range(B, ith, n, &lo, &hi);
    if (lo < hi) tab.kan_forward(a, (int)lo, (int)hi, sc + per * ith);
  });
}

void kan_layer_backward(float* dx, float* dcoef, float* dwb, float* dws, const float* dy,
                        const float* x, const float* grid, const float* coef, const float* wb,
                        const float* ws, const float* mask, int B, int I, int O, int G, int k, int base,
                        bool overwrite) {
  if (B == 0) {  // no samples: nothing to add, or a zero gradient to write
    if (overwrite) {
      std::fill(dcoef, dcoef + (size_t)I * (G + k) * O, 0.0f);
      std::fill(dwb, dwb + (size_t)I * O, 0.0f);
      std::fill(dws, dws + (size_t)I * O, 0.0f);
    }
    return;
  }
  const KnotTables& kt = knot_tables_for(grid, I, G, k);
  KanLayerArgs a{};
  a.dx = dx; a.dcoef = dcoef; a.dwb = dwb; a.dws = dws; a.dy = dy; a.overwrite = overwrite;
  a.x = x; a.grid = grid; a.coef = coef; a.wb = wb; a.ws = ws; a.mask = mask;
  a.kpad = kt.kpad.data(); a.row_t0 = kt.t0.data(); a.row_invh = kt.invh.data(); a.row_hi = kt.hi.data(); a.row_uni = kt.uni.data();
  a.B = B; a.I = I; a.O = O; a.G = G; a.k = k; a.base = base; a.ldx = I;
  const KernelTable& tab = T();
  const size_t per = KAN_BWD_SCRATCH(k, O, G);
  const int nth = threads_for((double)B * I * O * (3 * k + 7), I);
  thread_local std::vector<unsigned char> buf;
  unsigned char* sc = scratch_of<unsigned char>(buf, per * nth);
  ThreadPool::instance().run(nth, [&](int ith, int n) {
    long lo, hi;
    split_range(I, ith, n, &lo, &hi);
    if (lo < hi) tab.kan_backward(a, (int)lo, (int)hi, sc + per * ith);
  });
}

// ---------------------------------------------------------------------------------------------
// Least squares (normal equations + ridge, banded Cholesky, double precision)

void spline_fit(float* coef, const float* x, const float* y, const float* grid, int n, int I, int O,
                int G, int k, double lambda) {
  const int NK = G + 2 * k + 1, NB = G + k, KP = NK + 2 * k, W = k + 1;
  KnotTables kt;
  make_knot_tables(kt, grid, I, G, k);
  // Reuse the scalar reference's basis: build the basis values through a one-sample forward
  // table is overkill; call the de Boor helper directly.
  const int nth = threads_for((double)n * I * (O + W * W) * 4.0 + (double)I * NB * W * (W + O), I);
  ThreadPool::instance().run(nth, [&](int ith, int nt) {
    long lo, hi;
    split_range(I, ith, nt, &lo, &hi);
    std::vector<double> A((size_t)NB * W), R((size_t)NB * O);
    for (long i = lo; i < hi; ++i) {
      std::fill(A.begin(), A.end(), 0.0);
      std::fill(R.begin(), R.end(), 0.0);
      const float* t = grid + (size_t)i * NK;
      const float* tp = kt.kpad.data() + (size_t)i * KP;
      for (int s_ = 0; s_ < n; ++s_) {
        const float xv = x[(size_t)s_ * I + i];
        const int s = kan_find_span(t, NK, xv, kt.t0[i], kt.invh[i], kt.uni[i] != 0);
        if (s < 0) continue;
        double N[8];
        kan_basis_t<double>(tp, s, (double)xv, k, N, nullptr);  // double precision for the normal equations
        const float* yrow = y + ((size_t)s_ * I + i) * O;
        for (int j = 0; j <= k; ++j) {
          const int m = s - k + j;
          if (m < 0 || m >= NB) continue;
          for (int j2 = j; j2 <= k; ++j2) {
            const int m2 = s - k + j2;
            if (m2 >= NB) break;
            A[(size_t)m * W + (m2 - m)] += N[j] * N[j2];  // upper band: A[m][m2]
          }
          for (int o = 0; o < O; ++o) R[(size_t)m * O + o] += N[j] * yrow[o];
        }
      }
      double tr = 0.0;
      for (int m = 0; m < NB; ++m) tr += A[(size_t)m * W];
      // lambda below 1e-12 is raised to it: with fewer samples than bases the normal equations
      // are singular and need some ridge (this is what makes lambda = 0 safe).
      const double ridge = std::max(lambda, 1e-12) * std::max(tr / NB, 1e-30) + 1e-300;
      for (int m = 0; m < NB; ++m) A[(size_t)m * W] += ridge;
      // Banded Cholesky A = U^T U, U upper with bandwidth k, stored in place: U[m][m+d] at A[m*W+d].
      for (int m = 0; m < NB; ++m) {
        double d = A[(size_t)m * W];
        for (int l = std::max(0, m - k); l < m; ++l) {
          const double u = A[(size_t)l * W + (m - l)];
          d -= u * u;
        }
        d = d > 1e-300 ? std::sqrt(d) : 1e-150;
        A[(size_t)m * W] = d;
        for (int m2 = m + 1; m2 <= std::min(NB - 1, m + k); ++m2) {
          double v = A[(size_t)m * W + (m2 - m)];
          for (int l = std::max(0, m2 - k); l < m; ++l)
            v -= A[(size_t)l * W + (m - l)] * A[(size_t)l * W + (m2 - l)];
          A[(size_t)m * W + (m2 - m)] = v / d;
        }
      }
      // Solve U^T z = R, then U c = z, for every output column.
      for (int o = 0; o < O; ++o) {
        for (int m = 0; m < NB; ++m) {
          double v = R[(size_t)m * O + o];
          for (int l = std::max(0, m - k); l < m; ++l) v -= A[(size_t)l * W + (m - l)] * R[(size_t)l * O + o];
          R[(size_t)m * O + o] = v / A[(size_t)m * W];
        }
        for (int m = NB - 1; m >= 0; --m) {
          double v = R[(size_t)m * O + o];
          for (int m2 = m + 1; m2 <= std::min(NB - 1, m + k); ++m2) v -= A[(size_t)m * W + (m2 - m)] * R[(size_t)m2 * O + o];
          R[(size_t)m * O + o] = v / A[(size_t)m * W];
        }
        for (int m = 0; m < NB; ++m) coef[((size_t)i * NB + m) * O + o] = (float)R[(size_t)m * O + o];
      }
    }
  });
}

void spline_eval(float* out, const float* x, const float* grid, const float* coef, int n, int I, int O,
                 int G, int k) {
  const int NK = G + 2 * k + 1, NB = G + k, KP = NK + 2 * k;
  KnotTables kt;
  make_knot_tables(kt, grid, I, G, k);
  const KnotTables* ktp = &kt;
  parallel_rows(n, (double)n * I * O * (k + 1), [&](long lo, long hi) {
    for (long s_ = lo; s_ < hi; ++s_)
      for (int i = 0; i < I; ++i) {
        const float xv = x[(size_t)s_ * I + i];
        const int s = kan_find_span(grid + (size_t)i * NK, NK, xv, ktp->t0[i], ktp->invh[i], ktp->uni[i] != 0);
        float* o_ = out + ((size_t)s_ * I + i) * O;
        for (int o = 0; o < O; ++o) o_[o] = 0.0f;
        if (s < 0) continue;
        float N[8];
        kan_basis(ktp->kpad.data() + (size_t)i * KP, s, xv, k, N);
        for (int j = 0; j <= k; ++j) {
          const int m = s - k + j;
          if (m < 0 || m >= NB) continue;
          const float* c = coef + ((size_t)i * NB + m) * O;
          for (int o = 0; o < O; ++o) o_[o] += N[j] * c[o];
        }
      }
  });
}

// ---------------------------------------------------------------------------------------------
// Dense layer

static inline float act_value(int act, float z) {
  switch (act) {
    case ACT_RELU: return z > 0.0f ? z : 0.0f;
    case ACT_SILU: return z / (1.0f + std::exp(-z));
    case ACT_TANH: return std::tanh(z);
    default: return z;
  }
}
static inline float act_deriv(int act, float z) {
  switch (act) {
    case ACT_RELU: return z > 0.0f ? 1.0f : 0.0f;
    case ACT_SILU: { const float s = 1.0f / (1.0f + std::exp(-z)); return s * (1.0f + z * (1.0f - s)); }
    case ACT_TANH: { const float t = std::tanh(z); return 1.0f - t * t; }
    default: return 1.0f;
  }
}


void dense_forward(float* y, float* z, const float* x, const float* W, const float* bias,
                   int B, int I, int O, int act) {
  if (!z) z = y;
  const KernelTable& tab = T();
  parallel_rows(B, (double)B * I * O, [&](long lo, long hi) {
    for (long b = lo; b < hi; ++b) std::memcpy(z + (size_t)b * O, bias, sizeof(float) * O);
    tab.gemm(z, x, W, B, O, I, (int)lo, (int)hi);
    if (act != ACT_IDENTITY || y != z)
      for (size_t q = (size_t)lo * O; q < (size_t)hi * O; ++q) y[q] = act_value(act, z[q]);
  });
}

void dense_backward(float* dx, float* dW, float* dbias, const float* dy, const float* x,
                    const float* z, const float* W, int B, int I, int O, int act, bool overwrite) {
  if (B == 0) {  // no samples: nothing to add, or a zero gradient to write
    if (overwrite) {
      std::fill(dW, dW + (size_t)I * O, 0.0f);
      std::fill(dbias, dbias + O, 0.0f);
    }
    return;
  }
  const KernelTable& tab = T();
  thread_local std::vector<float> dz, xT, WT, dbacc;
  dz.resize((size_t)B * O);
  xT.resize((size_t)I * B);
  dbacc.assign((size_t)O, 0.0f);
  float* dzw = dz.data();
  float* xTw = xT.data();
  // dz (element-wise) and x^T (in 32×32 blocks, so reads and writes go a cache line at a time)
  parallel_rows(B, (double)B * (O + I) * 4, [&](long lo, long hi) {
    for (size_t q = (size_t)lo * O; q < (size_t)hi * O; ++q) dzw[q] = act == ACT_IDENTITY ? dy[q] : dy[q] * act_deriv(act, z[q]);
  });
  parallel_rows((I + 31) / 32, (double)B * I * 2, [&](long lo, long hi) {
    for (long ib = lo * 32; ib < hi * 32 && ib < I; ib += 32)
      for (int b0 = 0; b0 < B; b0 += 32)
        for (int i = (int)ib; i < (int)ib + 32 && i < I; ++i)
          for (int b = b0; b < b0 + 32 && b < B; ++b) xTw[(size_t)i * B + b] = x[(size_t)b * I + i];
  });
  // dbias: each column summed over b in order (vectorised across columns)
  float* dba = dbacc.data();
  for (int b = 0; b < B; ++b)
    for (int o = 0; o < O; ++o) dba[o] += dzw[(size_t)b * O + o];
  for (int o = 0; o < O; ++o) dbias[o] = (overwrite ? 0.0f : dbias[o]) + dba[o];
  // dW (I,O) += x^T (I,B) @ dz (B,O): rows of dW split over threads; overwrite: each thread zeroes
  // its rows first (the GEMM adds to them)
  // (thread_local buffers must not be named inside the lambdas: those run on pool threads)
  const float* xTp = xT.data();
  const float* dzp = dz.data();
  parallel_rows(I, (double)B * I * O, [&](long lo, long hi) {
    if (overwrite) std::fill(dW + (size_t)lo * O, dW + (size_t)hi * O, 0.0f);
    tab.gemm(dW, xTp, dzp, I, O, B, (int)lo, (int)hi);
  });
  if (dx) {
    // dx (B,I) += dz (B,O) @ W^T (O,I)
    WT.resize((size_t)O * I);
    float* WTw = WT.data();
    parallel_rows((O + 31) / 32, (double)O * I * 2, [&](long lo, long hi) {
      for (long ob = lo * 32; ob < hi * 32 && ob < O; ob += 32)
        for (int i0 = 0; i0 < I; i0 += 32)
          for (int o = (int)ob; o < (int)ob + 32 && o < O; ++o)
            for (int i = i0; i < i0 + 32 && i < I; ++i) WTw[(size_t)o * I + i] = W[(size_t)i * O + o];
    });
    const float* WTp = WT.data();
    parallel_rows(B, (double)B * I * O, [&](long lo, long hi) {
      tab.gemm(dx, dzp, WTp, B, I, O, (int)lo, (int)hi);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Value checks

// First NaN or ±Inf: the active path's vector scan, in as many parts as the pool has threads for
// large arrays (a model's x: 3.2 MB for a batch of config a, ~114 µs on one thread with the
// earlier SSE2 loop, a serial part of every training forward); the first part holding one gives
// the index.
size_t first_non_finite(const float* x, size_t n) {
  const KernelTable& tab = T();
  constexpr size_t PART = 1 << 16;
  const int nth = (int)std::min<size_t>((size_t)ThreadPool::instance().size(), n / PART);
  if (nth <= 1) return tab.finite_scan(x, n);
  std::atomic<size_t> first{n};  // the lowest index found (no allocation on this per-call path)
  ThreadPool::instance().run(nth, [&](int ith, int parts) {
    long lo, hi;
    split_range((long)n, ith, parts, &lo, &hi);
    if (lo >= hi) return;
    const size_t q = tab.finite_scan(x + lo, (size_t)(hi - lo));
    if (q == (size_t)(hi - lo)) return;
    size_t cur = first.load();
    while ((size_t)lo + q < cur && !first.compare_exchange_weak(cur, (size_t)lo + q)) {
    }
  });
  return first.load();
}

// ---------------------------------------------------------------------------------------------
// Losses

double mse_loss(float* dpred, const float* pred, const float* target, size_t n) {
  double acc = 0.0;
  const float scale = n ? 2.0f / (float)n : 0.0f;
  for (size_t q = 0; q < n; ++q) {
    const float d = pred[q] - target[q];
    acc += (double)d * d;
    if (dpred) dpred[q] = scale * d;
  }
  return n ? acc / (double)n : 0.0;
}

double cross_entropy_loss(float* dlogits, const float* logits, const int32_t* labels, int B, int C) {
  double acc = 0.0;
  for (int b = 0; b < B; ++b) {
    const float* l = logits + (size_t)b * C;
    float mx = l[0];
    for (int c = 1; c < C; ++c) mx = std::max(mx, l[c]);
    double sum = 0.0;
    for (int c = 0; c < C; ++c) sum += std::exp((double)l[c] - mx);
    // log-sum-exp kept as log(sum) + (mx - l[label]) so that huge logits keep their precision
    acc += std::log(sum) + ((double)mx - l[labels[b]]);
    if (dlogits) {
      float* d = dlogits + (size_t)b * C;
      for (int c = 0; c < C; ++c) d[c] = (float)(std::exp((double)l[c] - mx) / sum / B);
      d[labels[b]] -= 1.0f / (float)B;
    }
  }
  return B ? acc / B : 0.0;
}

// ---------------------------------------------------------------------------------------------
// Optimizers

void adam_step(float* p, float* m, float* v, const float* g, size_t n, float lr, float beta1,
               float beta2, float eps, float wd, int t) {
  const float bc1 = 1.0f - (float)std::pow((double)beta1, t);
  const float bc2 = 1.0f - (float)std::pow((double)beta2, t);
  const KernelTable& tab = T();
  parallel_rows((long)((n + 1023) / 1024), (double)n * 4, [&](long lo, long hi) {
    const size_t a = (size_t)lo * 1024, b = std::min(n, (size_t)hi * 1024);
    tab.adam(p + a, m + a, v + a, g + a, b - a, lr, beta1, beta2, eps, wd, bc1, bc2);
  });
}

void sgd_step(float* p, float* buf, const float* g, size_t n, float lr, float momentum, float wd) {
  const KernelTable& tab = T();
  parallel_rows((long)((n + 1023) / 1024), (double)n * 2, [&](long lo, long hi) {
    const size_t a = (size_t)lo * 1024, b = std::min(n, (size_t)hi * 1024);
    tab.sgd(p + a, buf + a, g + a, b - a, lr, momentum, wd);
  });
}

// Each of nth pool threads (at most the pool's size) calls work(ith, sink) until `seconds` have
// passed on its own clock; returns the sum over threads of (units done / own seconds). The totals
// and each thread's sink (where a probe leaves its result) are locals of that thread: kept in
// shared arrays, a small probe's threads wrote to the same cache lines (the 2-thread L1 read rate
// came out at 1.0-1.2x the 1-thread one). `warm(ith, sink)`, if given, runs first, untimed.
using ProbeWork = std::function<double(int, float*)>;
// The threads a probe asked for nth gets: 1 .. the pool's size (the pool runs no more).
static int probe_threads(int nth) { return std::max(1, std::min(nth, ThreadPool::instance().size())); }
static double per_thread_rate(int nth, double seconds, const ProbeWork& work, const ProbeWork& warm = nullptr) {
  nth = probe_threads(nth);
  std::vector<double> rate(nth, 0.0);
  ThreadPool::instance().run(nth, [&](int ith, int) {
    float sink = 0.0f;
    if (warm) warm(ith, &sink);
    const auto start = std::chrono::steady_clock::now();
    double done = 0.0, el = 0.0;
    while (el < seconds) {
      done += work(ith, &sink);
      el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    rate[ith] = done / el;
  });
  double total = 0.0;
  for (double r : rate) total += r;
  return total;
}

double peak_gflops(int nth, double seconds) {
  const KernelTable& tab = T();
  return per_thread_rate(nth, seconds, [&](int, float* sink) { return tab.fma_probe(1 << 20, sink); }) / 1e9;
}

double tile_gflops(int which, int nth, double seconds) {
  const KernelTable& tab = T();
  nth = probe_threads(nth);  // (sizes the scratch)
  const size_t per = KAN_TILE_PROBE_FLOATS + 64;
  std::vector<float> mem(per * (size_t)nth);
  auto probe = [&](long iters) {
    return [&, iters](int ith, float* sink) { return tab.tile_probe(which, iters, mem.data() + per * (size_t)ith, sink); };
  };
  return per_thread_rate(nth, seconds, probe(4096), probe(1)) / 1e9;
}

double read_gbps(size_t bytes, int nth, double seconds) {
  const KernelTable& tab = T();
  nth = probe_threads(nth);  // (sizes the shares)
  // each thread reads its own share (whole 64-float lines), warm from one untimed pass
  const size_t per = std::max<size_t>(64, (bytes / 4 / (size_t)nth + 63) / 64 * 64);
  std::vector<float> buf((size_t)nth * per + 16, 1.0f);
  float* base = (float*)(((uintptr_t)buf.data() + 63) & ~(uintptr_t)63);
  // small shares: several passes per clock reading, so the clock's cost does not count
  const size_t passes = std::max<size_t>(1, ((size_t)1 << 20) / (per * 4));
  auto probe = [&](size_t n) {
    return [&, n](int ith, float* sink) {
      double done = 0.0;
      for (size_t r = 0; r < n; ++r) done += tab.read_probe(base + (size_t)ith * per, per, sink);
      return done;
    };
  };
  return per_thread_rate(nth, seconds, probe(passes), probe(1)) / 1e9;
}

}  // namespace kan
