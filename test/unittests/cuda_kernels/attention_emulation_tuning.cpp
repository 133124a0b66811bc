//===- attention_emulation_tuning.cpp - The tuning candidates on the CPU --===//
//
// AttentionTuning.def's kernels (only gaon-cuda-attention-bench --sweep runs
// them on a GPU), compiled by the host compiler against CudaEmulation.h so
// their shapes (several m-tiles per warp, Q in registers, ...) are tested too.
//
//===----------------------------------------------------------------------===//

#define GAON_CUDA_EMULATION 1
#define GAON_ATTENTION_TUNING 1
#include "CudaEmulation.h"

#include "attention.cu"

#include "AttentionConfig.h"
#include "EmulatedKernels.h"

#undef GAON_ATTENTION_TC

namespace gaon::cuda_kernels::test {

const std::vector<EmulatedKernel> &emulatedTuningKernels() {
  static const std::vector<EmulatedKernel> kernels = {
#define GAON_ATTENTION_TC(NAME, DTYPE, DP, BM, BN, NW, QREG, GENERIC, MINB)    \
  {#NAME, &::NAME, DP, BM, NW * 32, tcAttentionSharedBytes(DP, BM, BN, NW)},
#include "AttentionTuning.def"
#undef GAON_ATTENTION_TC
  };
  return kernels;
}

} // namespace gaon::cuda_kernels::test
