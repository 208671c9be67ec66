// dense.cc — N-API glue for the dense (MLP) layer.
//
// [sync|async] denseForward(y, z|null, x, W, bias, B, I, O, act, async?)
// [sync|async] denseBackward(dx|null, dW, dbias, dy, x, z, W, B, I, O, act, async?, overwrite?)  (overwrite: write dW/dbias)
#include "../kernels/ops.h"
#include "common.h"

namespace kanb {

static Napi::Value DenseForward(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::Env env = a.env();
  const int B = (int)a.integer(5, "B", 0, 2147483647);
  const int I = (int)a.integer(6, "I", 1, 2147483647);
  const int O = (int)a.integer(7, "O", 1, 2147483647);
  const int act = (int)a.integer(8, "act", 0, 3);
  float* y = a.f32(0, "y", count(env, "y", {B, O}));
  float* z = a.f32(1, "z", count(env, "z", {B, O}), true);
  const float* x = a.f32(2, "x", count(env, "x", {B, I}));
  const float* W = a.f32(3, "W", count(env, "W", {I, O}));
  const float* bias = a.f32(4, "bias", count(env, "bias", {O}));
  return run(a, a.is_async(9), [=]() {
    if (B > 0) kan::dense_forward(y, z, x, W, bias, B, I, O, act);
    return 0.0;
  }, false);
}

static Napi::Value DenseBackward(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::Env env = a.env();
  const int B = (int)a.integer(7, "B", 0, 2147483647);
  const int I = (int)a.integer(8, "I", 1, 2147483647);
  const int O = (int)a.integer(9, "O", 1, 2147483647);
  const int act = (int)a.integer(10, "act", 0, 3);
  float* dx = a.f32(0, "dx", count(env, "dx", {B, I}), true);
  float* dW = a.f32(1, "dW", count(env, "dW", {I, O}));
  float* dbias = a.f32(2, "dbias", count(env, "dbias", {O}));
  const float* dy = a.f32(3, "dy", count(env, "dy", {B, O}));
  const float* x = a.f32(4, "x", count(env, "x", {B, I}));
  const float* z = a.f32(5, "z", count(env, "z", {B, O}));
  const float* W = a.f32(6, "W", count(env, "W", {I, O}));
  const bool overwrite = a.flag(12, "overwrite");
  return run(a, a.is_async(11), [=]() {
    kan::dense_backward(dx, dW, dbias, dy, x, z, W, B, I, O, act, overwrite);
    return 0.0;
  }, false);
}

void init_dense(Napi::Env env, Napi::Object exports) {
  exports.Set("denseForward", Napi::Function::New<guarded<DenseForward>>(env, "denseForward"));
  exports.Set("denseBackward", Napi::Function::New<guarded<DenseBackward>>(env, "denseBackward"));
}

}  // namespace kanb
