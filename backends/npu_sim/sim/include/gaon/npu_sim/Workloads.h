//===- Workloads.h - Synthesized command streams ----------------*- C++ -*-===//
//
// Tiled streams for benchmarks and tests, written the way a compiler backend
// would emit them (double-buffered DMA, semaphores between units, barriers
// between phases). They double as worked examples of the ISA.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_WORKLOADS_H
#define GAON_NPU_SIM_WORKLOADS_H

#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim/Isa.h"

namespace gaon::npu_sim {

/// C[M,N] (fp32) = A[M,K] * B[K,N], A and B row-major in DRAM at aAddr and
/// bAddr, C at cAddr. Output tiles go round-robin to `cores` cores; each
/// core double-buffers its A/B tiles and its C tiles. Tile sizes of 0 are
/// chosen to fit the scratchpad and keep the tensor unit busy.
struct GemmSpec {
  uint32_t m = 0, n = 0, k = 0;
  DType type = DType::BF16;
  uint16_t cores = 1;
  uint32_t tileM = 0, tileN = 0, tileK = 0;
  uint64_t aAddr = 0, bAddr = 0,
           cAddr = 0; ///< 0,0,0: packed one after another.
};
Stream makeGemmStream(const ChipDesc &chip, const GemmSpec &spec);
/// The tile sizes makeGemmStream uses for `spec` (after defaulting).
GemmSpec resolveGemmTiles(const ChipDesc &chip, GemmSpec spec);

/// A BERT-style encoder stack at tile level: per layer the QKV, attention
/// (QK^T, softmax, PV per head), output projection, two layer norms and the
/// GELU FFN, spread over all cores with barriers between phases.
struct BertSpec {
  uint32_t layers = 12, seq = 128, hidden = 768, heads = 12, ffn = 3072;
  DType type = DType::BF16;
  uint16_t cores = 0; ///< 0: every core of the chip.
};
Stream makeBertStream(const ChipDesc &chip, const BertSpec &spec);

} // namespace gaon::npu_sim

#endif // GAON_NPU_SIM_WORKLOADS_H
