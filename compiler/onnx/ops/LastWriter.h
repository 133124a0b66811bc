//===- LastWriter.h - Which update writes each position of a scatter ------===//
//
// Scatters with run-time indices (ScatterND, ScatterElements, MaxUnpool)
// compare every update's target with every position: `hit` is true where
// update t names position r. Each position then takes the last update that
// names it, as the ONNX reference applies updates in order.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_COMPILER_ONNX_OPS_LASTWRITER_H
#define GAON_COMPILER_ONNX_OPS_LASTWRITER_H

#include "../NodeContext.h"

namespace gaon::onnx {

/// Per position of `hit` (i1, the updates along `axis`): `written`, whether
/// any update names it, and `from`, the last such update's index (0 where
/// none), both with `axis` dropped.
struct LastWriter {
  mlir::Value written, from;
};
mlir::FailureOr<LastWriter> lastWriter(NodeContext &ctx, mlir::Value hit,
                                       int64_t axis);

} // namespace gaon::onnx

#endif // GAON_COMPILER_ONNX_OPS_LASTWRITER_H
