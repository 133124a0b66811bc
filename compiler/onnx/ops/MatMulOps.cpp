//===- MatMulOps.cpp - ONNX MatMul, Gemm, Conv, Einsum, Det ---------------===//

#include "../NodeContext.h"
#include "Quantization.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

/// NumPy matmul: rank-1 operands gain and then lose a unit dimension.
FailureOr<Value> buildMatMul(NodeContext &ctx, Value lhs, Value rhs) {
  auto lhsType = tensorType(lhs), rhsType = tensorType(rhs);
  if (lhsType.getRank() == 0 || rhsType.getRank() == 0)
    return ctx.fail("MatMul operands must have rank >= 1");
  bool lhsVector = lhsType.getRank() == 1, rhsVector = rhsType.getRank() == 1;
  if (lhsVector)
    lhs = ctx.reshape(lhs, {1, lhsType.getDimSize(0)});
  if (rhsVector)
    rhs = ctx.reshape(rhs, {rhsType.getDimSize(0), 1});
  lhsType = tensorType(lhs);
  rhsType = tensorType(rhs);
  int64_t k = lhsType.getShape().back();
  if (k != rhsType.getDimSize(rhsType.getRank() - 2))
    return ctx.fail("MatMul contraction sizes differ (" + Twine(k) + " vs " +
                    Twine(rhsType.getDimSize(rhsType.getRank() - 2)) + ")");
  if (lhsType.getElementType() != rhsType.getElementType())
    return ctx.fail("MatMul operand element types differ");
  auto batch = broadcastShapes(lhsType.getShape().drop_back(2),
                               rhsType.getShape().drop_back(2));
  if (failed(batch))
    return ctx.fail("MatMul batch dimensions do not broadcast");
  SmallVector<int64_t> shape(*batch);
  shape.push_back(lhsType.getDimSize(lhsType.getRank() - 2));
  shape.push_back(rhsType.getShape().back());
  Value result = ctx.create<MatMulOp>(
      RankedTensorType::get(shape, lhsType.getElementType()), lhs, rhs);
  if (lhsVector || rhsVector) {
    SmallVector<int64_t> squeezed(*batch);
    if (!lhsVector)
      squeezed.push_back(shape[shape.size() - 2]);
    if (!rhsVector)
      squeezed.push_back(shape.back());
    result = ctx.reshape(result, squeezed);
  }
  return result;
}

LogicalResult convertMatMul(NodeContext &ctx) {
  auto result = buildMatMul(ctx, ctx.input(0), ctx.input(1));
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// Operand `index` of MatMulInteger as f32 minus its zero point (input
/// `zpIndex`: a scalar, or per row of A (`perRow`) / per column of B). A
/// constant operand (the weights) is computed here whatever its size.
FailureOr<Value> shiftedIntegerOperand(NodeContext &ctx, int index, int zpIndex,
                                       bool perRow) {
  auto type = ctx.inputType(index);
  auto element = dyn_cast<IntegerType>(type.getElementType());
  if (!element || element.getWidth() != 8)
    return ctx.fail("MatMulInteger operands must be int8 or uint8");
  Type f32 = ctx.getBuilder().getF32Type();
  // The zero point's axis: rows of A, columns of B.
  const int64_t axis = std::max<int64_t>(type.getRank() - (perRow ? 2 : 1), 0);
  std::optional<graph::ConstantTensor> zp;
  Value zpValue;
  if (ctx.hasInput(zpIndex)) {
    auto zpType = ctx.inputType(zpIndex);
    if (zpType.getElementType() != element)
      return ctx.fail("MatMulInteger zero points must have their operand's "
                      "element type");
    if (zpType.getNumElements() != 1 &&
        (zpType.getRank() != 1 || type.getRank() < 2 ||
         zpType.getDimSize(0) != type.getDimSize(axis)))
      return ctx.fail(Twine("MatMulInteger ") + (perRow ? "a" : "b") +
                      "_zero_point must be a scalar or have one element "
                      "per " +
                      (perRow ? "row of A" : "column of B"));
    zpValue = ctx.input(zpIndex);
    if (zpType.getNumElements() == 1)
      zpValue = ctx.reshape(zpValue, {});
    else if (perRow)
      zpValue = ctx.reshape(zpValue, {zpType.getDimSize(0), 1});
    zp = ctx.constantInput(zpIndex);
  }
  auto values = ctx.constantInput(index);
  if (values && (zp || !zpValue)) {
    return ctx.constant(dequantize(*values, zp ? &*zp : nullptr, nullptr, axis,
                                   type.clone(f32)));
  }
  Value value = ctx.cast(ctx.input(index), f32);
  if (!zpValue)
    return value;
  return ctx.binary<SubOp>(value, ctx.cast(zpValue, f32));
}

/// ONNX MatMulInteger: int32 (A - a_zp) x (B - b_zp). Computed as an f32
/// matmul of the shifted operands (exact while every partial sum stays
/// below 2^24; beyond that f32 rounding, far below the quantization
/// error), then cast to int32 as the graph declares.
LogicalResult convertMatMulInteger(NodeContext &ctx) {
  if (!ctx.hasInput(0) || !ctx.hasInput(1))
    return ctx.fail("expects A and B");
  auto lhs = shiftedIntegerOperand(ctx, 0, 2, /*perRow=*/true);
  if (failed(lhs))
    return failure();
  auto rhs = shiftedIntegerOperand(ctx, 1, 3, /*perRow=*/false);
  if (failed(rhs))
    return failure();
  auto product = buildMatMul(ctx, *lhs, *rhs);
  if (failed(product))
    return failure();
  ctx.setOutput(0, ctx.cast(*product, ctx.getBuilder().getI32Type()));
  return success();
}

LogicalResult convertGemm(NodeContext &ctx) {
  Value a = ctx.input(0), b = ctx.input(1);
  if (ctx.inputType(0).getRank() != 2 || ctx.inputType(1).getRank() != 2)
    return ctx.fail("Gemm operands must be matrices");
  if (ctx.attrInt("transA", 0))
    a = ctx.transpose(a, {1, 0});
  if (ctx.attrInt("transB", 0))
    b = ctx.transpose(b, {1, 0});
  auto product = buildMatMul(ctx, a, b);
  if (failed(product))
    return failure();
  Value y = *product;
  Type element = tensorType(y).getElementType();
  double alpha = ctx.attrFloat("alpha", 1.0f),
         beta = ctx.attrFloat("beta", 1.0f);
  if (alpha != 1.0) {
    auto scaled = ctx.binary<MulOp>(y, ctx.splat(element, {}, alpha));
    if (failed(scaled))
      return failure();
    y = *scaled;
  }
  if (ctx.hasInput(2) && beta != 0.0) {
    Value c = ctx.input(2);
    if (beta != 1.0) {
      auto scaled = ctx.binary<MulOp>(c, ctx.splat(element, {}, beta));
      if (failed(scaled))
        return failure();
      c = *scaled;
    }
    auto sum = ctx.binary<AddOp>(y, c);
    if (failed(sum) || tensorType(*sum).getShape() != tensorType(y).getShape())
      return ctx.fail("Gemm bias C does not broadcast to the product");
    y = *sum;
  }
  ctx.setOutput(0, y);
  return success();
}

/// ONNX Conv of `inputValue` by `weightValue` (+ `bias`, may be null) with
/// the node's attributes.
FailureOr<Value> buildConv(NodeContext &ctx, Value inputValue,
                           Value weightValue, Value bias) {
  auto input = tensorType(inputValue), weight = tensorType(weightValue);
  int64_t spatial = input.getRank() - 2;
  if (spatial < 1 || weight.getRank() != input.getRank())
    return ctx.fail("Conv expects input and weight of equal rank >= 3");
  auto kernel =
      ctx.attrInts("kernel_shape")
          .value_or(SmallVector<int64_t>(weight.getShape().drop_front(2)));
  auto strides =
      ctx.attrInts("strides").value_or(SmallVector<int64_t>(spatial, 1));
  auto dilations =
      ctx.attrInts("dilations").value_or(SmallVector<int64_t>(spatial, 1));
  auto pads =
      ctx.attrInts("pads").value_or(SmallVector<int64_t>(2 * spatial, 0));
  if (int64_t(strides.size()) != spatial ||
      int64_t(dilations.size()) != spatial ||
      int64_t(pads.size()) != 2 * spatial || int64_t(kernel.size()) != spatial)
    return ctx.fail("Conv attributes do not match the spatial rank");
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  if (autoPad == "VALID") {
    pads.assign(2 * spatial, 0);
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (int64_t i = 0; i < spatial; ++i) {
      int64_t in = input.getDimSize(2 + i);
      int64_t out = (in + strides[i] - 1) / strides[i];
      int64_t window = dilations[i] * (kernel[i] - 1) + 1;
      int64_t total =
          std::max<int64_t>(0, (out - 1) * strides[i] + window - in);
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_UPPER" ? small : large;
      pads[i + spatial] = autoPad == "SAME_UPPER" ? large : small;
    }
  } else if (autoPad != "NOTSET") {
    return ctx.fail("unknown auto_pad '" + autoPad + "'");
  }
  int64_t groups = ctx.attrInt("group", 1);
  if (groups < 1 || input.getDimSize(1) != weight.getDimSize(1) * groups)
    return ctx.fail("Conv channels (" + Twine(input.getDimSize(1)) +
                    ") do not match weight channels x groups");
  if (weight.getDimSize(0) % groups != 0)
    return ctx.fail("Conv output channels (" + Twine(weight.getDimSize(0)) +
                    ") are not a multiple of the group count");
  if (bias &&
      tensorType(bias).getShape() != ArrayRef<int64_t>{weight.getDimSize(0)})
    return ctx.fail("Conv bias must have one value per output channel (" +
                    Twine(weight.getDimSize(0)) + ")");
  SmallVector<int64_t> shape = {input.getDimSize(0), weight.getDimSize(0)};
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t padded = input.getDimSize(2 + i) + pads[i] + pads[i + spatial];
    int64_t window = dilations[i] * (kernel[i] - 1) + 1;
    if (strides[i] < 1 || padded < window)
      return ctx.fail("Conv window does not fit the padded input");
    shape.push_back((padded - window) / strides[i] + 1);
  }
  Builder &b = ctx.getBuilder();
  return ctx.create<ConvOp>(
      RankedTensorType::get(shape, input.getElementType()), inputValue,
      weightValue, bias, b.getDenseI64ArrayAttr(strides),
      b.getDenseI64ArrayAttr(pads), b.getDenseI64ArrayAttr(dilations),
      b.getI64IntegerAttr(groups));
}

/// ConvTranspose as the convolution it is the gradient of: the input with
/// stride - 1 zeros inserted between its positions, padded by the dilated
/// kernel's reach less the pads (cropped where that is negative, plus
/// output_padding at the end), then a stride-1 Conv with the kernel flipped
/// and its input/output channels swapped within each group. (The inserted
/// zeros cost stride^d more multiplies than a direct scatter.)
LogicalResult convertConvTranspose(NodeContext &ctx) {
  auto input = ctx.inputType(0), weight = ctx.inputType(1);
  int64_t rank = input.getRank(), spatial = rank - 2;
  if (spatial < 1 || weight.getRank() != rank)
    return ctx.fail("expects input and weight of equal rank >= 3");
  if (!input.hasStaticShape() || !weight.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  Type element = input.getElementType();
  int64_t groups = ctx.attrInt("group", 1);
  int64_t c = input.getDimSize(1);
  if (groups < 1 || c % groups != 0 || weight.getDimSize(0) != c)
    return ctx.fail("the weight must be [C, M / group, k...] with C = " +
                    Twine(c) + " divisible by group " + Twine(groups));
  int64_t mPerGroup = weight.getDimSize(1), m = mPerGroup * groups;
  SmallVector<int64_t> kernel(weight.getShape().drop_front(2));
  auto attr = [&](StringRef name, int64_t n, int64_t fallback) {
    return ctx.attrInts(name).value_or(SmallVector<int64_t>(n, fallback));
  };
  SmallVector<int64_t> strides = attr("strides", spatial, 1),
                       dilations = attr("dilations", spatial, 1),
                       pads = attr("pads", 2 * spatial, 0),
                       outputPadding = attr("output_padding", spatial, 0);
  if (int64_t(strides.size()) != spatial ||
      int64_t(dilations.size()) != spatial ||
      int64_t(pads.size()) != 2 * spatial ||
      int64_t(outputPadding.size()) != spatial)
    return ctx.fail("attributes do not match the spatial rank");
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  auto outputShape = ctx.attrInts("output_shape");
  if (outputShape && int64_t(outputShape->size()) == rank)
    outputShape =
        SmallVector<int64_t>(outputShape->begin() + 2, outputShape->end());
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t in = input.getDimSize(2 + i);
    int64_t full = strides[i] * (in - 1) + outputPadding[i] +
                   (kernel[i] - 1) * dilations[i] + 1;
    int64_t target = -1;
    if (outputShape) {
      if (int64_t(outputShape->size()) != spatial)
        return ctx.fail("output_shape must give the spatial sizes");
      target = (*outputShape)[i];
    } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      target = in * strides[i];
    } else if (autoPad == "VALID") {
      pads[i] = pads[spatial + i] = 0;
    } else if (autoPad != "NOTSET") {
      return ctx.fail("unknown auto_pad '" + autoPad + "'");
    }
    if (target >= 0) {
      // Halved rounding down, as ONNX's reference does (a negative total,
      // an output_shape past the full size, pads the end).
      int64_t total = full - target;
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      bool upper = autoPad == "SAME_UPPER";
      pads[i] = upper ? half : total - half;
      pads[spatial + i] = total - pads[i];
    }
  }
  auto &b = ctx.getBuilder();
  // Zeros between the input's positions, one spatial dimension at a time:
  // [.., L, rest] -> [.., L, s, rest] (zeros after each) -> [.., L*s, rest],
  // then the trailing s - 1 zeros cut.
  Value x = ctx.input(0);
  SmallVector<int64_t> shape(input.getShape());
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t s = strides[i], d = 2 + i, len = shape[d];
    if (s == 1)
      continue;
    SmallVector<int64_t> split(shape.begin(), shape.begin() + d + 1);
    split.push_back(1);
    split.append(shape.begin() + d + 1, shape.end());
    SmallVector<int64_t> zeros(split);
    zeros[d + 1] = s - 1;
    SmallVector<int64_t> joined(split);
    joined[d + 1] = s;
    Value parts[] = {ctx.reshape(x, split), ctx.splat(element, zeros, 0.0)};
    x = ctx.create<ConcatOp>(RankedTensorType::get(joined, element), parts,
                             b.getI64IntegerAttr(d + 1));
    SmallVector<int64_t> spread(shape);
    spread[d] = len * s;
    x = ctx.reshape(x, spread);
    shape[d] = (len - 1) * s + 1;
    SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
    x = ctx.create<SliceOp>(RankedTensorType::get(shape, element), x,
                            b.getDenseI64ArrayAttr(starts),
                            b.getDenseI64ArrayAttr(steps));
  }
  // Padding by the kernel's reach less the pads; negative amounts crop.
  SmallVector<int64_t> convPads(2 * spatial, 0);
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t reach = (kernel[i] - 1) * dilations[i];
    int64_t before = reach - pads[i];
    int64_t after = reach - pads[spatial + i] + outputPadding[i];
    int64_t d = 2 + i;
    if (before < 0 || after < 0) {
      int64_t cropBefore = std::max<int64_t>(0, -before),
              cropAfter = std::max<int64_t>(0, -after);
      if (cropBefore + cropAfter >= shape[d])
        return ctx.fail("the pads crop away the whole output");
      SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
      starts[d] = cropBefore;
      shape[d] -= cropBefore + cropAfter;
      x = ctx.create<SliceOp>(RankedTensorType::get(shape, element), x,
                              b.getDenseI64ArrayAttr(starts),
                              b.getDenseI64ArrayAttr(steps));
    }
    convPads[i] = std::max<int64_t>(0, before);
    convPads[spatial + i] = std::max<int64_t>(0, after);
  }
  // Weights [C, M/g, k...] -> [M, C/g, k...] flipped: per group
  // [g, C/g, M/g, k...] -> [g, M/g, C/g, k...].
  int64_t cPerGroup = c / groups;
  SmallVector<int64_t> grouped = {groups, cPerGroup, mPerGroup};
  grouped.append(kernel.begin(), kernel.end());
  SmallVector<int64_t> perm = {0, 2, 1};
  for (int64_t i = 0; i < spatial; ++i)
    perm.push_back(3 + i);
  Value w = ctx.transpose(ctx.reshape(ctx.input(1), grouped), perm);
  SmallVector<int64_t> convWeight = {m, cPerGroup};
  convWeight.append(kernel.begin(), kernel.end());
  w = ctx.reshape(w, convWeight);
  SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
  for (int64_t i = 0; i < spatial; ++i) {
    starts[2 + i] = kernel[i] - 1;
    steps[2 + i] = -1;
  }
  w = ctx.create<SliceOp>(RankedTensorType::get(convWeight, element), w,
                          b.getDenseI64ArrayAttr(starts),
                          b.getDenseI64ArrayAttr(steps));
  Value bias = ctx.hasInput(2) ? ctx.input(2) : Value();
  if (bias && tensorType(bias).getShape() != ArrayRef<int64_t>{m})
    return ctx.fail("the bias must have one value per output channel (" +
                    Twine(m) + ")");
  SmallVector<int64_t> out = {shape[0], m};
  for (int64_t i = 0; i < spatial; ++i)
    out.push_back(shape[2 + i] + convPads[i] + convPads[spatial + i] -
                  (kernel[i] - 1) * dilations[i]);
  ctx.setOutput(0, ctx.create<ConvOp>(
                       RankedTensorType::get(out, element), x, w, bias,
                       b.getDenseI64ArrayAttr(SmallVector<int64_t>(spatial, 1)),
                       b.getDenseI64ArrayAttr(convPads),
                       b.getDenseI64ArrayAttr(dilations),
                       b.getI64IntegerAttr(groups)));
  return success();
}

LogicalResult convertConv(NodeContext &ctx) {
  auto result = buildConv(ctx, ctx.input(0), ctx.input(1),
                          ctx.hasInput(2) ? ctx.input(2) : Value());
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

Value optionalInput(NodeContext &ctx, int i) {
  return ctx.hasInput(i) ? ctx.input(i) : Value();
}

/// ONNX ConvInteger: int32 conv of (x - x_zp) by (w - w_zp), w_zp per
/// tensor or per output channel. As an f32 conv of the shifted operands
/// (padding then adds zeros of the shifted input, as ONNX's reference
/// does), cast to int32.
LogicalResult convertConvInteger(NodeContext &ctx) {
  if (!ctx.hasInput(0) || !ctx.hasInput(1))
    return ctx.fail("expects x and w");
  Type f32 = ctx.getBuilder().getF32Type();
  auto one = ctx.splat(f32, {}, 1.0);
  auto x = buildDequantize(ctx, ctx.input(0), one, optionalInput(ctx, 2), 1);
  if (failed(x))
    return failure();
  auto w = buildDequantize(ctx, ctx.input(1), one, optionalInput(ctx, 3), 0);
  if (failed(w))
    return failure();
  auto conv = buildConv(ctx, *x, *w, Value());
  if (failed(conv))
    return failure();
  ctx.setOutput(0, ctx.cast(*conv, ctx.getBuilder().getI32Type()));
  return success();
}

/// The axis of a QLinear op's scale (input `index`): per tensor, else
/// `axis`.
int64_t paramAxis(NodeContext &ctx, int index, int64_t axis) {
  return ctx.inputType(index).getNumElements() == 1 ? 0 : axis;
}

/// ONNX QLinearConv: quantize(conv(dequantize(x), dequantize(w)) + bias,
/// y), w per tensor or per output channel; the int32 bias has the scale
/// x_scale * w_scale.
LogicalResult convertQLinearConv(NodeContext &ctx) {
  for (int i = 0; i < 8; ++i)
    if (!ctx.hasInput(i))
      return ctx.fail("expects x, x_scale, x_zero_point, w, w_scale, "
                      "w_zero_point, y_scale, y_zero_point");
  auto x = buildDequantize(ctx, ctx.input(0), ctx.input(1), ctx.input(2),
                           paramAxis(ctx, 1, 1));
  if (failed(x))
    return failure();
  auto w = buildDequantize(ctx, ctx.input(3), ctx.input(4), ctx.input(5),
                           paramAxis(ctx, 4, 0));
  if (failed(w))
    return failure();
  Value bias;
  if (ctx.hasInput(8)) {
    auto biasScale =
        ctx.binary<MulOp>(ctx.reshape(ctx.input(1), {}), ctx.input(4));
    if (failed(biasScale))
      return failure();
    auto dequantized =
        buildDequantize(ctx, ctx.input(8), *biasScale, Value(), 0);
    if (failed(dequantized))
      return failure();
    bias = *dequantized;
  }
  auto conv = buildConv(ctx, *x, *w, bias);
  if (failed(conv))
    return failure();
  auto y =
      buildQuantize(ctx, *conv, ctx.input(6), ctx.input(7),
                    ctx.inputType(7).getElementType(), paramAxis(ctx, 6, 1));
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  return success();
}

/// ONNX QLinearMatMul: quantize(dequantize(a) x dequantize(b), y), with
/// a's parameters per tensor or per row, b's and y's per tensor or per
/// column.
LogicalResult convertQLinearMatMul(NodeContext &ctx) {
  for (int i = 0; i < 8; ++i)
    if (!ctx.hasInput(i))
      return ctx.fail("expects a, a_scale, a_zero_point, b, b_scale, "
                      "b_zero_point, y_scale, y_zero_point");
  int64_t aRank = ctx.inputType(0).getRank(),
          bRank = ctx.inputType(3).getRank();
  if (aRank < 2 || bRank < 2)
    return ctx.fail("QLinearMatMul operands must have rank >= 2");
  auto a = buildDequantize(ctx, ctx.input(0), ctx.input(1), ctx.input(2),
                           paramAxis(ctx, 1, aRank - 2));
  if (failed(a))
    return failure();
  auto b = buildDequantize(ctx, ctx.input(3), ctx.input(4), ctx.input(5),
                           paramAxis(ctx, 4, bRank - 1));
  if (failed(b))
    return failure();
  auto product = buildMatMul(ctx, *a, *b);
  if (failed(product))
    return failure();
  auto y = buildQuantize(ctx, *product, ctx.input(6), ctx.input(7),
                         ctx.inputType(7).getElementType(),
                         paramAxis(ctx, 6, tensorType(*product).getRank() - 1));
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  return success();
}

//===----------------------------------------------------------------------===//
// Einsum: lowered to transposes, reshapes, reductions and one batched matmul.
//===----------------------------------------------------------------------===//

struct Term {
  std::string letters;
  Value value;
};

/// Sums out the letters of `term` that `keep` does not contain.
FailureOr<Term> sumOut(NodeContext &ctx, Term term, StringRef keep) {
  SmallVector<int64_t> axes;
  std::string kept;
  for (auto [i, c] : llvm::enumerate(term.letters)) {
    if (keep.contains(c))
      kept += c;
    else
      axes.push_back(i);
  }
  if (axes.empty())
    return term;
  auto type = tensorType(term.value);
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (!llvm::is_contained(axes, i))
      shape.push_back(type.getDimSize(i));
  Value reduced = ctx.create<ReduceSumOp>(
      RankedTensorType::get(shape, type.getElementType()), term.value,
      ctx.getBuilder().getDenseI64ArrayAttr(axes),
      ctx.getBuilder().getBoolAttr(false));
  return Term{kept, reduced};
}

/// Transposes `term` so its letters follow `order`.
Value permute(NodeContext &ctx, const Term &term, StringRef order) {
  SmallVector<int64_t> perm;
  for (char c : order)
    perm.push_back(term.letters.find(c));
  return ctx.transpose(term.value, perm);
}

LogicalResult convertEinsum(NodeContext &ctx) {
  std::string equation = ctx.attrString("equation");
  equation.erase(llvm::remove_if(equation, ::isspace), equation.end());
  if (StringRef(equation).contains("..."))
    return ctx.fail("Einsum with ellipsis ('...') is not supported");
  auto [lhs, output] = StringRef(equation).split("->");
  SmallVector<StringRef> operands;
  lhs.split(operands, ',');
  if (int(operands.size()) != ctx.numInputs() || operands.size() > 2)
    return ctx.fail("Einsum supports one or two operands matching the "
                    "equation '" +
                    equation + "'");
  std::string out = output.str();
  if (!StringRef(equation).contains("->")) { // implicit: letters seen once
    std::string all = lhs.str();
    for (char c = 'A'; c <= 'z'; ++c)
      if (llvm::count(all, c) == 1)
        out += c;
  }
  llvm::StringMap<int64_t> sizes;
  SmallVector<Term> terms;
  for (auto [i, letters] : llvm::enumerate(operands)) {
    auto type = ctx.inputType(i);
    if (int64_t(letters.size()) != type.getRank())
      return ctx.fail("Einsum term '" + letters + "' does not match rank " +
                      Twine(type.getRank()));
    for (auto [d, c] : llvm::enumerate(letters)) {
      if (llvm::count(letters, c) > 1)
        return ctx.fail("Einsum diagonals (repeated index in one term) are "
                        "not supported");
      auto [it, inserted] =
          sizes.try_emplace(StringRef(&c, 1), type.getDimSize(d));
      if (!inserted && it->second != type.getDimSize(d))
        return ctx.fail("Einsum index '" + StringRef(&c, 1) +
                        "' has inconsistent sizes");
    }
    terms.push_back({letters.str(), ctx.input(i)});
  }
  auto size = [&](char c) { return sizes.lookup(StringRef(&c, 1)); };
  if (terms.size() == 1) {
    auto reduced = sumOut(ctx, terms[0], out);
    if (failed(reduced))
      return failure();
    ctx.setOutput(0, permute(ctx, *reduced, out));
    return success();
  }
  Term a = terms[0], b = terms[1];
  // Letters in one operand only and absent from the output are summed first.
  auto keepA = sumOut(ctx, a, out + b.letters);
  auto keepB = sumOut(ctx, b, out + a.letters);
  if (failed(keepA) || failed(keepB))
    return failure();
  a = *keepA;
  b = *keepB;
  std::string batch, contract, aFree, bFree;
  for (char c : a.letters) {
    bool inB = StringRef(b.letters).contains(c);
    bool inOut = StringRef(out).contains(c);
    (inB ? (inOut ? batch : contract) : aFree) += c;
  }
  for (char c : b.letters)
    if (!StringRef(a.letters).contains(c))
      bFree += c;
  auto product = [&](StringRef letters) {
    int64_t p = 1;
    for (char c : letters)
      p *= size(c);
    return p;
  };
  Value lhsValue =
      ctx.reshape(permute(ctx, a, batch + aFree + contract),
                  {product(batch), product(aFree), product(contract)});
  Value rhsValue =
      ctx.reshape(permute(ctx, b, batch + contract + bFree),
                  {product(batch), product(contract), product(bFree)});
  auto matmul = buildMatMul(ctx, lhsValue, rhsValue);
  if (failed(matmul))
    return failure();
  std::string resultLetters = batch + aFree + bFree;
  SmallVector<int64_t> shape;
  for (char c : resultLetters)
    shape.push_back(size(c));
  Term result{resultLetters, ctx.reshape(*matmul, shape)};
  ctx.setOutput(0, permute(ctx, result, out));
  return success();
}

} // namespace

/// Det of [..., M, M] with M <= 4: the Leibniz sum over the M! permutations
/// of the signed products of one entry per row (at most 24 terms of 4
/// factors; exact cancellation as in the textbook formula, no pivoting).
LogicalResult convertDet(NodeContext &ctx) {
  constexpr int64_t kMaxDetSize = 4;
  auto type = ctx.inputType(0);
  int64_t rank = type.getRank();
  if (!type.hasStaticShape() || rank < 2 ||
      type.getDimSize(rank - 1) != type.getDimSize(rank - 2))
    return ctx.fail("the input must be static square matrices [..., M, M]");
  if (!isa<FloatType>(type.getElementType()))
    return ctx.fail("the input must be a float tensor");
  int64_t m = type.getDimSize(rank - 1);
  if (m < 1 || m > kMaxDetSize)
    return ctx.fail("a determinant of " + Twine(m) + " x " + Twine(m) +
                    " matrices is not supported (sizes 1 to " +
                    Twine(kMaxDetSize) + ")");
  auto &b = ctx.getBuilder();
  SmallVector<int64_t> batch(type.getShape().drop_back(2));
  SmallVector<int64_t> one(batch);
  one.append({1, 1});
  auto entryType = RankedTensorType::get(one, type.getElementType());
  SmallVector<int64_t> steps(rank, 1);
  auto entry = [&](int64_t r, int64_t c) {
    SmallVector<int64_t> starts(rank, 0);
    starts[rank - 2] = r;
    starts[rank - 1] = c;
    return ctx.create<SliceOp>(entryType, ctx.input(0),
                               b.getDenseI64ArrayAttr(starts),
                               b.getDenseI64ArrayAttr(steps));
  };
  SmallVector<int64_t> perm(m);
  for (int64_t i = 0; i < m; ++i)
    perm[i] = i;
  Value det;
  do {
    int64_t inversions = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = i + 1; j < m; ++j)
        inversions += perm[i] > perm[j];
    Value term = entry(0, perm[0]);
    for (int64_t i = 1; i < m; ++i) {
      auto product = ctx.binary<MulOp>(term, entry(i, perm[i]));
      if (failed(product))
        return failure();
      term = *product;
    }
    if (!det) {
      det = term; // the identity permutation: even
      continue;
    }
    auto next = inversions % 2 ? ctx.binary<SubOp>(det, term)
                               : ctx.binary<AddOp>(det, term);
    if (failed(next))
      return failure();
    det = *next;
  } while (std::next_permutation(perm.begin(), perm.end()));
  ctx.setOutput(0, ctx.reshape(det, batch));
  return success();
}

void registerMatMulOps(ConverterRegistry &r) {
  r["Det"] = convertDet;
  r["MatMul"] = convertMatMul;
  r["MatMulInteger"] = convertMatMulInteger;
  r["QLinearMatMul"] = convertQLinearMatMul;
  r["ConvInteger"] = convertConvInteger;
  r["QLinearConv"] = convertQLinearConv;
  r["Gemm"] = convertGemm;
  r["ConvTranspose"] = convertConvTranspose;
  r["Conv"] = convertConv;
  r["Einsum"] = convertEinsum;
}

} // namespace gaon::onnx
