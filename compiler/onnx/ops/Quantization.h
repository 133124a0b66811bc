//===- Quantization.h - Shared helpers of the quantized ONNX ops -*- C++
//-*-===//

#ifndef GAON_COMPILER_ONNX_OPS_QUANTIZATION_H
#define GAON_COMPILER_ONNX_OPS_QUANTIZATION_H

#include "../NodeContext.h"

#include "gaon/Dialect/Graph/ConstantTensor.h"

namespace gaon::onnx {

/// A scale or zero point of `input`: one element, or one per index of
/// `axis` (then reshaped to broadcast over `input`). `what` names it in
/// errors.
mlir::FailureOr<mlir::Value> broadcastParam(NodeContext &ctx, mlir::Value param,
                                            mlir::RankedTensorType input,
                                            int64_t axis, llvm::StringRef what);

/// QuantizeLinear: cast<quantType>(clamp(round(x / scale) + zeroPoint)),
/// computed in f32. `zeroPoint` may be null; scale and zero point are per
/// tensor or per `axis`.
mlir::FailureOr<mlir::Value> buildQuantize(NodeContext &ctx, mlir::Value x,
                                           mlir::Value scale,
                                           mlir::Value zeroPoint,
                                           mlir::Type quantType, int64_t axis);

/// DequantizeLinear: (x - zeroPoint) * scale in the scale's float type
/// (`zeroPoint` may be null). Constant operands give a constant.
mlir::FailureOr<mlir::Value> buildDequantize(NodeContext &ctx, mlir::Value x,
                                             mlir::Value scale,
                                             mlir::Value zeroPoint,
                                             int64_t axis);

/// (x - zeroPoint) * scale of constant integer `x`, as `resultType` (same
/// shape, a float type): the product in f32, rounded once into the result
/// type. `zeroPoint` and `scale` (either may be null: 0 and 1) hold one
/// element or one per index of x's `axis`. Computed in one pass, because
/// weight tensors exceed the generic folders' arithmetic limit.
graph::ConstantTensor dequantize(const graph::ConstantTensor &x,
                                 const graph::ConstantTensor *zeroPoint,
                                 const graph::ConstantTensor *scale,
                                 int64_t axis,
                                 mlir::RankedTensorType resultType);

} // namespace gaon::onnx

#endif // GAON_COMPILER_ONNX_OPS_QUANTIZATION_H
