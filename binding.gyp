{
  # node-gyp build of the same sources as CMakeLists.txt (the build of record).
  # Per-instruction-set kernels are static libraries so each gets its own -m flags.
  "variables": {
    "kan_cflags": ["-O3", "-fno-math-errno", "-std=c++17", "-fexceptions"],
    "kan_defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"]
  },
  "targets": [
    {
      "target_name": "kan_native",
      "sources": [
        "native/addon.cc",
        "native/binding/kan.cc",
        "native/binding/dense.cc",
        "native/binding/train.cc",
        "native/binding/system.cc",
        "native/kernels/ops.cc",
        "native/kernels/thread_pool.cc",
        "native/kernels/kernels_ref.cc",
        "native/kernels/kernels_base.cc"
      ],
      "include_dirs": ["<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json'))\")"],
      "defines": ["<@(kan_defines)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=c++17"],
      "cflags_cc": ["<@(kan_cflags)"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" },
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["kan_avx2", "kan_w16", "kan_avx512"] }]
      ]
    },
    {
      "target_name": "kan_avx2",
      "type": "static_library",
      "sources": ["native/kernels/kernels_avx2.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["<@(kan_cflags)", "-fPIC", "-mavx2", "-mfma"]
    },
    {
      "target_name": "kan_w16",
      "type": "static_library",
      "sources": ["native/kernels/kernels_w16.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["<@(kan_cflags)", "-fPIC", "-mavx2", "-mfma", "-O1"]
    },
    {
      "target_name": "kan_avx512",
      "type": "static_library",
      "sources": ["native/kernels/kernels_avx512.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["<@(kan_cflags)", "-fPIC", "-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mavx2", "-mfma",
                    "-mprefer-vector-width=512", "-Wno-maybe-uninitialized", "-Wno-uninitialized"]
    }
  ]
}
