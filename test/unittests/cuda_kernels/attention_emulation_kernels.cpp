//===- attention_emulation_kernels.cpp - attention.cu on the CPU ----------===//
//
// The shipped kernels (AttentionVariants.def), compiled by the host compiler
// against CudaEmulation.h.
//
//===----------------------------------------------------------------------===//

#define GAON_CUDA_EMULATION 1
#include "CudaEmulation.h"

#include "attention.cu"

#include "AttentionConfig.h"
#include "EmulatedKernels.h"

#undef GAON_ATTENTION_TC
#undef GAON_ATTENTION_F32

namespace gaon::cuda_kernels::test {

const std::vector<EmulatedKernel> &emulatedKernels() {
  static const std::vector<EmulatedKernel> kernels = {
#define GAON_ATTENTION_TC(NAME, DTYPE, DP, BM, BN, NW, QREG, GENERIC, MINB)    \
  {#NAME, &::NAME, DP, BM, NW * 32, tcAttentionSharedBytes(DP, BM, BN, NW)},
#define GAON_ATTENTION_F32(NAME, DP, RM, BN)                                   \
  {#NAME, &::NAME, DP, 16 * RM, 128, f32AttentionSharedBytes(DP, RM, BN)},
#include "AttentionVariants.def"
#undef GAON_ATTENTION_TC
#undef GAON_ATTENTION_F32
  };
  return kernels;
}

std::string runEmulated(void (*kernel)(AttentionParams),
                        const AttentionLaunch &launch,
                        const AttentionParams &params) {
  return gaonEmu::launch(kernel, launch, params);
}

} // namespace gaon::cuda_kernels::test
