// bspline.h — span search and the triangular de Boor scheme for one (sample, input).
//
// Included by each kernel translation unit; everything is `static inline` so that copies built
// for different instruction sets never merge at link time (ODR-safe multi-ISA builds).
#pragma once
// builtins only (no <cmath> inline overloads): see kernels_impl.inc on linkage

namespace {

// Span s with t[s] <= x < t[s+1] on a row of NK knots, or -1 when x is outside [t[0], t[NK-1])
// (or NaN): there every basis is 0. Uniform rows guess s with one multiply, then fix rounding.
static inline int kan_find_span(const float* t, int NK, float x, float t0, float invh, bool uniform) {
  if (!(x >= t[0] && x < t[NK - 1])) return -1;
  int s;
  if (uniform) {
    const float f = (x - t0) * invh;  // >= 0 since x >= t[0] = t0
    s = f < (float)(NK - 2) ? (int)f : NK - 2;  // convert only in range (f may be inf or NaN)
    while (s > 0 && x < t[s]) --s;
    while (s < NK - 2 && x >= t[s + 1]) ++s;
  } else {
    int lo = 0, hi = NK - 1;  // invariant: t[lo] <= x < t[hi]
    while (hi - lo > 1) {
      int mid = (lo + hi) >> 1;
      if (x >= t[mid]) lo = mid; else hi = mid;
    }
    s = lo;
  }
  return s;
}

// N[r] = B_{s-k+r, k}(x), r = 0..k, on the padded row tp (tp[j + k] = t[j]); when D is not
// null, also D[r] = d/dx B_{s-k+r, k}(x). T is float in the kernels, double in least squares.
// Denominators t[s+r+1] - t[s+r+1-j] span an interval containing [t_s, t_{s+1}), so they are > 0.
template <typename T>
static inline void kan_basis_t(const float* tp, int s, T x, int k, T* N, T* D) {
  const float* t = tp + k;  // t[j] valid for j in [-k, NK + k)
  T left[8], right[8];
  N[0] = T(1);
  for (int j = 1; j <= k; ++j) {
    left[j] = x - (T)t[s + 1 - j];
    right[j] = (T)t[s + j] - x;
    if (D && j == k) {
      // N holds B_{s-k+1+r, k-1}, r = 0..k-1: dB_{m,k} = k*(B_{m,k-1}/(t_{m+k}-t_m)
      // - B_{m+1,k-1}/(t_{m+k+1}-t_{m+1}))
      for (int r = 0; r <= k; ++r) D[r] = T(0);
      for (int r = 0; r < k; ++r) {
        const T temp = (T)k * N[r] / ((T)t[s + r + 1] - (T)t[s + r + 1 - k]);
        D[r] -= temp;
        D[r + 1] += temp;
      }
    }
    T saved = T(0);
    for (int r = 0; r < j; ++r) {
      const T temp = N[r] / (right[r + 1] + left[j - r]);
      N[r] = saved + right[r + 1] * temp;
      saved = left[j - r] * temp;
    }
    N[j] = saved;
  }
}

// The scalar paths evaluate in double: a knot span can be as narrow as the smallest float
// difference (1.4e-45, a subnormal), and 1/width overflows float but not double.
static inline void kan_basis(const float* tp, int s, float x, int k, float* N) {
  double Nd[8];
  kan_basis_t<double>(tp, s, (double)x, k, Nd, nullptr);
  for (int r = 0; r <= k; ++r) N[r] = (float)Nd[r];
}
static inline void kan_basis_deriv(const float* tp, int s, float x, int k, float* N, float* D) {
  double Nd[8], Dd[8] = {};  // (zeroed: k = 0 would leave it unwritten; silences -Wmaybe-uninitialized)
  kan_basis_t<double>(tp, s, (double)x, k, Nd, Dd);
  for (int r = 0; r <= k; ++r) {
    N[r] = (float)Nd[r];
    // a derivative beyond float range (a subnormal-width span) saturates instead of becoming inf
    D[r] = (float)(Dd[r] > 3.0e38 ? 3.0e38 : Dd[r] < -3.0e38 ? -3.0e38 : Dd[r]);
  }
}

static inline float kan_base_value(int base, float x) {
  if (base == 2) return x / (1.0f + __builtin_expf(-x));
  if (base == 1) return x;
  return 0.0f;
}

static inline float kan_base_deriv(int base, float x) {
  if (base == 2) {
    float s = 1.0f / (1.0f + __builtin_expf(-x));
    return s * (1.0f + x * (1.0f - s));
  }
  if (base == 1) return 1.0f;
  return 0.0f;
}

}  // namespace
