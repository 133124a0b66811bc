//===- GatherOps.cpp - ONNX gathers, OneHot and ScatterND -----------------===//

#include "../NodeContext.h"

#include <algorithm>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

LogicalResult requireIntegerIndices(NodeContext &ctx) {
  if (!ctx.inputType(1).getElementType().isInteger())
    return ctx.fail("indices must be an integer tensor");
  return success();
}

LogicalResult convertGather(NodeContext &ctx) {
  if (failed(requireIntegerIndices(ctx)))
    return failure();
  auto data = ctx.inputType(0), indices = ctx.inputType(1);
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), data.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(data.getShape().take_front(*axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, data.getShape().drop_front(*axis + 1));
  ctx.setOutput(0, ctx.create<GatherOp>(
                       RankedTensorType::get(shape, data.getElementType()),
                       ctx.input(0), ctx.input(1),
                       ctx.getBuilder().getI64IntegerAttr(*axis)));
  return success();
}

LogicalResult convertGatherElements(NodeContext &ctx) {
  if (failed(requireIntegerIndices(ctx)))
    return failure();
  auto data = ctx.inputType(0), indices = ctx.inputType(1);
  if (data.getRank() != indices.getRank())
    return ctx.fail("GatherElements indices must have the data's rank");
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", 0), data.getRank());
  if (failed(axis))
    return failure();
  ctx.setOutput(0,
                ctx.create<GatherElementsOp>(
                    indices.clone(data.getElementType()), ctx.input(0),
                    ctx.input(1), ctx.getBuilder().getI64IntegerAttr(*axis)));
  return success();
}

LogicalResult convertGatherNd(NodeContext &ctx) {
  if (failed(requireIntegerIndices(ctx)))
    return failure();
  auto data = ctx.inputType(0), indices = ctx.inputType(1);
  int64_t batchDims = ctx.attrInt("batch_dims", 0);
  if (indices.getRank() < 1)
    return ctx.fail("GatherND indices need rank >= 1");
  int64_t depth = indices.getShape().back();
  if (batchDims < 0 || batchDims + depth > data.getRank())
    return ctx.fail("GatherND index depth exceeds the data rank");
  if (batchDims >= indices.getRank() ||
      indices.getShape().take_front(batchDims) !=
          data.getShape().take_front(batchDims))
    return ctx.fail("GatherND batch dimensions of indices and data differ");
  SmallVector<int64_t> shape(indices.getShape().drop_back());
  llvm::append_range(shape, data.getShape().drop_front(batchDims + depth));
  ctx.setOutput(0, ctx.create<GatherNdOp>(
                       RankedTensorType::get(shape, data.getElementType()),
                       ctx.input(0), ctx.input(1),
                       ctx.getBuilder().getI64IntegerAttr(batchDims)));
  return success();
}

/// OneHot: values[1] where the position along `axis` equals the index
/// (negative indices count from `depth`), values[0] elsewhere; `depth` must
/// be a compile-time constant.
LogicalResult convertOneHot(NodeContext &ctx) {
  auto indices = ctx.inputType(0);
  if (!indices.hasStaticShape())
    return ctx.fail("needs static index shapes (fix them with --input-shape)");
  auto depthValue = ctx.constantInput(1);
  if (!depthValue || depthValue->getNumElements() != 1)
    return ctx.fail("depth (input 1) must be a compile-time constant scalar; "
                    "its value depends on the model's inputs");
  int64_t depth = int64_t(depthValue->getDouble(0));
  if (depth < 1)
    return ctx.fail("depth must be positive, not " + Twine(depth));
  auto values = ctx.inputType(2);
  if (values.getNumElements() != 2)
    return ctx.fail("values must hold [off, on]");
  int64_t rank = indices.getRank() + 1;
  auto axis = ctx.normalizeAxis(ctx.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type();
  // Indices as int64 (floats truncate, as ONNX says), negatives wrapped.
  Value idx = ctx.input(0);
  if (indices.getElementType() != i64)
    idx = ctx.cast(idx, i64);
  auto negative = ctx.binary<LessOp>(idx, ctx.splat(i64, {}, 0), true);
  auto wrapped = ctx.binary<AddOp>(idx, ctx.splat(i64, {}, double(depth)));
  if (failed(negative) || failed(wrapped))
    return failure();
  idx = ctx.create<SelectOp>(tensorType(idx), *negative, *wrapped, idx);
  SmallVector<int64_t> expanded(indices.getShape());
  expanded.insert(expanded.begin() + *axis, 1);
  idx = ctx.reshape(idx, expanded);
  SmallVector<int64_t> iotaShape(rank, 1);
  iotaShape[*axis] = depth;
  ConstantTensor iota(RankedTensorType::get(iotaShape, i64));
  for (int64_t i = 0; i < depth; ++i)
    iota.setInt(i, i);
  auto hit = ctx.binary<EqualOp>(idx, ctx.constant(iota), true);
  if (failed(hit))
    return failure();
  Type element = values.getElementType();
  Value flat = ctx.reshape(ctx.input(2), {2});
  auto pick = [&](int64_t i) -> Value {
    auto one = RankedTensorType::get({1}, element);
    Value v = ctx.create<SliceOp>(one, flat, b.getDenseI64ArrayAttr({i}),
                                  b.getDenseI64ArrayAttr({1}));
    return ctx.reshape(v, {});
  };
  ctx.setOutput(0,
                ctx.create<SelectOp>(
                    RankedTensorType::get(tensorType(*hit).getShape(), element),
                    *hit, pick(1), pick(0)));
  return success();
}

/// ScatterND with compile-time indices. Exports build index tables with it
/// (BEiT's relative position index): with constant data and updates too it
/// folds, any reduction. Otherwise (reduction none) it is a select between
/// the data's rows and a gather of the update rows that last write each
/// one, both by constant tables: data as [rows, slice], updates as
/// [tuples, slice].
LogicalResult convertScatterNd(NodeContext &ctx) {
  auto data = ctx.inputType(0), indices = ctx.inputType(1),
       updates = ctx.inputType(2);
  if (!data.hasStaticShape() || !indices.hasStaticShape() ||
      !updates.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  auto index = ctx.constantInput(1);
  if (!index)
    return ctx.fail("ScatterND with indices computed at run time is not "
                    "supported (indices, input 1, depend on the model's "
                    "inputs)");
  int64_t r = data.getRank(), q = indices.getRank();
  int64_t k = q ? indices.getDimSize(q - 1) : 0;
  if (q < 1 || k < 1 || k > r)
    return ctx.fail("indices must be [..., k] with 1 <= k <= rank(data)");
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(k));
  if (updates.getShape() != ArrayRef<int64_t>(expected))
    return ctx.fail("updates must have shape indices.shape[:-1] + "
                    "data.shape[k:]");
  std::string reduction = ctx.attrString("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" &&
      reduction != "max" && reduction != "min")
    return ctx.fail("unknown reduction '" + reduction + "'");
  int64_t slice = 1, rows = 1;
  for (int64_t d = 0; d < r; ++d)
    (d < k ? rows : slice) *= data.getDimSize(d);
  int64_t tuples = index->getNumElements() / k;
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
  if (reduction != "none")
    return ctx.fail("reduction '" + reduction +
                    "' of data or updates computed at run time is not "
                    "supported");
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type(), element = data.getElementType();
  ConstantTensor source(RankedTensorType::get({rows}, i64));
  ConstantTensor written(RankedTensorType::get({rows, 1}, b.getI1Type()));
  for (int64_t t = 0; t < tuples; ++t) {
    source.setInt(target[t], t);
    written.setDouble(target[t], 1.0);
  }
  Value flatData = ctx.reshape(ctx.input(0), {rows, slice});
  Value flatUpdates = ctx.reshape(ctx.input(2), {tuples, slice});
  auto rowsType = RankedTensorType::get({rows, slice}, element);
  Value picked = ctx.create<GatherOp>(
      rowsType, flatUpdates, ctx.constant(source), b.getI64IntegerAttr(0));
  Value merged =
      ctx.create<SelectOp>(rowsType, ctx.constant(written), picked, flatData);
  ctx.setOutput(0, ctx.reshape(merged, data.getShape()));
  return success();
}

} // namespace

void registerGatherOps(ConverterRegistry &r) {
  r["Gather"] = convertGather;
  r["GatherElements"] = convertGatherElements;
  r["OneHot"] = convertOneHot;
  r["ScatterND"] = convertScatterNd;
  r["GatherND"] = convertGatherNd;
}

} // namespace gaon::onnx
