//===- Attention.h - The fused attention kernel's interface -----*- C++ -*-===//
//
// Shared by the kernel source (attention.cu, compiled by nvcc at build time
// into a fatbin for sm_90 and sm_80) and the host code that launches it
// through the CUDA driver API. Plain C++: no CUDA headers.
//
// out[b, h, i, :] = softmax_j(scale * q[b,h,i,:] . k[b,h/g,j,:] + mask[b,h,i,j]
//                             (- inf where causal and j > i + seqK - seqQ))
//                   . v[b, h/g, j, :]          with g = heads / kvHeads
// Accumulation and softmax in fp32, inputs/outputs in the kernel's dtype.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_KERNELS_ATTENTION_H
#define GAON_CUDA_KERNELS_ATTENTION_H

#include <cstdint>

namespace gaon::cuda_kernels {

/// Passed by value as the kernel's only parameter.
struct AttentionParams {
  uint64_t q, k, v, o, mask; ///< device addresses; mask 0 when absent
  int32_t batch, heads, kvHeads, seqQ, seqK, headDim;
  int32_t causal;
  float scale;
  int64_t qStride[3], kStride[3], vStride[3], oStride[3]; ///< (b, h, s)
  int64_t maskStride[3]; ///< (b, h, query); key dimension contiguous
};

enum class AttentionDType : int32_t { F32 = 0, F16 = 1, BF16 = 2 };

struct AttentionLaunch {
  const char *kernel; ///< entry name in the fatbin; nullptr: unsupported
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t sharedBytes; ///< dynamic shared memory
};

/// The kernel and launch shape for `params` on a device of compute
/// capability `smMajor`.`smMinor` with `multiprocessors` SMs; kernel ==
/// nullptr with a reason in `whyNot` when no variant handles it (e.g. head
/// dim > 256). With the SM count, the query tile is the largest that still
/// gives every SM a CTA (small batch x heads x queries get 64- or 16-row
/// CTAs); with 0 (unknown) it is always the largest.
AttentionLaunch chooseAttentionLaunch(const AttentionParams &params,
                                      AttentionDType dtype, int smMajor,
                                      int smMinor, int multiprocessors,
                                      const char **whyNot);

/// The fatbin embedded at build time (sm_80 and sm_90 SASS + PTX).
const unsigned char *attentionFatbin();
uint64_t attentionFatbinSize();

} // namespace gaon::cuda_kernels

#endif // GAON_CUDA_KERNELS_ATTENTION_H
