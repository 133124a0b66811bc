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

/// K per pipeline stage, and stages in flight. 64 x 4 measured fastest at
/// M = 128 on the H100 among 32 x 4, 32 x 8, 64 x 3 and 64 x 4
/// (bench/cuda_gemm_probe.py): fewer, larger stages mean fewer barriers
/// and more independent mma.sync per barrier.
/// GAON_GEMM_BK and GAON_GEMM_STAGES override them for
/// bench/cuda_gemm_probe.py.
#ifdef GAON_GEMM_BK
constexpr int kGemmBK = GAON_GEMM_BK;
#else
constexpr int kGemmBK = 64;
#endif
#ifdef GAON_GEMM_STAGES
constexpr int kGemmStages = GAON_GEMM_STAGES;
#else
constexpr int kGemmStages = 4;
#endif
/// Every shared row is padded by 8 elements (16 bytes), so the 8 rows an
/// ldmatrix reads start in 8 different 4-bank groups.
constexpr int kGemmPad = 8;

/// The cp.async pipeline's stages of A and B tiles.
GAON_GEMM_HD constexpr uint32_t gemmPipelineBytes(int bm, int bn,
                                                  bool bTransposed) {
  return static_cast<uint32_t>(
      kGemmStages *
      (bm * (kGemmBK + kGemmPad) +
       (bTransposed ? bn * (kGemmBK + kGemmPad) : kGemmBK * (bn + kGemmPad))) *
      2);
}

/// Row stride (floats) of the fp32 output tile that reuses the pipeline's
/// shared memory: +4 floats, so the accumulator pairs of a warp's 8 rows
/// spread over the banks.
GAON_GEMM_HD constexpr int gemmTileStride(int bn) { return bn + 4; }

GAON_GEMM_HD constexpr uint32_t gemmTileBytes(int bm, int bn) {
  return static_cast<uint32_t>(bm * gemmTileStride(bn) * 4);
}

/// The split-K "last to arrive" flag lives after the output tile.
template <int BM, int BN> GAON_GEMM_HD constexpr uint32_t gemmLastFlagOffset() {
  return gemmTileBytes(BM, BN);
}

/// Dynamic shared memory of a launch: the pipeline, or the output tile and
/// the flag, whichever is larger.
GAON_GEMM_HD constexpr uint32_t gemmSharedBytes(int bm, int bn,
                                                bool bTransposed) {
  return gemmPipelineBytes(bm, bn, bTransposed) > gemmTileBytes(bm, bn) + 16
             ? gemmPipelineBytes(bm, bn, bTransposed)
             : gemmTileBytes(bm, bn) + 16;
}

} // namespace gaon::cuda_kernels

#endif // GAON_CUDA_KERNELS_GEMMCONFIG_H
