//===- GemmConfig.h - Tile shapes of the split-K GEMM kernels ---*- C++ -*-===//
//
// Shared by gemm.cu and the host side (GemmLaunch.cpp), so that both agree
// on the shared-memory layout and the names of the kernels.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_KERNELS_GEMMCONFIG_H
#define GAON_CUDA_KERNELS_GEMMCONFIG_H

#include <cstdint>

#if defined(__CUDACC__)
#define GAON_GEMM_HD __host__ __device__
#else
#define GAON_GEMM_HD
#endif

namespace gaon::cuda_kernels {

/// K per pipeline stage, and stages in flight: a CTA's whole K slice is
/// usually 4-8 stages, issued up front so that its loads overlap.
constexpr int kGemmBK = 32;
constexpr int kGemmStages = 4;
/// Every shared row is padded by 8 elements (16 bytes), so the 8 rows an
/// ldmatrix reads start in 8 different 4-bank groups.
constexpr int kGemmPad = 8;

GAON_GEMM_HD constexpr uint32_t gemmSharedBytes(int bm, int bn,
                                                bool bTransposed) {
  return static_cast<uint32_t>(
      kGemmStages *
      (bm * (kGemmBK + kGemmPad) +
       (bTransposed ? bn * (kGemmBK + kGemmPad) : kGemmBK * (bn + kGemmPad))) *
      2);
}

} // namespace gaon::cuda_kernels

#endif // GAON_CUDA_KERNELS_GEMMCONFIG_H
