//===- PatchConvToMatmul.cpp - Patch convolutions as matmuls --------------===//

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gaon {
#define GEN_PASS_DEF_PATCHCONVTOMATMUL
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    p *= d;
  return p;
}

struct PatchConvPattern : OpRewritePattern<ConvOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ConvOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = cast<RankedTensorType>(op.getInput().getType());
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    auto yType = cast<RankedTensorType>(op.getType());
    if (!xType.hasStaticShape() || !wType.hasStaticShape() ||
        !yType.hasStaticShape() || op.getGroups() != 1)
      return failure();
    ArrayRef<int64_t> x = xType.getShape(), w = wType.getShape();
    int64_t spatial = xType.getRank() - 2;
    ArrayRef<int64_t> kernel = w.drop_front(2);
    if (spatial < 1 || op.getStrides() != kernel ||
        llvm::any_of(op.getPads(), [](int64_t p) { return p != 0; }) ||
        llvm::any_of(op.getDilations(), [](int64_t d) { return d != 1; }))
      return failure();
    int64_t n = x[0], c = x[1], o = w[0];
    SmallVector<int64_t> patches; // per spatial dim
    for (int64_t i = 0; i < spatial; ++i) {
      if (x[2 + i] % kernel[i] != 0)
        return failure();
      patches.push_back(x[2 + i] / kernel[i]);
    }
    int64_t p = product(patches), k = c * product(kernel);
    Type element = xType.getElementType();
    Location loc = op.getLoc();
    auto reshape = [&](Value v, ArrayRef<int64_t> shape) -> Value {
      return ReshapeOp::create(rewriter, loc,
                               RankedTensorType::get(shape, element), v);
    };
    auto transpose = [&](Value v, ArrayRef<int64_t> perm) -> Value {
      auto shape = cast<RankedTensorType>(v.getType()).getShape();
      SmallVector<int64_t> out;
      for (int64_t d : perm)
        out.push_back(shape[d]);
      return TransposeOp::create(rewriter, loc,
                                 RankedTensorType::get(out, element), v, perm);
    };
    // [N, C, P1, K1, ..., Pr, Kr] -> [N, P1, ..., Pr, C, K1, ..., Kr].
    SmallVector<int64_t> split = {n, c};
    SmallVector<int64_t> perm = {0};
    for (int64_t i = 0; i < spatial; ++i) {
      split.append({patches[i], kernel[i]});
      perm.push_back(2 + 2 * i);
    }
    perm.push_back(1);
    for (int64_t i = 0; i < spatial; ++i)
      perm.push_back(3 + 2 * i);
    Value rows = reshape(transpose(reshape(op.getInput(), split), perm),
                         {n, p, k});
    Value weights = transpose(reshape(op.getWeight(), {o, k}), {1, 0});
    Value y = MatMulOp::create(
        rewriter, loc, RankedTensorType::get({n, p, o}, element), rows,
        weights);
    if (Value bias = op.getBias())
      y = AddOp::create(rewriter, loc, y.getType(), y, bias);
    SmallVector<int64_t> outShape = {n, o};
    llvm::append_range(outShape, patches);
    rewriter.replaceOp(op, reshape(transpose(y, {0, 2, 1}), outShape));
    return success();
  }
};

struct PatchConvToMatmulPass
    : impl::PatchConvToMatmulBase<PatchConvToMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PatchConvPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
