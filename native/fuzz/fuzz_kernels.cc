// fuzz_kernels.cc — seeded random driver for the native kernels (native/kernels/, through ops.h).
//
// Every iteration draws random shapes (KAN: B 0..64, sometimes up to 600 to cross a backward
// chunk; I 1..20; O 1..40; G 1..50, sometimes up to 300; k 1..5; every base), knot rows (uniform,
// nearly uniform at the 1e-6·h / 1e-3·h thresholds, adapted, with repeated knots, clamped,
// degenerate, far from 0 with spacings near float resolution, spans beyond FLT_MAX, infinite
// knots), inputs (inside, exactly on knots, one ulp off a knot, at the grid ends, far outside,
// huge up to FLT_MAX, subnormal, occasionally NaN/±Inf), parameters, masks, gradients (zero or
// not: the kernels accumulate), and runs kan_layer_forward/backward, spline_fit, spline_eval,
// dense_forward/backward, mse_loss, cross_entropy_loss, adam_step and sgd_step on every SIMD path
// this CPU has. Every buffer is its own exactly sized heap block, so ASan sees any overrun. Checks:
//   - no crash, no sanitizer report (build it with -fsanitize=address,undefined; scripts/sanitize.sh);
//   - finite inputs give finite outputs wherever the exact result is bounded (|.| < 1e37, from a
//     float64 bound of the sum of absolute terms computed here);
//   - every SIMD path agrees with "scalar" within --tol (default 1e-4), measured relative to that
//     bound of the absolute terms, with the basis bounded by 1 (partition of unity) and its
//     derivative by |D| + k/h, so that neither cancellation nor tiny basis values fake or hide an
//     error; the worst error of every (quantity, path) is printed. Not compared: dx for k = 1
//     within 1e-5·h of a knot (the derivative jumps there, and the cardinal path's rounded span
//     may take the other side); backward runs from the scalar pre-activation (ReLU's kink);
//   - 1 thread vs 2 or 3 threads give bitwise identical results (NaNs count as equal whatever
//     their sign/payload; such cases are counted and noted);
//   - the KAN and dense backward in overwrite mode, from NaN-filled gradients, give the bits of
//     accumulating onto zeros (every path, and the threaded run);
//   - losses against float64 formulas; spline_fit coefficients finite;
//   - spline_eval summed over inputs equals the scalar kernel with wb = 0, ws = 1, mask = 1.
//
// Usage: fuzz_kernels [--seconds S] [--iters N] [--seed X] [--tol T] [--replay ITER]
//                     [--allow silu-tail|extreme-grids|fit-lambda0]... [--trace] [--verbose]
//   Runs until S seconds (default 30) or N iterations (default unbounded) have passed. Iteration j
//   uses a seed derived from (X, j), so `--replay j` reruns exactly the iteration a failure names
//   (verbosely: inputs and knot rows of the failing elements). --trace prints each iteration's
//   number to stderr before running it (what a sanitizer abort leaves as the last line).
//   --allow accepts a finding, so that a run on an older build can look past it. All three were
//   found by this driver and are fixed (the options stay for bisecting):
//     silu-tail      the SIMD silu/silu' gave x/(1+e^88) instead of ~0 for x < -88 (simd.h exp clamp)
//     extreme-grids  skip knot rows whose span overflows float or with infinite knots (these
//                    crashed kan_find_span: marked uniform with 1/h = 1, inf cast to int)
//     fit-lambda0    no finiteness check of spline_fit with lambda = 0 (singular systems gave NaN)
//   Exit status: 0 if no check failed, 1 otherwise (the first failures are printed); a sanitizer
//   report aborts the run with the sanitizer's status.
//
// Build (plain g++, per-file -m flags as in CMakeLists.txt; scripts/sanitize.sh does this):
//   for f in ops thread_pool kernels_ref kernels_base; do g++ -std=c++17 -O1 -c native/kernels/$f.cc; done
//   g++ -std=c++17 -O1 -mavx2 -mfma -c native/kernels/kernels_avx2.cc
//   g++ -std=c++17 -O1 -mavx2 -mfma -c native/kernels/kernels_w16.cc
//   g++ -std=c++17 -O1 -mavx512f -mavx512vl -mavx512dq -mavx512bw -mavx2 -mfma -c native/kernels/kernels_avx512.cc
//   g++ -std=c++17 -O1 -c native/fuzz/fuzz_kernels.cc && g++ *.o -pthread -o fuzz_kernels
//   (add -fsanitize=address,undefined -fno-omit-frame-pointer to every step for the sanitizer build)
// With -DKAN_LIBFUZZER it defines LLVMFuzzerTestOneInput (one iteration seeded from the input's
// bytes; KAN_FUZZ_ALLOW="silu-tail,extreme-grids" in the environment for --allow) instead of
// main, for clang -fsanitize=fuzzer.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "../kernels/ops.h"
#include "../kernels/bspline.h"  // kan_basis_deriv, kan_base_value/deriv: for the magnitude bounds

using std::vector;
using namespace kan;

namespace {

// ---------------------------------------------------------------------------------------------
// Random numbers (splitmix64): deterministic per (seed, iteration).

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uni() { return (double)(next() >> 11) * (1.0 / 9007199254740992.0); }   // [0, 1)
  double range(double lo, double hi) { return lo + (hi - lo) * uni(); }
  int irange(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }  // [lo, hi]
  bool chance(double p) { return uni() < p; }
  float sym(double a) { return (float)range(-a, a); }
  double logu(double lo_exp, double hi_exp) { return std::pow(10.0, range(lo_exp, hi_exp)); }
};

uint64_t iter_seed(uint64_t seed, uint64_t iter) {
  Rng r(seed * 0x2545f4914f6cdd1dULL ^ (iter + 0x632be59bd9b4e019ULL));
  r.next();
  return r.next();
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
const float kMax = std::numeric_limits<float>::max();
constexpr double kBound = 1e37;  // exact results below this must come out finite

// ---------------------------------------------------------------------------------------------
// Results bookkeeping

struct Worst { double err = 0.0; uint64_t iter = 0; std::string where; };

struct Stats {
  std::map<std::string, Worst> worst;            // "quantity path" -> worst relative error
  std::map<std::string, long> calls;             // op -> calls made
  long finite_checks = 0, bitwise_checks = 0, compare_checks = 0;
  vector<std::string> failures;
  long failure_count = 0;
  uint64_t iter = 0;
  double tol = 1e-4;
  bool verbose = false;
  bool allow_silu_tail = false;  // --allow silu-tail: accept the SIMD silu's x/(1+e^88) for x < -88
  bool allow_fit_lambda0 = false;  // --allow fit-lambda0: no finiteness check of spline_fit with lambda = 0
  long skipped = 0;
  std::map<std::string, long> nan_payload_diffs;  // 1 vs n threads: NaN in both, different sign/payload
  std::string case_desc;  // the current case, for failure messages
  // Describes element q of quantity `name` of the current case (inputs, knots), for failure messages.
  std::function<std::string(const std::string&, size_t)> explain;
};
Stats g;

void fail(const char* fmt, ...) {
  char buf[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  ++g.failure_count;
  if (g.failures.size() < 40) {
    std::string msg = "iter " + std::to_string(g.iter) + " [" + g.case_desc + "]: " + buf;
    g.failures.push_back(msg);
    std::fprintf(stderr, "FAIL %s\n", msg.c_str());
  }
}

inline bool fin(float v) { return std::isfinite(v); }
inline bool fin(double v) { return std::isfinite(v); }

// SIMD path `path` against scalar: |a - ref| / bound, per element; NaN pattern must match where the
// reference is finite. Records the worst error of (name, path) and fails above the tolerance.
// bound1 (optional): a bound of the intermediate sums; elements where it is huge are skipped (an
// intermediate overflow there depends on the summation order).
void compare(const char* name, const std::string& path, const vector<float>& a, const vector<float>& ref,
             const vector<double>& bound, double tol_scale = 1.0, const vector<double>* bound1 = nullptr,
             const vector<char>* skip = nullptr, const vector<double>* allow = nullptr) {
  ++g.compare_checks;
  double worst = 0.0;
  size_t wq = 0;
  for (size_t q = 0; q < ref.size(); ++q) {
    if (skip && (*skip)[q]) { ++g.skipped; continue; }
    if (!fin(ref[q]) || !(bound[q] < kBound) || (bound1 && !((*bound1)[q] < kBound))) {
      // scalar itself non-finite, or the bound is huge: only a missing NaN/Inf pattern is noted
      continue;
    }
    double e;
    if (!fin(a[q])) e = std::numeric_limits<double>::infinity();
    else e = std::max(0.0, std::fabs((double)a[q] - (double)ref[q]) - (allow ? (*allow)[q] : 0.0)) / std::max(bound[q], 1e-30);
    if (e > worst) { worst = e; wq = q; }
  }
  Worst& w = g.worst[std::string(name) + " " + path];
  if (worst > w.err) {
    char buf[256];
    snprintf(buf, sizeof buf, "[%zu] %s=%.9g scalar=%.9g bound=%.3g", wq, path.c_str(), ref.empty() ? 0.0 : (double)a[wq],
             ref.empty() ? 0.0 : (double)ref[wq], bound.empty() ? 0.0 : bound[wq]);
    w.err = worst; w.iter = g.iter; w.where = g.case_desc + " " + buf;
  }
  if (worst > g.tol * tol_scale)
    fail("%s: %s differs from scalar by %.3g (relative to the abs-term bound) at [%zu]: %.9g vs %.9g (bound %.3g)%s",
         name, path.c_str(), worst, wq, (double)a[wq], (double)ref[wq], bound[wq],
         g.explain ? g.explain(name, wq).c_str() : "");
}

void expect_finite(const char* name, const std::string& path, const vector<float>& v, const vector<char>& want) {
  ++g.finite_checks;
  for (size_t q = 0; q < v.size(); ++q)
    if (want[q] && !fin(v[q])) {
      fail("%s on %s: non-finite %g at [%zu] although its inputs are finite and the exact value is bounded%s",
           name, path.c_str(), (double)v[q], q, g.explain ? g.explain(name, q).c_str() : "");
      return;
    }
}

// Bitwise equality, except that two NaNs count as equal (their sign/payload depends on which NaN
// operand an instruction propagates, which the compiler may order differently in different
// template instances; such differences are counted and reported as a note).
void expect_same_bits(const char* name, const std::string& path, const std::string& what, const vector<float>& a,
                      const vector<float>& b) {
  ++g.bitwise_checks;
  if (a.size() != b.size()) { fail("%s on %s: %s: sizes differ", name, path.c_str(), what.c_str()); return; }
  if (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0) return;
  for (size_t q = 0; q < a.size(); ++q) {
    if (std::memcmp(&a[q], &b[q], sizeof(float)) == 0) continue;
    if (std::isnan(a[q]) && std::isnan(b[q])) { ++g.nan_payload_diffs[std::string(name) + " " + path]; continue; }
    fail("%s on %s: %s differ at [%zu]: %.9g vs %.9g", name, path.c_str(), what.c_str(), q, (double)a[q], (double)b[q]);
    return;
  }
}
void expect_bitwise(const char* name, const std::string& path, int nth, const vector<float>& a, const vector<float>& b) {
  expect_same_bits(name, path, "1 thread vs " + std::to_string(nth) + " threads", a, b);
}

// ---------------------------------------------------------------------------------------------
// Knot rows and inputs

enum GridKind { G_UNIFORM, G_NEAR_UNIFORM, G_ADAPTED, G_REPEATED, G_CLAMPED, G_FAR, G_DEGENERATE, G_EXTREME, G_INFINITE, G_KINDS };
const char* kGridNames[] = {"uniform", "near-uniform", "adapted", "repeated", "clamped", "far", "degenerate", "extreme", "infinite"};

int pick_grid_kind(Rng& r, bool allow_extreme) {
  const double u = r.uni();
  if (u < 0.30) return G_UNIFORM;
  if (u < 0.42) return G_NEAR_UNIFORM;
  if (u < 0.60) return G_ADAPTED;
  if (u < 0.72) return G_REPEATED;
  if (u < 0.82) return G_CLAMPED;
  if (u < 0.92) return G_FAR;
  if (u < 0.96 || !allow_extreme) return G_DEGENERATE;
  return u < 0.98 ? G_EXTREME : G_INFINITE;
}

// One row of NK non-decreasing knots.
void make_row(Rng& r, int kind, int NK, int k, float* t) {
  const double t0 = r.range(-3, 3), h = r.logu(-3, 1);
  switch (kind) {
    case G_UNIFORM:
      for (int m = 0; m < NK; ++m) t[m] = (float)(t0 + m * h);
      break;
    case G_NEAR_UNIFORM: {  // jitter around 1e-6·h and 1e-3·h: the two uniformity thresholds
      const double j = h * r.logu(-7.5, -2.5);
      for (int m = 0; m < NK; ++m) t[m] = (float)(t0 + m * h + r.range(-j, j));
      std::sort(t, t + NK);
      break;
    }
    case G_ADAPTED: case G_REPEATED: {
      double v = t0;
      const double prep = kind == G_REPEATED ? r.range(0.1, 0.6) : 0.0;
      for (int m = 0; m < NK; ++m) {
        t[m] = (float)v;
        v += r.chance(prep) ? 0.0 : h * std::exp(r.range(-2.5, 2.5));
      }
      break;
    }
    case G_CLAMPED: {  // k+1 equal knots at each end (the usual clamped B-spline)
      const int G = NK - 2 * k - 1;
      for (int m = 0; m < NK; ++m) {
        int c = std::min(std::max(m - k, 0), G);
        t[m] = (float)(t0 + c * h);
      }
      break;
    }
    case G_FAR: {  // far from 0 with a spacing near or below float resolution: rounding repeats knots
      const double c = (r.chance(0.5) ? -1 : 1) * r.logu(2, 7), hh = r.logu(-5, 2);
      for (int m = 0; m < NK; ++m) t[m] = (float)(c + m * hh);
      break;
    }
    case G_DEGENERATE: {
      const float v = (float)t0;
      const int split = r.irange(0, NK);  // all equal, or two plateaus
      for (int m = 0; m < NK; ++m) t[m] = m < split ? v : v + (float)h;
      break;
    }
    case G_EXTREME: {  // knots near ±FLT_MAX: t[NK-1] - t[0] overflows float
      const double a = -kMax * r.range(0.5, 1.0), b = kMax * r.range(0.5, 1.0);
      for (int m = 0; m < NK; ++m) t[m] = (float)(a + (b - a) * m / (NK - 1));
      break;
    }
    case G_INFINITE: {  // a uniform row in double whose ends round to ±Inf in float (KAN gridRange [-1e39, 1e39])
      const double a = -(double)kMax * r.range(1.5, 4.0), b = r.chance(0.5) ? -a : r.range(-1.0, 1.0);
      for (int m = 0; m < NK; ++m) t[m] = (float)(a + (b - a) * m / (NK - 1));
      break;
    }
  }
}

struct Ctx { bool nonfinite; bool huge; };

// An input value for knot row t (NK knots).
float make_x(Rng& r, const float* t, int NK, const Ctx& c) {
  if (c.nonfinite && r.chance(0.03)) {
    const int w = r.irange(0, 2);
    return w == 0 ? kNaN : w == 1 ? kInf : -kInf;
  }
  const float lo = t[0], hi = t[NK - 1];
  const double span = std::max((double)hi - lo, 1e-3);
  const double u = r.uni();
  if (u < 0.50) return (float)r.range(lo - 0.1 * span, hi + 0.1 * span);
  if (u < 0.65) return t[r.irange(0, NK - 1)];
  if (u < 0.72) return std::nextafter(t[r.irange(0, NK - 1)], r.chance(0.5) ? kInf : -kInf);
  if (u < 0.77) return r.chance(0.5) ? hi : std::nextafter(hi, -kInf);
  if (u < 0.80) return r.chance(0.5) ? lo : std::nextafter(lo, -kInf);
  if (u < 0.88) return (float)(0.5 * ((double)lo + hi) + (r.chance(0.5) ? -1 : 1) * span * r.logu(0, 4));
  if (u < 0.93 && c.huge) {
    const double m = r.chance(0.2) ? kMax : std::min((double)kMax, r.logu(20, 38.6));
    return (float)(r.chance(0.5) ? -m : m);
  }
  if (u < 0.96) {
    const float s[] = {0.0f, -0.0f, 1e-40f, -1e-40f, std::numeric_limits<float>::min(), 1e-30f};
    return s[r.irange(0, 5)];
  }
  return (float)r.range(lo, hi);
}

vector<float> rand_vec(Rng& r, size_t n, double a) {
  vector<float> v(n);
  for (auto& e : v) e = r.sym(a);
  return v;
}

// ---------------------------------------------------------------------------------------------
// KAN layer

struct KanCase {
  int B, I, O, G, k, base;
  vector<float> x, grid, coef, wb, ws, mask, dy;
  vector<float> dx0, dcoef0, dwb0, dws0;  // initial gradient contents (the kernels accumulate)
  bool with_dx;
  bool acc;  // the initial gradients are random (else zero: overwrite mode must give the same bits)
  vector<int> kind;  // grid kind of each row
  int NK() const { return G + 2 * k + 1; }
  int NB() const { return G + k; }
};

// Float64 bounds of the absolute terms of every output (see the file comment).
struct KanBounds {
  vector<double> y, dx, dcoef, dwb, dws, spl;  // spl: forward bound with wb = 0, ws = 1, mask = 1
  // The same with |mask| replaced by max(|mask|, 1): a bound of the intermediate sums (a pruned
  // edge still computes wb·base(x) before the mask multiplies it), used for finiteness.
  vector<double> y1, dx1, dcoef1, dwb1, dws1;
  vector<char> y_fin, dx_fin, dcoef_fin, dwb_fin, dws_fin, spl_fin;
  // dx elements not compared: k = 1 and x within 1e-5·h of a knot (the derivative jumps there).
  vector<char> dx_skip;
  // With --allow silu-tail: absolute deviations accepted on top of the tolerance (the SIMD silu
  // gives x/(1+e^88) instead of ~0 for x < -88; silu' likewise (1+x)/(1+e^88)).
  vector<double> y_allow, dx_allow, dwb_allow;
};

// Padded row as ops.cc builds it (only used for the bounds).
void pad_row(const float* t, int NK, int k, float* tp) {
  const float t0 = t[0], tl = t[NK - 1];
  float h = (tl - t0) / (float)(NK - 1);
  if (!(h > 0.0f) || !std::isfinite(h)) h = 1.0f;
  for (int j = 0; j < k; ++j) tp[j] = t0 - (float)(k - j) * h;
  std::memcpy(tp + k, t, sizeof(float) * NK);
  for (int j = 0; j < k; ++j) tp[k + NK + j] = tl + (float)(j + 1) * h;
}

int span_of(const float* t, int NK, float x) {
  if (!(x >= t[0] && x < t[NK - 1])) return -1;
  int lo = 0, hi = NK - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) >> 1;
    if (x >= t[mid]) lo = mid; else hi = mid;
  }
  return lo;
}

KanBounds kan_bounds(const KanCase& c) {
  const int B = c.B, I = c.I, O = c.O, k = c.k, NK = c.NK(), NB = c.NB(), KP = NK + 2 * k;
  KanBounds bd;
  bd.y.assign((size_t)B * O, 0.0); bd.spl.assign((size_t)B * O, 0.0);
  bd.dx.assign((size_t)B * I, 0.0);
  bd.dcoef.assign((size_t)I * NB * O, 0.0);
  bd.dwb.assign((size_t)I * O, 0.0); bd.dws.assign((size_t)I * O, 0.0);
  bd.y1 = bd.y; bd.dx1 = bd.dx; bd.dcoef1 = bd.dcoef; bd.dwb1 = bd.dwb; bd.dws1 = bd.dws;
  bd.dx_skip.assign(bd.dx.size(), 0);
  bd.y_allow.assign(bd.y.size(), 0.0); bd.dx_allow.assign(bd.dx.size(), 0.0); bd.dwb_allow.assign(bd.dwb.size(), 0.0);
  vector<char> xrow_fin(B, 1), xcol_fin(I, 1), dyrow_fin(B, 1);
  bool dy_all = true;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < I; ++i)
      if (!fin(c.x[(size_t)b * I + i])) xrow_fin[b] = xcol_fin[i] = 0;
  for (int b = 0; b < B; ++b)
    for (int o = 0; o < O; ++o)
      if (!fin(c.dy[(size_t)b * O + o])) dyrow_fin[b] = 0, dy_all = false;
  vector<float> tp(KP);
  for (int i = 0; i < I; ++i) {
    const float* t = c.grid.data() + (size_t)i * NK;
    pad_row(t, NK, k, tp.data());
    for (int b = 0; b < B; ++b) {
      // non-finite x too: its span is -1 (no spline) and base(x) is what it is (identity's
      // derivative is 1 even at NaN); a NaN or infinite bound means "not compared"
      const float xv = c.x[(size_t)b * I + i];
      const int s = span_of(t, NK, xv);
      float N[8] = {0}, D[8] = {0};
      // Bounds of |N_j| and |D_j| for rows m = s-k+j: the basis is a partition of unity, so its
      // rounding errors (the cardinal path's u = f - s is rounded to ulp(f)) are absolute against
      // 1, and the derivative's against k/h of the span; the bounds say so rather than scale with
      // a tiny N_j. Within 1e-4·h of a knot the cardinal path may take the neighbouring span
      // (floor of a rounded (x - t0)/h), touching one more row on that side with a weight ~0:
      // j = -1 and j = k+1 cover those.
      double nb[10] = {0}, db[10] = {0};  // index j + 1
      int jlo = 0, jhi = k;
      if (s >= 0) {
        kan_basis_deriv(tp.data(), s, xv, k, N, D);
        const double hs = (double)t[s + 1] - t[s];
        for (int j = 0; j <= k; ++j) { nb[j + 1] = 1.0; db[j + 1] = std::fabs(D[j]) + k / hs; }
        const double dist = std::min((double)xv - t[s], (double)t[s + 1] - xv);
        if (dist <= 1e-4 * hs) {
          jlo = -1; jhi = k + 1;
          nb[0] = nb[k + 2] = 1.0;
          db[0] = db[k + 2] = k / hs;
        }
        // k = 1: the derivative jumps at knots, so the neighbouring span gives the other slope
        if (k == 1 && dist <= 1e-5 * hs) bd.dx_skip[(size_t)b * I + i] = 1;
      }
      const double bv = std::fabs(kan_base_value(c.base, xv));
      // silu' = s·(1 + x·(1 - s)) cancels near x = -1.28: bound it by its terms' magnitudes
      double dbv = std::fabs(kan_base_deriv(c.base, xv));
      if (c.base == 2 && fin(xv)) {
        const double sg = 1.0 / (1.0 + std::exp(-(double)xv));
        dbv = std::max(dbv, sg * (1.0 + std::fabs((double)xv) * (1.0 - sg)));
      }
      double dev_bv = 0.0, dev_dbv = 0.0;
      if (g.allow_silu_tail && c.base == 2 && xv < -80.0f) {
        // the SIMD silu clamps exp's argument at 88: silu(x) ~ x / (1 + e^88) for x < -88
        dev_bv = std::fabs((double)xv) * 7e-39;
        dev_dbv = (1.0 + std::fabs((double)xv)) * 7e-39;
      }
      double dxb = 0.0, dxb1 = 0.0;
      for (int o = 0; o < O; ++o) {
        const size_t io = (size_t)i * O + o;
        double sp = 0.0, dsp = 0.0;
        if (s >= 0)
          for (int j = jlo; j <= jhi; ++j) {
            const int m = s - k + j;
            if (m < 0 || m >= NB) continue;
            const double cv = std::fabs(c.coef[((size_t)i * NB + m) * O + o]);
            sp += nb[j + 1] * cv;
            dsp += db[j + 1] * cv;
          }
        const double mk = std::fabs(c.mask[io]), mk1 = std::max(mk, 1.0), wb = std::fabs(c.wb[io]), ws = std::fabs(c.ws[io]);
        const double dy = std::fabs(c.dy[(size_t)b * O + o]);
        bd.y[(size_t)b * O + o] += mk * (wb * bv + ws * sp);
        bd.y_allow[(size_t)b * O + o] += mk * wb * dev_bv;
        bd.dx_allow[(size_t)b * I + i] += dy * mk * wb * dev_dbv;
        bd.dwb_allow[io] += dy * mk * dev_bv;
        bd.y1[(size_t)b * O + o] += mk1 * (wb * bv + ws * sp);
        bd.spl[(size_t)b * O + o] += sp;
        dxb += dy * mk * (wb * dbv + ws * dsp);
        dxb1 += dy * mk1 * (wb * dbv + ws * dsp);
        bd.dwb[io] += dy * mk * bv;
        bd.dwb1[io] += dy * mk1 * bv;
        bd.dws[io] += dy * mk * sp;
        bd.dws1[io] += dy * mk1 * sp;
        if (s >= 0)
          for (int j = jlo; j <= jhi; ++j) {
            const int m = s - k + j;
            if (m < 0 || m >= NB) continue;
            bd.dcoef[((size_t)i * NB + m) * O + o] += dy * mk * ws * nb[j + 1];
            bd.dcoef1[((size_t)i * NB + m) * O + o] += dy * mk1 * ws * nb[j + 1];
          }
      }
      bd.dx[(size_t)b * I + i] += dxb;
      bd.dx1[(size_t)b * I + i] += dxb1;
      if (c.kind[i] >= G_EXTREME) {
        // knot differences beyond FLT_MAX (or infinite knots): no finite result is promised, and
        // the paths may differ; only crashes and sanitizer reports count there
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (int o = 0; o < O; ++o) {
          const size_t io = (size_t)i * O + o;
          bd.y[(size_t)b * O + o] = bd.y1[(size_t)b * O + o] = bd.spl[(size_t)b * O + o] = nan;
          bd.dwb[io] = bd.dwb1[io] = bd.dws[io] = bd.dws1[io] = nan;
          for (int m = 0; m < NB; ++m) bd.dcoef[((size_t)i * NB + m) * O + o] = bd.dcoef1[((size_t)i * NB + m) * O + o] = nan;
        }
        bd.dx[(size_t)b * I + i] = bd.dx1[(size_t)b * I + i] = nan;
      }
    }
  }
  if (c.with_dx) for (size_t q = 0; q < bd.dx.size(); ++q) bd.dx[q] += std::fabs(c.dx0[q]), bd.dx1[q] += std::fabs(c.dx0[q]);
  for (size_t q = 0; q < bd.dcoef.size(); ++q) bd.dcoef[q] += std::fabs(c.dcoef0[q]), bd.dcoef1[q] += std::fabs(c.dcoef0[q]);
  for (size_t q = 0; q < bd.dwb.size(); ++q) {
    bd.dwb[q] += std::fabs(c.dwb0[q]); bd.dws[q] += std::fabs(c.dws0[q]);
    bd.dwb1[q] += std::fabs(c.dwb0[q]); bd.dws1[q] += std::fabs(c.dws0[q]);
  }
  // where finite results are required (bounds are NaN/inf where inputs are not finite)
  auto ok = [](double v) { return v < kBound; };
  bd.y_fin.assign(bd.y.size(), 0); bd.spl_fin.assign(bd.y.size(), 0);
  for (int b = 0; b < B; ++b)
    for (int o = 0; o < O; ++o) {
      const size_t q = (size_t)b * O + o;
      bd.y_fin[q] = xrow_fin[b] && ok(bd.y1[q]);
      bd.spl_fin[q] = xrow_fin[b] && ok(bd.spl[q]);
    }
  bd.dx_fin.assign(bd.dx.size(), 0);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < I; ++i) {
      const size_t q = (size_t)b * I + i;
      bd.dx_fin[q] = fin(c.x[q]) && dyrow_fin[b] && ok(bd.dx1[q]);
    }
  bd.dcoef_fin.assign(bd.dcoef.size(), 0);
  for (size_t q = 0; q < bd.dcoef.size(); ++q) bd.dcoef_fin[q] = dy_all && ok(bd.dcoef1[q]);
  bd.dwb_fin.assign(bd.dwb.size(), 0); bd.dws_fin.assign(bd.dws.size(), 0);
  for (int i = 0; i < I; ++i)
    for (int o = 0; o < O; ++o) {
      const size_t io = (size_t)i * O + o;
      bd.dws_fin[io] = dy_all && ok(bd.dws1[io]);   // non-finite x contributes no spline
      bd.dwb_fin[io] = dy_all && xcol_fin[i] && ok(bd.dwb1[io]);
    }
  return bd;
}

KanCase make_kan_case(Rng& r, const Ctx& ctx, bool allow_extreme) {
  KanCase c;
  // B > 512 crosses a backward chunk with dx (without dx, past 512 the chunks are 1024: B > 1024
  // crosses one); I >= 64 with B >= 64 and NB >= 20 takes the forward's two input halves
  c.B = r.chance(0.06) ? r.irange(65, 1100) : r.irange(0, 64);
  c.I = r.chance(0.03) ? r.irange(64, 100) : r.irange(1, 20);
  c.O = r.irange(1, 40);
  c.G = r.chance(0.1) ? r.irange(51, 300) : r.irange(1, 50);
  c.k = r.irange(1, 5);
  c.base = r.irange(0, 2);
  const int NK = c.NK(), NB = c.NB();
  c.grid.resize((size_t)c.I * NK);
  const bool same = r.chance(0.6);
  const int kind0 = pick_grid_kind(r, allow_extreme);
  c.kind.resize(c.I);
  for (int i = 0; i < c.I; ++i) {
    c.kind[i] = same ? kind0 : pick_grid_kind(r, allow_extreme);
    make_row(r, c.kind[i], NK, c.k, c.grid.data() + (size_t)i * NK);
  }
  c.x.resize((size_t)c.B * c.I);
  for (int b = 0; b < c.B; ++b)
    for (int i = 0; i < c.I; ++i) c.x[(size_t)b * c.I + i] = make_x(r, c.grid.data() + (size_t)i * NK, NK, ctx);
  const double cs = r.chance(0.15) ? r.logu(-3, 3) : 1.0;
  c.coef = rand_vec(r, (size_t)c.I * NB * c.O, cs);
  c.wb = rand_vec(r, (size_t)c.I * c.O, 2.0);
  c.ws = rand_vec(r, (size_t)c.I * c.O, 2.0);
  c.mask.resize((size_t)c.I * c.O);
  const int mk = r.irange(0, 2);
  for (auto& m : c.mask) m = mk == 0 ? 1.0f : mk == 1 ? (r.chance(0.3) ? 0.0f : 1.0f) : (r.chance(0.2) ? 0.0f : r.sym(2.0));
  c.dy = rand_vec(r, (size_t)c.B * c.O, 1.0);
  if (ctx.nonfinite)
    for (auto& d : c.dy) if (r.chance(0.01)) d = r.chance(0.5) ? kNaN : kInf;
  const bool acc = r.chance(0.3);
  c.acc = acc;
  c.with_dx = r.chance(0.8);
  c.dx0 = acc ? rand_vec(r, (size_t)c.B * c.I, 1.0) : vector<float>((size_t)c.B * c.I, 0.0f);
  c.dcoef0 = acc ? rand_vec(r, (size_t)c.I * NB * c.O, 1.0) : vector<float>((size_t)c.I * NB * c.O, 0.0f);
  c.dwb0 = acc ? rand_vec(r, (size_t)c.I * c.O, 1.0) : vector<float>((size_t)c.I * c.O, 0.0f);
  c.dws0 = acc ? rand_vec(r, (size_t)c.I * c.O, 1.0) : vector<float>((size_t)c.I * c.O, 0.0f);
  return c;
}

struct KanOut { vector<float> y, dx, dcoef, dwb, dws; };

// Every buffer is its own exactly sized heap block, so ASan sees any overrun.
KanOut run_kan(const KanCase& c) {
  KanOut o;
  o.y.assign((size_t)c.B * c.O, kNaN);  // must be overwritten
  kan_layer_forward(o.y.data(), c.x.data(), c.grid.data(), c.coef.data(), c.wb.data(), c.ws.data(), c.mask.data(),
                    c.B, c.I, c.O, c.G, c.k, c.base);
  o.dx = c.dx0; o.dcoef = c.dcoef0; o.dwb = c.dwb0; o.dws = c.dws0;
  kan_layer_backward(c.with_dx ? o.dx.data() : nullptr, o.dcoef.data(), o.dwb.data(), o.dws.data(), c.dy.data(),
                     c.x.data(), c.grid.data(), c.coef.data(), c.wb.data(), c.ws.data(), c.mask.data(),
                     c.B, c.I, c.O, c.G, c.k, c.base);
  g.calls["kan_layer_forward"]++;
  g.calls["kan_layer_backward"]++;
  return o;
}

// Backward in overwrite mode from gradients full of NaN: must equal accumulating onto zeros.
KanOut run_kan_overwrite(const KanCase& c) {
  KanOut o;
  o.dx = c.dx0;
  o.dcoef.assign(c.dcoef0.size(), kNaN);
  o.dwb.assign(c.dwb0.size(), kNaN);
  o.dws.assign(c.dws0.size(), kNaN);
  kan_layer_backward(c.with_dx ? o.dx.data() : nullptr, o.dcoef.data(), o.dwb.data(), o.dws.data(), c.dy.data(),
                     c.x.data(), c.grid.data(), c.coef.data(), c.wb.data(), c.ws.data(), c.mask.data(),
                     c.B, c.I, c.O, c.G, c.k, c.base, true);
  g.calls["kan_layer_backward overwrite"]++;
  return o;
}

void expect_overwrite_same(const KanCase& c, const std::string& path, const KanOut& acc, const KanOut& ow) {
  const std::string what = "accumulate onto zeros vs overwrite";
  if (c.with_dx) expect_same_bits("kan backward dx", path, what, acc.dx, ow.dx);
  expect_same_bits("kan backward dcoef", path, what, acc.dcoef, ow.dcoef);
  expect_same_bits("kan backward dwb", path, what, acc.dwb, ow.dwb);
  expect_same_bits("kan backward dws", path, what, acc.dws, ow.dws);
}

std::string kan_desc(const KanCase& c) {
  char buf[256];
  snprintf(buf, sizeof buf, "kan B=%d I=%d O=%d G=%d k=%d base=%d dx=%d", c.B, c.I, c.O, c.G, c.k, c.base, (int)c.with_dx);
  return buf;
}

std::string fmt(const char* f, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// Knot row i: kind, ends, and the knots themselves when short (or always with --verbose).
std::string row_info(const KanCase& c, int i) {
  const int NK = c.NK();
  const float* t = c.grid.data() + (size_t)i * NK;
  std::string s = fmt("row %d %s [%.9g .. %.9g]", i, kGridNames[c.kind[i]], (double)t[0], (double)t[NK - 1]);
  if (NK <= 24 || g.verbose) {
    s += " knots";
    for (int m = 0; m < NK; ++m) s += fmt(" %.9g", (double)t[m]);
  }
  return s;
}

std::string x_info(const KanCase& c, int b, int i) {
  const float xv = c.x[(size_t)b * c.I + i];
  return fmt("x[%d,%d]=%.9g (span %d)", b, i, (double)xv, span_of(c.grid.data() + (size_t)i * c.NK(), c.NK(), xv));
}

std::string kan_explain(const KanCase& c, const std::string& name, size_t q) {
  const int I = c.I, O = c.O, NB = c.NB();
  std::string s = "\n      ";
  if (name.find("forward y") != std::string::npos || name.find("spline_eval vs") != std::string::npos) {
    const int b = (int)(q / O), o = (int)(q % O);
    s += fmt("y[%d,%d]:", b, o);
    for (int i = 0; i < I; ++i) s += "\n      " + x_info(c, b, i) + " " + row_info(c, i);
  } else if (name.find("dx") != std::string::npos) {
    const int b = (int)(q / I), i = (int)(q % I);
    s += x_info(c, b, i) + " " + row_info(c, i);
  } else if (name.find("dcoef") != std::string::npos) {
    const int i = (int)(q / ((size_t)NB * O)), m = (int)(q / O % NB), o = (int)(q % O);
    s += fmt("dcoef[%d,%d,%d] ", i, m, o) + row_info(c, i);
    for (int b = 0; b < c.B; ++b) {
      const int sp = span_of(c.grid.data() + (size_t)i * c.NK(), c.NK(), c.x[(size_t)b * I + i]);
      if (sp >= 0 && m >= sp - c.k && m <= sp) s += "\n      " + x_info(c, b, i);
      else if (!fin(c.x[(size_t)b * I + i])) s += "\n      " + x_info(c, b, i) + " (non-finite)";
      if (!fin(c.dy[(size_t)b * O + o])) s += fmt("\n      dy[%d,%d]=%g", b, o, (double)c.dy[(size_t)b * O + o]);
    }
  } else if (name.find("dwb") != std::string::npos || name.find("dws") != std::string::npos) {
    const int i = (int)(q / O), o = (int)(q % O);
    s += fmt("[%d,%d] ", i, o) + row_info(c, i);
    for (int b = 0; b < c.B && b < 64; ++b) s += "\n      " + x_info(c, b, i);
  }
  return s;
}

void fuzz_kan(Rng& r, const Ctx& ctx, const vector<std::string>& paths, const std::string& tpath, int nth, bool allow_extreme) {
  KanCase c = make_kan_case(r, ctx, allow_extreme);
  g.case_desc = kan_desc(c);
  g.explain = [&c](const std::string& name, size_t q) { return kan_explain(c, name, q); };
  struct Reset { ~Reset() { g.explain = nullptr; } } reset;
  const KanBounds bd = kan_bounds(c);
  simd_set("scalar");
  threads_set(1);
  const KanOut ref = run_kan(c);
  if (!c.acc) expect_overwrite_same(c, "scalar", ref, run_kan_overwrite(c));
  expect_finite("kan forward y", "scalar", ref.y, bd.y_fin);
  if (c.with_dx) expect_finite("kan backward dx", "scalar", ref.dx, bd.dx_fin);
  expect_finite("kan backward dcoef", "scalar", ref.dcoef, bd.dcoef_fin);
  expect_finite("kan backward dwb", "scalar", ref.dwb, bd.dwb_fin);
  expect_finite("kan backward dws", "scalar", ref.dws, bd.dws_fin);
  KanOut tref;
  for (const auto& p : paths) {
    if (p == "scalar") { if (p == tpath) tref = ref; continue; }
    simd_set(p);
    const KanOut o = run_kan(c);
    if (p == tpath) tref = o;
    if (!c.acc) expect_overwrite_same(c, p, o, run_kan_overwrite(c));
    expect_finite("kan forward y", p, o.y, bd.y_fin);
    if (c.with_dx) expect_finite("kan backward dx", p, o.dx, bd.dx_fin);
    expect_finite("kan backward dcoef", p, o.dcoef, bd.dcoef_fin);
    expect_finite("kan backward dwb", p, o.dwb, bd.dwb_fin);
    expect_finite("kan backward dws", p, o.dws, bd.dws_fin);
    compare("kan forward y", p, o.y, ref.y, bd.y, 1.0, &bd.y1, nullptr, &bd.y_allow);
    if (c.with_dx) compare("kan backward dx", p, o.dx, ref.dx, bd.dx, 1.0, &bd.dx1, &bd.dx_skip, &bd.dx_allow);
    compare("kan backward dcoef", p, o.dcoef, ref.dcoef, bd.dcoef, 1.0, &bd.dcoef1);
    compare("kan backward dwb", p, o.dwb, ref.dwb, bd.dwb, 1.0, &bd.dwb1, nullptr, &bd.dwb_allow);
    compare("kan backward dws", p, o.dws, ref.dws, bd.dws, 1.0, &bd.dws1);
  }
  // threads
  simd_set(tpath);
  threads_set(nth);
  const KanOut t = run_kan(c);
  if (!c.acc) expect_overwrite_same(c, tpath + " " + std::to_string(nth) + " threads", tref, run_kan_overwrite(c));
  threads_set(1);
  expect_bitwise("kan forward y", tpath, nth, tref.y, t.y);
  expect_bitwise("kan backward dx", tpath, nth, tref.dx, t.dx);
  expect_bitwise("kan backward dcoef", tpath, nth, tref.dcoef, t.dcoef);
  expect_bitwise("kan backward dwb", tpath, nth, tref.dwb, t.dwb);
  expect_bitwise("kan backward dws", tpath, nth, tref.dws, t.dws);

  // spline_eval: out[n,i,o]; summed over i it is the scalar forward with wb = 0, ws = 1, mask = 1
  if (c.B > 0) {
    vector<float> out((size_t)c.B * c.I * c.O, kNaN);
    spline_eval(out.data(), c.x.data(), c.grid.data(), c.coef.data(), c.B, c.I, c.O, c.G, c.k);
    g.calls["spline_eval"]++;
    vector<float> sum((size_t)c.B * c.O, 0.0f);
    vector<char> ofin(out.size(), 0);
    for (int b = 0; b < c.B; ++b)
      for (int i = 0; i < c.I; ++i)
        for (int o = 0; o < c.O; ++o) {
          const size_t q = ((size_t)b * c.I + i) * c.O + o;
          sum[(size_t)b * c.O + o] += out[q];
          ofin[q] = fin(c.x[(size_t)b * c.I + i]) && bd.spl[(size_t)b * c.O + o] < kBound;
        }
    expect_finite("spline_eval", "-", out, ofin);
    vector<float> zero((size_t)c.I * c.O, 0.0f), one((size_t)c.I * c.O, 1.0f), ys((size_t)c.B * c.O, kNaN);
    simd_set("scalar");
    kan_layer_forward(ys.data(), c.x.data(), c.grid.data(), c.coef.data(), zero.data(), one.data(), one.data(),
                      c.B, c.I, c.O, c.G, c.k, c.base);
    compare("spline_eval vs forward", "sum_i", sum, ys, bd.spl);
    threads_set(nth);
    vector<float> out2((size_t)c.B * c.I * c.O, kNaN);
    spline_eval(out2.data(), c.x.data(), c.grid.data(), c.coef.data(), c.B, c.I, c.O, c.G, c.k);
    threads_set(1);
    expect_bitwise("spline_eval", "-", nth, out, out2);
  }
}

// ---------------------------------------------------------------------------------------------
// spline_fit

void fuzz_spline_fit(Rng& r, const Ctx& ctx, int nth, bool allow_extreme) {
  const int n = r.irange(0, 200), I = r.irange(1, 10), O = r.irange(1, 10), G = r.irange(1, 50), k = r.irange(1, 5);
  const int NK = G + 2 * k + 1, NB = G + k;
  const double lambdas[] = {0.0, 1e-8, 1e-4, 1.0};
  const double lambda = lambdas[r.irange(0, 3)];
  vector<float> grid((size_t)I * NK);
  vector<int> kind(I);
  const int kind0 = pick_grid_kind(r, allow_extreme);
  for (int i = 0; i < I; ++i) {
    kind[i] = r.chance(0.6) ? kind0 : pick_grid_kind(r, allow_extreme);
    make_row(r, kind[i], NK, k, grid.data() + (size_t)i * NK);
  }
  vector<float> x((size_t)n * I);
  for (int s = 0; s < n; ++s)
    for (int i = 0; i < I; ++i) x[(size_t)s * I + i] = make_x(r, grid.data() + (size_t)i * NK, NK, ctx);
  vector<float> y = rand_vec(r, (size_t)n * I * O, r.chance(0.2) ? 1e3 : 1.0);
  char buf[160];
  snprintf(buf, sizeof buf, "spline_fit n=%d I=%d O=%d G=%d k=%d lambda=%g", n, I, O, G, k, lambda);
  g.case_desc = buf;
  vector<float> coef((size_t)I * NB * O, kNaN);
  threads_set(1);
  spline_fit(coef.data(), x.data(), y.data(), grid.data(), n, I, O, G, k, lambda);
  g.calls["spline_fit"]++;
  // finite data (x may be anything: non-finite x is skipped) give finite coefficients
  vector<char> want(coef.size(), lambda > 0.0 || !g.allow_fit_lambda0);
  for (int i = 0; i < I; ++i)
    if (kind[i] >= G_EXTREME) std::fill(want.begin() + (size_t)i * NB * O, want.begin() + (size_t)(i + 1) * NB * O, 0);
  expect_finite("spline_fit coef", "-", coef, want);
  threads_set(nth);
  vector<float> coef2((size_t)I * NB * O, kNaN);
  spline_fit(coef2.data(), x.data(), y.data(), grid.data(), n, I, O, G, k, lambda);
  threads_set(1);
  expect_bitwise("spline_fit coef", "-", nth, coef, coef2);
}

// ---------------------------------------------------------------------------------------------
// Dense layer

float act_deriv_ref(int act, float z) {  // as ops.cc
  switch (act) {
    case ACT_RELU: return z > 0.0f ? 1.0f : 0.0f;
    case ACT_SILU: { const float s = 1.0f / (1.0f + std::exp(-z)); return s * (1.0f + z * (1.0f - s)); }
    case ACT_TANH: { const float t = std::tanh(z); return 1.0f - t * t; }
    default: return 1.0f;
  }
}

void fuzz_dense(Rng& r, const Ctx& ctx, const vector<std::string>& paths, const std::string& tpath, int nth) {
  const bool big = r.chance(0.1);
  const int B = big ? r.irange(1, 128) : r.irange(0, 64), I = big ? r.irange(64, 300) : r.irange(1, 64),
            O = big ? r.irange(64, 200) : r.irange(1, 70), act = r.irange(0, 3);
  const bool inplace = r.chance(0.25), with_dx = r.chance(0.8);
  vector<float> x((size_t)B * I);
  for (auto& v : x) {
    const double u = r.uni();
    v = ctx.nonfinite && u < 0.01 ? (r.chance(0.5) ? kNaN : -kInf)
      : ctx.huge && u < 0.03 ? (float)((r.chance(0.5) ? -1 : 1) * r.logu(15, 38.5))
      : r.sym(2.0);
  }
  const double wsc = r.chance(0.1) ? r.logu(-3, 3) : 1.0;
  vector<float> W = rand_vec(r, (size_t)I * O, wsc / std::sqrt((double)I)), bias = rand_vec(r, O, 1.0), dy = rand_vec(r, (size_t)B * O, 1.0);
  const bool acc = r.chance(0.3);
  vector<float> dx0 = acc ? rand_vec(r, (size_t)B * I, 1.0) : vector<float>((size_t)B * I, 0.0f);
  vector<float> dW0 = acc ? rand_vec(r, (size_t)I * O, 1.0) : vector<float>((size_t)I * O, 0.0f);
  vector<float> db0 = acc ? rand_vec(r, O, 1.0) : vector<float>(O, 0.0f);
  char buf[160];
  snprintf(buf, sizeof buf, "dense B=%d I=%d O=%d act=%d inplace=%d dx=%d", B, I, O, act, (int)inplace, (int)with_dx);
  g.case_desc = buf;
  // bounds
  vector<double> bz((size_t)B * O, 0.0);
  vector<char> zfin((size_t)B * O, 0);
  for (int b = 0; b < B; ++b) {
    bool rowfin = true;
    for (int i = 0; i < I; ++i) rowfin = rowfin && fin(x[(size_t)b * I + i]);
    for (int o = 0; o < O; ++o) {
      double s = std::fabs(bias[o]);
      for (int i = 0; i < I; ++i) s += std::fabs((double)x[(size_t)b * I + i]) * std::fabs(W[(size_t)i * O + o]);
      bz[(size_t)b * O + o] = s;
      zfin[(size_t)b * O + o] = rowfin && s < kBound;
    }
  }
  struct Out { vector<float> y, z, dx, dW, db; };
  const vector<float>* zref = nullptr;
  auto run_fwd = [&](Out& o) {
    o.y.assign((size_t)B * O, kNaN);
    o.z.assign((size_t)B * O, kNaN);
    dense_forward(o.y.data(), inplace ? nullptr : o.z.data(), x.data(), W.data(), bias.data(), B, I, O, act);
    if (inplace) o.z.clear();
    g.calls["dense_forward"]++;
  };
  auto run_bwd = [&](Out& o, const vector<float>& z) {
    o.dx = dx0; o.dW = dW0; o.db = db0;
    dense_backward(with_dx ? o.dx.data() : nullptr, o.dW.data(), o.db.data(), dy.data(), x.data(), z.data(), W.data(), B, I, O, act);
    g.calls["dense_backward"]++;
  };
  // overwrite mode from NaN-filled dW/dbias (dx accumulated as ever): the bits of accumulating
  // onto zeros, which `o` holds when the initial gradients were zero
  auto expect_dense_overwrite = [&](const Out& o, const vector<float>& z, const std::string& path) {
    if (acc) return;
    Out w;
    w.dx = dx0;
    w.dW.assign(dW0.size(), kNaN);
    w.db.assign(db0.size(), kNaN);
    dense_backward(with_dx ? w.dx.data() : nullptr, w.dW.data(), w.db.data(), dy.data(), x.data(), z.data(), W.data(), B, I, O, act, true);
    g.calls["dense_backward overwrite"]++;
    const std::string what = "accumulate onto zeros vs overwrite";
    if (with_dx) expect_same_bits("dense backward dx", path, what, o.dx, w.dx);
    expect_same_bits("dense backward dW", path, what, o.dW, w.dW);
    expect_same_bits("dense backward dbias", path, what, o.db, w.db);
  };
  simd_set("scalar");
  threads_set(1);
  Out ref;
  run_fwd(ref);
  // backward runs from the scalar pre-activation on every path (so ReLU's kink cannot differ)
  vector<float> z = inplace ? vector<float>() : ref.z;
  if (inplace) {  // recompute z with identity act
    z.assign((size_t)B * O, kNaN);
    dense_forward(z.data(), nullptr, x.data(), W.data(), bias.data(), B, I, O, ACT_IDENTITY);
  }
  zref = &z;
  run_bwd(ref, *zref);
  expect_dense_overwrite(ref, *zref, "scalar");
  expect_finite("dense forward y", "scalar", ref.y, zfin);
  // backward bounds
  vector<double> bdz((size_t)B * O);
  vector<char> dzfin((size_t)B * O);
  for (size_t q = 0; q < bdz.size(); ++q) {
    const float d = act == ACT_IDENTITY ? dy[q] : dy[q] * act_deriv_ref(act, z[q]);
    bdz[q] = std::fabs((double)d);
    dzfin[q] = fin(d);
  }
  vector<double> bdx((size_t)B * I, 0.0), bdW((size_t)I * O, 0.0), bdb(O, 0.0);
  vector<char> fdx((size_t)B * I, 0), fdW((size_t)I * O, 0), fdb(O, 0);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < I; ++i) {
      double s = std::fabs(dx0[(size_t)b * I + i]);
      bool f = true;
      for (int o = 0; o < O; ++o) { s += bdz[(size_t)b * O + o] * std::fabs(W[(size_t)i * O + o]); f = f && dzfin[(size_t)b * O + o]; }
      bdx[(size_t)b * I + i] = s;
      fdx[(size_t)b * I + i] = f && s < kBound;
    }
  for (int i = 0; i < I; ++i)
    for (int o = 0; o < O; ++o) {
      double s = std::fabs(dW0[(size_t)i * O + o]);
      bool f = true;
      for (int b = 0; b < B; ++b) {
        const float xv = x[(size_t)b * I + i];
        s += std::fabs((double)xv) * bdz[(size_t)b * O + o];
        f = f && fin(xv) && dzfin[(size_t)b * O + o];
      }
      bdW[(size_t)i * O + o] = s;
      fdW[(size_t)i * O + o] = f && s < kBound;
    }
  for (int o = 0; o < O; ++o) {
    double s = std::fabs(db0[o]);
    bool f = true;
    for (int b = 0; b < B; ++b) { s += bdz[(size_t)b * O + o]; f = f && dzfin[(size_t)b * O + o]; }
    bdb[o] = s;
    fdb[o] = f && s < kBound;
  }
  if (with_dx) expect_finite("dense backward dx", "scalar", ref.dx, fdx);
  expect_finite("dense backward dW", "scalar", ref.dW, fdW);
  expect_finite("dense backward dbias", "scalar", ref.db, fdb);
  Out tref = ref;
  for (const auto& p : paths) {
    if (p == "scalar") continue;
    simd_set(p);
    Out o;
    run_fwd(o);
    run_bwd(o, *zref);
    expect_dense_overwrite(o, *zref, p);
    if (p == tpath) tref = o;
    expect_finite("dense forward y", p, o.y, zfin);
    // y = act(z) with act 1.1-Lipschitz: compare y against z's bound
    compare("dense forward y", p, o.y, ref.y, bz, 1.1);
    if (!inplace) compare("dense forward z", p, o.z, ref.z, bz);
    if (with_dx) compare("dense backward dx", p, o.dx, ref.dx, bdx);
    compare("dense backward dW", p, o.dW, ref.dW, bdW);
    compare("dense backward dbias", p, o.db, ref.db, bdb);
  }
  simd_set(tpath);
  threads_set(nth);
  Out t;
  run_fwd(t);
  run_bwd(t, *zref);
  expect_dense_overwrite(t, *zref, tpath + " " + std::to_string(nth) + " threads");
  threads_set(1);
  expect_bitwise("dense forward y", tpath, nth, tref.y, t.y);
  expect_bitwise("dense forward z", tpath, nth, tref.z, t.z);
  expect_bitwise("dense backward dx", tpath, nth, tref.dx, t.dx);
  expect_bitwise("dense backward dW", tpath, nth, tref.dW, t.dW);
  expect_bitwise("dense backward dbias", tpath, nth, tref.db, t.db);
}

// ---------------------------------------------------------------------------------------------
// Losses (no SIMD table: checked against float64 formulas)

void fuzz_losses(Rng& r, const Ctx& ctx) {
  {
    const size_t n = r.chance(0.1) ? 0 : (size_t)r.irange(1, 1000);
    const double sc = r.chance(0.2) ? r.logu(3, 18) : 2.0;
    vector<float> pred = rand_vec(r, n, sc), target = rand_vec(r, n, sc), dpred(n, kNaN);
    if (ctx.nonfinite && n && r.chance(0.3)) pred[r.irange(0, (int)n - 1)] = kNaN;
    char buf[96];
    snprintf(buf, sizeof buf, "mse n=%zu", n);
    g.case_desc = buf;
    const bool with_d = r.chance(0.8);
    const double l = mse_loss(with_d ? dpred.data() : nullptr, pred.data(), target.data(), n);
    g.calls["mse_loss"]++;
    double acc = 0.0;
    bool allfin = true;
    for (size_t q = 0; q < n; ++q) {
      const double d = (double)pred[q] - target[q];
      acc += d * d;
      allfin = allfin && fin(pred[q]) && fin(target[q]);
    }
    const double want = n ? acc / n : 0.0;
    ++g.finite_checks;
    if (allfin && !fin(l)) fail("mse_loss: non-finite %g for finite data", l);
    if (allfin && fin(want) && std::fabs(l - want) > 1e-5 * std::max(want, 1e-30)) fail("mse_loss %.9g vs float64 %.9g", l, want);
    if (with_d && allfin)
      for (size_t q = 0; q < n; ++q) {
        const double dw = 2.0 / n * ((double)pred[q] - target[q]);
        if (!fin(dpred[q]) || std::fabs(dpred[q] - dw) > 1e-5 * std::fabs(dw) + 1e-30) {
          fail("mse_loss dpred[%zu] = %.9g, float64 %.9g", q, (double)dpred[q], dw);
          break;
        }
      }
  }
  {
    const int B = r.irange(0, 64), C = r.irange(1, 20);
    const double sc = r.chance(0.2) ? r.logu(1, 38) : 5.0;
    vector<float> logits = rand_vec(r, (size_t)B * C, std::min(sc, (double)kMax)), dl((size_t)B * C, kNaN);
    vector<int32_t> labels(B);
    for (auto& l : labels) l = r.irange(0, C - 1);
    if (ctx.nonfinite && B && r.chance(0.3)) logits[r.irange(0, B * C - 1)] = r.chance(0.5) ? kNaN : kInf;
    char buf[96];
    snprintf(buf, sizeof buf, "cross_entropy B=%d C=%d scale=%.3g", B, C, sc);
    g.case_desc = buf;
    const bool with_d = r.chance(0.8);
    const double l = cross_entropy_loss(with_d ? dl.data() : nullptr, logits.data(), labels.data(), B, C);
    g.calls["cross_entropy_loss"]++;
    bool allfin = true;
    for (float v : logits) allfin = allfin && fin(v);
    if (!allfin) return;
    double want = 0.0;
    vector<double> dwant((size_t)B * C);
    for (int b = 0; b < B; ++b) {
      const float* lr = logits.data() + (size_t)b * C;
      double mx = lr[0];
      for (int c = 1; c < C; ++c) mx = std::max(mx, (double)lr[c]);
      double sum = 0.0;
      for (int c = 0; c < C; ++c) sum += std::exp((double)lr[c] - mx);
      want += std::log(sum) + (mx - lr[labels[b]]);
      for (int c = 0; c < C; ++c) dwant[(size_t)b * C + c] = std::exp((double)lr[c] - mx) / sum / B - (c == labels[b] ? 1.0 / B : 0.0);
    }
    want = B ? want / B : 0.0;
    ++g.finite_checks;
    if (!fin(l)) fail("cross_entropy_loss: non-finite %g for finite logits", l);
    else if (std::fabs(l - want) > 1e-6 * std::max(std::fabs(want), 1.0)) fail("cross_entropy_loss %.9g vs float64 %.9g", l, want);
    if (with_d)
      for (size_t q = 0; q < dl.size(); ++q)
        if (!fin(dl[q]) || std::fabs(dl[q] - dwant[q]) > 1e-6) {
          fail("cross_entropy_loss dlogits[%zu] = %.9g, float64 %.9g", q, (double)dl[q], dwant[q]);
          break;
        }
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizers

void fuzz_optim(Rng& r, const Ctx& ctx, const vector<std::string>& paths, const std::string& tpath, int nth) {
  const size_t n = r.chance(0.1) ? (size_t)r.irange(30000, 70000) : r.chance(0.1) ? 0 : (size_t)r.irange(1, 5000);
  const bool adam = r.chance(0.5);
  vector<float> p = rand_vec(r, n, 1.0), g0 = rand_vec(r, n, r.chance(0.2) ? r.logu(-20, 15) : 1.0);
  vector<float> m0 = rand_vec(r, n, 0.1), v0(n), buf0 = rand_vec(r, n, 0.1);
  for (auto& v : v0) v = (float)r.range(0, 0.1);
  if (r.chance(0.3)) std::fill(m0.begin(), m0.end(), 0.0f), std::fill(v0.begin(), v0.end(), 0.0f), std::fill(buf0.begin(), buf0.end(), 0.0f);
  if (ctx.nonfinite && n && r.chance(0.3)) g0[r.irange(0, (int)n - 1)] = kNaN;
  const float lr = (float)r.logu(-5, -0.5), beta1 = (float)r.range(0, 0.99), beta2 = (float)r.range(0.9, 0.9999),
              eps = (float)r.logu(-10, -6), wd = r.chance(0.5) ? 0.0f : (float)r.logu(-6, -2),
              mom = r.chance(0.3) ? 0.0f : (float)r.range(0, 0.99);
  const int t = r.chance(0.5) ? r.irange(1, 10) : r.irange(1, 100000);
  char bufd[160];
  snprintf(bufd, sizeof bufd, "%s n=%zu lr=%g b1=%g b2=%g eps=%g wd=%g mom=%g t=%d", adam ? "adam" : "sgd", n, lr, beta1, beta2,
           eps, wd, mom, t);
  g.case_desc = bufd;
  struct St { vector<float> p, m, v; };
  auto run = [&]() {
    St s{p, adam ? m0 : buf0, v0};
    if (adam) { adam_step(s.p.data(), s.m.data(), s.v.data(), g0.data(), n, lr, beta1, beta2, eps, wd, t); g.calls["adam_step"]++; }
    else { sgd_step(s.p.data(), s.m.data(), g0.data(), n, lr, mom, wd); g.calls["sgd_step"]++; }
    return s;
  };
  simd_set("scalar");
  threads_set(1);
  const St ref = run();
  // bounds
  vector<double> bp(n), bm(n), bv(n);
  vector<char> want(n);
  const double bc1 = 1.0 - std::pow((double)beta1, t), bc2 = 1.0 - std::pow((double)beta2, t);
  for (size_t q = 0; q < n; ++q) {
    const double gq = std::fabs((double)g0[q]) + wd * std::fabs((double)p[q]);
    if (adam) {
      bm[q] = beta1 * std::fabs((double)m0[q]) + (1 - beta1) * gq;
      bv[q] = beta2 * (double)v0[q] + (1 - beta2) * gq * gq;
      const double step = lr * std::fabs((double)ref.m[q]) / bc1 / (std::sqrt((double)ref.v[q] / bc2) + eps);
      bp[q] = std::fabs((double)p[q]) + (fin(step) ? step : 0.0) + 1e-30;
    } else {
      bm[q] = mom * std::fabs((double)buf0[q]) + gq;
      bp[q] = std::fabs((double)p[q]) + lr * bm[q];
    }
    // finite state expected when the gradient is finite and v = g^2 stays below FLT_MAX
    want[q] = fin(g0[q]) && gq < 1e18;
  }
  expect_finite(adam ? "adam p" : "sgd p", "scalar", ref.p, want);
  expect_finite(adam ? "adam m" : "sgd buf", "scalar", ref.m, want);
  if (adam) expect_finite("adam v", "scalar", ref.v, want);
  St tref = ref;
  for (const auto& pa : paths) {
    if (pa == "scalar") continue;
    simd_set(pa);
    const St o = run();
    if (pa == tpath) tref = o;
    expect_finite(adam ? "adam p" : "sgd p", pa, o.p, want);
    compare(adam ? "adam p" : "sgd p", pa, o.p, ref.p, bp);
    compare(adam ? "adam m" : "sgd buf", pa, o.m, ref.m, bm);
    if (adam) compare("adam v", pa, o.v, ref.v, bv);
  }
  simd_set(tpath);
  threads_set(nth);
  const St o = run();
  threads_set(1);
  expect_bitwise(adam ? "adam p" : "sgd p", tpath, nth, tref.p, o.p);
  expect_bitwise(adam ? "adam m" : "sgd buf", tpath, nth, tref.m, o.m);
  expect_bitwise("adam v", tpath, nth, tref.v, o.v);
}

// ---------------------------------------------------------------------------------------------

struct Options { double seconds = 30; long iters = -1; uint64_t seed = 1; long replay = -1; bool extreme = true; bool trace = false; };

void one_iteration(uint64_t seed, uint64_t iter, const vector<std::string>& paths, const Options& opt) {
  g.iter = iter;
  Rng r(iter_seed(seed, iter));
  Ctx ctx{r.chance(0.2), r.chance(0.3)};
  const std::string tpath = paths[r.irange(0, (int)paths.size() - 1)];
  const int nth = r.chance(0.75) ? 2 : 3;
  fuzz_kan(r, ctx, paths, tpath, nth, opt.extreme);
  if (r.chance(0.5)) fuzz_spline_fit(r, ctx, nth, opt.extreme);
  fuzz_dense(r, ctx, paths, tpath, nth);
  fuzz_losses(r, ctx);
  fuzz_optim(r, ctx, paths, tpath, nth);
}

// --allow WHAT: accept a known finding (see the file comment). false if WHAT is unknown.
bool apply_allow(const std::string& what, Options& opt) {
  if (what == "silu-tail") g.allow_silu_tail = true;
  else if (what == "extreme-grids") opt.extreme = false;
  else if (what == "fit-lambda0") g.allow_fit_lambda0 = true;
  else return false;
  return true;
}

[[maybe_unused]] void report(long iters, double secs, uint64_t seed, const vector<std::string>& paths) {
  std::string ps;
  for (const auto& p : paths) ps += (ps.empty() ? "" : ", ") + p;
  std::printf("fuzz_kernels: seed %" PRIu64 ", %ld iterations in %.1f s; SIMD paths: %s (compared with scalar); threads 1 vs 2/3\n",
              seed, iters, secs, ps.c_str());
  std::printf("  calls:");
  for (const auto& c : g.calls) std::printf(" %s %ld,", c.first.c_str(), c.second);
  std::printf("\n  checks: %ld finiteness, %ld SIMD-vs-scalar (%ld k=1 dx elements at a knot not compared), %ld bitwise (threads, backward overwrite)\n",
              g.finite_checks, g.compare_checks, g.skipped, g.bitwise_checks);
  if (!g.nan_payload_diffs.empty()) {
    std::printf("  note: elements NaN with 1 thread and with more, but with a different sign/payload:");
    for (const auto& d : g.nan_payload_diffs) std::printf(" %s %ld,", d.first.c_str(), d.second);
    std::printf("\n");
  }
  std::printf("  worst error relative to the float64 bound of the absolute terms (tolerance %.1e):\n", g.tol);
  for (const auto& w : g.worst)
    std::printf("    %-34s %9.2e  (iter %" PRIu64 ")%s%s\n", w.first.c_str(), w.second.err, w.second.iter,
                g.verbose ? "  " : "", g.verbose ? w.second.where.c_str() : "");
  if (g.failure_count) {
    std::printf("  FAILURES: %ld (first %zu):\n", g.failure_count, g.failures.size());
    for (const auto& f : g.failures) std::printf("    %s\n", f.c_str());
    std::printf("  replay one with: --seed %" PRIu64 " --replay ITER\n", seed);
  } else {
    std::printf("  no failures\n");
  }
}

}  // namespace

#ifdef KAN_LIBFUZZER
// KAN_FUZZ_ALLOW (comma-separated, e.g. "silu-tail,extreme-grids") plays the role of --allow.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vector<std::string> paths = simd_available();
  static Options opt = [] {
    Options o;
    if (const char* env = std::getenv("KAN_FUZZ_ALLOW")) {
      std::string list(env), item;
      for (size_t p = 0; p <= list.size(); ++p)
        if (p == list.size() || list[p] == ',') { if (!item.empty()) apply_allow(item, o); item.clear(); }
        else item += list[p];
    }
    return o;
  }();
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the input: the iteration's seed
  for (size_t q = 0; q < size; ++q) h = (h ^ data[q]) * 0x100000001b3ULL;
  g.failure_count = 0;
  one_iteration(h, 0, paths, opt);
  if (g.failure_count) std::abort();
  return 0;
}
#else
int main(int argc, char** argv) {
  Options opt;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    auto val = [&]() -> const char* {
      if (a + 1 >= argc) { std::fprintf(stderr, "fuzz_kernels: %s needs a value\n", s.c_str()); std::exit(2); }
      return argv[++a];
    };
    if (s == "--seconds") opt.seconds = std::atof(val());
    else if (s == "--iters") opt.iters = std::atol(val());
    else if (s == "--seed") opt.seed = std::strtoull(val(), nullptr, 0);
    else if (s == "--tol") g.tol = std::atof(val());
    else if (s == "--replay") opt.replay = std::atol(val());
    else if (s == "--allow") {
      if (!apply_allow(val(), opt)) { std::fprintf(stderr, "fuzz_kernels: --allow takes silu-tail, extreme-grids or fit-lambda0\n"); return 2; }
    }
    else if (s == "--verbose") g.verbose = true;
    else if (s == "--trace") opt.trace = true;
    else {
      std::fprintf(stderr, "usage: fuzz_kernels [--seconds S] [--iters N] [--seed X] [--tol T] [--replay ITER] "
                           "[--allow silu-tail|extreme-grids|fit-lambda0]... [--verbose] [--trace]\n");
      return 2;
    }
  }
  const vector<std::string> paths = simd_available();
  // simd_set refuses unknown names and paths this CPU lacks
  if (simd_set("no-such-path")) fail("simd_set accepted an unknown path");
  for (const char* p : {"avx512", "avx2", "baseline", "scalar", "w16"})
    if (simd_set(p) != (std::find(paths.begin(), paths.end(), p) != paths.end())) fail("simd_set(%s) disagrees with simd_available", p);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&]() { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  long done = 0;
  if (opt.replay >= 0) {
    g.verbose = true;
    one_iteration(opt.seed, (uint64_t)opt.replay, paths, opt);
    done = 1;
  } else {
    for (uint64_t it = 0; (opt.iters < 0 || (long)it < opt.iters) && elapsed() < opt.seconds; ++it) {
      if (opt.trace) std::fprintf(stderr, "fuzz_kernels: iteration %" PRIu64 " (replay: --seed %" PRIu64 " --replay %" PRIu64 ")\n", it, opt.seed, it);
      one_iteration(opt.seed, it, paths, opt);
      ++done;
      if (g.failure_count >= 200) break;
    }
  }
  report(done, elapsed(), opt.seed, paths);
  return g.failure_count ? 1 : 0;
}
#endif
