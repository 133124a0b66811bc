//===- ReductionOps.cpp - ONNX reductions and normalizations --------------===//

#include "../NodeContext.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

/// Reads a reduction's axes: an attribute before `axesInputOpset`, the
/// second input from then on. Empty means all axes unless noop is set.
FailureOr<std::optional<SmallVector<int64_t>>>
reductionAxes(NodeContext &ctx, int64_t axesInputOpset) {
  int64_t rank = ctx.inputType(0).getRank();
  SmallVector<int64_t> axes;
  if (ctx.getOpset() < axesInputOpset) {
    axes = ctx.attrInts("axes").value_or(SmallVector<int64_t>{});
  } else if (ctx.hasInput(1)) {
    auto values = ctx.constantInts(1, "axes");
    if (failed(values))
      return failure();
    axes = *values;
  }
  if (axes.empty()) {
    if (ctx.attrInt("noop_with_empty_axes", 0))
      return std::optional<SmallVector<int64_t>>();
    axes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  }
  for (int64_t &axis : axes) {
    auto normalized = ctx.normalizeAxis(axis, rank);
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return std::optional(axes);
}

template <typename OpTy>
Value buildReduce(NodeContext &ctx, Value input, ArrayRef<int64_t> axes,
                  bool keepDims) {
  auto type = tensorType(input);
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (!llvm::is_contained(axes, i))
      shape.push_back(type.getDimSize(i));
    else if (keepDims)
      shape.push_back(1);
  }
  return ctx.create<OpTy>(RankedTensorType::get(shape, type.getElementType()),
                          input, ctx.getBuilder().getDenseI64ArrayAttr(axes),
                          ctx.getBuilder().getBoolAttr(keepDims));
}

enum class Prologue { None, Square, Abs, Exp };
enum class Epilogue { None, Sqrt, Log };

template <typename OpTy>
LogicalResult convertReduce(NodeContext &ctx, int64_t axesInputOpset,
                            Prologue prologue = Prologue::None,
                            Epilogue epilogue = Epilogue::None) {
  auto axes = reductionAxes(ctx, axesInputOpset);
  if (failed(axes))
    return failure();
  Value input = ctx.input(0);
  if (prologue == Prologue::Square) {
    auto squared = ctx.binary<MulOp>(input, input);
    if (failed(squared))
      return failure();
    input = *squared;
  } else if (prologue == Prologue::Abs) {
    input = ctx.create<AbsOp>(tensorType(input), input);
  } else if (prologue == Prologue::Exp) {
    input = ctx.create<ExpOp>(tensorType(input), input);
  }
  if (!axes->has_value()) { // noop_with_empty_axes
    ctx.setOutput(0, input);
    return success();
  }
  Value result =
      buildReduce<OpTy>(ctx, input, **axes, ctx.attrInt("keepdims", 1) != 0);
  if (epilogue == Epilogue::Sqrt)
    result = ctx.create<SqrtOp>(tensorType(result), result);
  else if (epilogue == Epilogue::Log)
    result = ctx.create<LogOp>(tensorType(result), result);
  ctx.setOutput(0, result);
  return success();
}

/// ReduceLogSumExp as max + log(sum(exp(x - max))): exp cannot overflow.
/// (A slice of only -inf gives NaN where the plain formula gives -inf.)
LogicalResult convertReduceLogSumExp(NodeContext &ctx) {
  if (!isa<FloatType>(ctx.inputType(0).getElementType()))
    return ctx.fail("expects a floating-point input");
  auto axes = reductionAxes(ctx, 18);
  if (failed(axes))
    return failure();
  Value x = ctx.input(0);
  if (!axes->has_value()) { // noop_with_empty_axes: log(exp(x)) = x
    ctx.setOutput(0, x);
    return success();
  }
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  Value max = buildReduce<ReduceMaxOp>(ctx, x, **axes, true);
  auto shifted = ctx.binary<SubOp>(x, max);
  if (failed(shifted))
    return failure();
  Value e = ctx.create<ExpOp>(tensorType(*shifted), *shifted);
  Value sum = buildReduce<ReduceSumOp>(ctx, e, **axes, true);
  auto lse = ctx.binary<AddOp>(ctx.create<LogOp>(tensorType(sum), sum), max);
  if (failed(lse))
    return failure();
  Value result = *lse;
  if (!keepDims) {
    SmallVector<int64_t> shape;
    auto type = tensorType(result);
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (!llvm::is_contained(**axes, i))
        shape.push_back(type.getDimSize(i));
    result = ctx.create<ReshapeOp>(
        RankedTensorType::get(shape, type.getElementType()), result);
  }
  ctx.setOutput(0, result);
  return success();
}

/// ArgMax and ArgMin as gaon_graph.argmax (first index of the maximum):
/// ArgMin takes the maximum of -x (floats, exact) or of -1 - x (signed
/// integers: no overflow at the minimum); select_last_index=1 takes the
/// first maximum of x reversed along the axis, n - 1 - i.
LogicalResult convertArgExtreme(NodeContext &ctx, bool isMin) {
  auto type = ctx.inputType(0);
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  bool last = ctx.attrInt("select_last_index", 0) != 0;
  Type element = type.getElementType();
  Value x = ctx.input(0);
  if (isMin) {
    if (isa<FloatType>(element)) {
      x = ctx.create<NegOp>(type, x);
    } else if (element.isSignlessInteger() &&
               element.getIntOrFloatBitWidth() > 1) {
      auto flipped = ctx.binary<SubOp>(ctx.splat(element, {}, -1), x);
      if (failed(flipped))
        return failure();
      x = *flipped;
    } else {
      return ctx.fail("ArgMin of unsigned or boolean values is not supported");
    }
  }
  int64_t n = type.getDimSize(*axis);
  if (last) {
    if (ShapedType::isDynamic(n))
      return ctx.fail("select_last_index=1 needs a static size along the "
                      "axis; fix it with --input-shape");
    SmallVector<int64_t> starts(type.getRank(), 0), steps(type.getRank(), 1);
    starts[*axis] = n - 1;
    steps[*axis] = -1;
    x = ctx.create<SliceOp>(type, x, starts, steps);
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (i != *axis)
      shape.push_back(type.getDimSize(i));
    else if (keepDims)
      shape.push_back(1);
  auto &b = ctx.getBuilder();
  Value index =
      ctx.create<ArgMaxOp>(RankedTensorType::get(shape, b.getI64Type()), x,
                           b.getI64IntegerAttr(*axis), b.getBoolAttr(keepDims));
  if (last) {
    auto reversed =
        ctx.binary<SubOp>(ctx.splat(b.getI64Type(), {}, n - 1), index);
    if (failed(reversed))
      return failure();
    index = *reversed;
  }
  ctx.setOutput(0, index);
  return success();
}

/// Softmax and LogSoftmax. Before opset 13 they normalize over the flattened
/// dimensions from `axis` on (default 1); from 13 over one axis (default -1).
LogicalResult convertSoftmax(NodeContext &ctx, bool log) {
  auto type = ctx.inputType(0);
  if (!isa<FloatType>(type.getElementType()))
    return ctx.fail("expects a floating-point input");
  int64_t rank = type.getRank();
  bool legacy = ctx.getOpset() < 13;
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", legacy ? 1 : -1), rank);
  if (failed(axis))
    return failure();
  auto &b = ctx.getBuilder();
  Value input = ctx.input(0);
  int64_t softmaxAxis = *axis;
  if (legacy && *axis != rank - 1) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i)
      (i < *axis ? outer : inner) *= type.getDimSize(i);
    input = ctx.reshape(input, {outer, inner});
    softmaxAxis = 1;
  }
  Value result = ctx.create<SoftmaxOp>(tensorType(input), input,
                                       b.getI64IntegerAttr(softmaxAxis),
                                       b.getBoolAttr(log));
  ctx.setOutput(0, ctx.reshape(result, type.getShape()));
  return success();
}

LogicalResult convertLayerNorm(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", -1), type.getRank());
  if (failed(axis))
    return failure();
  if (ctx.hasOutput(1) || ctx.hasOutput(2)) {
    // Training-mode outputs: the mean and 1/sqrt(var + eps) over the
    // normalized dimensions, kept as size-1 dimensions.
    SmallVector<int64_t> axes =
        llvm::to_vector(llvm::seq<int64_t>(*axis, type.getRank()));
    Value x = ctx.input(0);
    Value mean = buildReduce<ReduceMeanOp>(ctx, x, axes, true);
    auto centered = ctx.binary<SubOp>(x, mean);
    if (failed(centered))
      return failure();
    auto squared = ctx.binary<MulOp>(*centered, *centered);
    if (failed(squared))
      return failure();
    Value variance = buildReduce<ReduceMeanOp>(ctx, *squared, axes, true);
    auto shifted =
        ctx.binary<AddOp>(variance, ctx.splat(type.getElementType(), {},
                                              ctx.attrFloat("epsilon", 1e-5f)));
    if (failed(shifted))
      return failure();
    ctx.setOutput(1, mean);
    ctx.setOutput(2, ctx.create<RsqrtOp>(tensorType(*shifted), *shifted));
  }
  if (ctx.inputType(1).getElementType() != type.getElementType())
    return ctx.fail("scale and input element types differ");
  auto &b = ctx.getBuilder();
  ctx.setOutput(0, ctx.create<LayerNormOp>(
                       type, ctx.input(0), ctx.input(1),
                       ctx.hasInput(2) ? ctx.input(2) : Value(),
                       b.getI64IntegerAttr(*axis),
                       b.getF64FloatAttr(ctx.attrFloat("epsilon", 1e-5f))));
  return success();
}

/// InstanceNormalization (groups = channels) and GroupNormalization: the
/// mean and variance of each (sample, group) over its channels and spatial
/// positions, as a layer norm of [N, G, C/G * spatial] rows, then the
/// per-channel affine (per group before opset 21).
LogicalResult convertGroupNorm(NodeContext &ctx, bool instance) {
  auto type = ctx.inputType(0);
  if (type.getRank() < 3)
    return ctx.fail("the input must be [N, C, D1, ...], not rank " +
                    Twine(type.getRank()));
  if (!type.hasStaticShape())
    return ctx.fail("needs a static input shape (fix it with --input-shape)");
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return ctx.fail("the input must be a float tensor");
  int64_t n = type.getDimSize(0), c = type.getDimSize(1);
  int64_t groups = instance ? c : ctx.attrInt("num_groups", 0);
  if (groups <= 0 || c % groups != 0)
    return ctx.fail("num_groups " + Twine(groups) +
                    " does not divide the channels (" + Twine(c) + ")");
  int64_t perGroup = type.getNumElements() / std::max<int64_t>(n * groups, 1);
  // Opset 18's GroupNormalization scales per group; 21's per channel.
  int64_t affine = !instance && ctx.getOpset() < 21 ? groups : c;
  for (int i : {1, 2}) {
    auto t = ctx.inputType(i);
    if (t.getElementType() != element)
      return ctx.fail("scale and bias must have the input's element type");
    if (t.getRank() != 1 || t.getDimSize(0) != affine)
      return ctx.fail(Twine(i == 1 ? "scale" : "bias") + " must have shape [" +
                      Twine(affine) + "]");
  }
  auto &b = ctx.getBuilder();
  Value rows = ctx.reshape(ctx.input(0), {n, groups, perGroup});
  Value normalized = ctx.create<LayerNormOp>(
      tensorType(rows), rows, ctx.splat(element, {perGroup}, 1.0), Value(),
      b.getI64IntegerAttr(2),
      b.getF64FloatAttr(ctx.attrFloat("epsilon", 1e-5f)));
  // Scale and bias broadcast over [N, affine, rest].
  int64_t rest = type.getNumElements() / std::max<int64_t>(n * affine, 1);
  Value y = ctx.reshape(normalized, {n, affine, rest});
  auto scaled = ctx.binary<MulOp>(y, ctx.reshape(ctx.input(1), {affine, 1}));
  if (failed(scaled))
    return failure();
  auto shifted =
      ctx.binary<AddOp>(*scaled, ctx.reshape(ctx.input(2), {affine, 1}));
  if (failed(shifted))
    return failure();
  ctx.setOutput(0, ctx.reshape(*shifted, type.getShape()));
  return success();
}

/// MeanVarianceNormalization, as ONNX's function body defines it:
/// (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default N, H, W).
LogicalResult convertMeanVarianceNorm(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return ctx.fail("the input must be a float tensor");
  SmallVector<int64_t> axes =
      ctx.attrInts("axes").value_or(SmallVector<int64_t>{0, 2, 3});
  for (int64_t &a : axes) {
    auto axis = ctx.normalizeAxis(a, type.getRank());
    if (failed(axis))
      return failure();
    a = *axis;
  }
  llvm::sort(axes);
  Value x = ctx.input(0);
  Value mean = buildReduce<ReduceMeanOp>(ctx, x, axes, true);
  auto square = ctx.binary<MulOp>(x, x);
  auto meanSquared = ctx.binary<MulOp>(mean, mean);
  if (failed(square) || failed(meanSquared))
    return failure();
  auto variance = ctx.binary<SubOp>(
      buildReduce<ReduceMeanOp>(ctx, *square, axes, true), *meanSquared);
  if (failed(variance))
    return failure();
  auto deviation =
      ctx.binary<AddOp>(ctx.create<SqrtOp>(tensorType(*variance), *variance),
                        ctx.splat(element, {}, 1e-9));
  auto centered = ctx.binary<SubOp>(x, mean);
  if (failed(deviation) || failed(centered))
    return failure();
  auto result = ctx.binary<DivOp>(*centered, *deviation);
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// Hardmax: 1 at the first maximum along `axis`, 0 elsewhere (the axis and
/// everything after it flattened into one before opset 13).
LogicalResult convertHardmax(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  if (!type.hasStaticShape())
    return ctx.fail("needs a static input shape (fix it with --input-shape)");
  bool legacy = ctx.getOpset() < 13;
  auto axis =
      ctx.normalizeAxis(ctx.attrInt("axis", legacy ? 1 : -1), type.getRank());
  if (failed(axis))
    return failure();
  Value x = ctx.input(0);
  int64_t at = *axis;
  if (legacy) {
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < type.getRank(); ++i)
      (i < at ? outer : inner) *= type.getDimSize(i);
    x = ctx.reshape(x, {outer, inner});
    at = 1;
  }
  auto shape = tensorType(x).getShape();
  auto &b = ctx.getBuilder();
  SmallVector<int64_t> kept(shape);
  kept[at] = 1;
  Value index =
      ctx.create<ArgMaxOp>(RankedTensorType::get(kept, b.getI64Type()), x,
                           b.getI64IntegerAttr(at), b.getBoolAttr(true));
  // Positions 0..n-1 along the axis, broadcast against the index.
  SmallVector<int64_t> iotaShape(shape.size(), 1);
  iotaShape[at] = shape[at];
  ConstantTensor iota(RankedTensorType::get(iotaShape, b.getI64Type()));
  for (int64_t i = 0; i < shape[at]; ++i)
    iota.setInt(i, i);
  auto hit = ctx.binary<EqualOp>(ctx.constant(iota), index, true);
  if (failed(hit))
    return failure();
  ctx.setOutput(
      0, ctx.reshape(ctx.cast(*hit, type.getElementType()), type.getShape()));
  return success();
}

/// TopK with a constant k, exactly and with ONNX's tie order (the lower
/// index first): along the last axis (moved there), each element's rank is
/// the count of elements before it in the order (larger, or equal at a
/// lower index; smaller for largest = 0) from an [n, n] comparison, and
/// the r-th output's index is the one whose rank is r. Values are gathered
/// at the indices. The comparison costs n^2 per row, so n is bounded.
LogicalResult convertTopK(NodeContext &ctx) {
  constexpr int64_t kMaxTopKRow = 4096;
  auto type = ctx.inputType(0);
  if (!type.hasStaticShape())
    return ctx.fail("needs a static input shape (fix it with --input-shape)");
  int64_t rank = type.getRank();
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> kValues;
  if (ctx.getOpset() < 10) {
    kValues.push_back(ctx.attrInt("k", 0));
  } else {
    auto k = ctx.constantInts(1, "k");
    if (failed(k))
      return failure();
    kValues = *k;
  }
  int64_t n = type.getDimSize(*axis);
  if (kValues.size() != 1 || kValues[0] < 0 || kValues[0] > n)
    return ctx.fail("k must be one value in [0, " + Twine(n) + "]");
  if (n > kMaxTopKRow)
    return ctx.fail("rows of " + Twine(n) + " elements are more than the " +
                    Twine(kMaxTopKRow) + " supported");
  int64_t k = kValues[0];
  bool largest = ctx.attrInt("largest", 1) != 0;
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type(), element = type.getElementType();
  // The axis last.
  SmallVector<int64_t> perm, back(rank);
  for (int64_t i = 0; i < rank; ++i)
    if (i != *axis)
      perm.push_back(i);
  perm.push_back(*axis);
  for (int64_t i = 0; i < rank; ++i)
    back[perm[i]] = i;
  Value x = ctx.transpose(ctx.input(0), perm);
  SmallVector<int64_t> lead(tensorType(x).getShape().drop_back());
  auto shaped = [&](ArrayRef<int64_t> tail) {
    SmallVector<int64_t> s(lead);
    s.append(tail.begin(), tail.end());
    return s;
  };
  // before[i][j]: element j comes before element i in the order.
  Value xi = ctx.reshape(x, shaped({n, 1})),
        xj = ctx.reshape(x, shaped({1, n}));
  auto ahead = largest ? ctx.binary<GreaterOp>(xj, xi, true)
                       : ctx.binary<LessOp>(xj, xi, true);
  auto same = ctx.binary<EqualOp>(xj, xi, true);
  if (failed(ahead) || failed(same))
    return failure();
  ConstantTensor lower(RankedTensorType::get({n, n}, b.getI1Type()));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      lower.setDouble(i * n + j, 1.0);
  auto tie = ctx.binary<AndOp>(*same, ctx.constant(lower));
  if (failed(tie))
    return failure();
  auto before = ctx.binary<OrOp>(*ahead, *tie);
  if (failed(before))
    return failure();
  Value order = buildReduce<ReduceSumOp>(ctx, ctx.cast(*before, i64), {rank},
                                         false); // [lead, n]
  // index[r] = sum_i i * (order_i == r) for r < k.
  ConstantTensor slots(RankedTensorType::get({1, k}, i64));
  for (int64_t r = 0; r < k; ++r)
    slots.setInt(r, r);
  auto hit = ctx.binary<EqualOp>(ctx.reshape(order, shaped({n, 1})),
                                 ctx.constant(slots), true);
  if (failed(hit))
    return failure();
  ConstantTensor positions(RankedTensorType::get({n, 1}, i64));
  for (int64_t i = 0; i < n; ++i)
    positions.setInt(i, i);
  auto picked = ctx.binary<MulOp>(ctx.cast(*hit, i64), ctx.constant(positions));
  if (failed(picked))
    return failure();
  Value indices =
      buildReduce<ReduceSumOp>(ctx, *picked, {rank - 1}, false); // [lead, k]
  Value values =
      ctx.create<GatherElementsOp>(RankedTensorType::get(shaped({k}), element),
                                   x, indices, b.getI64IntegerAttr(rank - 1));
  ctx.setOutput(0, ctx.transpose(values, back));
  if (ctx.hasOutput(1))
    ctx.setOutput(1, ctx.transpose(indices, back));
  return success();
}

LogicalResult convertCumSum(NodeContext &ctx) {
  auto axisValue = ctx.constantInts(1, "axis");
  if (failed(axisValue))
    return failure();
  if (axisValue->size() != 1)
    return ctx.fail("CumSum axis must be a scalar");
  auto type = ctx.inputType(0);
  auto axis = ctx.normalizeAxis((*axisValue)[0], type.getRank());
  if (failed(axis))
    return failure();
  auto &b = ctx.getBuilder();
  ctx.setOutput(
      0, ctx.create<CumSumOp>(type, ctx.input(0), b.getI64IntegerAttr(*axis),
                              b.getBoolAttr(ctx.attrInt("exclusive", 0)),
                              b.getBoolAttr(ctx.attrInt("reverse", 0))));
  return success();
}

} // namespace

void registerReductionOps(ConverterRegistry &r) {
  r["ReduceSum"] = [](NodeContext &c) {
    return convertReduce<ReduceSumOp>(c, 13);
  };
  r["ReduceL1"] = [](NodeContext &c) {
    return convertReduce<ReduceSumOp>(c, 18, Prologue::Abs);
  };
  r["ReduceLogSum"] = [](NodeContext &c) {
    return convertReduce<ReduceSumOp>(c, 18, Prologue::None, Epilogue::Log);
  };
  r["ReduceLogSumExp"] = convertReduceLogSumExp;
  r["ReduceMean"] = [](NodeContext &c) {
    return convertReduce<ReduceMeanOp>(c, 18);
  };
  r["ReduceMax"] = [](NodeContext &c) {
    return convertReduce<ReduceMaxOp>(c, 18);
  };
  r["ReduceMin"] = [](NodeContext &c) {
    return convertReduce<ReduceMinOp>(c, 18);
  };
  r["ReduceProd"] = [](NodeContext &c) {
    return convertReduce<ReduceProdOp>(c, 18);
  };
  r["ReduceSumSquare"] = [](NodeContext &c) {
    return convertReduce<ReduceSumOp>(c, 18, Prologue::Square);
  };
  r["ReduceL2"] = [](NodeContext &c) {
    return convertReduce<ReduceSumOp>(c, 18, Prologue::Square, Epilogue::Sqrt);
  };
  r["ArgMax"] = [](NodeContext &c) { return convertArgExtreme(c, false); };
  r["ArgMin"] = [](NodeContext &c) { return convertArgExtreme(c, true); };
  r["Softmax"] = [](NodeContext &c) { return convertSoftmax(c, false); };
  r["LogSoftmax"] = [](NodeContext &c) { return convertSoftmax(c, true); };
  r["LayerNormalization"] = convertLayerNorm;
  r["InstanceNormalization"] = [](NodeContext &c) {
    return convertGroupNorm(c, true);
  };
  r["GroupNormalization"] = [](NodeContext &c) {
    return convertGroupNorm(c, false);
  };
  r["CumSum"] = convertCumSum;
  r["MeanVarianceNormalization"] = convertMeanVarianceNorm;
  r["Hardmax"] = convertHardmax;
  r["TopK"] = convertTopK;
}

} // namespace gaon::onnx
