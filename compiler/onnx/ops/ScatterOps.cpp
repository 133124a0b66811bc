//===- ScatterOps.cpp - ONNX ScatterND, ScatterElements and Scatter -------===//
//
// Scatters become graph ops every backend already runs. Constant indices
// resolve at import (folding, or a select of gathered rows); indices
// computed at run time compare every update's target with every position it
// could write, which is quadratic: the converters refuse problems beyond
// kMaxCompared compared elements, naming the sizes.
//
//===----------------------------------------------------------------------===//

#include "LastWriter.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {

FailureOr<LastWriter> lastWriter(NodeContext &ctx, Value hit, int64_t axis) {
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type();
  auto hitType = tensorType(hit);
  int64_t updates = hitType.getDimSize(axis);
  SmallVector<int64_t> orderShape(hitType.getRank(), 1), reduced;
  orderShape[axis] = updates;
  for (int64_t d = 0; d < hitType.getRank(); ++d)
    if (d != axis)
      reduced.push_back(hitType.getDimSize(d));
  ConstantTensor order(RankedTensorType::get(orderShape, i64));
  for (int64_t t = 0; t < updates; ++t)
    order.setInt(t, t);
  Value none = ctx.splat(i64, {}, -1);
  Value candidates =
      ctx.create<SelectOp>(hitType.clone(i64), hit, ctx.constant(order), none);
  Value writer = ctx.create<ReduceMaxOp>(
      RankedTensorType::get(reduced, i64), candidates,
      b.getDenseI64ArrayAttr({axis}), b.getBoolAttr(false));
  auto written = ctx.binary<LessOp>(none, writer, true);
  if (failed(written))
    return failure();
  Value from = ctx.create<SelectOp>(tensorType(writer), *written, writer,
                                    ctx.splat(i64, {}, 0));
  return LastWriter{*written, from};
}

namespace {

/// Elements a run-time-index scatter may compare (targets x positions, or
/// targets x positions x slice with a reduction).
constexpr int64_t kMaxCompared = int64_t(1) << 26;

/// `input` reduced over its first axis (dropped).
template <typename OpTy> Value reduceAxis0(NodeContext &ctx, Value input) {
  auto type = tensorType(input);
  auto shape = SmallVector<int64_t>(type.getShape().drop_front());
  auto &b = ctx.getBuilder();
  return ctx.create<OpTy>(RankedTensorType::get(shape, type.getElementType()),
                          input, b.getDenseI64ArrayAttr({0}),
                          b.getBoolAttr(false));
}

/// The identity of a reduction over `element`: what a position no update
/// hits contributes (0 for add, 1 for mul, the lowest value for max, the
/// highest for min).
double reductionIdentity(Type element, StringRef reduction) {
  if (reduction == "add")
    return 0;
  if (reduction == "mul")
    return 1;
  bool high = reduction == "min";
  if (isa<FloatType>(element))
    return high ? std::numeric_limits<double>::infinity()
                : -std::numeric_limits<double>::infinity();
  unsigned width = element.getIntOrFloatBitWidth();
  if (element.isUnsignedInteger() || width == 1)
    return high ? std::ldexp(1.0, int(width)) - 1 : 0;
  return high ? std::ldexp(1.0, int(width) - 1) - 1
              : -std::ldexp(1.0, int(width) - 1);
}

/// Rows [rows, slice] of the data with update rows [targets, slice] written
/// at run-time row indices `target` ([targets] int64, already in range when
/// valid; others hit no row and are dropped). Reduction "none": each row
/// takes the update of the last target that writes it (ONNX's reference
/// applies updates in order), gathered by index; otherwise every update
/// combines with the row in order (add, mul, max, min).
FailureOr<Value> scatterRows(NodeContext &ctx, Value rowsIn, Value target,
                             Value updateRows, StringRef reduction) {
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type();
  auto rowsType = tensorType(rowsIn);
  int64_t rows = rowsType.getDimSize(0), slice = rowsType.getDimSize(1);
  int64_t targets = tensorType(target).getDimSize(0);
  Type element = rowsType.getElementType();
  int64_t compared = targets * rows * (reduction == "none" ? 1 : slice);
  if (compared > kMaxCompared)
    return ctx.fail(
        "with indices computed at run time, " + Twine(targets) +
        " updates over " + Twine(rows) + " rows" +
        (reduction == "none" ? Twine("")
                             : " of " + Twine(slice) + " elements") +
        " compare " + Twine(compared) + " elements, more than the supported " +
        Twine(kMaxCompared));
  ConstantTensor rowIota(RankedTensorType::get({1, rows}, i64));
  for (int64_t r = 0; r < rows; ++r)
    rowIota.setInt(r, r);
  auto hit = ctx.binary<EqualOp>(ctx.reshape(target, {targets, 1}),
                                 ctx.constant(rowIota), true);
  if (failed(hit))
    return failure();
  if (reduction == "none") {
    auto last = lastWriter(ctx, *hit, 0);
    if (failed(last))
      return failure();
    auto pickedType = RankedTensorType::get({rows, slice}, element);
    Value picked = ctx.create<GatherOp>(pickedType, updateRows, last->from,
                                        b.getI64IntegerAttr(0));
    return ctx.create<SelectOp>(
        pickedType, ctx.reshape(last->written, {rows, 1}), picked, rowsIn);
  }
  auto spread = RankedTensorType::get({targets, rows, slice}, element);
  Value contributions = ctx.create<SelectOp>(
      spread, ctx.reshape(*hit, {targets, rows, 1}),
      ctx.reshape(updateRows, {targets, 1, slice}),
      ctx.splat(element, {}, reductionIdentity(element, reduction)));
  if (reduction == "add") {
    return ctx.binary<AddOp>(rowsIn,
                             reduceAxis0<ReduceSumOp>(ctx, contributions));
  }
  if (reduction == "mul") {
    return ctx.binary<MulOp>(rowsIn,
                             reduceAxis0<ReduceProdOp>(ctx, contributions));
  }
  if (reduction == "max")
    return ctx.binary<MaxOp>(rowsIn,
                             reduceAxis0<ReduceMaxOp>(ctx, contributions));
  return ctx.binary<MinOp>(rowsIn,
                           reduceAxis0<ReduceMinOp>(ctx, contributions));
}

/// `idx` (any integer type, shape [...]) as int64 with negative entries
/// wrapped by `dims` (broadcast against it).
FailureOr<Value> wrapIndices(NodeContext &ctx, Value idx, Value dims) {
  Type i64 = ctx.getBuilder().getI64Type();
  if (tensorType(idx).getElementType() != i64)
    idx = ctx.cast(idx, i64);
  auto negative = ctx.binary<LessOp>(idx, ctx.splat(i64, {}, 0), true);
  auto wrapped = ctx.binary<AddOp>(idx, dims);
  if (failed(negative) || failed(wrapped))
    return failure();
  return ctx.create<SelectOp>(tensorType(*wrapped), *negative, *wrapped, idx);
}

/// A scatter's operands after the checks every scatter needs: static
/// shapes, integer indices, updates of the data's element type and a known
/// reduction.
struct ScatterOperands {
  RankedTensorType data, indices, updates;
  std::string reduction;
};

FailureOr<ScatterOperands> checkScatter(NodeContext &ctx) {
  ScatterOperands o{ctx.inputType(0), ctx.inputType(1), ctx.inputType(2),
                    ctx.attrString("reduction", "none")};
  if (!o.data.hasStaticShape() || !o.indices.hasStaticShape() ||
      !o.updates.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  if (!o.indices.getElementType().isInteger())
    return ctx.fail("indices must be an integer tensor");
  if (o.updates.getElementType() != o.data.getElementType())
    return ctx.fail("updates and data must have the same element type");
  if (o.reduction != "none" && o.reduction != "add" && o.reduction != "mul" &&
      o.reduction != "max" && o.reduction != "min")
    return ctx.fail("unknown reduction '" + o.reduction + "'");
  return o;
}

/// ScatterND. Compile-time indices: with constant data and updates too it
/// folds, any reduction (exports build index tables with it: BEiT's
/// relative position index); otherwise (reduction none) a select between
/// the data's rows and a gather of the update rows that last write each
/// one, both by constant tables. Run-time indices (a key/value cache
/// written at a position): scatterRows over the linearized index tuples.
/// Data as [rows, slice], updates as [tuples, slice].
LogicalResult convertScatterNd(NodeContext &ctx) {
  auto checked = checkScatter(ctx);
  if (failed(checked))
    return failure();
  auto [data, indices, updates, reduction] = *checked;
  int64_t r = data.getRank(), q = indices.getRank();
  int64_t k = q ? indices.getDimSize(q - 1) : 0;
  if (q < 1 || k < 1 || k > r)
    return ctx.fail("indices must be [..., k] with 1 <= k <= rank(data)");
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(k));
  if (updates.getShape() != ArrayRef<int64_t>(expected))
    return ctx.fail("updates must have shape indices.shape[:-1] + "
                    "data.shape[k:]");
  int64_t slice = 1, rows = 1;
  for (int64_t d = 0; d < r; ++d)
    (d < k ? rows : slice) *= data.getDimSize(d);
  int64_t tuples = indices.getNumElements() / k;
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type(), element = data.getElementType();
  Value flatData = ctx.reshape(ctx.input(0), {rows, slice});
  Value flatUpdates = ctx.reshape(ctx.input(2), {tuples, slice});
  auto rowsType = RankedTensorType::get({rows, slice}, element);

  auto index = ctx.constantInput(1);
  if (!index) {
    // Run time: wrap each component by its dimension, then row-major
    // linearize the tuples.
    ConstantTensor dims(RankedTensorType::get({1, k}, i64)),
        strides(RankedTensorType::get({1, k}, i64));
    int64_t stride = 1;
    for (int64_t d = k - 1; d >= 0; --d) {
      dims.setInt(d, data.getDimSize(d));
      strides.setInt(d, stride);
      stride *= data.getDimSize(d);
    }
    auto wrapped = wrapIndices(ctx, ctx.reshape(ctx.input(1), {tuples, k}),
                               ctx.constant(dims));
    if (failed(wrapped))
      return failure();
    auto scaled = ctx.binary<MulOp>(*wrapped, ctx.constant(strides));
    if (failed(scaled))
      return failure();
    Value target = reduceAxis0<ReduceSumOp>(
        ctx, ctx.transpose(*scaled, {1, 0})); // [tuples]
    auto merged = scatterRows(ctx, flatData, target, flatUpdates, reduction);
    if (failed(merged))
      return failure();
    ctx.setOutput(0, ctx.reshape(*merged, data.getShape()));
    return success();
  }

  // The data row each index tuple writes.
  SmallVector<int64_t> target(tuples);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t row = 0;
    for (int64_t d = 0; d < k; ++d) {
      int64_t dim = data.getDimSize(d), i = index->getInt(t * k + d);
      if (i < -dim || i >= dim)
        return ctx.fail("index " + Twine(i) +
                        " is out of range for "
                        "dimension " +
                        Twine(d) + " of size " + Twine(dim));
      row = row * dim + (i < 0 ? i + dim : i);
    }
    target[t] = row;
  }
  auto base = ctx.constantInput(0), values = ctx.constantInput(2);
  if (base && values) {
    ConstantTensor out = *base;
    for (int64_t t = 0; t < tuples; ++t)
      for (int64_t e = 0; e < slice; ++e) {
        int64_t at = target[t] * slice + e;
        double v = values->getDouble(t * slice + e), old = out.getDouble(at);
        if (reduction == "add")
          v += old;
        else if (reduction == "mul")
          v *= old;
        else if (reduction == "max")
          v = std::max(v, old);
        else if (reduction == "min")
          v = std::min(v, old);
        out.setDouble(at, v);
      }
    ctx.setOutput(0, ctx.constant(out));
    return success();
  }
  if (reduction != "none") {
    // Constant targets, run-time values: the same combination by rows.
    ConstantTensor targets(RankedTensorType::get({tuples}, i64));
    for (int64_t t = 0; t < tuples; ++t)
      targets.setInt(t, target[t]);
    auto merged = scatterRows(ctx, flatData, ctx.constant(targets), flatUpdates,
                              reduction);
    if (failed(merged))
      return failure();
    ctx.setOutput(0, ctx.reshape(*merged, data.getShape()));
    return success();
  }
  ConstantTensor source(RankedTensorType::get({rows}, i64));
  ConstantTensor written(RankedTensorType::get({rows, 1}, b.getI1Type()));
  for (int64_t t = 0; t < tuples; ++t) {
    source.setInt(target[t], t);
    written.setDouble(target[t], 1.0);
  }
  Value picked = ctx.create<GatherOp>(
      rowsType, flatUpdates, ctx.constant(source), b.getI64IntegerAttr(0));
  Value merged =
      ctx.create<SelectOp>(rowsType, ctx.constant(written), picked, flatData);
  ctx.setOutput(0, ctx.reshape(merged, data.getShape()));
  return success();
}

/// ScatterElements (and opset 9-10's Scatter): update (i, j, ...) goes to
/// the data position whose coordinate along `axis` is indices(i, j, ...)
/// and whose other coordinates are its own. Each update's linear data
/// position becomes a row index of the data as [numel, 1] for scatterRows.
LogicalResult convertScatterElements(NodeContext &ctx) {
  auto checked = checkScatter(ctx);
  if (failed(checked))
    return failure();
  auto [data, indices, updates, reduction] = *checked;
  int64_t rank = data.getRank();
  if (indices.getRank() != rank || indices.getShape() != updates.getShape())
    return ctx.fail("indices and updates must have the same shape, of the "
                    "data's rank");
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis && indices.getDimSize(d) > data.getDimSize(d))
      return ctx.fail("indices dimension " + Twine(d) + " (" +
                      Twine(indices.getDimSize(d)) + ") exceeds the data's (" +
                      Twine(data.getDimSize(d)) + ")");
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type();
  SmallVector<int64_t> strides(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * data.getDimSize(d + 1);
  // Linear position: the wrapped index times the axis stride plus, per
  // other dimension, its coordinate times its stride (constant tables).
  auto wrapped = wrapIndices(ctx, ctx.input(1),
                             ctx.splat(i64, {}, data.getDimSize(*axis)));
  if (failed(wrapped))
    return failure();
  auto linear =
      ctx.binary<MulOp>(*wrapped, ctx.splat(i64, {}, double(strides[*axis])));
  if (failed(linear))
    return failure();
  ConstantTensor offsets(RankedTensorType::get(indices.getShape(), i64));
  for (int64_t flat = 0; flat < indices.getNumElements(); ++flat) {
    int64_t rest = flat, offset = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t coord = rest % indices.getDimSize(d);
      rest /= indices.getDimSize(d);
      if (d != *axis)
        offset += coord * strides[d];
    }
    offsets.setInt(flat, offset);
  }
  linear = ctx.binary<AddOp>(*linear, ctx.constant(offsets));
  if (failed(linear))
    return failure();
  int64_t count = indices.getNumElements();
  Value flatData = ctx.reshape(ctx.input(0), {data.getNumElements(), 1});
  auto merged = scatterRows(ctx, flatData, ctx.reshape(*linear, {count}),
                            ctx.reshape(ctx.input(2), {count, 1}), reduction);
  if (failed(merged))
    return failure();
  ctx.setOutput(0, ctx.reshape(*merged, data.getShape()));
  return success();
}

} // namespace

void registerScatterOps(ConverterRegistry &r) {
  r["ScatterND"] = convertScatterNd;
  r["ScatterElements"] = convertScatterElements;
  r["Scatter"] = convertScatterElements; // opsets 9-10, no reduction
}

} // namespace gaon::onnx
