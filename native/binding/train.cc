// train.cc — N-API glue for losses and optimizer steps.
//
// [sync] firstNonFinite(x, n) -> index of the first NaN/±Inf in x (length n), or -1
// [sync] mseLoss(dpred|null, pred, target, n) -> loss
// [sync] crossEntropyLoss(dlogits|null, logits, labels:Int32Array, B, C) -> loss
// [sync|async] adamStep(p, m, v, g, n, lr, beta1, beta2, eps, wd, t, async?)
// [sync|async] sgdStep(p, buf, g, n, lr, momentum, wd, async?)
// [sync] gatherRows(dst, dstRows, src, srcRows, width, idx:Uint32Array, n, from, count, at)
#include <cstring>

#include "../kernels/ops.h"
#include "common.h"

namespace kanb {

static Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Args a(info);
  const size_t n = (size_t)a.integer(1, "n", 0, 4294967295LL);
  const float* x = a.f32(0, "x", n);
  const size_t q = n ? kan::first_non_finite(x, n) : 0;
  return Napi::Number::New(a.env(), q < n ? (double)q : -1.0);
}

static Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  Args a(info);
  const size_t n = (size_t)a.integer(3, "n", 0, 4294967295LL);
  float* dpred = a.f32(0, "dpred", n, true);
  const float* pred = a.f32(1, "pred", n);
  const float* target = a.f32(2, "target", n);
  return Napi::Number::New(a.env(), kan::mse_loss(dpred, pred, target, n));
}

static Napi::Value CrossEntropyLoss(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::Env env = a.env();
  const int B = (int)a.integer(3, "B", 0, 2147483647);
  const int C = (int)a.integer(4, "C", 1, 2147483647);
  float* d = a.f32(0, "dlogits", count(env, "dlogits", {B, C}), true);
  const float* logits = a.f32(1, "logits", count(env, "logits", {B, C}));
  const int32_t* labels = a.i32(2, "labels", (size_t)B);
  for (int b = 0; b < B; ++b)
    if (labels[b] < 0 || labels[b] >= C)
      throw Napi::RangeError::New(env, "Expected labels in [0, " + std::to_string(C) + ") but received " +
                                           std::to_string(labels[b]) + " at index " + std::to_string(b));
  return Napi::Number::New(env, kan::cross_entropy_loss(d, logits, labels, B, C));
}

static Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Args a(info);
  const size_t n = (size_t)a.integer(4, "n", 0, 4294967295LL);
  float* p = a.f32(0, "p", n);
  float* m = a.f32(1, "m", n);
  float* v = a.f32(2, "v", n);
  const float* g = a.f32(3, "g", n);
  const float lr = (float)a.number(5, "lr"), b1 = (float)a.number(6, "beta1"), b2 = (float)a.number(7, "beta2");
  const float eps = (float)a.number(8, "eps"), wd = (float)a.number(9, "weightDecay");
  const int t = (int)a.integer(10, "t", 1, 2147483647);
  return run(a, a.is_async(11), [=]() {
    if (n) kan::adam_step(p, m, v, g, n, lr, b1, b2, eps, wd, t);
    return 0.0;
  }, false);
}

static Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Args a(info);
  const size_t n = (size_t)a.integer(3, "n", 0, 4294967295LL);
  float* p = a.f32(0, "p", n);
  float* buf = a.f32(1, "buf", n);
  const float* g = a.f32(2, "g", n);
  const float lr = (float)a.number(4, "lr"), mom = (float)a.number(5, "momentum"), wd = (float)a.number(6, "weightDecay");
  return run(a, a.is_async(7), [=]() {
    if (n) kan::sgd_step(p, buf, g, n, lr, mom, wd);
    return 0.0;
  }, false);
}

// Rows idx[from .. from+count) of src (srcRows × width) into rows at .. at+count of dst (dstRows ×
// width): a minibatch gathered with one call, no JS view per sample (train()'s shuffled batches).
static Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::Env env = a.env();
  const int64_t dstRows = a.integer(1, "dstRows", 0, 2147483647), srcRows = a.integer(3, "srcRows", 0, 2147483647);
  const int64_t width = a.integer(4, "width", 1, 2147483647), n = a.integer(6, "n", 0, 4294967295LL);
  float* dst = a.f32(0, "dst", count(env, "dst", {dstRows, width}));
  const float* src = a.f32(2, "src", count(env, "src", {srcRows, width}));
  const uint32_t* idx = a.u32(5, "idx", (size_t)n);
  const int64_t from = a.integer(7, "from", 0, n), cnt = a.integer(8, "count", 0, n - from);
  const int64_t at = a.integer(9, "at", 0, dstRows);
  if (cnt > dstRows - at)
    throw Napi::RangeError::New(env, "Expected at + count <= dstRows (" + std::to_string(dstRows) + ") but received " +
                                         std::to_string(at + cnt));
  for (int64_t q = 0; q < cnt; ++q)
    if (idx[from + q] >= (uint64_t)srcRows)
      throw Napi::RangeError::New(env, "Expected row indices below srcRows (" + std::to_string(srcRows) + ") in idx but received " +
                                           std::to_string(idx[from + q]) + " at index " + std::to_string(from + q));
  const size_t w = (size_t)width;
  for (int64_t q = 0; q < cnt; ++q) std::memcpy(dst + (size_t)(at + q) * w, src + (size_t)idx[from + q] * w, w * sizeof(float));
  return env.Undefined();
}

void init_train(Napi::Env env, Napi::Object exports) {
  exports.Set("firstNonFinite", Napi::Function::New<guarded<FirstNonFinite>>(env, "firstNonFinite"));
  exports.Set("mseLoss", Napi::Function::New<guarded<MseLoss>>(env, "mseLoss"));
  exports.Set("crossEntropyLoss", Napi::Function::New<guarded<CrossEntropyLoss>>(env, "crossEntropyLoss"));
  exports.Set("adamStep", Napi::Function::New<guarded<AdamStep>>(env, "adamStep"));
  exports.Set("sgdStep", Napi::Function::New<guarded<SgdStep>>(env, "sgdStep"));
  exports.Set("gatherRows", Napi::Function::New<guarded<GatherRows>>(env, "gatherRows"));
}

}  // namespace kanb
