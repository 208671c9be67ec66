// kan.cc — N-API glue for the KAN layer kernels and the spline least-squares fit.
//
// [sync|async] kanForward(y, x, grid, coef, wb, ws, mask, B, I, O, G, k, base, async?)
// [sync|async] kanBackward(dx|null, dcoef, dwb, dws, dy, x, grid, coef, wb, ws, mask,
//                          B, I, O, G, k, base, async?, overwrite?)  (overwrite: write dcoef/dwb/dws)
// [sync|async] splineFit(coef, x, y, grid, n, I, O, G, k, lambda, async?)
// [sync|async] splineEval(out, x, grid, coef, n, I, O, G, k, async?)
// @throw TypeError for a non-Float32Array, RangeError for a length that does not match the dims.
#include "../kernels/ops.h"
#include "common.h"

namespace kanb {

struct Dims { int B, I, O, G, k, base; };

static Dims read_dims(Args& a, size_t at) {
  Dims d;
  d.B = (int)a.integer(at, "B", 0, 2147483647);
  d.I = (int)a.integer(at + 1, "I", 1, 2147483647);
  d.O = (int)a.integer(at + 2, "O", 1, 2147483647);
  d.G = (int)a.integer(at + 3, "G", 1, 1000000);
  d.k = (int)a.integer(at + 4, "k", 1, 5);
  d.base = (int)a.integer(at + 5, "base", 0, 2);
  return d;
}

// The layer's input and parameters, at argument positions at..at+5: x, grid, coef, wb, ws, mask.
struct LayerIn { const float *x, *grid, *coef, *wb, *ws, *mask; };

static LayerIn read_layer(Args& a, size_t at, const Dims& d) {
  Napi::Env env = a.env();
  const int NB = d.G + d.k, NK = d.G + 2 * d.k + 1;
  LayerIn l;
  l.x = a.f32(at, "x", count(env, "x", {d.B, d.I}));
  l.grid = a.f32(at + 1, "grid", count(env, "grid", {d.I, NK}));
  l.coef = a.f32(at + 2, "coef", count(env, "coef", {d.I, NB, d.O}));
  l.wb = a.f32(at + 3, "wb", count(env, "wb", {d.I, d.O}));
  l.ws = a.f32(at + 4, "ws", count(env, "ws", {d.I, d.O}));
  l.mask = a.f32(at + 5, "mask", count(env, "mask", {d.I, d.O}));
  return l;
}

static Napi::Value KanForward(const Napi::CallbackInfo& info) {
  Args a(info);
  Dims d = read_dims(a, 7);
  float* y = a.f32(0, "y", count(a.env(), "y", {d.B, d.O}));
  const LayerIn l = read_layer(a, 1, d);
  return run(a, a.is_async(13), [=]() {
    if (d.B > 0) kan::kan_layer_forward(y, l.x, l.grid, l.coef, l.wb, l.ws, l.mask, d.B, d.I, d.O, d.G, d.k, d.base);
    return 0.0;
  }, false);
}

static Napi::Value KanBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  Dims d = read_dims(a, 11);
  Napi::Env env = a.env();
  const int NB = d.G + d.k;
  float* dx = a.f32(0, "dx", count(env, "dx", {d.B, d.I}), true);
  float* dcoef = a.f32(1, "dcoef", count(env, "dcoef", {d.I, NB, d.O}));
  float* dwb = a.f32(2, "dwb", count(env, "dwb", {d.I, d.O}));
  float* dws = a.f32(3, "dws", count(env, "dws", {d.I, d.O}));
  const float* dy = a.f32(4, "dy", count(env, "dy", {d.B, d.O}));
  const LayerIn l = read_layer(a, 5, d);
  const bool overwrite = a.flag(18, "overwrite");
  return run(a, a.is_async(17), [=]() {
    kan::kan_layer_backward(dx, dcoef, dwb, dws, dy, l.x, l.grid, l.coef, l.wb, l.ws, l.mask, d.B, d.I, d.O, d.G, d.k, d.base, overwrite);
    return 0.0;
  }, false);
}

static Napi::Value SplineFit(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::Env env = a.env();
  const int n = (int)a.integer(4, "n", 0, 2147483647);
  const int I = (int)a.integer(5, "I", 1, 2147483647);
  const int O = (int)a.integer(6, "O", 1, 2147483647);
  const int G = (int)a.integer(7, "G", 1, 1000000);
  const int k = (int)a.integer(8, "k", 1, 5);
  const double lambda = a.number(9, "lambda");
  if (!(lambda >= 0.0)) throw Napi::RangeError::New(env, "Expected lambda >= 0");
  const int NB = G + k, NK = G + 2 * k + 1;
  float* coef = a.f32(0, "coef", count(env, "coef", {I, NB, O}));
  const float* x = a.f32(1, "x", count(env, "x", {n, I}));
  const float* y = a.f32(2, "y", count(env, "y", {n, I, O}));
  const float* grid = a.f32(3, "grid", count(env, "grid", {I, NK}));
  return run(a, a.is_async(10), [=]() {
    kan::spline_fit(coef, x, y, grid, n, I, O, G, k, lambda);
    return 0.0;
  }, false);
}

static Napi::Value SplineEval(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::Env env = a.env();
  const int n = (int)a.integer(4, "n", 0, 2147483647);
  const int I = (int)a.integer(5, "I", 1, 2147483647);
  const int O = (int)a.integer(6, "O", 1, 2147483647);
  const int G = (int)a.integer(7, "G", 1, 1000000);
  const int k = (int)a.integer(8, "k", 1, 5);
  const int NB = G + k, NK = G + 2 * k + 1;
  float* out = a.f32(0, "out", count(env, "out", {n, I, O}));
  const float* x = a.f32(1, "x", count(env, "x", {n, I}));
  const float* grid = a.f32(2, "grid", count(env, "grid", {I, NK}));
  const float* coef = a.f32(3, "coef", count(env, "coef", {I, NB, O}));
  return run(a, a.is_async(9), [=]() {
    if (n > 0) kan::spline_eval(out, x, grid, coef, n, I, O, G, k);
    return 0.0;
  }, false);
}

void init_kan(Napi::Env env, Napi::Object exports) {
  exports.Set("kanForward", Napi::Function::New<guarded<KanForward>>(env, "kanForward"));
  exports.Set("kanBackward", Napi::Function::New<guarded<KanBackward>>(env, "kanBackward"));
  exports.Set("splineEval", Napi::Function::New<guarded<SplineEval>>(env, "splineEval"));
  exports.Set("splineFit", Napi::Function::New<guarded<SplineFit>>(env, "splineFit"));
}

}  // namespace kanb
