//===- ImageOps.cpp - ONNX ops of NCHW image models
//------------------------===//
//
// Inference-mode batch norm, depth/space rearrangements and global pooling,
// as the graph ops every backend already runs (affine per channel,
// reshape/transpose, reductions).
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

LogicalResult requireImage(NodeContext &ctx, int64_t minRank) {
  auto type = ctx.inputType(0);
  if (type.getRank() < minRank)
    return ctx.fail("the input must be [N, C, ...] of rank >= " +
                    Twine(minRank) + ", not " + Twine(type.getRank()));
  if (!type.hasStaticShape())
    return ctx.fail("needs a static input shape (fix it with --input-shape)");
  return success();
}

/// BatchNormalization in inference mode: x * a + b per channel, with
/// a = scale / sqrt(var + epsilon) and b = bias - mean * a (constants fold
/// when the statistics are).
LogicalResult convertBatchNorm(NodeContext &ctx) {
  if (failed(requireImage(ctx, 2)))
    return failure();
  if (ctx.attrInt("training_mode", 0) != 0 || ctx.hasOutput(1) ||
      ctx.hasOutput(2))
    return ctx.fail("training mode (running statistics as outputs) is not "
                    "supported");
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return ctx.fail("the input must be a float tensor");
  int64_t c = type.getDimSize(1);
  SmallVector<int64_t> perChannel(type.getRank() - 1, 1);
  perChannel[0] = c;
  SmallVector<Value> params;
  for (int i = 1; i <= 4; ++i) {
    auto t = ctx.inputType(i);
    if (t.getNumElements() != c)
      return ctx.fail("input " + Twine(i) +
                      " must hold one value per channel (" + Twine(c) + ")");
    Value v = ctx.reshape(ctx.input(i), perChannel);
    if (t.getElementType() != element)
      v = ctx.cast(v, element);
    params.push_back(v);
  }
  auto shifted = ctx.binary<AddOp>(
      params[3], ctx.splat(element, {}, ctx.attrFloat("epsilon", 1e-5f)));
  if (failed(shifted))
    return failure();
  auto a = ctx.binary<DivOp>(
      params[0], ctx.create<SqrtOp>(tensorType(*shifted), *shifted));
  if (failed(a))
    return failure();
  auto meanA = ctx.binary<MulOp>(params[2], *a);
  if (failed(meanA))
    return failure();
  auto b = ctx.binary<SubOp>(params[1], *meanA);
  auto scaled = ctx.binary<MulOp>(ctx.input(0), *a);
  if (failed(b) || failed(scaled))
    return failure();
  auto y = ctx.binary<AddOp>(*scaled, *b);
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  return success();
}

/// DepthToSpace and SpaceToDepth on [N, C, H, W] with block size b.
LogicalResult convertDepthSpace(NodeContext &ctx, bool toSpace) {
  if (failed(requireImage(ctx, 4)))
    return failure();
  auto shape = ctx.inputType(0).getShape();
  if (shape.size() != 4)
    return ctx.fail("the input must be [N, C, H, W]");
  int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  int64_t b = ctx.attrInt("blocksize", 0);
  if (b <= 0)
    return ctx.fail("blocksize must be positive");
  if (toSpace) {
    if (c % (b * b) != 0)
      return ctx.fail("the channels (" + Twine(c) +
                      ") are not a multiple of blocksize^2 (" + Twine(b * b) +
                      ")");
    std::string mode = ctx.attrString("mode", "DCR");
    if (mode != "DCR" && mode != "CRD")
      return ctx.fail("unknown mode '" + mode + "'");
    int64_t d = c / (b * b);
    bool dcr = mode == "DCR";
    Value split =
        ctx.reshape(ctx.input(0), dcr ? SmallVector<int64_t>{n, b, b, d, h, w}
                                      : SmallVector<int64_t>{n, d, b, b, h, w});
    Value moved =
        ctx.transpose(split, dcr ? SmallVector<int64_t>{0, 3, 4, 1, 5, 2}
                                 : SmallVector<int64_t>{0, 1, 4, 2, 5, 3});
    ctx.setOutput(0, ctx.reshape(moved, {n, d, h * b, w * b}));
    return success();
  }
  if (h % b != 0 || w % b != 0)
    return ctx.fail("the height and width (" + Twine(h) + ", " + Twine(w) +
                    ") are not multiples of blocksize " + Twine(b));
  Value split = ctx.reshape(ctx.input(0), {n, c, h / b, b, w / b, b});
  Value moved = ctx.transpose(split, {0, 3, 5, 1, 2, 4});
  ctx.setOutput(0, ctx.reshape(moved, {n, c * b * b, h / b, w / b}));
  return success();
}

/// GlobalAveragePool and GlobalMaxPool: over every spatial dimension,
/// kept as size 1.
template <typename OpTy> LogicalResult convertGlobalPool(NodeContext &ctx) {
  if (failed(requireImage(ctx, 3)))
    return failure();
  auto type = ctx.inputType(0);
  SmallVector<int64_t> axes =
      llvm::to_vector(llvm::seq<int64_t>(2, type.getRank()));
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t a : axes)
    shape[a] = 1;
  auto &b = ctx.getBuilder();
  ctx.setOutput(
      0, ctx.create<OpTy>(RankedTensorType::get(shape, type.getElementType()),
                          ctx.input(0), b.getDenseI64ArrayAttr(axes),
                          b.getBoolAttr(true)));
  return success();
}

} // namespace

void registerImageOps(ConverterRegistry &r) {
  r["BatchNormalization"] = convertBatchNorm;
  r["DepthToSpace"] = [](NodeContext &c) { return convertDepthSpace(c, true); };
  r["SpaceToDepth"] = [](NodeContext &c) {
    return convertDepthSpace(c, false);
  };
  r["GlobalAveragePool"] = convertGlobalPool<ReduceMeanOp>;
  r["GlobalMaxPool"] = convertGlobalPool<ReduceMaxOp>;
}

} // namespace gaon::onnx
