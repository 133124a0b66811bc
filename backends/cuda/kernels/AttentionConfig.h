//===- AttentionConfig.h - Shared-memory sizes of the kernel variants -----===//
//
// Included by attention.cu (device side) and by the host code that launches
// the variants listed in AttentionVariants.def / AttentionTuning.def, so the
// dynamic shared memory a launch asks for is the layout the kernel uses.
// Plain C++, no CUDA headers.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_KERNELS_ATTENTIONCONFIG_H
#define GAON_CUDA_KERNELS_ATTENTIONCONFIG_H

#include <cstdint>

// Also evaluated in static_asserts inside the device code.
#ifdef __CUDACC__
#define GAON_ATTENTION_HD __host__ __device__
#else
#define GAON_ATTENTION_HD
#endif

namespace gaon::cuda_kernels {

/// Largest dynamic shared memory any variant may use: what sm_86/sm_89 and
/// sm_120 allow per block (99 KiB), so every variant runs on every GPU the
/// fatbin supports.
constexpr uint32_t kMaxAttentionSharedBytes = 99 * 1024;

/// Warps of a tensor-core CTA that split each tile's keys among themselves.
/// A CTA of nw warps with fewer than nw m16 row tiles (bm < 16 nw) gives
/// every row tile 16 nw / bm warps, each taking its own bn keys of a round
/// of bn * groups keys; their partial softmax states merge at the end. At
/// one warp per row tile a short sequence leaves every SM with one warp and
/// its latency exposed (1x12x128x64: 13 us).
GAON_ATTENTION_HD constexpr int tcAttentionKeyGroups(int bm, int nw) {
  return bm < 16 * nw ? 16 * nw / bm : 1;
}

/// K/V buffers of the tensor-core kernels: two (round n + 1 loads while
/// round n is computed) when they fit kMaxAttentionSharedBytes, else one.
GAON_ATTENTION_HD constexpr int tcAttentionKvStages(int dp, int bm, int bn,
                                                    int nw) {
  return (bm + 4 * bn * tcAttentionKeyGroups(bm, nw)) * (dp + 8) * 2 <=
                 int(kMaxAttentionSharedBytes)
             ? 2
             : 1;
}

/// Tensor-core kernels: Q (bm rows), then per stage K and V (bn rows per
/// key group each), 2-byte elements, rows padded by 8 elements (16 bytes)
/// against bank conflicts. With key groups, the merge of their softmax
/// states reuses the K/V buffers (checked in attention.cu).
GAON_ATTENTION_HD constexpr uint32_t tcAttentionSharedBytes(int dp, int bm,
                                                            int bn, int nw) {
  return static_cast<uint32_t>((bm + 2 * bn * tcAttentionKeyGroups(bm, nw) *
                                         tcAttentionKvStages(dp, bm, bn, nw)) *
                               (dp + 8) * 2);
}

/// fp32 kernel: Q (16 rm rows) and K (bn rows) with stride dp + 1, V (bn
/// rows) with stride dp, P (16 rm rows) with stride bn + 1; 4-byte elements.
GAON_ATTENTION_HD constexpr uint32_t f32AttentionSharedBytes(int dp, int rm,
                                                             int bn) {
  return static_cast<uint32_t>(
      4 * (16 * rm * (dp + 1) + bn * (dp + 1) + bn * dp + 16 * rm * (bn + 1)));
}

} // namespace gaon::cuda_kernels

#endif // GAON_CUDA_KERNELS_ATTENTIONCONFIG_H
