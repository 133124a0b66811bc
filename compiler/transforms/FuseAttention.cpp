//===- FuseAttention.cpp - Fuse scaled dot-product attention --------------===//

#include "GraphMatchers.h"

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gaon {
#define GEN_PASS_DEF_FUSEATTENTION
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

/// Peels multiplications and divisions by splat constants off `value`,
/// folding them into `scale`.
Value peelScale(Value value, double &scale) {
  while (true) {
    if (auto div = value.getDefiningOp<DivOp>()) {
      auto c = getSplatValue(div.getRhs());
      if (c && *c != 0 && div.getLhs().getType() == div.getType()) {
        scale /= *c;
        value = div.getLhs();
        continue;
      }
    }
    if (auto mul = value.getDefiningOp<MulOp>()) {
      bool peeled = false;
      for (auto [x, k] : {std::pair(mul.getLhs(), mul.getRhs()),
                          std::pair(mul.getRhs(), mul.getLhs())}) {
        auto c = getSplatValue(k);
        if (c && x.getType() == mul.getType()) {
          scale *= *c;
          value = x;
          peeled = true;
          break;
        }
      }
      if (peeled)
        continue;
    }
    return value;
  }
}

bool isRank4(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.getRank() == 4;
}

struct FuseAttentionPattern : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    auto softmax = op.getLhs().getDefiningOp<SoftmaxOp>();
    Value v = op.getRhs();
    if (!softmax || softmax.getLog() || !isRank4(v) || !isRank4(op) ||
        softmax.getAxis() != 3)
      return failure();
    // scores = scale * (Q K^T) [+ mask]
    Value scores = softmax.getInput(), mask;
    double scale = 1.0;
    scores = peelScale(scores, scale);
    if (auto add = scores.getDefiningOp<AddOp>()) {
      // The operand that leads (through scalings) to Q K^T; the other is the
      // additive mask.
      for (auto [s, m] : {std::pair(add.getLhs(), add.getRhs()),
                          std::pair(add.getRhs(), add.getLhs())}) {
        double trial = scale;
        Value peeled = peelScale(s, trial);
        if (s.getType() == add.getType() && peeled.getDefiningOp<MatMulOp>()) {
          scores = peeled;
          scale = trial;
          mask = m;
          break;
        }
      }
      if (!mask)
        return failure();
    }
    auto qk = scores.getDefiningOp<MatMulOp>();
    if (!qk || !isRank4(qk.getLhs()) || !isRank4(qk.getRhs()))
      return failure();
    Value q = peelScale(qk.getLhs(), scale);
    Value kt = peelScale(qk.getRhs(), scale);
    auto qType = cast<RankedTensorType>(q.getType());
    auto ktType = cast<RankedTensorType>(kt.getType());
    auto vType = cast<RankedTensorType>(v.getType());
    // Q [B,H,Sq,D], K^T [B,H,D,Sk], V [B,H,Sk,Dv], all of one batch/heads.
    if (qType.getShape().take_front(2) != ktType.getShape().take_front(2) ||
        vType.getShape().take_front(2) != qType.getShape().take_front(2) ||
        ktType.getDimSize(3) != vType.getDimSize(2) ||
        qType.getElementType() != vType.getElementType())
      return failure();
    if (mask && mask.getType() != op.getLhs().getType()) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      auto shape = broadcastShapes(maskType.getShape(),
                                   cast<RankedTensorType>(
                                       softmax.getType()).getShape());
      if (failed(shape) || maskType.getElementType() != qType.getElementType())
        return failure();
    }
    SmallVector<int64_t> kShape = {ktType.getDimSize(0), ktType.getDimSize(1),
                                   ktType.getDimSize(3), ktType.getDimSize(2)};
    Value k = TransposeOp::create(
        rewriter, op.getLoc(),
        RankedTensorType::get(kShape, ktType.getElementType()), kt,
        rewriter.getDenseI64ArrayAttr({0, 1, 3, 2}));
    rewriter.replaceOpWithNewOp<AttentionOp>(
        op, op.getType(), q, k, v, mask, rewriter.getF64FloatAttr(scale),
        rewriter.getBoolAttr(false));
    return success();
  }
};

struct FuseAttentionPass : impl::FuseAttentionBase<FuseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseAttentionPattern>(&getContext());
    TransposeOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
