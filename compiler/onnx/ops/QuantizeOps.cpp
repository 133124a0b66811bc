//===- QuantizeOps.cpp - ONNX QuantizeLinear/DequantizeLinear -------------===//
//
// Quantized exports (the QDQ format of onnxruntime's static quantization and
// of NPU vendors' toolchains) wrap tensors in QuantizeLinear/DequantizeLinear
// pairs. Both decompose into float arithmetic here:
//
//   QuantizeLinear:   y = cast<I>(clamp(round(x / scale) + zp, Imin, Imax))
//   DequantizeLinear: y = (float(x) - float(zp)) * scale
//
// DynamicQuantizeLinear (onnxruntime's dynamic quantization) computes its
// scale and zero point from x's range the same way.
//
// The int round trip between a pair then folds away (CastOp's folder: the
// clamped, rounded value is an integer in I's range, so casting it to I and
// back is exact), and a DequantizeLinear of constant weights becomes a float
// constant at import, whatever its size. So backends see float math only.
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"
#include "../TensorProtoReader.h"
#include "Quantization.h"

#include "mlir/IR/Matchers.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"

#include <cmath>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

/// Range of the quantized integer types these ops take (8- and 16-bit).
struct IntRange {
  double lo, hi;
};

std::optional<IntRange> quantizedRange(Type type) {
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer || (integer.getWidth() != 8 && integer.getWidth() != 16))
    return std::nullopt;
  unsigned bits = integer.getWidth();
  if (integer.isUnsigned())
    return IntRange{0, std::ldexp(1.0, bits) - 1};
  return IntRange{-std::ldexp(1.0, bits - 1), std::ldexp(1.0, bits - 1) - 1};
}

std::string typeName(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

} // namespace

FailureOr<Value> broadcastParam(NodeContext &ctx, Value param,
                                RankedTensorType input, int64_t axis,
                                StringRef what) {
  auto type = tensorType(param);
  if (type.getNumElements() == 1 && type.getRank() <= 1)
    return ctx.reshape(param, {});
  if (type.getRank() != 1)
    return ctx.fail(what + " must be a scalar or 1-D (per-axis); blocked "
                           "quantization is not supported");
  if (axis < 0 || axis >= input.getRank() ||
      input.getDimSize(axis) != type.getDimSize(0))
    return ctx.fail(what + " has " + Twine(type.getDimSize(0)) +
                    " elements but axis " + Twine(axis) + " of the input has " +
                    Twine(axis < 0 || axis >= input.getRank()
                              ? 0
                              : input.getDimSize(axis)));
  SmallVector<int64_t> shape(input.getRank(), 1);
  shape[axis] = type.getDimSize(0);
  return ctx.reshape(param, shape);
}

FailureOr<Value> buildQuantize(NodeContext &ctx, Value x, Value scale,
                               Value zeroPoint, Type quantType, int64_t axis) {
  auto input = tensorType(x);
  auto range = quantizedRange(quantType);
  if (!range)
    return ctx.fail("quantizing to " + typeName(quantType) +
                    " is not supported (int8, uint8, int16, uint16 are)");
  if (!isa<FloatType>(tensorType(scale).getElementType()))
    return ctx.fail("the output scale must be a float tensor");
  auto scaleValue = broadcastParam(ctx, scale, input, axis, "y_scale");
  if (failed(scaleValue))
    return failure();
  // In f32 whatever x's type (f16/bf16/int32), so that the rounding step
  // sees the model's values.
  Type f32 = ctx.getBuilder().getF32Type();
  auto divided =
      ctx.binary<DivOp>(ctx.cast(x, f32), ctx.cast(*scaleValue, f32));
  if (failed(divided))
    return failure();
  Value value = ctx.create<RoundOp>(tensorType(*divided), *divided);
  if (zeroPoint) {
    auto zp = broadcastParam(ctx, zeroPoint, input, axis, "y_zero_point");
    if (failed(zp))
      return failure();
    auto shifted = ctx.binary<AddOp>(value, ctx.cast(*zp, f32));
    if (failed(shifted))
      return failure();
    value = *shifted;
  }
  value = ctx.create<ClampOp>(tensorType(value), value,
                              ctx.getBuilder().getF64FloatAttr(range->lo),
                              ctx.getBuilder().getF64FloatAttr(range->hi));
  return ctx.cast(value, quantType);
}

FailureOr<Value> buildDequantize(NodeContext &ctx, Value x, Value scale,
                                 Value zeroPoint, int64_t axis) {
  auto input = tensorType(x);
  Type element = input.getElementType();
  auto integer = dyn_cast<IntegerType>(element);
  if (!integer || !(quantizedRange(element) || integer.getWidth() == 32))
    return ctx.fail("dequantizing " + typeName(element) +
                    " is not supported (int8, uint8, int16, uint16, int32 "
                    "are)");
  Type scaleElement = tensorType(scale).getElementType();
  if (!isa<FloatType>(scaleElement))
    return ctx.fail("the input scale must be a float tensor");
  if (zeroPoint && tensorType(zeroPoint).getElementType() != element)
    return ctx.fail("a zero point must have its input's element type");
  auto scaleValue = broadcastParam(ctx, scale, input, axis, "x_scale");
  if (failed(scaleValue))
    return failure();
  Value zp;
  if (zeroPoint) {
    auto reshaped = broadcastParam(ctx, zeroPoint, input, axis, "x_zero_point");
    if (failed(reshaped))
      return failure();
    zp = *reshaped;
  }
  auto resultType = input.clone(scaleElement);
  auto constantOf = [](Value v) -> std::optional<ConstantTensor> {
    Attribute attr;
    if (!v || !matchPattern(v, m_Constant(&attr)))
      return std::nullopt;
    return ConstantTensor::fromAttr(attr);
  };
  auto xValues = constantOf(x), scaleValues = constantOf(*scaleValue),
       zpValues = constantOf(zp);
  if (xValues && scaleValues && (zpValues || !zp))
    return ctx.constant(dequantize(*xValues, zpValues ? &*zpValues : nullptr,
                                   &*scaleValues, axis, resultType));

  Type f32 = ctx.getBuilder().getF32Type();
  Value value = ctx.cast(x, f32);
  if (zp) {
    auto shifted = ctx.binary<SubOp>(value, ctx.cast(zp, f32));
    if (failed(shifted))
      return failure();
    value = *shifted;
  }
  auto scaled = ctx.binary<MulOp>(value, ctx.cast(*scaleValue, f32));
  if (failed(scaled))
    return failure();
  return ctx.cast(*scaled, scaleElement);
}

namespace {

/// The axis of a per-axis scale (input 1 has more than one element); 0 for
/// a per-tensor one, which has no axis to check.
FailureOr<int64_t> quantizationAxis(NodeContext &ctx, RankedTensorType input) {
  if (ctx.attrInt("block_size", 0) != 0)
    return ctx.fail("blocked quantization (block_size) is not supported");
  if (ctx.inputType(1).getNumElements() == 1)
    return int64_t(0);
  return ctx.normalizeAxis(ctx.attrInt("axis", 1), input.getRank());
}

/// The output integer type: the zero point's, else `output_dtype`
/// (opset 21), else uint8.
FailureOr<Type> quantizedType(NodeContext &ctx) {
  if (ctx.hasInput(2))
    return ctx.inputType(2).getElementType();
  int dtype = ctx.attrInt("output_dtype", 0);
  if (dtype == 0)
    return Type(IntegerType::get(ctx.getContext(), 8, IntegerType::Unsigned));
  Type type = getElementType(ctx.getContext(), dtype);
  if (!type)
    return ctx.fail("output_dtype " + getDataTypeName(dtype) +
                    " is not supported");
  return type;
}

LogicalResult convertQuantizeLinear(NodeContext &ctx) {
  if (!ctx.hasInput(0) || !ctx.hasInput(1))
    return ctx.fail("expects x and y_scale");
  auto quantType = quantizedType(ctx);
  if (failed(quantType))
    return failure();
  auto axis = quantizationAxis(ctx, ctx.inputType(0));
  if (failed(axis))
    return failure();
  auto result = buildQuantize(ctx, ctx.input(0), ctx.input(1),
                              ctx.hasInput(2) ? ctx.input(2) : Value(),
                              *quantType, *axis);
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

} // namespace

ConstantTensor dequantize(const ConstantTensor &x,
                          const ConstantTensor *zeroPoint,
                          const ConstantTensor *scale, int64_t axis,
                          RankedTensorType resultType) {
  int64_t inner = 1;
  for (int64_t d : resultType.getShape().drop_front(axis + 1))
    inner *= d;
  int64_t channels = resultType.getRank() ? resultType.getDimSize(axis) : 1;
  auto channelOf = [&](const ConstantTensor &param, int64_t i) {
    return param.getNumElements() == 1 ? 0 : (i / inner) % channels;
  };
  ConstantTensor result(resultType);
  for (int64_t i = 0, e = result.getNumElements(); i < e; ++i) {
    double q = double(x.getInt(i));
    if (zeroPoint)
      q -= double(zeroPoint->getInt(channelOf(*zeroPoint, i)));
    float product =
        float(q) * (scale ? float(scale->getDouble(channelOf(*scale, i))) : 1);
    result.setDouble(i, double(product));
  }
  return result;
}

namespace {

LogicalResult convertDequantizeLinear(NodeContext &ctx) {
  if (!ctx.hasInput(0) || !ctx.hasInput(1))
    return ctx.fail("expects x and x_scale");
  auto axis = quantizationAxis(ctx, ctx.inputType(0));
  if (failed(axis))
    return failure();
  auto result =
      buildDequantize(ctx, ctx.input(0), ctx.input(1),
                      ctx.hasInput(2) ? ctx.input(2) : Value(), *axis);
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// ONNX DynamicQuantizeLinear: uint8 with a scale and zero point computed
/// from x's range (which always includes 0):
///   scale = (max(0, max x) - min(0, min x)) / 255
///   zp = clamp(round(-min(0, min x) / scale), 0, 255)
///   y = clamp(round(x / scale) + zp, 0, 255)
LogicalResult convertDynamicQuantizeLinear(NodeContext &ctx) {
  if (!ctx.hasInput(0))
    return ctx.fail("expects x");
  auto input = ctx.inputType(0);
  if (!input.getElementType().isF32())
    return ctx.fail("x must be float32");
  auto axes = llvm::to_vector(llvm::seq<int64_t>(0, input.getRank()));
  auto scalarType = RankedTensorType::get({}, input.getElementType());
  auto reduce = [&](auto tag) {
    using OpTy = decltype(tag);
    return ctx.create<OpTy>(scalarType, ctx.input(0),
                            ctx.getBuilder().getDenseI64ArrayAttr(axes),
                            ctx.getBuilder().getBoolAttr(false));
  };
  Value zero = ctx.splat(input.getElementType(), {}, 0.0);
  auto hi = ctx.binary<MaxOp>(reduce(ReduceMaxOp()), zero);
  auto lo = ctx.binary<MinOp>(reduce(ReduceMinOp()), zero);
  if (failed(hi) || failed(lo))
    return failure();
  auto span = ctx.binary<SubOp>(*hi, *lo);
  if (failed(span))
    return failure();
  auto scale =
      ctx.binary<DivOp>(*span, ctx.splat(input.getElementType(), {}, 255.0));
  if (failed(scale))
    return failure();
  auto negLo = ctx.binary<SubOp>(zero, *lo);
  if (failed(negLo))
    return failure();
  auto zpRatio = ctx.binary<DivOp>(*negLo, *scale);
  if (failed(zpRatio))
    return failure();
  auto clamp = [&](Value value) {
    return ctx.create<ClampOp>(tensorType(value), value,
                               ctx.getBuilder().getF64FloatAttr(0.0),
                               ctx.getBuilder().getF64FloatAttr(255.0));
  };
  Value zeroPoint = clamp(ctx.create<RoundOp>(scalarType, *zpRatio));
  auto ratio = ctx.binary<DivOp>(ctx.input(0), *scale);
  if (failed(ratio))
    return failure();
  auto shifted =
      ctx.binary<AddOp>(ctx.create<RoundOp>(input, *ratio), zeroPoint);
  if (failed(shifted))
    return failure();
  Type u8 = IntegerType::get(ctx.getContext(), 8, IntegerType::Unsigned);
  ctx.setOutput(0, ctx.cast(clamp(*shifted), u8));
  ctx.setOutput(1, *scale);
  ctx.setOutput(2, ctx.cast(zeroPoint, u8));
  return success();
}

} // namespace

void registerQuantizeOps(ConverterRegistry &r) {
  r["DynamicQuantizeLinear"] = convertDynamicQuantizeLinear;
  r["QuantizeLinear"] = convertQuantizeLinear;
  r["DequantizeLinear"] = convertDequantizeLinear;
}

} // namespace gaon::onnx
