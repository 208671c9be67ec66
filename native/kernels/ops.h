// ops.h — the native operations the binding exposes: each picks the active kernel table,
// prepares per-call tables (padded knots), splits the work over the thread pool and calls the
// range kernels. Shapes use the legend of kernels.h. Every split is over rows that one thread
// owns entirely, with a fixed summation order, so results are bitwise identical for any thread
// count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"

namespace kan {

// SIMD paths: "avx512", "avx2", "baseline", "scalar". KAN_SIMD in the environment picks one at
// load time (if this CPU supports it); otherwise the best supported one.
const char* simd_name();
std::vector<std::string> simd_available();
bool simd_set(const std::string& name);  // false if unknown or unsupported on this CPU

int threads_get();
void threads_set(int n);

// y (B,O) = KAN layer of x (B,I). grid (I,NK), coef (I,NB,O), wb/ws/mask (I,O).
void kan_layer_forward(float* y, const float* x, const float* grid, const float* coef,
                       const float* wb, const float* ws, const float* mask,
                       int B, int I, int O, int G, int k, int base);
// Accumulates dx (B,I) (may be null), dcoef (I,NB,O), dwb (I,O), dws (I,O) from dy (B,O). With
// overwrite, dcoef, dwb and dws are set to this batch's gradient instead (bitwise what zeroing
// them first and accumulating gives; B = 0 zeroes them); dx is accumulated either way.
void kan_layer_backward(float* dx, float* dcoef, float* dwb, float* dws, const float* dy,
                        const float* x, const float* grid, const float* coef, const float* wb,
                        const float* ws, const float* mask, int B, int I, int O, int G, int k, int base,
                        bool overwrite = false);

// Least-squares fit of spline coefficients: for each input i and output o, minimise
// sum_n (sum_m coef[i,m,o] B_m(x[n,i]) - y[n,i,o])^2 + max(lambda, 1e-12) * mean(diag) * |coef[i,:,o]|^2
// (normal equations, banded Cholesky in double). coef (I,NB,O) is overwritten.
void spline_fit(float* coef, const float* x, const float* y, const float* grid, int n, int I, int O,
                int G, int k, double lambda);

// The spline part alone (pykan's coef2curve): out[n,i,o] = sum_m coef[i,m,o] B_m(x[n,i]).
// out (n,I,O), x (n,I), grid (I,NK), coef (I,NB,O).
void spline_eval(float* out, const float* x, const float* grid, const float* coef, int n, int I, int O,
                 int G, int k);

// Dense layer: z (B,O) = x (B,I) @ W (I,O) + bias (O); y = act(z). z may equal y when act is
// identity or no backward is needed (then y is computed in place).
void dense_forward(float* y, float* z, const float* x, const float* W, const float* bias,
                   int B, int I, int O, int act);
// Accumulates dx (B,I) (may be null), dW (I,O), dbias (O) from dy (B,O); z is the cached
// pre-activation from forward. With overwrite, dW and dbias are set to this batch's gradient
// instead (the same bits as zeroing them first; B = 0 zeroes them); dx is accumulated either way.
void dense_backward(float* dx, float* dW, float* dbias, const float* dy, const float* x,
                    const float* z, const float* W, int B, int I, int O, int act, bool overwrite = false);

// Index of the first non-finite value (NaN, ±Inf) of x[0..n), or n when all are finite. Tests the
// exponent bits, so no compiler flag can fold it away.
size_t first_non_finite(const float* x, size_t n);

// Mean squared error over n elements; writes dpred = d loss / d pred (if non-null).
double mse_loss(float* dpred, const float* pred, const float* target, size_t n);
// Mean softmax cross-entropy over B rows of C logits; labels in [0, C). dlogits if non-null.
double cross_entropy_loss(float* dlogits, const float* logits, const int32_t* labels, int B, int C);

void adam_step(float* p, float* m, float* v, const float* g, size_t n, float lr, float beta1,
               float beta2, float eps, float wd, int t);
void sgd_step(float* p, float* buf, const float* g, size_t n, float lr, float momentum, float wd);

// FMA throughput probe: independent FMA chains on the active SIMD path over nth threads.
// Returns GFLOP/s (2 flops per FMA lane).
double peak_gflops(int nth, double seconds);
// Read bandwidth (GB/s) of the active path over a working set of `bytes`, split across nth
// threads (at most the pool's size), each share warm in cache from an untimed pass.
double read_gbps(size_t bytes, int nth, double seconds);
// GFLOP/s of one of the kernels' register tiles on L1-resident data (tile_probe; which: 0
// forward, 1 backward R rows, 2 backward dx), nth threads.
double tile_gflops(int which, int nth, double seconds);

}  // namespace kan
