//===- gemm.cu - Split-K tensor-core GEMM for few rows --------------------===//
//
// D = act(alpha * A.B + beta * C + bias) (include/gaon/cuda_kernels/Gemm.h).
// CTA (x, y, z) computes the BM x BN output tile (y, x) over the z-th slice
// of K: a kGemmStages-deep cp.async pipeline of kGemmBK-wide stages feeds
// mma.sync.m16n8k16 (fp32 accumulation) through ldmatrix. With one slice
// the CTA applies the epilogue itself; with several, every CTA writes its
// fp32 partial tile to the workspace (coalesced: element j of thread t at
// j * threads + t), and the last CTA to arrive at the tile's counter sums
// all partials in slice order and applies the epilogue.
//
// Every entry point is extern "C" with one GemmParams by value, launched
// through the driver API by name (GemmLaunch.cpp). With GAON_CUDA_EMULATION
// the host compiler builds this file against
// test/unittests/cuda_kernels/CudaEmulation.h (CI has no GPU).
//
//===----------------------------------------------------------------------===//

#include "GemmConfig.h"
#include "TensorCore.cuh"
#include "gaon/cuda_kernels/Gemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_functions.h>
#include <vector_types.h>

#include <cmath>
#include <cstdint>

using gaon::cuda_kernels::GemmEpilogue;
using gaon::cuda_kernels::GemmParams;
using gaon::cuda_kernels::kGemmBK;
using gaon::cuda_kernels::kGemmPad;
using gaon::cuda_kernels::kGemmStages;

// Probe points (bench/cuda_gemm_probe.cu timestamps them): 0 start, 1 main
// loop done, 2 split-K exchange done, 3 end. Nothing in normal builds.
#ifndef GAON_GEMM_MARK
#define GAON_GEMM_MARK(point)
#endif

namespace {

__device__ __forceinline__ float toFloat(__half x) { return __half2float(x); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

/// Eight consecutive elements (16 bytes of f16/bf16, 32 of f32) to and
/// from fp32 registers, as whole vector loads and stores.
/// Under emulation the host compiler sees these as what they are, type
/// punning, so they go through memcpy there.
template <typename T>
__device__ __forceinline__ void load8(const T *p, float (&out)[8]) {
  T x[8];
#ifdef GAON_CUDA_EMULATION
  memcpy(x, p, sizeof x);
#else
  const uint4 raw = *reinterpret_cast<const uint4 *>(p);
  memcpy(x, &raw, sizeof raw); // no type punning through pointers
#endif
#pragma unroll
  for (int e = 0; e < 8; ++e)
    out[e] = toFloat(x[e]);
}
__device__ __forceinline__ void load8(const float *p, float (&out)[8]) {
  const float4 lo = *reinterpret_cast<const float4 *>(p);
  const float4 hi = *reinterpret_cast<const float4 *>(p + 4);
  out[0] = lo.x, out[1] = lo.y, out[2] = lo.z, out[3] = lo.w;
  out[4] = hi.x, out[5] = hi.y, out[6] = hi.z, out[7] = hi.w;
}
__device__ __forceinline__ void store8(float *p, const float (&v)[8]) {
  *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
  *reinterpret_cast<float4 *>(p + 4) = make_float4(v[4], v[5], v[6], v[7]);
}
template <typename T>
__device__ __forceinline__ void store8(T *p, const float (&v)[8]) {
  uint32_t w[4];
#pragma unroll
  for (int e = 0; e < 4; ++e)
    w[e] = TcType<T>::pack(v[2 * e], v[2 * e + 1]);
#ifdef GAON_CUDA_EMULATION
  memcpy(p, w, sizeof w);
#else
  *reinterpret_cast<uint4 *>(p) = make_uint4(w[0], w[1], w[2], w[3]);
#endif
}

/// L2-only load: the partials were written by other CTAs (other SMs), so
/// this SM's L1 must not serve them.
__device__ __forceinline__ void loadPartial8(const float *p, float (&out)[8]) {
#ifdef GAON_CUDA_EMULATION
  load8(p, out);
#else
  const float4 lo = __ldcg(reinterpret_cast<const float4 *>(p));
  const float4 hi = __ldcg(reinterpret_cast<const float4 *>(p + 4));
  out[0] = lo.x, out[1] = lo.y, out[2] = lo.z, out[3] = lo.w;
  out[4] = hi.x, out[5] = hi.y, out[6] = hi.z, out[7] = hi.w;
#endif
}

__device__ __forceinline__ float activate(float x, int32_t epilogue) {
  switch (static_cast<GemmEpilogue>(epilogue)) {
  case GemmEpilogue::Gelu:
  case GemmEpilogue::BiasGelu: {
    // cuBLASLt's GELU: the tanh approximation.
    const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
  }
  case GemmEpilogue::Relu:
  case GemmEpilogue::BiasRelu:
    return x > 0.0f ? x : 0.0f;
  default:
    return x;
  }
}

__device__ __forceinline__ bool hasBias(int32_t epilogue) {
  auto e = static_cast<GemmEpilogue>(epilogue);
  return e == GemmEpilogue::Bias || e == GemmEpilogue::BiasGelu ||
         e == GemmEpilogue::BiasRelu;
}

/// The split-K GEMM.
///   T        __half or __nv_bfloat16 (A, B, bias)
///   TO       T or float (C, D)
///   BT       B stored N x K (else K x N)
///   BM, BN   the CTA's output tile
///   WARPS_M, WARPS_N  warp grid; a warp owns (BM/WARPS_M) x (BN/WARPS_N)
template <typename T, typename TO, bool BT, int BM, int BN, int WARPS_M,
          int WARPS_N>
__device__ __forceinline__ void gemm(const GemmParams &p) {
  using Ty = TcType<T>;
  constexpr int NT = WARPS_M * WARPS_N * 32;
  constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  constexpr int MT = WM / 16; // m16 tiles per warp
  constexpr int NTL = WN / 8; // n8 tiles per warp
  constexpr int BK = kGemmBK, STAGES = kGemmStages;
  constexpr int LDA = BK + kGemmPad;
  constexpr int LDB = BT ? BK + kGemmPad : BN + kGemmPad;
  constexpr int B_ELEMS = BT ? BN * LDB : BK * LDB;
  constexpr int STAGE_ELEMS = BM * LDA + B_ELEMS;
  constexpr int LDC = gaon::cuda_kernels::gemmTileStride(BN);
  static_assert(WM % 16 == 0 && NTL % 2 == 0, "warp tile shape");
  static_assert(BK % 16 == 0 && BN % 8 == 0, "CTA tile shape");
  static_assert(gaon::cuda_kernels::gemmPipelineBytes(BM, BN, BT) ==
                    STAGES * STAGE_ELEMS * sizeof(T),
                "GemmConfig.h disagrees with the layout below");

  GAON_DYNAMIC_SHARED(smem);
  GAON_GEMM_MARK(0);
  T *shared = reinterpret_cast<T *>(smem);
  auto stageA = [&](int s) { return shared + s * STAGE_ELEMS; };
  auto stageB = [&](int s) { return shared + s * STAGE_ELEMS + BM * LDA; };

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp % WARPS_M, wn = warp / WARPS_M;
  const int g = lane >> 2, t = lane & 3; // mma fragment row group / pair
  const int n0 = blockIdx.x * BN, m0 = blockIdx.y * BM;
  const int split = blockIdx.z, splits = gridDim.z;
  const int kBegin = split * p.kSlice;
  const int kEnd = min(p.k, kBegin + p.kSlice);
  const int chunks = kEnd > kBegin ? (kEnd - kBegin + BK - 1) / BK : 0;
  const T *A = reinterpret_cast<const T *>(p.a);
  const T *B = reinterpret_cast<const T *>(p.b);

  // Each thread copies the same 16-byte pieces of every stage, so its
  // source pointers, shared offsets and row/column bounds are computed once
  // here, and a stage's copy is a pointer step and a cp.async per piece.
  // (Recomputing them per stage cost ~100 instructions per stage per warp,
  // which at one warp per scheduler was most of the main loop's time.)
  // Rows past M, columns past N and k past the slice load as zeros (K, N
  // and the slice bounds are multiples of 8: pieces are all in or all out).
  constexpr int A_PIECES = BM * BK / 8, B_PIECES = BN * BK / 8;
  constexpr int A_PER = (A_PIECES + NT - 1) / NT;
  constexpr int B_PER = (B_PIECES + NT - 1) / NT;
  const T *srcA[A_PER], *srcB[B_PER];
  uint32_t dstA[A_PER], dstB[B_PER];
  int kOfA[A_PER], kOfB[B_PER]; // k offset in the stage; kUnused: zeros
  constexpr int kUnused = 1 << 30;
  const uint32_t stage0 = smemAddr(shared);
#pragma unroll
  for (int j = 0; j < A_PER; ++j) {
    const int i = tid + j * NT;
    const int r = i / (BK / 8), c = (i % (BK / 8)) * 8;
    const bool used = i < A_PIECES && m0 + r < p.m;
    srcA[j] = used ? A + (m0 + r) * p.lda + kBegin + c : A;
    dstA[j] = stage0 + (r * LDA + c) * sizeof(T);
    kOfA[j] = used ? c : kUnused;
  }
#pragma unroll
  for (int j = 0; j < B_PER; ++j) {
    const int i = tid + j * NT;
    bool used = i < B_PIECES;
    int r, c, kOff;
    if constexpr (BT) {
      r = i / (BK / 8), c = (i % (BK / 8)) * 8, kOff = c;
      used = used && n0 + r < p.n;
      srcB[j] = used ? B + (n0 + r) * p.ldb + kBegin + c : B;
    } else {
      r = i / (BN / 8), c = (i % (BN / 8)) * 8, kOff = r;
      used = used && n0 + c < p.n;
      srcB[j] = used ? B + (kBegin + r) * p.ldb + n0 + c : B;
    }
    dstB[j] = stage0 + (BM * LDA + r * LDB + c) * sizeof(T);
    kOfB[j] = used ? kOff : kUnused;
  }
  // A stage's k step in elements of each operand's source.
  const int64_t stepB = BT ? BK : BK * p.ldb;
  auto load = [&](int chunk, int s) {
    const int kLeft = kEnd - kBegin - chunk * BK; // > 0
    const uint32_t stageOff = s * STAGE_ELEMS * sizeof(T);
#pragma unroll
    for (int j = 0; j < A_PER; ++j)
      if (j * NT + tid < A_PIECES) {
        const bool ok = kOfA[j] < kLeft;
        cpAsync16(dstA[j] + stageOff, ok ? srcA[j] + chunk * BK : A, ok);
      }
#pragma unroll
    for (int j = 0; j < B_PER; ++j)
      if (j * NT + tid < B_PIECES) {
        const bool ok = kOfB[j] < kLeft;
        cpAsync16(dstB[j] + stageOff, ok ? srcB[j] + chunk * stepB : B, ok);
      }
  };

  float acc[MT][NTL][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NTL; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        acc[mt][nt][e] = 0.0f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < chunks)
      load(s, s);
    cpAsyncCommit();
  }
  for (int c = 0; c < chunks; ++c) {
    cpAsyncWaitGroup<STAGES - 2>();
    __syncthreads(); // chunk c landed for all; stage (c - 1) % STAGES is free
    if (c + STAGES - 1 < chunks)
      load(c + STAGES - 1, (c + STAGES - 1) % STAGES);
    cpAsyncCommit();
    const T *sA = stageA(c % STAGES), *sB = stageB(c % STAGES);
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      uint32_t af[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
        ldmatrixX4(af[mt], smemAddr(sA + (wm * WM + mt * 16 + lane % 16) * LDA +
                                    kk + (lane / 16) * 8));
#pragma unroll
      for (int np = 0; np < NTL / 2; ++np) {
        // Four 8x8 matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15,
        // k 0-7), (n 8-15, k 8-15) = b0, b1 of two n8 tiles.
        uint32_t bf[4];
        if constexpr (BT)
          ldmatrixX4(
              bf,
              smemAddr(sB +
                       (wn * WN + np * 16 + lane % 8 + (lane / 16) * 8) * LDB +
                       kk + ((lane / 8) % 2) * 8));
        else
          ldmatrixX4Trans(
              bf, smemAddr(sB + (kk + lane % 8 + ((lane / 8) % 2) * 8) * LDB +
                           wn * WN + np * 16 + (lane / 16) * 8));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          Ty::mma(acc[mt][2 * np], af[mt], bf[0], bf[1]);
          Ty::mma(acc[mt][2 * np + 1], af[mt], bf[2], bf[3]);
        }
      }
    }
  }
  cpAsyncWaitAll();
  __syncthreads(); // every warp is done with the pipeline's shared memory
  GAON_GEMM_MARK(1);

  // The accumulators go through shared memory as an fp32 BM x BN tile, so
  // that the split-K exchange and the epilogue are plain row-major loops:
  // coalesced, and compiled once rather than unrolled per fragment.
  float *tileC = reinterpret_cast<float *>(smem);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NTL; ++nt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = wm * WM + mt * 16 + g + 8 * h;
        const int c = wn * WN + nt * 8 + 2 * t;
        *reinterpret_cast<float2 *>(tileC + r * LDC + c) =
            make_float2(acc[mt][nt][2 * h], acc[mt][nt][2 * h + 1]);
      }
  __syncthreads();

  // Epilogue work is split into steps of 8 consecutive outputs per thread,
  // and every step's loads are issued before any of them is used: the
  // residual, bias and partial tiles come from L2 or DRAM, and a loop that
  // waited on each load in turn cost ~0.5 us per iteration (18 us for a
  // 128x64 tile, measured by bench/cuda_gemm_probe.py).
  constexpr int VEC = 8;
  constexpr int STEPS = BM * BN / (VEC * NT);
  static_assert(STEPS * VEC * NT == BM * BN, "epilogue steps");
  auto rowOf = [&](int step) { return (step * NT + tid) / (BN / VEC); };
  auto colOf = [&](int step) { return ((step * NT + tid) % (BN / VEC)) * VEC; };

  const int tile = blockIdx.y * gridDim.x + blockIdx.x;
  const int tiles = gridDim.x * gridDim.y;
  auto partialOf = [&](int s) {
    return reinterpret_cast<const float *>(p.workspace) +
           (static_cast<int64_t>(s) * tiles + tile) * (BM * BN);
  };
  float v[STEPS][VEC];
#pragma unroll
  for (int st = 0; st < STEPS; ++st)
    load8(tileC + rowOf(st) * LDC + colOf(st), v[st]);
  if (splits > 1) {
    float *mine = reinterpret_cast<float *>(p.workspace) +
                  (static_cast<int64_t>(split) * tiles + tile) * (BM * BN);
#pragma unroll
    for (int st = 0; st < STEPS; ++st)
      store8(mine + rowOf(st) * BN + colOf(st), v[st]);
    __threadfence(); // the partial is visible before the arrival counts
    __syncthreads();
    int *last = reinterpret_cast<int *>(
        smem + gaon::cuda_kernels::gemmLastFlagOffset<BM, BN>());
    if (tid == 0) {
      int *counter = reinterpret_cast<int *>(p.counters) + tile;
      const int arrived = atomicAdd(counter, 1);
      *last = arrived == splits - 1;
      if (*last)
        *counter = 0; // every slice has arrived: ready for the next launch
    }
    __syncthreads();
    GAON_GEMM_MARK(2);
    if (!*last)
      return;
    __threadfence();
    // Sum in slice order whoever arrived last: deterministic results. Four
    // slices' loads are in flight at a time.
#pragma unroll
    for (int st = 0; st < STEPS; ++st)
#pragma unroll
      for (int e = 0; e < VEC; ++e)
        v[st][e] = 0.0f;
#pragma unroll 4
    for (int s = 0; s < splits; ++s)
#pragma unroll
      for (int st = 0; st < STEPS; ++st) {
        float part[VEC];
        loadPartial8(partialOf(s) + rowOf(st) * BN + colOf(st), part);
#pragma unroll
        for (int e = 0; e < VEC; ++e)
          v[st][e] += part[e];
      }
  }

  // N and the row strides are multiples of 8: a step's 8 columns are all
  // in or all out, and its loads and stores are 16-byte aligned.
  const T *bias =
      hasBias(p.epilogue) ? reinterpret_cast<const T *>(p.bias) : nullptr;
  const TO *C = p.beta != 0.0f ? reinterpret_cast<const TO *>(p.c) : nullptr;
  TO *D = reinterpret_cast<TO *>(p.d);
  float addend[STEPS][VEC];
#pragma unroll
  for (int st = 0; st < STEPS; ++st) {
    const int row = m0 + rowOf(st), col = n0 + colOf(st);
    float b[VEC];
#pragma unroll
    for (int e = 0; e < VEC; ++e)
      addend[st][e] = b[e] = 0.0f;
    if (row < p.m && col < p.n) {
      if (C)
        load8(C + row * p.ldc + col, addend[st]);
      if (bias)
        load8(bias + col, b);
    }
#pragma unroll
    for (int e = 0; e < VEC; ++e)
      addend[st][e] = p.beta * addend[st][e] + b[e];
  }
#pragma unroll
  for (int st = 0; st < STEPS; ++st) {
    const int row = m0 + rowOf(st), col = n0 + colOf(st);
    if (row >= p.m || col >= p.n)
      continue;
#pragma unroll
    for (int e = 0; e < VEC; ++e)
      v[st][e] = activate(v[st][e] * p.alpha + addend[st][e], p.epilogue);
    store8(D + row * p.ldd + col, v[st]);
  }
  GAON_GEMM_MARK(3);
}

} // namespace

// Entry points: gaon_gemm_<in>_<out>_<layout>_m<BM>n<BN>, with in f16/bf16,
// out o16 (the input type) or o32 (f32), layout nn (B is K x N) or nt
// (B is N x K).
#define GAON_GEMM_KERNEL(IN, T, OUT, TO, LAYOUT, BT, BM, BN, WARPS_M, WARPS_N) \
  extern "C" __global__ void __launch_bounds__(WARPS_M *WARPS_N * 32)          \
      gaon_gemm_##IN##_##OUT##_##LAYOUT##_m##BM##n##BN(GemmParams p) {         \
    gemm<T, TO, BT, BM, BN, WARPS_M, WARPS_N>(p);                              \
  }
#define GAON_GEMM_TILE(INDEX, BM, BN, WARPS_M, WARPS_N)                        \
  GAON_GEMM_KERNEL(f16, __half, o16, __half, nn, false, BM, BN, WARPS_M,       \
                   WARPS_N)                                                    \
  GAON_GEMM_KERNEL(f16, __half, o16, __half, nt, true, BM, BN, WARPS_M,        \
                   WARPS_N)                                                    \
  GAON_GEMM_KERNEL(f16, __half, o32, float, nn, false, BM, BN, WARPS_M,        \
                   WARPS_N)                                                    \
  GAON_GEMM_KERNEL(f16, __half, o32, float, nt, true, BM, BN, WARPS_M,         \
                   WARPS_N)                                                    \
  GAON_GEMM_KERNEL(bf16, __nv_bfloat16, o16, __nv_bfloat16, nn, false, BM, BN, \
                   WARPS_M, WARPS_N)                                           \
  GAON_GEMM_KERNEL(bf16, __nv_bfloat16, o16, __nv_bfloat16, nt, true, BM, BN,  \
                   WARPS_M, WARPS_N)                                           \
  GAON_GEMM_KERNEL(bf16, __nv_bfloat16, o32, float, nn, false, BM, BN,         \
                   WARPS_M, WARPS_N)                                           \
  GAON_GEMM_KERNEL(bf16, __nv_bfloat16, o32, float, nt, true, BM, BN, WARPS_M, \
                   WARPS_N)
#include "GemmVariants.def"
#undef GAON_GEMM_TILE
#undef GAON_GEMM_KERNEL
