// common.h — thin N-API helpers shared by the binding files: argument unwrapping with cheap
// checks (the TypeScript layer has already validated everything precisely), sync/async
// execution of a prepared kernel call, and C++-exception-to-JS-error conversion.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

namespace kanb {

// Positional argument reader. Every getter names the argument in its error message.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info), env_(info.Env()) {}

  // A Float32Array (zero copy: points into its ArrayBuffer). nullable: null/undefined -> nullptr.
  float* f32(size_t idx, const char* name, size_t expect_len, bool nullable = false) {
    return typed<float>(idx, name, expect_len, nullable, napi_float32_array, "Float32Array");
  }
  int32_t* i32(size_t idx, const char* name, size_t expect_len) {
    return typed<int32_t>(idx, name, expect_len, false, napi_int32_array, "Int32Array");
  }
  uint32_t* u32(size_t idx, const char* name, size_t expect_len) {
    return typed<uint32_t>(idx, name, expect_len, false, napi_uint32_array, "Uint32Array");
  }
  int64_t integer(size_t idx, const char* name, int64_t lo, int64_t hi) {
    Napi::Value v = info_[idx];
    if (!v.IsNumber()) throw Napi::TypeError::New(env_, std::string("Expected integer for ") + name);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
      throw Napi::RangeError::New(env_, std::string("Expected integer in [") + std::to_string(lo) + ", " +
                                            std::to_string(hi) + "] for " + name + " but received " +
                                            std::to_string(d));
    return (int64_t)d;
  }
  double number(size_t idx, const char* name) {
    Napi::Value v = info_[idx];
    if (!v.IsNumber()) throw Napi::TypeError::New(env_, std::string("Expected number for ") + name);
    return v.As<Napi::Number>().DoubleValue();
  }
  // An optional boolean (absent or undefined: false).
  bool flag(size_t idx, const char* name) {
    if (info_.Length() <= idx || info_[idx].IsUndefined()) return false;
    if (!info_[idx].IsBoolean()) throw Napi::TypeError::New(env_, std::string("Expected boolean for ") + name);
    return info_[idx].As<Napi::Boolean>().Value();
  }
  bool is_async(size_t idx) { return info_.Length() > idx && info_[idx].IsBoolean() && info_[idx].As<Napi::Boolean>().Value(); }
  Napi::Env env() const { return env_; }
  // The typed arrays read so far (an async Job keeps them referenced until it settles). A fixed
  // array: no heap allocation on the synchronous hot path.
  static constexpr int kMaxHeld = 16;
  const napi_value* held() const { return held_; }
  int held_count() const { return nheld_; }

 private:
  template <typename T>
  T* typed(size_t idx, const char* name, size_t expect_len, bool nullable, napi_typedarray_type type, const char* tname) {
    // One napi_get_typedarray_info for the kind, length, data and buffer; it refuses anything
    // that is not a typed array with napi_invalid_arg (no pending exception). Napi::TypedArray's
    // IsTypedArray(), TypedArrayType() and ElementLength() made the same call three more times
    // per array: ~0.6 µs of a small layer's 4 µs call.
    napi_value v = info_[idx];
    if (nullable) {
      napi_valuetype vt = napi_undefined;
      napi_typeof(env_, v, &vt);
      if (vt == napi_null || vt == napi_undefined) return nullptr;
    }
    napi_typedarray_type t;
    size_t len = 0;
    void* data = nullptr;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env_, v, &t, &len, &data, &ab, &off) != napi_ok || t != type)
      throw Napi::TypeError::New(env_, std::string("Expected ") + tname + " for " + name);
    if (len != expect_len)
      throw Napi::RangeError::New(env_, std::string("Expected ") + name + " to have length " +
                                            std::to_string(expect_len) + " but received " + std::to_string(len));
    // (napi_get_typedarray_info rather than ta.ArrayBuffer(): the latter throws a bare "Invalid
    // argument" for SharedArrayBuffer-backed arrays, which are refused here with a named error)
    bool is_ab = false;
    napi_is_arraybuffer(env_, ab, &is_ab);
    if (!is_ab)
      throw Napi::TypeError::New(env_, std::string("Expected ") + tname + " backed by an ArrayBuffer (not a SharedArrayBuffer) for " + name);
    if (nheld_ == kMaxHeld) throw Napi::Error::New(env_, "kan-native: too many array arguments");
    held_[nheld_++] = v;
    if (len == 0) return nullptr;
    if (data == nullptr) throw Napi::TypeError::New(env_, std::string("Expected live buffer for ") + name + " but it is detached");
    return static_cast<T*>(data);
  }

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  napi_value held_[kMaxHeld];
  int nheld_ = 0;
};

// Runs `work` now (returns its result as a Number, or undefined) or, when async, on a libuv
// worker thread and returns a Promise. The typed arrays the call read stay referenced until the
// promise settles, so the GC cannot free them under the kernel.
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::function<double()> work, const napi_value* held, int nheld, bool has_result)
      : Napi::AsyncWorker(env, "kan-native"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), has_result_(has_result) {
    for (int q = 0; q < nheld; ++q) refs_.push_back(Napi::Persistent(Napi::Object(env, held[q])));
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      result_ = work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  // Settling can fail when the environment is shutting down (a worker terminated while the job
  // ran): swallow that rather than let a C++ exception escape into Node (which aborts).
  void OnOK() override {
    try {
      Napi::Env env = Env();
      deferred_.Resolve(has_result_ ? Napi::Number::New(env, result_) : env.Undefined());
    } catch (...) {
    }
  }
  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (...) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<double()> work_;
  std::vector<Napi::ObjectReference> refs_;
  double result_ = 0.0;
  bool has_result_;
};

inline Napi::Value run(Args& a, bool async, std::function<double()> work, bool has_result) {
  Napi::Env env = a.env();
  if (!async) {
    double r = work();
    return has_result ? Napi::Value(Napi::Number::New(env, r)) : env.Undefined();
  }
  Job* job = new Job(env, std::move(work), a.held(), a.held_count(), has_result);
  Napi::Promise p = job->promise();
  job->Queue();
  return p;
}

// Wraps a binding function: converts C++ exceptions into JS errors (never abort the process).
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "kan-native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("kan-native: ") + e.what());
  }
}

// Product of dimensions as an element count; refuses anything at or past 2^31 elements (the
// kernels index with 32-bit offsets, and no Float32Array that large is allocatable anyway).
inline size_t count(Napi::Env env, const char* name, std::initializer_list<int64_t> dims) {
  double p = 1.0;
  for (int64_t d : dims) p *= (double)d;
  if (p >= 2147483648.0)
    throw Napi::RangeError::New(env, std::string("Expected ") + name + " to have fewer than 2^31 elements");
  return (size_t)p;
}

void init_kan(Napi::Env env, Napi::Object exports);
void init_dense(Napi::Env env, Napi::Object exports);
void init_train(Napi::Env env, Napi::Object exports);
void init_system(Napi::Env env, Napi::Object exports);

}  // namespace kanb
