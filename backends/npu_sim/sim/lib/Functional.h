//===- Functional.h - Arithmetic of the units (internal) --------*- C++ -*-===//
#ifndef GAON_NPU_SIM_LIB_FUNCTIONAL_H
#define GAON_NPU_SIM_LIB_FUNCTIONAL_H

#include "PagedMemory.h"
#include "gaon/npu_sim/Isa.h"

#include <vector>

namespace gaon::npu_sim::detail {

/// The chip's memories: DRAM, one scratchpad per core, shared SRAM.
struct ChipMemory {
  PagedMemory dram;
  std::vector<PagedMemory> scratchpads;
  PagedMemory shared;

  PagedMemory &at(const MemRef &ref) {
    switch (ref.space) {
    case MemSpace::Dram:
      return dram;
    case MemSpace::Scratchpad:
      return scratchpads[ref.core];
    case MemSpace::Shared:
      break;
    }
    return shared;
  }
};

void executeDma(ChipMemory &memory, const DmaCmd &cmd);
void executeMatmul(PagedMemory &scratchpad, const MatmulCmd &cmd);
void executeVector(PagedMemory &scratchpad, const VectorCmd &cmd);
/// Throws SimError (without the instruction's position) on a bad index.
void executeGather(ChipMemory &memory, const GatherCmd &cmd);

} // namespace gaon::npu_sim::detail

#endif // GAON_NPU_SIM_LIB_FUNCTIONAL_H
