//===- Gemm.h - The split-K GEMM kernel's interface -------------*- C++ -*-===//
//
// Shared by the kernel source (gemm.cu, compiled by nvcc at build time) and
// the host code that launches it through the CUDA driver API. Plain C++: no
// CUDA headers.
//
//   D[m, n] = act(alpha * sum_k A[m, k] B[k, n] + beta * C[m, n] + bias[n])
//
// A is row-major (M x K); B is K x N row-major, or N x K row-major
// ("transposed", as Gemm with transB = 1 stores weights). Inputs f16 or
// bf16, fp32 accumulation; C and D in the input type or f32; bias in the
// input type. The same epilogue order as cuBLASLt's, so the runtime can
// pick whichever of the two is faster for a matmul step.
//
// Why it exists: at the few rows of batch-1 inference (M = 128 tokens) a
// transformer GEMM is a stream of weights, and cuBLASLt's sm_90 kernels
// launch too few CTAs to pull HBM bandwidth (a 128 x 768 output is 6 tiles
// of 128 x 128 for 132 SMs). Here the K range is split over CTAs as well
// (gridDim.z), and the last CTA of each output tile to finish sums the
// others' fp32 partials (in a fixed order: deterministic) and applies the
// epilogue, so no second kernel is needed.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_KERNELS_GEMM_H
#define GAON_CUDA_KERNELS_GEMM_H

#include <cstdint>

namespace gaon::cuda_kernels {

/// Epilogues, numbered as the cuda-plan's Epilogue.
enum class GemmEpilogue : int32_t {
  None = 0,
  Bias = 1,
  Gelu = 2, ///< tanh approximation, as cuBLASLt's
  BiasGelu = 3,
  Relu = 4,
  BiasRelu = 5,
};

/// Passed by value as the kernel's only parameter.
struct GemmParams {
  uint64_t a, b, bias, c, d; ///< device addresses; bias/c 0 when unused
  /// Split-K only: kernel-private scratch, fp32 partial tiles, and one
  /// int32 arrival counter per output tile, zero between launches (the
  /// last CTA of a tile resets its counter).
  uint64_t workspace, counters;
  int32_t m, n, k;
  int32_t kSlice; ///< K per split (gridDim.z splits); set by chooseGemmLaunch
  int64_t lda, ldb, ldc, ldd; ///< row strides in elements
  int32_t epilogue;           ///< GemmEpilogue
  float alpha, beta;          ///< C is read only when beta != 0
};

enum class GemmDType : int32_t { F16 = 1, BF16 = 2 };

/// One shape of problem: what selects a kernel.
struct GemmShape {
  GemmDType dtype = GemmDType::F16;
  bool f32Out = false;      ///< C and D are f32
  bool bTransposed = false; ///< B stored N x K
};

struct GemmLaunch {
  const char *kernel = nullptr; ///< entry name in the fatbin; null: none
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  uint32_t sharedBytes = 0;    ///< dynamic shared memory
  uint64_t workspaceBytes = 0; ///< partial tiles (split-K only)
  uint32_t counters = 0;       ///< arrival counters needed (split-K only)
};

/// How many CTA tile shapes the kernels come in (index 0 .. count - 1).
int gemmTileCount();

/// The launch of tile shape `tile` with K split `splits` ways for `params`
/// (whose kSlice it sets); kernel == nullptr with a reason in `whyNot` when
/// the kernels cannot run it: operands not 16-byte aligned, K or N or a row
/// stride not a multiple of 8, or a K slice under 32.
GemmLaunch chooseGemmLaunch(GemmParams &params, const GemmShape &shape,
                            int tile, int splits, const char **whyNot);

/// The fatbin embedded at build time (sm_80 and sm_90 SASS + PTX).
const unsigned char *gemmFatbin();
uint64_t gemmFatbinSize();

} // namespace gaon::cuda_kernels

#endif // GAON_CUDA_KERNELS_GEMM_H
