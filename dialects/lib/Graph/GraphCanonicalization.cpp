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
    // Transposes that undo each other go at once, also where a pattern
    // driver runs without folders (the identity transpose's folder).
    if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size()))) {
      rewriter.replaceOp(op, producer.getInput());
      return success();
    }
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

/// reshape(transpose(z)) -> transpose(reshape(z)) where the transpose keeps
/// z's leading dims in place and the reshape only regroups those leading
/// dims. torch.export writes a batched K^T as [B,H,S,D] -> [B*H,S,D] ->
/// transpose -> [B,H,D,S]; with the reshapes next to each other they fold,
/// and the transposes compose with the attention's own.
struct ReshapeOfTransposeOfTrailingDims : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto transpose = op.getInput().getDefiningOp<TransposeOp>();
    if (!transpose)
      return failure();
    auto source = cast<RankedTensorType>(transpose.getInput().getType());
    auto permuted = cast<RankedTensorType>(transpose.getType());
    auto result = cast<RankedTensorType>(op.getType());
    if (!source.hasStaticShape() || !result.hasStaticShape())
      return failure();
    ArrayRef<int64_t> perm = transpose.getPerm();
    int64_t rank = permuted.getRank(), leading = 0;
    while (leading < rank && perm[leading] == leading)
      ++leading;
    int64_t trailing = rank - leading;
    ArrayRef<int64_t> out = result.getShape();
    if (leading == 0 || trailing == 0 || result.getRank() < trailing ||
        out.take_back(trailing) != permuted.getShape().drop_front(leading))
      return failure();
    int64_t newLeading = result.getRank() - trailing;
    SmallVector<int64_t> shape(out.take_front(newLeading));
    llvm::append_range(shape, source.getShape().drop_front(leading));
    SmallVector<int64_t> newPerm;
    for (int64_t i = 0; i < newLeading; ++i)
      newPerm.push_back(i);
    for (int64_t p : perm.drop_front(leading))
      newPerm.push_back(p - leading + newLeading);
    Value regrouped =
        ReshapeOp::create(rewriter, op.getLoc(),
                          RankedTensorType::get(shape, source.getElementType()),
                          transpose.getInput());
    rewriter.replaceOpWithNewOp<TransposeOp>(op, result, regrouped, newPerm);
    return success();
  }
};

/// gather(x, constant indices) along an axis where the indices step evenly
/// (a single index, or a fused QKV's [..., 0, :] / [..., 1, :]) is a strided
/// slice, reshaped to the gather's result: a view every backend moves with
/// its DMA or folds into the consumer, not a lookup.
struct GatherOfEvenIndicesToSlice : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    auto dataType = cast<RankedTensorType>(op.getData().getType());
    Attribute attr;
    if (!dataType.hasStaticShape() ||
        !cast<RankedTensorType>(op.getType()).hasStaticShape() ||
        !matchPattern(op.getIndices(), m_Constant(&attr)))
      return failure();
    auto indices = ConstantTensor::fromAttr(attr);
    if (!indices || indices->getNumElements() == 0)
      return failure();
    int64_t axis = op.getAxis();
    if (axis < 0)
      axis += dataType.getRank();
    int64_t size = dataType.getDimSize(axis), count = indices->getNumElements();
    auto at = [&](int64_t i) {
      auto v = static_cast<int64_t>(indices->getDouble(i));
      return v < 0 ? v + size : v;
    };
    int64_t start = at(0), step = count > 1 ? at(1) - at(0) : 1;
    if (step == 0)
      return failure();
    for (int64_t i = 0; i < count; ++i)
      if (at(i) != start + i * step || at(i) < 0 || at(i) >= size)
        return failure();
    SmallVector<int64_t> starts(dataType.getRank(), 0),
        steps(dataType.getRank(), 1), shape(dataType.getShape());
    starts[axis] = start;
    steps[axis] = step;
    shape[axis] = count;
    Value slice =
        SliceOp::create(rewriter, op.getLoc(),
                        RankedTensorType::get(shape, dataType.getElementType()),
                        op.getData(), starts, steps);
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), slice);
    return success();
  }
};

} // namespace

void GatherOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<GatherOfEvenIndicesToSlice>(context);
}

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<ReshapeOfTransposeOfTrailingDims>(context);
}

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
