//===- Partition.cpp - Deal each kernel's tiles to the chip's cores -------===//
//
// With the tiles chosen, decides how a kernel's work is split across cores:
// by output row blocks (a core reuses its A tile across the column blocks),
// by column blocks (weight streaming: one row block, every core reads its
// own slice of the weights), or by (batch, head, query block) for attention;
// and how many cores get work. Recorded as `split` and `cores`.
//
//===----------------------------------------------------------------------===//

#include "Scheduling.h"

#include "gaon/Backends/NpuSim/Passes.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUPARTITION
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

namespace gaon::npu {
namespace {

struct NpuPartitionPass : impl::NpuPartitionBase<NpuPartitionPass> {
  void runOnOperation() override {
    if (failed(
            runScheduleStep(getOperation(), npu_kernels::PlanStep::Partition)))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon::npu
