//===- FuseRmsNorm.cpp - Fuse RMS normalization into gaon_graph.rms_norm --===//

#include "GraphMatchers.h"

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gaon {
#define GEN_PASS_DEF_FUSERMSNORM
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

/// The argument `a` of rsqrt(a), reciprocal(sqrt(a)) or 1 / sqrt(a).
Value matchRsqrt(Value value) {
  if (auto rsqrt = value.getDefiningOp<RsqrtOp>())
    return rsqrt.getInput();
  Value sqrtOf;
  if (auto reciprocal = value.getDefiningOp<ReciprocalOp>())
    sqrtOf = reciprocal.getInput();
  else if (auto div = value.getDefiningOp<DivOp>();
           div && isSplatNear(div.getLhs(), 1.0, 0.0))
    sqrtOf = div.getRhs();
  auto sqrt = sqrtOf ? sqrtOf.getDefiningOp<SqrtOp>() : nullptr;
  return sqrt ? sqrt.getInput() : Value();
}

/// x^2 as pow(x, 2) or x * x; returns x.
Value matchSquare(Value value) {
  if (auto pow = value.getDefiningOp<PowOp>())
    return isSplatNear(pow.getRhs(), 2.0, 0.0) ? pow.getLhs() : Value();
  if (auto mul = value.getDefiningOp<MulOp>())
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : Value();
  return nullptr;
}

struct FuseRmsNormPattern : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    // Let the outermost product (which includes the scale) match.
    if (op->hasOneUse() && isa<MulOp>(*op->getUsers().begin()))
      return failure();
    auto factors = getProductFactors(op.getResult());
    if (factors.size() < 2 || factors.size() > 3)
      return failure();
    Value variancePlusEps;
    Value rsqrt = takeFactor(factors, [&](Value v) {
      return bool(variancePlusEps = matchRsqrt(v));
    });
    if (!rsqrt)
      return failure();
    auto terms = getSumTerms(variancePlusEps, 1);
    std::optional<double> epsilon;
    Value eps = takeFactor(
        terms, [&](Value v) { return bool(epsilon = getSplatValue(v)); });
    if (!eps || terms.size() != 1)
      return failure();
    auto mean = terms.front().getDefiningOp<ReduceMeanOp>();
    if (!mean || !mean.getKeepDims())
      return failure();
    Value x = matchSquare(mean.getInput());
    auto xType = x ? dyn_cast<RankedTensorType>(x.getType()) : nullptr;
    if (!xType || xType != op.getType() || mean.getAxes().size() != 1 ||
        mean.getAxes()[0] != xType.getRank() - 1)
      return failure();
    if (!takeFactor(factors, [&](Value v) { return v == x; }))
      return failure();
    int64_t axis = xType.getRank() - 1, dim = xType.getShape().back();
    Value scale;
    if (factors.empty()) {
      auto type = RankedTensorType::get({dim}, xType.getElementType());
      scale = ConstantOp::create(
          rewriter, op.getLoc(),
          DenseElementsAttr::get(
              type, rewriter.getFloatAttr(xType.getElementType(), 1.0)));
    } else {
      scale = factors.front();
      auto scaleType = cast<RankedTensorType>(scale.getType());
      if (scaleType.getElementType() != xType.getElementType() ||
          scaleType.getNumElements() != dim ||
          (scaleType.getRank() > 0 && scaleType.getShape().back() != dim))
        return failure();
      if (scaleType.getRank() != 1)
        scale = ReshapeOp::create(
            rewriter, op.getLoc(),
            RankedTensorType::get({dim}, xType.getElementType()), scale);
    }
    rewriter.replaceOpWithNewOp<RmsNormOp>(op, xType, x, scale,
                                           rewriter.getI64IntegerAttr(axis),
                                           rewriter.getF64FloatAttr(*epsilon));
    return success();
  }
};

struct FuseRmsNormPass : impl::FuseRmsNormBase<FuseRmsNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseRmsNormPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     fusionRewriteConfig())))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
