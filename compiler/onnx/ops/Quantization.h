//===- Quantization.h - Shared helpers of the quantized ONNX ops -*- C++
//-*-===//

#ifndef GAON_COMPILER_ONNX_OPS_QUANTIZATION_H
#define GAON_COMPILER_ONNX_OPS_QUANTIZATION_H

#include "gaon/Dialect/Graph/ConstantTensor.h"

namespace gaon::onnx {

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
