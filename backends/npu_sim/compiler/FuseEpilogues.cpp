//===- FuseEpilogues.cpp - Fuse matmul epilogues for the NPU --------------===//

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUFUSEEPILOGUES
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

/// The single user of `value`, if it has exactly one use.
Operation *soleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// For `add(value, other)`, the other operand.
Value otherOperand(graph::AddOp add, Value value) {
  return add.getLhs() == value ? add.getRhs() : add.getLhs();
}

/// Follows `value` through reshapes that keep the last dimension (exporters
/// flatten batch dims around matmuls), returning the value reached.
Value skipRowReshapes(Value value, int64_t columns) {
  while (auto reshape = dyn_cast_or_null<graph::ReshapeOp>(soleUser(value))) {
    if (reshape.getType().getRank() == 0 ||
        reshape.getType().getShape().back() != columns)
      break;
    value = reshape.getResult();
  }
  return value;
}

struct FuseMatMulEpilogue : OpRewritePattern<graph::MatMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(graph::MatMulOp op,
                                PatternRewriter &rewriter) const override {
    auto type = op.getType();
    int64_t columns = type.getShape().back();
    Value current = skipRowReshapes(op.getResult(), columns), bias, residual;
    StringRef activation = "none";
    Operation *last = nullptr;

    // Bias: an add of one value per column that does not widen the result.
    if (auto add = dyn_cast_or_null<graph::AddOp>(soleUser(current))) {
      Value other = otherOperand(add, current);
      auto otherType = cast<RankedTensorType>(other.getType());
      if (add.getType() == current.getType() &&
          otherType.getNumElements() == columns &&
          otherType.getShape().back() == columns && other != current) {
        bias = other;
        current = skipRowReshapes(add.getResult(), columns);
        last = add;
      }
    }
    if (Operation *user = soleUser(current)) {
      StringRef act = llvm::TypeSwitch<Operation *, StringRef>(user)
                          .Case([](graph::ReluOp) { return "relu"; })
                          .Case([](graph::SiluOp) { return "silu"; })
                          .Case([](graph::GeluOp g) {
                            return g.getApproximate() ? "gelu_tanh" : "gelu";
                          })
                          .Default([](Operation *) { return ""; });
      if (!act.empty()) {
        activation = act;
        current = skipRowReshapes(user->getResult(0), columns);
        last = user;
      }
    }
    // Residual: an add of a tensor of the (possibly reshaped) result's type.
    if (auto add = dyn_cast_or_null<graph::AddOp>(soleUser(current))) {
      Value other = otherOperand(add, current);
      if (add.getType() == current.getType() &&
          other.getType() == current.getType() && other != current) {
        residual = other;
        last = add;
      }
    }
    if (!last)
      return failure();
    rewriter.setInsertionPoint(last);
    Location loc = last->getLoc();
    if (residual && residual.getType() != type)
      residual = graph::ReshapeOp::create(rewriter, loc, type, residual);
    Value fused = MatMulOp::create(rewriter, loc, type, op.getLhs(),
                                   op.getRhs(), bias, residual, Value(),
                                   Value(), rewriter.getStringAttr(activation));
    Type lastType = last->getResult(0).getType();
    if (lastType != type)
      fused = graph::ReshapeOp::create(rewriter, loc, lastType, fused);
    rewriter.replaceOp(last, fused);
    return success();
  }
};

/// A float cast of a matmul's only use becomes the matmul's output dtype:
/// the kernel rounds its fp32 accumulators once, straight to the cast's
/// type, instead of storing the product and reading it back to convert it
/// (GPT-2's bf16 logits cast to fp32: 39 MB of DRAM traffic).
struct FoldMatMulCast : OpRewritePattern<graph::CastOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(graph::CastOp cast,
                                PatternRewriter &rewriter) const override {
    Value input = cast.getInput();
    Operation *producer = input.getDefiningOp();
    if (!producer || !input.hasOneUse() ||
        !isa<FloatType>(getElementTypeOrSelf(input.getType())) ||
        !isa<FloatType>(getElementTypeOrSelf(cast.getType())))
      return failure();
    Value lhs, rhs, bias;
    StringAttr activation = rewriter.getStringAttr("none");
    if (auto mm = dyn_cast<graph::MatMulOp>(producer)) {
      // Integer products widen on their own; only float products fold.
      lhs = mm.getLhs();
      rhs = mm.getRhs();
    } else if (auto mm = dyn_cast<MatMulOp>(producer)) {
      // The residual must have the result's type: keep those as they are.
      if (mm.getResidual())
        return failure();
      lhs = mm.getLhs();
      rhs = mm.getRhs();
      bias = mm.getBias();
      activation = mm.getActivationAttr();
    } else {
      return failure();
    }
    rewriter.setInsertionPoint(cast);
    Value fused =
        MatMulOp::create(rewriter, cast.getLoc(), cast.getType(), lhs, rhs,
                         bias, Value(), Value(), Value(), activation);
    rewriter.replaceOp(cast, fused);
    rewriter.eraseOp(producer);
    return success();
  }
};

struct NpuFuseEpiloguesPass : impl::NpuFuseEpiloguesBase<NpuFuseEpiloguesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseMatMulEpilogue, FoldMatMulCast>(&getContext());
    // Matching only: folding here re-tried the folders on every weight's
    // users, 0.4 s on BERT-base; the canonicalizer folds.
    GreedyRewriteConfig config;
    config.enableFolding(false).enableConstantCSE(false);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon::npu
