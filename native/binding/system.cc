// system.cc — N-API glue for the SIMD path, the thread pool, the FMA peak and read probes.
//
// [sync] simd() -> "avx512" | "avx2" | "baseline" | "scalar"
// [sync] simdAvailable() -> string[]
// [sync] setSimd(name) -> throws RangeError if unknown or unsupported on this CPU
// [sync] getNumThreads() / setNumThreads(n)
// [sync] peakGflops(threads, seconds) -> GFLOP/s of independent FMA chains on the active path
// [sync] readBandwidth(bytes, threads, seconds) -> GB/s reading a warm working set of `bytes`
// [sync] addressMod64(buffer: ArrayBuffer) -> the address of its first byte modulo 64 (alignedF32)
#include "../kernels/ops.h"
#include "common.h"

namespace kanb {

static Napi::Value Simd(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kan::simd_name()); }

static Napi::Value SimdAvailable(const Napi::CallbackInfo& info) {
  auto names = kan::simd_available();
  Napi::Array arr = Napi::Array::New(info.Env(), names.size());
  for (size_t q = 0; q < names.size(); ++q) arr.Set((uint32_t)q, names[q]);
  return arr;
}

static Napi::Value SetSimd(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "Expected string for name");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (!kan::simd_set(name))
    throw Napi::RangeError::New(info.Env(), "Expected a SIMD path supported by this CPU for name but received " + name);
  return info.Env().Undefined();
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), kan::threads_get()); }

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info);
  kan::threads_set((int)a.integer(0, "n", 1, 256));
  return info.Env().Undefined();
}

static Napi::Value PeakGflops(const Napi::CallbackInfo& info) {
  Args a(info);
  const int nth = (int)a.integer(0, "threads", 1, 256);
  const double sec = a.number(1, "seconds");
  if (!(sec > 0.0 && sec <= 60.0)) throw Napi::RangeError::New(info.Env(), "Expected seconds in (0, 60]");
  return Napi::Number::New(info.Env(), kan::peak_gflops(nth, sec));
}

static Napi::Value TileGflops(const Napi::CallbackInfo& info) {
  Args a(info);
  const int which = (int)a.integer(0, "tile", 0, 2);
  const int nth = (int)a.integer(1, "threads", 1, 256);
  const double sec = a.number(2, "seconds");
  if (!(sec > 0.0 && sec <= 60.0)) throw Napi::RangeError::New(info.Env(), "Expected seconds in (0, 60]");
  return Napi::Number::New(info.Env(), kan::tile_gflops(which, nth, sec));
}

static Napi::Value ReadBandwidth(const Napi::CallbackInfo& info) {
  Args a(info);
  const double bytes = (double)a.integer(0, "bytes", 4096, (int64_t)1 << 30);
  const int nth = (int)a.integer(1, "threads", 1, 256);
  const double sec = a.number(2, "seconds");
  if (!(sec > 0.0 && sec <= 60.0)) throw Napi::RangeError::New(info.Env(), "Expected seconds in (0, 60]");
  return Napi::Number::New(info.Env(), kan::read_gbps((size_t)bytes, nth, sec));
}

// An ArrayBuffer's backing store never moves, so its address modulo 64 tells where a view
// must start to be 64-byte aligned (lib/native.ts alignedF32).
static Napi::Value AddressMod64(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArrayBuffer())
    throw Napi::TypeError::New(info.Env(), "Expected an ArrayBuffer for buffer");
  const void* p = info[0].As<Napi::ArrayBuffer>().Data();
  return Napi::Number::New(info.Env(), (double)((uintptr_t)p % 64));
}

void init_system(Napi::Env env, Napi::Object exports) {
  exports.Set("simd", Napi::Function::New<guarded<Simd>>(env, "simd"));
  exports.Set("simdAvailable", Napi::Function::New<guarded<SimdAvailable>>(env, "simdAvailable"));
  exports.Set("setSimd", Napi::Function::New<guarded<SetSimd>>(env, "setSimd"));
  exports.Set("getNumThreads", Napi::Function::New<guarded<GetNumThreads>>(env, "getNumThreads"));
  exports.Set("setNumThreads", Napi::Function::New<guarded<SetNumThreads>>(env, "setNumThreads"));
  exports.Set("peakGflops", Napi::Function::New<guarded<PeakGflops>>(env, "peakGflops"));
  exports.Set("readBandwidth", Napi::Function::New<guarded<ReadBandwidth>>(env, "readBandwidth"));
  exports.Set("addressMod64", Napi::Function::New<guarded<AddressMod64>>(env, "addressMod64"));
  exports.Set("tileGflops", Napi::Function::New<guarded<TileGflops>>(env, "tileGflops"));
}

}  // namespace kanb
