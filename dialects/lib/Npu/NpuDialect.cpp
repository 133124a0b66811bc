//===- NpuDialect.cpp - gaon.npu dialect ----------------------------------===//

#include "gaon/Dialect/Npu/NpuDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace gaon::npu;

#include "gaon/Dialect/Npu/NpuDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "gaon/Dialect/Npu/NpuAttrs.cpp.inc"

void NpuDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "gaon/Dialect/Npu/NpuAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "gaon/Dialect/Npu/NpuOps.cpp.inc"
      >();
}

LogicalResult ScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   ArrayRef<int64_t> tile, StringRef split,
                                   int64_t cores, ArrayRef<int64_t> buffers,
                                   bool prefetch) {
  if (tile.empty() || llvm::any_of(tile, [](int64_t t) { return t < 1; }))
    return emitError() << "tile sizes must be given and be >= 1";
  if (!split.empty() && split != "rows" && split != "cols" && split != "heads")
    return emitError() << "split must be rows, cols or heads, got '" << split
                       << "'";
  if (cores < 0)
    return emitError() << "cores must be >= 0";
  if (llvm::any_of(buffers, [](int64_t b) { return b < 1; }))
    return emitError() << "buffer counts must be >= 1";
  return success();
}

LogicalResult MatMulOp::verify() {
  auto lhs = getLhs().getType(), rhs = getRhs().getType();
  auto result = getResult().getType();
  if (lhs.getRank() < 2 || rhs.getRank() < 2 || result.getRank() < 2 ||
      lhs.getShape().back() != rhs.getDimSize(rhs.getRank() - 2) ||
      result.getShape().back() != rhs.getShape().back() ||
      result.getDimSize(result.getRank() - 2) !=
          lhs.getDimSize(lhs.getRank() - 2))
    return emitOpError("operand and result shapes do not form a matmul");
  if (getBias() &&
      getBias().getType().getNumElements() != result.getShape().back())
    return emitOpError("bias must have one element per output column");
  if (getResidual() && getResidual().getType() != result)
    return emitOpError("residual must have the result's type");
  if (getResidualScale() && !getResidual())
    return emitOpError("residual_scale needs a residual");
  if (getResidualScale() &&
      getResidualScale().getType().getNumElements() != result.getShape().back())
    return emitOpError(
        "residual_scale must have one element per output column");
  StringRef act = getActivation();
  if (act != "none" && act != "relu" && act != "gelu" && act != "gelu_tanh" &&
      act != "silu")
    return emitOpError("unknown activation '") << act << "'";
  bool int8 =
      lhs.getElementType().isInteger(8) && rhs.getElementType().isInteger(8);
  if (getDequantScale()) {
    auto scale = getDequantScale().getType();
    if (!int8)
      return emitOpError("dequant_scale needs i8 operands");
    if (!scale.getElementType().isF32() || scale.getNumElements() != 1)
      return emitOpError("dequant_scale must be one f32");
  } else if (lhs.getElementType().isInteger(8) ||
             rhs.getElementType().isInteger(8)) {
    return emitOpError("i8 operands need a dequant_scale");
  }
  return success();
}

LogicalResult QuantizeOp::verify() {
  auto input = getInput().getType(), result = getResult().getType();
  auto weightScale = getWeightScale().getType(),
       dequant = getDequantScale().getType();
  if (!isa<FloatType>(input.getElementType()))
    return emitOpError("input must be a float tensor");
  if (result.getShape() != input.getShape() ||
      !result.getElementType().isInteger(8))
    return emitOpError("result must be i8 with the input's shape");
  if (!weightScale.getElementType().isF32() ||
      weightScale.getNumElements() != 1 || dequant != weightScale)
    return emitOpError("weight_scale and dequant_scale must be one f32 each, "
                       "of the same type");
  return success();
}

LogicalResult AttentionOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType(), out = getResult().getType();
  if (q.getRank() != 3 || k.getRank() != 3 || v.getRank() != 3 ||
      out.getRank() != 3)
    return emitOpError("query, key, value and result must be [B, S, W]");
  int64_t heads = getHeads(), kvHeads = getKvHeads(), d = getHeadDim(),
          dv = getValueDim();
  if (heads < 1 || kvHeads < 1 || heads % kvHeads || d < 1 || dv < 1)
    return emitOpError("heads must be a multiple of kv_heads, dims >= 1");
  auto fits = [](RankedTensorType t, int64_t offset, int64_t width) {
    return offset >= 0 && offset + width <= t.getShape().back();
  };
  if (!fits(q, getQueryOffset(), heads * d) ||
      !fits(k, getKeyOffset(), kvHeads * d) ||
      !fits(v, getValueOffset(), kvHeads * dv))
    return emitOpError("head columns exceed the operand rows");
  if (k.getDimSize(0) != q.getDimSize(0) ||
      v.getDimSize(0) != q.getDimSize(0) || v.getDimSize(1) != k.getDimSize(1))
    return emitOpError("batch or key sizes of the operands differ");
  if (out.getShape() !=
      ArrayRef<int64_t>{q.getDimSize(0), q.getDimSize(1), heads * dv})
    return emitOpError("result must be [B, Sq, heads * value_dim]");
  if (getCausal() && q.getDimSize(1) != k.getDimSize(1))
    return emitOpError("causal needs as many queries as keys");
  return success();
}

#define GET_OP_CLASSES
#include "gaon/Dialect/Npu/NpuOps.cpp.inc"
