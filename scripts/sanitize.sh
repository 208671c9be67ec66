#!/usr/bin/env bash
# sanitize.sh — AddressSanitizer + UndefinedBehaviorSanitizer run of the native code.
#
#   scripts/sanitize.sh [FUZZ_SECONDS]        (default 60)
#
# 1. builds the addon with ASan+UBSan at -O1 -fno-omit-frame-pointer (cmake-js, KAN_SANITIZE=ON)
#    into build-asan/ (never build/, which others use);
# 2. builds native/fuzz/fuzz_kernels.cc with the same sanitizers (ASan, UBSan, float-cast-overflow)
#    into build-asan/fuzz/ and links it with step 1's kernel objects (ops, thread pool, every
#    kernel unit): the kernels are compiled once, as the addon has them;
# 3. runs the fuzz driver for FUZZ_SECONDS, and native/fuzz/pool_stress.cc (the thread pool)
#    built with ThreadSanitizer;
# 4. runs the kernel vitest files (kan-forward, kan-gradients, simd-threads, optim) against the
#    sanitized addon: lib/native.ts loads build/Release/ of the package root through
#    node-gyp-build, with no override, so the tests run from a temporary copy of the package
#    (lib/, test/, package.json, configs; node_modules symlinked) whose build/Release/ holds the
#    sanitized binary, with the sanitizer runtimes LD_PRELOADed into node.
# Exits non-zero on any finding: a build error, a fuzz-driver check failure, a sanitizer report
# anywhere, or a failing test.
#
# Environment:
#   KAN_FUZZ_ARGS          extra fuzz_kernels arguments, e.g. "--seed 7" (or "--allow ..." for the
#                          findings fixed since, when bisecting an older build)
#   KAN_SANITIZE_DIR       build folder (default <package>/build-asan)
#   KAN_SANITIZE_TESTS     test files to run (default the four kernel files above)
#   KAN_SANITIZE_EXTRA_TESTS  test files from outside the package, copied into the copy's test/
#                          and run too (e.g. a control that must produce a sanitizer report)
#   KAN_SANITIZE_KEEP=1    keep the temporary package copy and the sanitizer logs
#   KAN_SANITIZE_SKIP_TESTS=1 / KAN_SANITIZE_SKIP_FUZZ=1   skip step 4 / steps 2-3
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${KAN_SANITIZE_DIR:-$ROOT/build-asan}
FUZZ_SECONDS=${1:-60}
TESTS=${KAN_SANITIZE_TESTS:-test/kan-forward.test.ts test/kan-gradients.test.ts test/simd-threads.test.ts test/optim.test.ts}
JOBS=2
case "$OUT" in "$ROOT/build"|"$ROOT/build/") echo "sanitize.sh: refusing to build into $ROOT/build" >&2; exit 2;; esac

T_START=$(date +%s)
findings=()
step() { echo; echo "== $* ($(( $(date +%s) - T_START )) s)"; }
finding() { findings+=("$1"); echo "!! FINDING: $1"; }

ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
for lib in "$ASAN_LIB" "$UBSAN_LIB"; do
  [ -e "$lib" ] || { echo "sanitize.sh: sanitizer runtime $lib not found (install gcc's libasan/libubsan)" >&2; exit 2; }
done
ASAN_LIB=$(readlink -f "$ASAN_LIB"); UBSAN_LIB=$(readlink -f "$UBSAN_LIB")

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/kan-sanitize.XXXXXX")
cleanup() { [ "${KAN_SANITIZE_KEEP:-0}" = 1 ] && echo "kept $LOGDIR" || rm -rf "$LOGDIR"; }
trap cleanup EXIT

# Sanitizer reports go to $LOGDIR/san-<what>.<pid> (log_path) or to stderr, which each step
# also saves; both are checked after every step.
SAN_PATTERN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)'
# allow_user_segv_handler=0: node installs its own SIGSEGV handler (WebAssembly traps) over
# ASan's, which would turn a wild read in the addon into a bare "Segmentation fault" with no report.
san_env() {  # $1: log name, $2: detect_leaks
  export ASAN_OPTIONS="detect_leaks=$2:halt_on_error=1:log_path=$LOGDIR/san-$1:handle_segv=1:allow_user_segv_handler=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGDIR/san-$1"
}
check_logs() {  # $1: log name, $2: what, $3...: captured output files to scan too
  local name=$1 what=$2 f found=0
  shift 2
  for f in "$LOGDIR/san-$name".*; do
    [ -s "$f" ] || continue
    found=1
    echo "---- sanitizer report $f:"
    head -n 60 "$f"
  done
  for f in "$@"; do
    if [ -s "$f" ] && grep -qE "$SAN_PATTERN" "$f"; then
      found=1
      echo "---- sanitizer report in $(basename "$f"):"
      grep -E -A 25 "$SAN_PATTERN" "$f" | head -n 60
    fi
  done
  [ $found = 1 ] && finding "$what: sanitizer report (see above)"
}

# ---------------------------------------------------------------------------------------------
step "1. addon with ASan+UBSan (-O1) into $OUT"
mkdir -p "$OUT"
# The CMakeLists puts -O3 in the target's options, after CMAKE_CXX_FLAGS; a compiler launcher
# appends -O1 last (the last -O wins), plus line tables for the reports.
cat > "$OUT/o1-launcher.sh" <<'EOF'
#!/bin/sh
# compiler launcher: the sanitizer build at -O1 (last -O wins over the target's -O3)
exec "$@" -O1 -g1 -fno-omit-frame-pointer
EOF
chmod +x "$OUT/o1-launcher.sh"
# A CPU without AVX-512 cannot run those kernels, so neither build compiles them there (each
# sanitized kernel unit takes about a minute of compile).
AVX512_ON=ON
if [ "$(uname -m)" = x86_64 ] && ! grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  AVX512_ON=OFF
  echo "(this CPU has no AVX-512: the AVX-512 kernels are left out of the sanitized builds)"
fi
if ! (cd "$ROOT" && node node_modules/cmake-js/bin/cmake-js build -O "$OUT" --log-level warn -p $JOBS \
      --CDKAN_SANITIZE=ON "--CDKAN_AVX512=$AVX512_ON" "--CDCMAKE_CXX_COMPILER_LAUNCHER=$OUT/o1-launcher.sh") > "$LOGDIR/addon-build.log" 2>&1; then
  tail -n 40 "$LOGDIR/addon-build.log"
  finding "addon build failed"
  echo "sanitize.sh: cannot go on without the sanitized addon" >&2
  exit 1
fi
ADDON="$OUT/Release/kan_native.node"
[ -f "$ADDON" ] || { finding "no $ADDON after the build"; exit 1; }
grep -q __asan_init "$ADDON" || finding "$ADDON has no ASan instrumentation"
echo "built $ADDON"

# ---------------------------------------------------------------------------------------------
if [ "${KAN_SANITIZE_SKIP_FUZZ:-0}" != 1 ]; then
  step "2. fuzz driver with ASan+UBSan (-O1) into $OUT/fuzz"
  FZ="$OUT/fuzz"
  mkdir -p "$FZ"
  K="$ROOT/native/kernels"
  CXXFLAGS_SAN="-std=c++17 -O1 -g1 -fno-omit-frame-pointer -fno-math-errno -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -Wall -Wno-unused-parameter -Wno-unused-variable"
  [ $AVX512_ON = ON ] || CXXFLAGS_SAN="$CXXFLAGS_SAN -DKAN_NO_AVX512"
  # step 1's objects of the kernel units (CMake's layout under the build folder)
  KOBJ="$OUT/CMakeFiles/kan_native.dir/native/kernels"
  objs=()
  for u in ops thread_pool kernels_ref kernels_base kernels_avx2 kernels_w16; do objs+=("$KOBJ/$u.cc.o"); done
  [ $AVX512_ON = ON ] && objs+=("$KOBJ/kernels_avx512.cc.o")
  fail=0
  for o in "${objs[@]}"; do [ -f "$o" ] || { echo "error: no $o from step 1 (has the addon build's object layout changed?)" >> "$LOGDIR/cc-objects.log"; fail=1; }; done
  # the driver's object built with the other AVX-512 setting is stale
  if [ "$(cat "$FZ/avx512.setting" 2>/dev/null)" != "$AVX512_ON" ]; then rm -f "$FZ"/*.o; fi
  echo "$AVX512_ON" > "$FZ/avx512.setting"
  newest_header=$(ls -t "$K"/*.h "$K"/*.inc | head -n 1)
  obj="$FZ/fuzz_kernels.o"
  src="$ROOT/native/fuzz/fuzz_kernels.cc"
  if [ $fail = 0 ] && ! { [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_header" ] && [ "$obj" -nt "${BASH_SOURCE[0]}" ]; }; then
    # shellcheck disable=SC2086
    g++ $CXXFLAGS_SAN -c "$src" -o "$obj" > "$LOGDIR/cc-fuzz_kernels.log" 2>&1 || fail=1
  fi
  if [ $fail = 0 ]; then
    # shellcheck disable=SC2086
    g++ $CXXFLAGS_SAN "$obj" "${objs[@]}" -pthread -o "$FZ/fuzz_kernels" > "$LOGDIR/cc-link.log" 2>&1 || fail=1
  fi
  if [ $fail = 1 ]; then
    cat "$LOGDIR"/cc-*.log | grep -E "error|Error" | head -n 40
    finding "fuzz driver build failed"
  else
    step "3. fuzz driver, $FUZZ_SECONDS s ${KAN_FUZZ_ARGS:+(args: $KAN_FUZZ_ARGS)}"
    san_env fuzz 1
    # shellcheck disable=SC2086
    "$FZ/fuzz_kernels" --seconds "$FUZZ_SECONDS" --trace ${KAN_FUZZ_ARGS:-} 2>"$LOGDIR/fuzz.err" | tee "$LOGDIR/fuzz.out"
    rc=${PIPESTATUS[0]}
    unset ASAN_OPTIONS UBSAN_OPTIONS
    check_logs fuzz "fuzz driver" "$LOGDIR/fuzz.err"
    if [ "$rc" != 0 ]; then
      if grep -q '^  FAILURES' "$LOGDIR/fuzz.out"; then
        finding "fuzz driver: check failures (exit $rc; replay one with $FZ/fuzz_kernels --seed S --replay ITER)"
      else
        last=$(grep '^fuzz_kernels: iteration' "$LOGDIR/fuzz.err" | tail -n 1)
        finding "fuzz driver stopped with status $rc before its report (crash or sanitizer abort) in ${last#fuzz_kernels: }"
      fi
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
if [ "${KAN_SANITIZE_SKIP_FUZZ:-0}" != 1 ]; then
  step "3b. thread pool stress test with ThreadSanitizer (polling hand-over, then sleeping only)"
  if [ ! -e "$(gcc -print-file-name=libtsan.so)" ]; then
    finding "no ThreadSanitizer runtime (install gcc's libtsan) for the pool stress test"
  elif g++ -std=c++17 -O1 -g -fsanitize=thread -pthread "$ROOT/native/fuzz/pool_stress.cc" "$ROOT/native/kernels/thread_pool.cc" \
         -o "$OUT/pool_stress" > "$LOGDIR/cc-pool.log" 2>&1; then
    for spin in 50 0; do
      KAN_SPIN_US=$spin TSAN_OPTIONS="halt_on_error=1:exitcode=66" "$OUT/pool_stress" 2000 > "$LOGDIR/pool.out" 2>&1
      rc=$?
      echo "KAN_SPIN_US=$spin: $(tail -n 1 "$LOGDIR/pool.out")"
      if [ $rc != 0 ] || grep -q "WARNING: ThreadSanitizer" "$LOGDIR/pool.out"; then
        head -n 60 "$LOGDIR/pool.out"
        finding "thread pool stress test (KAN_SPIN_US=$spin): exit $rc"
      fi
    done
  else
    head -n 40 "$LOGDIR/cc-pool.log"
    finding "thread pool stress test build failed"
  fi
fi

# ---------------------------------------------------------------------------------------------
if [ "${KAN_SANITIZE_SKIP_TESTS:-0}" != 1 ]; then
  step "4. kernel tests against the sanitized addon: $TESTS"
  PKG="$LOGDIR/pkg"
  mkdir -p "$PKG/build/Release"
  # packageRoot() wants package.json beside binding.gyp or CMakeLists.txt; node-gyp-build(root)
  # then loads build/Release/*.node before any prebuild.
  for f in package.json CMakeLists.txt binding.gyp tsconfig.json vitest.config.ts; do
    [ -e "$ROOT/$f" ] && cp "$ROOT/$f" "$PKG/"
  done
  cp -r "$ROOT/lib" "$ROOT/test" "$PKG/"
  [ -d "$ROOT/data" ] && ln -s "$ROOT/data" "$PKG/data"
  ln -s "$ROOT/node_modules" "$PKG/node_modules"
  cp "$ADDON" "$PKG/build/Release/kan_native.node"
  # A canary test in the copy: every vitest worker must have the ASan runtime and this binary mapped.
  cat > "$PKG/test/zz-sanitizer-canary.test.ts" <<EOF
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { native } from '../lib/native.js';
it('the worker runs the sanitized addon with the ASan runtime preloaded', () => {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  expect(maps).toMatch(/libasan\.so/);
  expect(maps).toContain('$PKG/build/Release/kan_native.node');
  expect(native.simdAvailable().length).toBeGreaterThan(0);
});
EOF
  TESTS="$TESTS test/zz-sanitizer-canary.test.ts"
  for f in ${KAN_SANITIZE_EXTRA_TESTS:-}; do  # test files from elsewhere, copied into the copy's test/
    cp "$f" "$PKG/test/" && TESTS="$TESTS test/$(basename "$f")"
  done
  # Sanity: the copy loads the sanitized binary (ASan symbols present in the loaded module).
  san_env load 0
  if ! (cd "$PKG" && LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" node -e "
      const { createRequire } = require('node:module');
      const r = createRequire('$PKG/package.json');
      const b = r('node-gyp-build')('$PKG');
      const loaded = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('kan_native.node'));
      if (!loaded.length || !loaded[0].includes('$PKG/build/Release')) { console.error('loaded', loaded[0]); process.exit(3); }
      console.log('loads', loaded[0].split(/\s+/).pop(), 'simd', b.simd(), 'available', b.simdAvailable().join(','));
    "); then
    finding "the temporary package does not load the sanitized addon"
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
  check_logs load "loading the addon"
  san_env tests 0
  # shellcheck disable=SC2086
  (cd "$PKG" && NO_COLOR=1 LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" node node_modules/vitest/vitest.mjs run $TESTS) 2>&1 | tee "$LOGDIR/tests.log" | grep -vE '^\s*$' | tail -n 60
  trc=${PIPESTATUS[0]}
  unset ASAN_OPTIONS UBSAN_OPTIONS
  check_logs tests "kernel tests" "$LOGDIR/tests.log"
  [ "$trc" != 0 ] && finding "kernel tests failed under the sanitizers (vitest exit $trc)"
fi

# ---------------------------------------------------------------------------------------------
step "done in $(( $(date +%s) - T_START )) s"
if [ ${#findings[@]} -gt 0 ]; then
  echo "sanitize.sh: ${#findings[@]} finding(s):"
  for f in "${findings[@]}"; do echo "  - $f"; done
  exit 1
fi
echo "sanitize.sh: no findings"
