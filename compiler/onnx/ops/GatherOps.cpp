//===- GatherOps.cpp - ONNX Gather, GatherElements, GatherND --------------===//

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

} // namespace

void registerGatherOps(ConverterRegistry &r) {
  r["Gather"] = convertGather;
  r["GatherElements"] = convertGatherElements;
  r["GatherND"] = convertGatherNd;
}

} // namespace gaon::onnx
