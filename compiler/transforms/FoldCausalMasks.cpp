//===- FoldCausalMasks.cpp - Constant causal masks -> causal attention ----===//
//
// Exported GPT-2 folds its causal `select(tril, scores, -inf)` into an
// additive S x S constant per layer. As an operand, that mask costs every
// backend an S x S read per (batch, head) and hides that half the keys never
// count; as the `causal` flag, flash-style kernels skip the key blocks above
// the diagonal. Exact: masked keys get exp(-inf) = exp(-1e30 + s) = 0
// either way, as long as every query keeps a key. Not where a finite-fill
// padding mask hides all of a query's causal keys (left padding): that row
// attends to every key in the export, to its causal keys here. Only padded
// query rows differ; a mask select of -inf is split exactly (both zeros).
//
//===----------------------------------------------------------------------===//

#include "GraphMatchers.h"
#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace gaon {
#define GEN_PASS_DEF_FOLDCAUSALMASKS
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

/// True when `value` is a constant [1.., S, S] whose every element v at
/// (i, j) passes `fits(v, j <= i)`: a causal pattern.
bool isCausalConstant(Value value, function_ref<bool(Type)> elementFits,
                      function_ref<bool(double, bool)> fits) {
  auto constant = value.getDefiningOp<ConstantOp>();
  auto type = cast<RankedTensorType>(value.getType());
  if (!constant || type.getRank() < 2 || !elementFits(type.getElementType()))
    return false;
  int64_t rows = type.getDimSize(type.getRank() - 2),
          cols = type.getShape().back();
  if (rows != cols || type.getNumElements() != rows * cols)
    return false;
  std::optional<ConstantTensor> tensor =
      ConstantTensor::fromAttr(constant.getValue());
  if (!tensor)
    return false;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      if (!fits(tensor->getDouble(i * cols + j), j <= i))
        return false;
  return true;
}

/// An additive mask that is 0 on and below the diagonal and -inf-like
/// (<= -1e30, so exp underflows to exactly 0 whatever the score) above it:
/// top-left causal masking.
bool isCausalMaskConstant(Value value) {
  return isCausalConstant(
      value, [](Type t) { return isa<FloatType>(t); },
      [](double v, bool seen) { return seen ? v == 0.0 : v <= -1e30; });
}

/// A boolean that is true exactly on and below the diagonal: the keys a
/// causal query may see.
bool isCausalConditionConstant(Value value) {
  return isCausalConstant(
      value, [](Type t) { return t.isInteger(1); },
      [](double v, bool seen) { return (v != 0) == seen; });
}

/// torch's SDPA export builds the additive mask from a boolean one,
/// select(allowed, 0, -inf), where allowed = causal [and padding]. Returns
/// true when `mask` is that with a causal constant, and in `rest` the mask
/// of what else it and-ed in (null if nothing): select(padding, 0, -inf).
bool splitCausalSelect(PatternRewriter &rewriter, Value mask, Value &rest) {
  auto select = mask.getDefiningOp<SelectOp>();
  if (!select)
    return false;
  auto zero = getSplatValue(select.getLhs());
  auto fill = getSplatValue(select.getRhs());
  if (!zero || *zero != 0 || !fill || *fill > -1e30)
    return false;
  Value condition = select.getCondition();
  if (isCausalConditionConstant(condition)) {
    rest = Value();
    return true;
  }
  // With a finite fill (finfo.min), a query whose every key is masked, by
  // causality or padding (left padding), attends uniformly to all keys;
  // split, the padding's fill would leave it the causal keys only. With
  // -inf such a row is -inf throughout either way (zeros, see the op).
  auto both = condition.getDefiningOp<AndOp>();
  if (!both || !std::isinf(*fill))
    return false;
  Value other;
  if (isCausalConditionConstant(both.getLhs()))
    other = both.getRhs();
  else if (isCausalConditionConstant(both.getRhs()))
    other = both.getLhs();
  else
    return false;
  auto shapeOf = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  };
  auto fills =
      broadcastShapes(shapeOf(select.getLhs()), shapeOf(select.getRhs()));
  if (failed(fills))
    return false;
  auto shape = broadcastShapes(shapeOf(other), *fills);
  if (failed(shape))
    return false;
  rewriter.setInsertionPoint(select);
  rest = SelectOp::create(
      rewriter, select.getLoc(),
      RankedTensorType::get(*shape, select.getType().getElementType()), other,
      select.getLhs(), select.getRhs());
  return true;
}

/// attention(mask = causal constant [+ other]) -> causal attention with the
/// other mask (or none).
struct CausalMaskToFlag : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Value mask = op.getMask();
    if (!mask || op.getCausal())
      return failure();
    int64_t sq = op.getQuery().getType().getDimSize(2),
            sk = op.getKey().getType().getDimSize(2);
    if (sq != sk)
      return failure();
    Value rest;
    if (isCausalMaskConstant(mask)) {
      rest = Value();
    } else if (auto add = mask.getDefiningOp<AddOp>()) {
      // The other mask broadcasts to the sum, which broadcasts to the
      // scores: on its own it still masks every (batch, head, query, key)
      // it did (GPT-2 at batch 16: [1, 1, S, S] causal + [16, 1, 1, S]
      // padding).
      if (isCausalMaskConstant(add.getLhs()))
        rest = add.getRhs();
      else if (isCausalMaskConstant(add.getRhs()))
        rest = add.getLhs();
      else
        return failure();
    } else if (!splitCausalSelect(rewriter, mask, rest)) {
      return failure();
    }
    rewriter.modifyOpInPlace(op, [&] {
      op.setCausal(true);
      if (rest)
        op.getMaskMutable().assign(rest);
      else
        op.getMaskMutable().clear();
    });
    return success();
  }
};

struct FoldCausalMasksPass : impl::FoldCausalMasksBase<FoldCausalMasksPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<CausalMaskToFlag>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     fusionRewriteConfig())))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
