//===- EmulatedKernels.h - attention.cu's kernels compiled for the host ---===//
//
// attention_emulation_kernels.cpp and attention_emulation_tuning.cpp compile
// attention.cu with GAON_CUDA_EMULATION (CudaEmulation.h) and list its entry
// points here, so the tests can run each kernel on the CPU by name.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TEST_CUDA_KERNELS_EMULATEDKERNELS_H
#define GAON_TEST_CUDA_KERNELS_EMULATEDKERNELS_H

#include "gaon/cuda_kernels/Attention.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace gaon::cuda_kernels::test {

struct EmulatedKernel {
  const char *name;
  void (*fn)(AttentionParams);
  int headDim, rows, threads; ///< tile head dim, query rows per CTA, threads
  uint32_t sharedBytes;
};

inline void PrintTo(const EmulatedKernel &k, std::ostream *os) {
  *os << k.name;
}

/// The kernels of AttentionVariants.def (what chooseAttentionLaunch names).
const std::vector<EmulatedKernel> &emulatedKernels();
/// The tile-shape candidates of AttentionTuning.def.
const std::vector<EmulatedKernel> &emulatedTuningKernels();

/// Runs `kernel` on the CPU over the grid of `launch`; "" or an error.
std::string runEmulated(void (*kernel)(AttentionParams),
                        const AttentionLaunch &launch,
                        const AttentionParams &params);

} // namespace gaon::cuda_kernels::test

#endif // GAON_TEST_CUDA_KERNELS_EMULATEDKERNELS_H
