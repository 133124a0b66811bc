//===- ShapeOps.cpp - ONNX shape and data movement ops to gaon.graph ------===//
//
// Shapes are static after specialization, so Shape and Size become constants
// and every shape operand (Reshape's shape, Slice's starts, ...) must fold to
// a constant; a clear error says so when it does not.
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

#include "llvm/ADT/STLExtras.h"

#include <numeric>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s + "]";
}

Value int64Constant(NodeContext &ctx, ArrayRef<int64_t> values,
                    ArrayRef<int64_t> shape) {
  ConstantTensor tensor(
      RankedTensorType::get(shape, ctx.getBuilder().getI64Type()));
  for (auto [i, v] : llvm::enumerate(values))
    tensor.setInt(i, v);
  return ctx.constant(tensor);
}

int64_t clampToRange(int64_t value, int64_t lo, int64_t hi) {
  return std::max(lo, std::min(hi, value));
}

LogicalResult convertShape(NodeContext &ctx) {
  ArrayRef<int64_t> shape = ctx.inputType(0).getShape();
  int64_t rank = shape.size();
  int64_t start = ctx.attrInt("start", 0), end = ctx.attrInt("end", rank);
  start = clampToRange(start < 0 ? start + rank : start, 0, rank);
  end = clampToRange(end < 0 ? end + rank : end, 0, rank);
  SmallVector<int64_t> dims;
  for (int64_t i = start; i < end; ++i)
    dims.push_back(shape[i]);
  ctx.setOutput(0, int64Constant(ctx, dims, {int64_t(dims.size())}));
  return success();
}

LogicalResult convertSize(NodeContext &ctx) {
  ctx.setOutput(0, int64Constant(ctx, {ctx.inputType(0).getNumElements()}, {}));
  return success();
}

LogicalResult convertReshape(NodeContext &ctx) {
  auto target = ctx.constantInts(1, "the target shape");
  if (failed(target))
    return failure();
  auto type = ctx.inputType(0);
  bool allowZero = ctx.attrInt("allowzero", 0) != 0;
  SmallVector<int64_t> shape;
  int64_t inferred = -1, known = 1;
  for (auto [i, dim] : llvm::enumerate(*target)) {
    if (dim == 0 && !allowZero) {
      if (int64_t(i) >= type.getRank())
        return ctx.fail("Reshape copies dimension " + Twine(i) +
                        " that the input does not have");
      dim = type.getDimSize(i);
    }
    if (dim == -1) {
      if (inferred >= 0)
        return ctx.fail("Reshape has more than one -1 dimension");
      inferred = i;
    } else if (dim < 0) {
      return ctx.fail("Reshape has invalid dimension " + Twine(dim));
    } else {
      known *= dim;
    }
    shape.push_back(dim);
  }
  int64_t total = type.getNumElements();
  if (inferred >= 0) {
    if (known == 0 || total % known != 0)
      return ctx.fail("cannot reshape " + shapeString(type.getShape()) +
                      " to " + shapeString(*target));
    shape[inferred] = total / known;
  } else if (known != total) {
    return ctx.fail("cannot reshape " + shapeString(type.getShape()) + " (" +
                    Twine(total) + " elements) to " + shapeString(shape));
  }
  ctx.setOutput(0, ctx.reshape(ctx.input(0), shape));
  return success();
}

LogicalResult convertFlatten(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  int64_t rank = type.getRank(), axis = ctx.attrInt("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return ctx.fail("Flatten axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i)
    (i < axis ? outer : inner) *= type.getDimSize(i);
  ctx.setOutput(0, ctx.reshape(ctx.input(0), {outer, inner}));
  return success();
}

/// Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input after.
FailureOr<SmallVector<int64_t>> squeezeAxes(NodeContext &ctx) {
  if (ctx.getOpset() < 13)
    return ctx.attrInts("axes").value_or(SmallVector<int64_t>{});
  if (!ctx.hasInput(1))
    return SmallVector<int64_t>{};
  return ctx.constantInts(1, "axes");
}

LogicalResult convertSqueeze(NodeContext &ctx) {
  auto axes = squeezeAxes(ctx);
  if (failed(axes))
    return failure();
  auto type = ctx.inputType(0);
  SmallVector<bool> drop(type.getRank(), axes->empty());
  if (axes->empty())
    for (int64_t i = 0; i < type.getRank(); ++i)
      drop[i] = type.getDimSize(i) == 1;
  for (int64_t axis : *axes) {
    auto normalized = ctx.normalizeAxis(axis, type.getRank());
    if (failed(normalized))
      return failure();
    if (type.getDimSize(*normalized) != 1)
      return ctx.fail("cannot squeeze dimension " + Twine(axis) + " of size " +
                      Twine(type.getDimSize(*normalized)));
    drop[*normalized] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (!drop[i])
      shape.push_back(type.getDimSize(i));
  ctx.setOutput(0, ctx.reshape(ctx.input(0), shape));
  return success();
}

LogicalResult convertUnsqueeze(NodeContext &ctx) {
  auto axes = squeezeAxes(ctx);
  if (failed(axes))
    return failure();
  auto type = ctx.inputType(0);
  int64_t rank = type.getRank() + axes->size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t axis : *axes) {
    auto normalized = ctx.normalizeAxis(axis, rank);
    if (failed(normalized))
      return failure();
    if (inserted[*normalized])
      return ctx.fail("Unsqueeze axis " + Twine(axis) + " is repeated");
    inserted[*normalized] = true;
  }
  SmallVector<int64_t> shape;
  int64_t next = 0;
  for (int64_t i = 0; i < rank; ++i)
    shape.push_back(inserted[i] ? 1 : type.getDimSize(next++));
  ctx.setOutput(0, ctx.reshape(ctx.input(0), shape));
  return success();
}

LogicalResult convertTranspose(NodeContext &ctx) {
  int64_t rank = ctx.inputType(0).getRank();
  auto perm = ctx.attrInts("perm").value_or(
      llvm::to_vector(llvm::reverse(llvm::seq<int64_t>(0, rank))));
  SmallVector<bool> seen(rank, false);
  if (int64_t(perm.size()) != rank)
    return ctx.fail("perm has " + Twine(perm.size()) + " entries for rank " +
                    Twine(rank));
  for (int64_t &p : perm) {
    auto normalized = ctx.normalizeAxis(p, rank);
    if (failed(normalized) || seen[*normalized])
      return ctx.fail("perm is not a permutation");
    p = *normalized;
    seen[p] = true;
  }
  ctx.setOutput(0, ctx.transpose(ctx.input(0), perm));
  return success();
}

LogicalResult convertConcat(NodeContext &ctx) {
  SmallVector<Value> inputs;
  for (int i = 0; i < ctx.numInputs(); ++i)
    if (ctx.hasInput(i))
      inputs.push_back(ctx.input(i));
  if (inputs.empty())
    return ctx.fail("Concat needs at least one input");
  auto first = tensorType(inputs.front());
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), first.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value input : inputs) {
    auto type = tensorType(input);
    if (type.getRank() != first.getRank() ||
        type.getElementType() != first.getElementType())
      return ctx.fail("Concat inputs differ in rank or element type");
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (i != *axis && type.getDimSize(i) != first.getDimSize(i))
        return ctx.fail("Concat inputs " + shapeString(first.getShape()) +
                        " and " + shapeString(type.getShape()) +
                        " differ outside axis " + Twine(*axis));
    shape[*axis] += type.getDimSize(*axis);
  }
  ctx.setOutput(0, ctx.create<ConcatOp>(
                       RankedTensorType::get(shape, first.getElementType()),
                       inputs, ctx.getBuilder().getI64IntegerAttr(*axis)));
  return success();
}

LogicalResult convertSplit(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), type.getRank());
  if (failed(axis))
    return failure();
  int64_t dim = type.getDimSize(*axis);
  SmallVector<int64_t> sizes;
  if (ctx.getOpset() < 13 && ctx.hasAttr("split")) {
    sizes = *ctx.attrInts("split");
  } else if (ctx.getOpset() >= 13 && ctx.hasInput(1)) {
    auto values = ctx.constantInts(1, "split");
    if (failed(values))
      return failure();
    sizes = *values;
  } else {
    int64_t parts = ctx.getOpset() >= 18 && ctx.hasAttr("num_outputs")
                        ? ctx.attrInt("num_outputs", 1)
                        : ctx.numOutputs();
    if (parts < 1)
      return ctx.fail("Split needs at least one output");
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0, left = dim; i < parts; ++i, left -= chunk)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
  }
  if (int64_t(sizes.size()) != ctx.numOutputs() ||
      llvm::any_of(sizes, [](int64_t s) { return s < 0; }) ||
      std::accumulate(sizes.begin(), sizes.end(), int64_t(0)) != dim)
    return ctx.fail("Split sizes do not divide dimension " + Twine(*axis) +
                    " of size " + Twine(dim) + " into " +
                    Twine(ctx.numOutputs()) + " outputs");
  SmallVector<Type> types;
  for (int64_t size : sizes) {
    SmallVector<int64_t> shape(type.getShape());
    shape[*axis] = size;
    types.push_back(RankedTensorType::get(shape, type.getElementType()));
  }
  SmallVector<Value> results;
  ctx.getBuilder().createOrFold<SplitOp>(
      results, ctx.getLoc(), types, ctx.input(0),
      ctx.getBuilder().getI64IntegerAttr(*axis));
  for (auto [i, result] : llvm::enumerate(results))
    ctx.setOutput(i, result);
  return success();
}

LogicalResult convertSlice(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  int64_t rank = type.getRank();
  SmallVector<int64_t> starts, ends, axes, steps;
  if (ctx.getOpset() < 10) {
    starts = ctx.attrInts("starts").value_or(SmallVector<int64_t>{});
    ends = ctx.attrInts("ends").value_or(SmallVector<int64_t>{});
    axes = ctx.attrInts("axes").value_or(SmallVector<int64_t>{});
  } else {
    auto s = ctx.constantInts(1, "starts");
    auto e = ctx.constantInts(2, "ends");
    if (failed(s) || failed(e))
      return failure();
    starts = *s;
    ends = *e;
    if (ctx.hasInput(3)) {
      auto a = ctx.constantInts(3, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (ctx.hasInput(4)) {
      auto st = ctx.constantInts(4, "steps");
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  if (axes.empty())
    axes = llvm::to_vector(llvm::seq<int64_t>(0, starts.size()));
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return ctx.fail("Slice starts, ends, axes and steps differ in length");
  SmallVector<int64_t> outStarts(rank, 0), outSteps(rank, 1);
  SmallVector<int64_t> shape(type.getShape());
  for (size_t i = 0; i < starts.size(); ++i) {
    auto axis = ctx.normalizeAxis(axes[i], rank);
    if (failed(axis))
      return failure();
    int64_t dim = type.getDimSize(*axis), step = steps[i];
    if (step == 0)
      return ctx.fail("Slice step is zero");
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = clampToRange(start, 0, dim);
      end = clampToRange(end, 0, dim);
    } else {
      start = clampToRange(start, 0, dim - 1);
      end = clampToRange(end, -1, dim - 1);
    }
    int64_t count = step > 0 ? (end - start + step - 1) / step
                             : (start - end + (-step) - 1) / (-step);
    count = std::max<int64_t>(0, count);
    outStarts[*axis] = count > 0 ? start : 0;
    outSteps[*axis] = step;
    shape[*axis] = count;
  }
  auto &b = ctx.getBuilder();
  ctx.setOutput(0, ctx.create<SliceOp>(
                       RankedTensorType::get(shape, type.getElementType()),
                       ctx.input(0), b.getDenseI64ArrayAttr(outStarts),
                       b.getDenseI64ArrayAttr(outSteps)));
  return success();
}

LogicalResult convertExpand(NodeContext &ctx) {
  auto target = ctx.constantInts(1, "the target shape");
  if (failed(target))
    return failure();
  auto type = ctx.inputType(0);
  auto shape = broadcastShapes(type.getShape(), *target);
  if (failed(shape))
    return ctx.fail("cannot expand " + shapeString(type.getShape()) + " to " +
                    shapeString(*target));
  ctx.setOutput(0, ctx.create<BroadcastOp>(
                       RankedTensorType::get(*shape, type.getElementType()),
                       ctx.input(0)));
  return success();
}

LogicalResult convertTile(NodeContext &ctx) {
  auto repeats = ctx.constantInts(1, "repeats");
  if (failed(repeats))
    return failure();
  auto type = ctx.inputType(0);
  if (int64_t(repeats->size()) != type.getRank() ||
      llvm::any_of(*repeats, [](int64_t r) { return r < 0; }))
    return ctx.fail("Tile repeats must be one non-negative count per "
                    "dimension");
  SmallVector<int64_t> shape;
  for (auto [d, r] : llvm::zip(type.getShape(), *repeats))
    shape.push_back(d * r);
  ctx.setOutput(
      0, ctx.create<TileOp>(RankedTensorType::get(shape, type.getElementType()),
                            ctx.input(0),
                            ctx.getBuilder().getDenseI64ArrayAttr(*repeats)));
  return success();
}

/// Pad modes other than constant, one padded dimension at a time, as a
/// concat of slices of the input: reflect (mirrored without the edge
/// element: negative steps), edge (the edge element broadcast), wrap (the
/// other end).
Value padBySlices(NodeContext &ctx, Value x, StringRef mode,
                  ArrayRef<int64_t> low, ArrayRef<int64_t> high) {
  auto &b = ctx.getBuilder();
  Type element = tensorType(x).getElementType();
  for (int64_t d = 0; d < int64_t(low.size()); ++d) {
    if (low[d] == 0 && high[d] == 0)
      continue;
    SmallVector<int64_t> shape(tensorType(x).getShape());
    int64_t size = shape[d];
    // `count` elements along d from `start`, walking by `step`.
    auto piece = [&](int64_t start, int64_t step, int64_t count) {
      SmallVector<int64_t> starts(shape.size(), 0), steps(shape.size(), 1),
          sliced(shape);
      starts[d] = start;
      steps[d] = step;
      sliced[d] = count;
      return ctx.create<SliceOp>(RankedTensorType::get(sliced, element), x,
                                 b.getDenseI64ArrayAttr(starts),
                                 b.getDenseI64ArrayAttr(steps));
    };
    auto edge = [&](int64_t at, int64_t count) -> Value {
      SmallVector<int64_t> wide(shape);
      wide[d] = count;
      return ctx.create<BroadcastOp>(RankedTensorType::get(wide, element),
                                     piece(at, 1, 1));
    };
    SmallVector<Value> parts;
    if (low[d]) {
      if (mode == "reflect")
        parts.push_back(piece(low[d], -1, low[d]));
      else if (mode == "edge")
        parts.push_back(edge(0, low[d]));
      else
        parts.push_back(piece(size - low[d], 1, low[d]));
    }
    parts.push_back(x);
    if (high[d]) {
      if (mode == "reflect")
        parts.push_back(piece(size - 2, -1, high[d]));
      else if (mode == "edge")
        parts.push_back(edge(size - 1, high[d]));
      else
        parts.push_back(piece(0, 1, high[d]));
    }
    shape[d] += low[d] + high[d];
    x = ctx.create<ConcatOp>(RankedTensorType::get(shape, element), parts,
                             b.getI64IntegerAttr(d));
  }
  return x;
}

LogicalResult convertPad(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  int64_t rank = type.getRank();
  std::string mode = ctx.attrString("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" &&
      mode != "wrap")
    return ctx.fail("unknown Pad mode '" + mode + "'");
  SmallVector<int64_t> pads;
  double value = 0;
  if (ctx.getOpset() < 11) {
    pads = ctx.attrInts("pads").value_or(SmallVector<int64_t>{});
    value = ctx.attrFloat("value", 0.0f);
  } else {
    auto p = ctx.constantInts(1, "pads");
    if (failed(p))
      return failure();
    pads = *p;
    if (ctx.hasInput(2)) {
      auto v = ctx.constantInput(2);
      if (!v || v->getNumElements() != 1)
        return ctx.fail("Pad constant_value must be a constant scalar");
      value = v->getDouble(0);
    }
  }
  SmallVector<int64_t> axes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  if (ctx.getOpset() >= 18 && ctx.hasInput(3)) {
    auto a = ctx.constantInts(3, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  }
  if (pads.size() != 2 * axes.size())
    return ctx.fail("Pad needs two pads per padded axis");
  SmallVector<int64_t> low(rank, 0), high(rank, 0), shape(type.getShape());
  for (auto [i, axis] : llvm::enumerate(axes)) {
    auto normalized = ctx.normalizeAxis(axis, rank);
    if (failed(normalized))
      return failure();
    low[*normalized] = pads[i];
    high[*normalized] = pads[i + axes.size()];
    if (pads[i] < 0 || pads[i + axes.size()] < 0)
      return ctx.fail("negative pads (cropping) are not supported");
    shape[*normalized] += pads[i] + pads[i + axes.size()];
  }
  if (mode != "constant") {
    if (!type.hasStaticShape())
      return ctx.fail("Pad mode '" + mode +
                      "' needs a static input shape (fix it with "
                      "--input-shape)");
    for (int64_t d = 0; d < rank; ++d) {
      int64_t size = type.getDimSize(d);
      if ((low[d] || high[d]) && size == 0)
        return ctx.fail("Pad mode '" + mode + "' of an empty dimension");
      int64_t limit = mode == "reflect" ? size - 1 : size;
      if (mode != "edge" && (low[d] > limit || high[d] > limit))
        return ctx.fail("Pad mode '" + mode + "' pads dimension " + Twine(d) +
                        " of size " + Twine(size) + " by more than " +
                        Twine(limit));
    }
    ctx.setOutput(0, padBySlices(ctx, ctx.input(0), mode, low, high));
    return success();
  }
  auto &b = ctx.getBuilder();
  ctx.setOutput(0, ctx.create<PadOp>(
                       RankedTensorType::get(shape, type.getElementType()),
                       ctx.input(0), b.getDenseI64ArrayAttr(low),
                       b.getDenseI64ArrayAttr(high), b.getF64FloatAttr(value)));
  return success();
}

LogicalResult convertTrilu(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  if (type.getRank() < 2)
    return ctx.fail("Trilu needs rank >= 2");
  int64_t k = 0;
  if (ctx.hasInput(1)) {
    auto values = ctx.constantInts(1, "k");
    if (failed(values))
      return failure();
    if (values->size() != 1)
      return ctx.fail("Trilu k must be a scalar");
    k = (*values)[0];
  }
  auto &b = ctx.getBuilder();
  ctx.setOutput(0, ctx.create<TriluOp>(type, ctx.input(0),
                                       b.getBoolAttr(ctx.attrInt("upper", 1)),
                                       b.getI64IntegerAttr(k)));
  return success();
}

LogicalResult convertDropout(NodeContext &ctx) {
  // Inference: identity, and a mask that keeps everything. Training mode
  // (random masks) must be off (absent, or a constant false) or drop
  // nothing (a constant ratio of 0).
  if (ctx.hasInput(2)) {
    auto training = ctx.constantInts(2, "training_mode");
    if (failed(training))
      return failure();
    if (training->size() == 1 && (*training)[0]) {
      double ratio = 0.5;
      if (ctx.hasInput(1)) {
        auto value = ctx.constantInput(1);
        if (!value)
          return ctx.fail("ratio (input 1) must be a compile-time constant "
                          "in training mode; its value depends on the "
                          "model's inputs");
        ratio = value->getDouble(0);
      }
      if (ratio != 0.0)
        return ctx.fail("Dropout in training mode is not supported (only "
                        "inference, or a ratio of 0)");
    }
  }
  ctx.setOutput(0, ctx.input(0));
  if (ctx.hasOutput(1))
    ctx.setOutput(1, ctx.splat(ctx.getBuilder().getI1Type(),
                               ctx.inputType(0).getShape(), 1.0));
  return success();
}

} // namespace

void registerShapeOps(ConverterRegistry &r) {
  r["Shape"] = convertShape;
  r["Size"] = convertSize;
  r["Reshape"] = convertReshape;
  r["Flatten"] = convertFlatten;
  r["Squeeze"] = convertSqueeze;
  r["Unsqueeze"] = convertUnsqueeze;
  r["Transpose"] = convertTranspose;
  r["Concat"] = convertConcat;
  r["Split"] = convertSplit;
  r["Slice"] = convertSlice;
  r["Expand"] = convertExpand;
  r["Tile"] = convertTile;
  r["Pad"] = convertPad;
  r["Trilu"] = convertTrilu;
  r["Dropout"] = convertDropout;
}

} // namespace gaon::onnx
