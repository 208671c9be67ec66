// kernels.h — the kernel interface: pure C++17, no N-API.
//
// Dimension legend (used in every shape comment below and in the kernels):
//   B  batch size            I  layer inputs            O  layer outputs
//   G  grid intervals        k  spline order (1..5)     NB = G + k basis functions per input
//   NK = G + 2k + 1 knots per input                     KP = NK + 2k padded knots per input
//
// Argument order follows llm.c: outputs first, then inputs, then dims. Gradients accumulate
// with `+=`; the caller zeroes them. Nothing here allocates memory that outlives a call or
// keeps a pointer after it returns.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kan {

enum Base : int { BASE_ZERO = 0, BASE_IDENTITY = 1, BASE_SILU = 2 };
enum Act : int { ACT_IDENTITY = 0, ACT_RELU = 1, ACT_SILU = 2, ACT_TANH = 3 };

// Everything a KAN layer kernel reads or writes. Pointers the caller does not need are null
// (forward: the gradient pointers; backward: y; dx may be null when no input gradient is wanted).
struct KanLayerArgs {
  float* y;            // (B, O)     forward output (overwritten)
  float* dx;           // (B, ldx)   d loss / d x (accumulated), or null
  float* dcoef;        // (I, NB, O) accumulated (overwritten with `overwrite`)
  float* dwb;          // (I, O)     accumulated (overwritten with `overwrite`)
  float* dws;          // (I, O)     accumulated (overwritten with `overwrite`)
  const float* dy;     // (B, O)
  const float* x;      // (B, ldx)   the layer's inputs in columns 0..I-1 (dx likewise)
  const float* grid;   // (I, NK)    knot rows, non-decreasing
  const float* coef;   // (I, NB, O)
  const float* wb;     // (I, O)
  const float* ws;     // (I, O)
  const float* mask;   // (I, O)
  const float* kpad;   // (I, KP)    knot rows with k virtual knots on each side (see ops.cc)
  const float* row_t0; // (I)        t[i][0] (start of the uniform span formula)
  const float* row_invh;// (I)       1 / mean knot spacing
  const float* row_hi; // (I)        t[i][NK-1]: x >= this is outside the grid
  const int* row_uni;  // (I)        2: uniform to 1e-6·h (cardinal basis), 1: to 1e-3·h (span by one
                       //            multiply, de Boor on the knots), 0: adapted (binary search)
  int B, I, O, G, k, base;
  int ldx;             // x's and dx's row stride: I, or more for a call on the first I of a row's
                       //          inputs (ops.cc: kan_inputs_from)
  int fold;            // forward: 1 to fold ws·mask into a copy of each block's rows (the
                       //          scratch has room for them; worth it with several samples per row)
  int overwrite;       // backward: 1 to write dcoef, dwb, dws instead of adding to them — the same
                       //          bits as adding to zeros (every element of inputs i0..i1 is written)
};

// One instruction set's implementations. The same source (kernels_impl.inc) is compiled once per
// instruction set; `scalar` is the plain reference twin in kernels_ref.cc.
struct KernelTable {
  const char* name;
  // y rows b0..b1. scratch: KAN_FWD_SCRATCH(k, O, G, a.fold) bytes.
  void (*kan_forward)(const KanLayerArgs& a, int b0, int b1, void* scratch);
  // inputs i0..i1 (each thread owns whole input rows, so no gradient reduction is needed).
  // scratch: KAN_BWD_SCRATCH(k, O, G) bytes.
  void (*kan_backward)(const KanLayerArgs& a, int i0, int i1, void* scratch);
  // C (M, N) += A (M, K) @ Bm (K, N), rows m0..m1; all row-major.
  void (*gemm)(float* C, const float* A, const float* Bm, int M, int N, int K, int m0, int m1);
  // Adam on p[0..n): m, v moments; bc1 = 1 - beta1^t, bc2 = 1 - beta2^t; wd is L2 (added to g).
  void (*adam)(float* p, float* m, float* v, const float* g, size_t n, float lr, float beta1,
               float beta2, float eps, float wd, float bc1, float bc2);
  // SGD with momentum (PyTorch convention: buf = mu*buf + g; p -= lr*buf), wd is L2.
  void (*sgd)(float* p, float* buf, const float* g, size_t n, float lr, float momentum, float wd);
  // FMA throughput probe: `iters` rounds of independent FMA chains; returns the flops done and
  // writes a value derived from the chains to *sink so the work cannot be optimised away.
  double (*fma_probe)(long iters, float* sink);
  // Read-bandwidth probe: sums p[0..n) (64-byte aligned, n a multiple of 64) with independent
  // accumulators into *sink; returns the bytes read.
  double (*read_probe)(const float* p, size_t n, float* sink);
  // One of the kernels' register tiles (which: 0 forward, 1 backward R rows, 2 backward dx) on
  // L1-resident synthetic data, `iters` calls; mem: KAN_TILE_PROBE_FLOATS floats of scratch.
  // Returns the flops of the FMAs and multiplies executed.
  double (*tile_probe)(int which, long iters, float* mem, float* sink);
  // Index of the first NaN or ±Inf in x[0..n), or n.
  size_t (*finite_scan)(const float* x, size_t n);
};

// Backward samples per chunk: KAN_BWD_CHUNK without dx for batches past half of it, else half
// (kan_backward_k). The narrow form's outputs at most; the narrow and mid-width forms' outputs at
// most (rows of their transposed dy); the mid-width form's rows at most (rows of its spread basis).
constexpr int KAN_BWD_CHUNK = 1024;
constexpr int KAN_BWD_NARROW_O = 2;
constexpr int KAN_BWD_MID_O = 16;
constexpr int KAN_BWD_MID_NB = 8;
// Rows per input (NB) from which the coefficients' traffic is worth more thread work: a wide
// forward sums its inputs in two fixed halves (ops.cc)
constexpr int KAN_MANY_ROWS = 20;
constexpr size_t KAN_TILE_PROBE_FLOATS = 65536;  // tile_probe's scratch (see KernelTable)
constexpr int KAN_FWD_IBLOCK = 16;
// Per-thread scratch of the KAN kernels (laid out in kernels_impl.inc / kernels_ref.cc).
// Output rows in scratch are padded to a multiple of 16 floats (64 bytes).
constexpr int kan_pad_o(int O) { return (O + 15) & ~15; }
// Forward scratch (see FwdScratch in kernels_impl.inc): wb·mask and ws·mask of a block, a zero
// row, basis values, base values, spans, lanes, offsets, row pointers; with `fold`, the block's
// folded coefficient rows with zero padding rows (k+1 before, k after), in panels of up to 64
// outputs (O rounded up to 64 columns).
constexpr int KAN_FWD_SLOTS = 16;  // per-sample row-pointer slots (max of the register tile and VW)
constexpr int KAN_FWD_CHUNK = 128;  // per-sample prepass slots (the folded form's sample chunk)
constexpr size_t KAN_FWD_SCRATCH(int k, int O, int G, bool fold) {
  return (size_t)4 * (KAN_FWD_IBLOCK * ((size_t)kan_pad_o(O) + O + KAN_FWD_CHUNK * (k + 2)) + O) +
         (size_t)4 * (KAN_FWD_IBLOCK * (1 + KAN_FWD_CHUNK) + 64) +
         (size_t)KAN_FWD_SLOTS * KAN_FWD_IBLOCK * (k + 1) * sizeof(void*) + 256 +
         (fold ? (size_t)4 * KAN_FWD_IBLOCK * (G + 3 * k + 1) * (((size_t)O + 63) & ~(size_t)63) : 0);
}

constexpr size_t KAN_BWD_SCRATCH(int k, int O, int G) {
  // (see BwdScratch in kernels_impl.inc) folded and R rows with padding rows (k+1 before, k after),
  // 3 rows of OP, dx partials (C, 16), x and dx of an input group (2 × (16, C)), basis values,
  // derivatives and sorted values, 2 per-sample floats, the chunk's dy in panels (C, O rounded up
  // to 32); 5 per-sample ints (one of them C + 1 long), the sort's buckets (4, C + 8); stamps and
  // the touched list; the narrow and mid-width forms' transposed dy (KAN_BWD_MID_O, C) and spread
  // basis (KAN_BWD_MID_NB, C)
  return (size_t)4 * (2 * (size_t)(G + 3 * k + 1) * kan_pad_o(O) + 3 * (size_t)kan_pad_o(O) +
                      (size_t)KAN_BWD_CHUNK * (16 + 32 + 3 * (k + 1) + 2 + (((size_t)O + 31) & ~(size_t)31))) +
         (size_t)4 * (5 * (size_t)KAN_BWD_CHUNK + 1 + 4 * ((size_t)KAN_BWD_CHUNK + 8) + 2 * (size_t)(G + k)) + 128 +
         (size_t)4 * (KAN_BWD_MID_O + KAN_BWD_MID_NB) * KAN_BWD_CHUNK + 64;
}

namespace scalar { extern const KernelTable table; }
namespace base { extern const KernelTable table; }
#if defined(__x86_64__) || defined(_M_X64)
namespace avx2 { extern const KernelTable table; }
namespace avx512 { extern const KernelTable table; }
namespace w16 { extern const KernelTable table; }  // AVX-512's kernel code on AVX2 (testing)
#endif

}  // namespace kan
