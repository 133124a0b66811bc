//===- LossOps.cpp - ONNX NLL and softmax cross-entropy losses ------------===//
//
// Exports of language models given labels (Hugging Face returns the loss
// then) end in SoftmaxCrossEntropyLoss: teams evaluate perplexity with it.
// Both losses are compositions: the class axis moved last, a log-softmax
// there, the labels' entries picked with GatherElements, per-class weights
// gathered, ignore_index masked, then the reduction.
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

LogicalResult convertLoss(NodeContext &ctx, bool softmax) {
  auto scores = ctx.inputType(0), labels = ctx.inputType(1);
  Type element = scores.getElementType();
  if (!isa<FloatType>(element))
    return ctx.fail("the scores must be a float tensor");
  if (!labels.getElementType().isSignlessInteger(32) &&
      !labels.getElementType().isSignlessInteger(64))
    return ctx.fail("the labels must be int32 or int64");
  int64_t rank = scores.getRank();
  if (rank < 2 || labels.getRank() != rank - 1 ||
      labels.getDimSize(0) != scores.getDimSize(0) ||
      labels.getShape().drop_front() != scores.getShape().drop_front(2))
    return ctx.fail("scores must be [N, C, d1, ...] and labels [N, d1, ...]");
  if (!scores.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  std::string reduction = ctx.attrString("reduction", "mean");
  if (reduction != "mean" && reduction != "sum" && reduction != "none")
    return ctx.fail("unknown reduction '" + reduction + "'");
  int64_t classes = scores.getDimSize(1);
  bool weighted = ctx.hasInput(2);
  if (weighted && (ctx.inputType(2).getRank() != 1 ||
                   ctx.inputType(2).getDimSize(0) != classes ||
                   ctx.inputType(2).getElementType() != element))
    return ctx.fail("weights must be [" + Twine(classes) +
                    "] of the scores' element type");
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type();
  // Classes last: [N, d1, ..., C].
  SmallVector<int64_t> toLast = {0};
  for (int64_t i = 2; i < rank; ++i)
    toLast.push_back(i);
  toLast.push_back(1);
  Value x = ctx.transpose(ctx.input(0), toLast);
  if (softmax)
    x = ctx.create<SoftmaxOp>(tensorType(x), x, b.getI64IntegerAttr(rank - 1),
                              b.getBoolAttr(true));
  Value target = ctx.input(1);
  if (labels.getElementType() != i64)
    target = ctx.cast(target, i64);
  // Ignored labels pick class 0 and weigh nothing.
  Value valid;
  if (ctx.hasAttr("ignore_index")) {
    auto ignore = ctx.splat(i64, {}, double(ctx.attrInt("ignore_index", 0)));
    auto same = ctx.binary<EqualOp>(target, ignore, true);
    if (failed(same))
      return failure();
    valid = ctx.create<NotOp>(tensorType(*same), *same);
    target = ctx.create<SelectOp>(tensorType(target), valid, target,
                                  ctx.splat(i64, {}, 0));
  }
  SmallVector<int64_t> column(labels.getShape());
  column.push_back(1);
  Value picked = ctx.create<GatherElementsOp>(
      RankedTensorType::get(column, element), x, ctx.reshape(target, column),
      b.getI64IntegerAttr(rank - 1));
  picked = ctx.reshape(picked, labels.getShape());
  auto lossType = RankedTensorType::get(labels.getShape(), element);
  Value weight = weighted ? ctx.create<GatherOp>(lossType, ctx.input(2), target,
                                                 b.getI64IntegerAttr(0))
                          : ctx.splat(element, labels.getShape(), 1.0);
  if (valid)
    weight = ctx.create<SelectOp>(lossType, valid, weight,
                                  ctx.splat(element, {}, 0.0));
  auto product = ctx.binary<MulOp>(picked, weight);
  if (failed(product))
    return failure();
  Value loss = ctx.create<NegOp>(lossType, *product);
  if (reduction != "none") {
    SmallVector<int64_t> all =
        llvm::to_vector(llvm::seq<int64_t>(0, labels.getRank()));
    auto scalar = RankedTensorType::get({}, element);
    auto sum = [&](Value v) {
      return ctx.create<ReduceSumOp>(scalar, v, b.getDenseI64ArrayAttr(all),
                                     b.getBoolAttr(false));
    };
    loss = sum(loss);
    if (reduction == "mean") {
      auto mean = ctx.binary<DivOp>(loss, sum(weight));
      if (failed(mean))
        return failure();
      loss = *mean;
    }
  }
  ctx.setOutput(0, loss);
  if (softmax && ctx.hasOutput(1)) {
    SmallVector<int64_t> back(rank);
    for (int64_t i = 0; i < rank; ++i)
      back[toLast[i]] = i;
    ctx.setOutput(1, ctx.transpose(x, back));
  }
  return success();
}

} // namespace

void registerLossOps(ConverterRegistry &r) {
  r["NegativeLogLikelihoodLoss"] = [](NodeContext &c) {
    return convertLoss(c, false);
  };
  r["SoftmaxCrossEntropyLoss"] = [](NodeContext &c) {
    return convertLoss(c, true);
  };
}

} // namespace gaon::onnx
