//===- Tile.cpp - Tile sizes that fit the scratchpad ----------------------===//
//
// Sizes every matmul, attention and row op (softmax, layer/RMS norm) to the
// chip's scratchpad: the largest tiles whose double-buffered slots fit one
// core's scratchpad, spread so that every core gets work. The kernel
// library's tile step makes the choice (so the compiler and the library's
// default agree); this pass records it on the op.
//
//===----------------------------------------------------------------------===//

#include "Scheduling.h"

#include "gaon/Backends/NpuSim/Passes.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUTILE
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

namespace gaon::npu {
namespace {

struct NpuTilePass : impl::NpuTileBase<NpuTilePass> {
  void runOnOperation() override {
    if (failed(runScheduleStep(getOperation(), npu_kernels::PlanStep::Tile)))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon::npu
