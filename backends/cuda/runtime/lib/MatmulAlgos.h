//===- MatmulAlgos.h - Choosing cuBLASLt algorithms -------------*- C++ -*-===//
//
// cuBLASLt's heuristic ranks algorithms by a model of the GPU; for the small
// M of batch-1 transformer layers its first choice is often not the fastest
// (too few tiles for 132 SMs, no split-K). With the device option
// matmul_tuning=1 (the default) the driver times the heuristic's candidates
// on the real operands, with L2 flushed between runs as a forward's weights
// arrive cold, and keeps the fastest per problem signature for the device's
// lifetime: layers with the same shapes are timed once.
//
// The heuristic rarely offers split-K on sm_90, yet at M = 128 a 768x768
// GEMM has 6 output tiles of 128x128 for 132 SMs and is latency-bound.
// With matmul_split_k=1 (the default) each candidate whose kernel supports
// split-K is also timed split 2..16 ways along K (cublasLtMatmulAlgoCheck
// vets each variant and sizes its workspace); the fastest variant wins like
// any other candidate.
//
// With matmul_gaon_gemm=1 (off by default) Gaon's own split-K GEMM kernels
// (backends/cuda/kernels/gemm.cu) are candidates too, for the matmuls they
// handle (one batch, f16/bf16, A not transposed, aligned): each tile shape
// split 1..16 ways, timed like the cuBLASLt algorithms.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_RUNTIME_MATMULALGOS_H
#define GAON_CUDA_RUNTIME_MATMULALGOS_H

#include "CudaApi.h"
#include "HandWrittenKernels.h"

#include <cstddef>
#include <string>

namespace gaon::cuda::detail {

struct CudaDevice;

/// One matmul as cuBLASLt sees it (column-major: its A is our B, see
/// PlanExecutable.cpp), with the operands it can be timed on.
struct MatmulProblem {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layoutA = nullptr, layoutB = nullptr,
                         layoutD = nullptr; ///< C and D share layoutD
  CUdeviceptr a = 0, b = 0, c = 0, d = 0;   ///< cuBLASLt's A, B, C, D
  uint32_t alignA = 256, alignB = 256, alignC = 256, alignD = 256; ///< bytes
  float alpha = 1.0f, beta = 0.0f;
  int64_t k = 0; ///< the reduction length, which bounds useful split-K
  /// Problems with equal signatures get the same algorithm.
  std::string signature;
  /// For errors: "f16 1x128x768x768, operand alignments 256/256/256 bytes".
  std::string description;
#ifdef GAON_CUDA_HAVE_KERNELS
  /// Our view of the same matmul, when the GEMM kernels can run it.
  bool gemmEligible = false;
  gaon::cuda_kernels::GemmShape gemmShape;
  gaon::cuda_kernels::GemmParams gemm = {};
#endif
};

struct ChosenMatmulAlgo {
  cublasLtMatmulAlgo_t algo = {};
  size_t workspaceBytes = 0;
  int candidates = 0; ///< how many were timed (or 1)
  int splitK = 1;     ///< the chosen algorithm's split along K
  /// >= 0: Gaon's GEMM kernel of this tile shape, split gemmSplits ways,
  /// instead of cuBLASLt's `algo`.
  int gemmTile = -1;
  int gemmSplits = 1;
  double microseconds = -1.0; ///< median time of the chosen one, if timed
};

/// The algorithm for `problem`: from the device's cache, else the
/// heuristic's first choice (matmul_tuning=0) or the fastest of its
/// candidates timed on `stream` (which must not be capturing). The timing
/// runs write D, which the caller's real run overwrites. "" or why not.
std::string chooseMatmulAlgo(CudaDevice &device, const MatmulProblem &problem,
                             CUstream stream, ChosenMatmulAlgo *out);

} // namespace gaon::cuda::detail

#endif // GAON_CUDA_RUNTIME_MATMULALGOS_H
