//===- GatherOps.cpp - ONNX gathers, OneHot and ReverseSequence -----------===//

#include "../NodeContext.h"

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

/// ReverseSequence: along time_axis, the first sequence_lens[b] steps of
/// batch entry b reversed, the rest kept: a gather_elements whose index is
/// lens[b] - 1 - t where t < lens[b], else t (run-time lengths).
LogicalResult convertReverseSequence(NodeContext &ctx) {
  auto x = ctx.inputType(0), lens = ctx.inputType(1);
  if (!x.hasStaticShape() || !lens.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  if (!lens.getElementType().isInteger() || lens.getRank() != 1)
    return ctx.fail("sequence_lens must be a 1-D integer tensor");
  int64_t timeAxis = ctx.attrInt("time_axis", 0),
          batchAxis = ctx.attrInt("batch_axis", 1);
  if (x.getRank() < 2 ||
      !((timeAxis == 0 && batchAxis == 1) || (timeAxis == 1 && batchAxis == 0)))
    return ctx.fail("time_axis and batch_axis must be 0 and 1 (either way) "
                    "of an input of rank >= 2");
  int64_t steps = x.getDimSize(timeAxis), batch = x.getDimSize(batchAxis);
  if (lens.getDimSize(0) != batch)
    return ctx.fail("sequence_lens has " + Twine(lens.getDimSize(0)) +
                    " entries for a batch of " + Twine(batch));
  Type i64 = ctx.getBuilder().getI64Type();
  // [T, B] or [B, T] as the input's first two axes, 1 elsewhere.
  SmallVector<int64_t> timeShape(x.getRank(), 1), lensShape(x.getRank(), 1);
  timeShape[timeAxis] = steps;
  lensShape[batchAxis] = batch;
  ConstantTensor iota(RankedTensorType::get(timeShape, i64));
  for (int64_t t = 0; t < steps; ++t)
    iota.setInt(t, t);
  Value t = ctx.constant(iota);
  Value len = ctx.input(1);
  if (lens.getElementType() != i64)
    len = ctx.cast(len, i64);
  len = ctx.reshape(len, lensShape);
  auto inside = ctx.binary<LessOp>(t, len, true);
  auto last = ctx.binary<SubOp>(len, ctx.splat(i64, {}, 1));
  if (failed(inside) || failed(last))
    return failure();
  auto reversed = ctx.binary<SubOp>(*last, t);
  if (failed(reversed))
    return failure();
  Value index =
      ctx.create<SelectOp>(tensorType(*reversed), *inside, *reversed, t);
  index = ctx.create<BroadcastOp>(x.clone(i64), index);
  ctx.setOutput(0, ctx.create<GatherElementsOp>(
                       x, ctx.input(0), index,
                       ctx.getBuilder().getI64IntegerAttr(timeAxis)));
  return success();
}

} // namespace

void registerGatherOps(ConverterRegistry &r) {
  r["ReverseSequence"] = convertReverseSequence;
  r["Gather"] = convertGather;
  r["GatherElements"] = convertGatherElements;
  r["OneHot"] = convertOneHot;
  r["GatherND"] = convertGatherNd;
}

} // namespace gaon::onnx
