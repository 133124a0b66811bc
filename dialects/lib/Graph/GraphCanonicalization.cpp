//===- GraphCanonicalization.cpp - gaon.graph canonical forms -------------===//

#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;

namespace gaon::graph {
namespace {

/// True when `value` is a constant whose every element equals `expected`.
bool isSplatOf(Value value, double expected) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return false;
  auto splat = dyn_cast<SplatElementsAttr>(attr);
  if (!splat)
    return false;
  auto tensor = ConstantTensor::fromAttr(splat);
  return tensor && tensor->getNumElements() > 0 &&
         tensor->getDouble(0) == expected;
}

/// `x op c` -> `x` when c is the identity element and the op does not
/// broadcast x to a larger shape (x + 0, x - 0, x * 1, x / 1).
template <typename OpTy> struct DropIdentityOperand : OpRewritePattern<OpTy> {
  DropIdentityOperand(MLIRContext *context, double identity, bool commutative)
      : OpRewritePattern<OpTy>(context), identity(identity),
        commutative(commutative) {}

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    auto tryOperand = [&](Value kept, Value other) {
      if (kept.getType() != op.getType() || !isSplatOf(other, identity))
        return false;
      rewriter.replaceOp(op, kept);
      return true;
    };
    if (tryOperand(op.getLhs(), op.getRhs()) ||
        (commutative && tryOperand(op.getRhs(), op.getLhs())))
      return success();
    return failure();
  }

  double identity;
  bool commutative;
};

/// transpose(transpose(x, p1), p2) -> transpose(x, p1[p2]).
struct ComposeTransposes : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto producer = op.getInput().getDefiningOp<TransposeOp>();
    if (!producer)
      return failure();
    SmallVector<int64_t> perm;
    for (int64_t p : op.getPerm())
      perm.push_back(producer.getPerm()[p]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(),
                                             producer.getInput(), perm);
    return success();
  }
};

/// A transpose that only moves size-1 dimensions keeps the element order:
/// it is a reshape.
struct TransposeOfUnitDimsToReshape : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto shape = op.getInput().getType().getShape();
    SmallVector<int64_t> nonUnit;
    for (int64_t p : op.getPerm())
      if (shape[p] != 1)
        nonUnit.push_back(p);
    if (!llvm::is_sorted(nonUnit))
      return failure();
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), op.getInput());
    return success();
  }
};

} // namespace

void AddOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                        MLIRContext *context) {
  results.add<DropIdentityOperand<AddOp>>(context, 0.0, true);
}

void MulOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                        MLIRContext *context) {
  results.add<DropIdentityOperand<MulOp>>(context, 1.0, true);
}

void DivOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                        MLIRContext *context) {
  results.add<DropIdentityOperand<DivOp>>(context, 1.0, false);
}

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<ComposeTransposes, TransposeOfUnitDimsToReshape>(context);
}

} // namespace gaon::graph
