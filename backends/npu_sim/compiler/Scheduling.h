//===- Scheduling.h - Shared driver of the NPU scheduling passes -*- C++
//-*-===//
//
// gaon-npu-tile, gaon-npu-partition and gaon-npu-double-buffer each run one
// step of the kernel library's scheduling (gaon/npu_kernels/Kernels.h) on
// every op that has a tiled kernel and record the result in the op's
// #gaon_npu.schedule; emission hands that schedule back to the kernel.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_BACKENDS_NPUSIM_SCHEDULING_H
#define GAON_BACKENDS_NPUSIM_SCHEDULING_H

#include "gaon/Dialect/Npu/NpuDialect.h"
#include "gaon/npu_kernels/Kernels.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>

namespace gaon::npu {

/// The kernel problem of a matmul, attention, softmax (last axis), layer
/// norm or RMS norm op; nullopt for ops whose kernels are not scheduled.
std::optional<npu_kernels::Problem> scheduleProblemOf(mlir::Operation *op);

/// The [B, H, S, D] views a gaon_npu.attention reads and writes (tensors
/// at the given DRAM addresses, offset to their first head column) and
/// their strides.
struct AttentionViews {
  npu_kernels::Tensor q, k, v, out;
  npu_kernels::AttentionLayout layout;
};
AttentionViews attentionViews(AttentionOp op, int64_t qAddr = 0,
                              int64_t kAddr = 0, int64_t vAddr = 0,
                              int64_t outAddr = 0);

npu_kernels::Schedule scheduleFromAttr(ScheduleAttr attr);
ScheduleAttr scheduleToAttr(mlir::MLIRContext *context,
                            const npu_kernels::Schedule &schedule);

/// Runs `step` on every scheduled op of `module` (the chip read from its
/// #gaon_npu.chip), reporting each op that cannot be scheduled.
mlir::LogicalResult runScheduleStep(mlir::ModuleOp module,
                                    npu_kernels::PlanStep step);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_SCHEDULING_H
