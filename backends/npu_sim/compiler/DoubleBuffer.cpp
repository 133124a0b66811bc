//===- DoubleBuffer.cpp - Scratchpad slots per operand --------------------===//
//
// Chooses how many scratchpad slots each operand of a kernel gets, so that
// DMA loads of the next tile overlap the compute of this one: two per
// operand, a resident A (one slot, loaded once) for weight-streaming
// matmuls with four B slots over two DMA engines; then checks the total
// against the scratchpad with the chosen tiles and fails, naming the bytes,
// when it does not fit (e.g. tiles set by hand or for another chip).
//
//===----------------------------------------------------------------------===//

#include "Scheduling.h"

#include "gaon/Backends/NpuSim/Passes.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUDOUBLEBUFFER
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

namespace gaon::npu {
namespace {

struct NpuDoubleBufferPass : impl::NpuDoubleBufferBase<NpuDoubleBufferPass> {
  void runOnOperation() override {
    if (failed(runScheduleStep(getOperation(), npu_kernels::PlanStep::Buffer)))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon::npu
