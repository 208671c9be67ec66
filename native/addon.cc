// addon.cc — module init only. Context-aware (NODE_API_MODULE uses napi_module_register with
// per-environment init), so the addon loads in worker_threads; all state is in the process-wide
// thread pool and the SIMD table, both safe to share.
#include <napi.h>

#include "binding/common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kanb::init_kan(env, exports);
  kanb::init_dense(env, exports);
  kanb::init_train(env, exports);
  kanb::init_system(env, exports);
  return exports;
}

NODE_API_MODULE(kan_native, Init)
