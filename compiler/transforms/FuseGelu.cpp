//===- FuseGelu.cpp - Fuse GELU expansions into gaon_graph.gelu -----------===//

#include "GraphMatchers.h"

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gaon {
#define GEN_PASS_DEF_FUSEGELU
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752;
constexpr double kSqrt2 = 1.41421356237309505;
constexpr double kSqrt2OverPi = 0.79788456080286536;
constexpr double kTanhCubicCoeff = 0.044715;

/// x / sqrt(2) or x * (1/sqrt(2)).
bool isScaledForErf(Value arg, Value x) {
  if (auto div = arg.getDefiningOp<DivOp>())
    return div.getLhs() == x && isSplatNear(div.getRhs(), kSqrt2);
  auto factors = getProductFactors(arg);
  return factors.size() == 2 &&
         takeFactor(factors,
                    [&](Value v) { return isSplatNear(v, kInvSqrt2); }) &&
         factors.front() == x;
}

/// x^3 written as pow(x, 3) or x * x * x.
bool isCube(Value value, Value x) {
  if (auto pow = value.getDefiningOp<PowOp>())
    return pow.getLhs() == x && isSplatNear(pow.getRhs(), 3.0, 0.0);
  auto factors = getProductFactors(value);
  return factors.size() == 3 && llvm::all_equal(factors) && factors[0] == x;
}

/// sqrt(2/pi) * (x + 0.044715 * x^3), in any association.
bool isScaledForTanh(Value arg, Value x) {
  auto factors = getProductFactors(arg, 1);
  if (factors.size() != 2 || !takeFactor(factors, [](Value v) {
        return isSplatNear(v, kSqrt2OverPi);
      }))
    return false;
  auto terms = getSumTerms(factors.front(), 1);
  if (terms.size() != 2 || !takeFactor(terms, [&](Value v) { return v == x; }))
    return false;
  auto cubic = getProductFactors(terms.front(), 1);
  if (cubic.size() != 2 || !takeFactor(cubic, [](Value v) {
        return isSplatNear(v, kTanhCubicCoeff);
      }))
    return false;
  return isCube(cubic.front(), x);
}

/// Matches 1 + erf(...) or 1 + tanh(...) around `x`; returns whether the
/// tanh approximation is used.
std::optional<bool> matchOnePlusActivation(Value value, Value x) {
  auto terms = getSumTerms(value, 1);
  if (terms.size() != 2 ||
      !takeFactor(terms, [](Value v) { return isSplatNear(v, 1.0, 0.0); }))
    return std::nullopt;
  if (auto erf = terms.front().getDefiningOp<ErfOp>())
    if (isScaledForErf(erf.getInput(), x))
      return false;
  if (auto tanh = terms.front().getDefiningOp<TanhOp>())
    if (isScaledForTanh(tanh.getInput(), x))
      return true;
  return std::nullopt;
}

struct FuseGeluPattern : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    auto factors = getProductFactors(op.getResult());
    if (factors.size() != 3 ||
        !takeFactor(factors, [](Value v) { return isSplatNear(v, 0.5, 0.0); }))
      return failure();
    for (int i = 0; i < 2; ++i) {
      Value x = factors[i], onePlus = factors[1 - i];
      if (x.getType() != op.getType())
        continue;
      if (auto approximate = matchOnePlusActivation(onePlus, x)) {
        rewriter.replaceOpWithNewOp<GeluOp>(op, op.getType(), x, *approximate);
        return success();
      }
    }
    return failure();
  }
};

struct FuseGeluPass : impl::FuseGeluBase<FuseGeluPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGeluPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     fusionRewriteConfig())))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
