//===- GraphMatchers.h - Helpers for fusion patterns ------------*- C++ -*-===//

#ifndef GAON_COMPILER_TRANSFORMS_GRAPHMATCHERS_H
#define GAON_COMPILER_TRANSFORMS_GRAPHMATCHERS_H

#include "mlir/IR/Value.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace gaon {

/// Greedy-driver settings for passes that only match and fuse: no folding
/// and no constant CSE (the canonicalizer runs both), no region
/// simplification. With folding on, each such pass took 0.3-0.8 s on
/// BERT-base (gaon-compile --timing), with it off under a millisecond.
inline mlir::GreedyRewriteConfig fusionRewriteConfig() {
  mlir::GreedyRewriteConfig config;
  config.enableFolding(false)
      .enableConstantCSE(false)
      .setRegionSimplificationLevel(mlir::GreedySimplifyRegionLevel::Disabled);
  return config;
}

/// The value of a constant whose elements are all equal, if `value` is one.
std::optional<double> getSplatValue(mlir::Value value);

/// True when `value` is a splat constant within `relTol` of `expected`.
bool isSplatNear(mlir::Value value, double expected, double relTol = 1e-3);

/// Flattens a tree of gaon_graph.mul ops rooted at `root` into its factors.
/// Inner products are looked through only when they have one use, so the
/// matched tree can be replaced as a whole.
llvm::SmallVector<mlir::Value> getProductFactors(mlir::Value root,
                                                 int maxDepth = 3);

/// Like getProductFactors, for a tree of gaon_graph.add ops.
llvm::SmallVector<mlir::Value> getSumTerms(mlir::Value root, int maxDepth = 3);

/// Removes and returns the first factor satisfying `predicate`.
template <typename Pred>
mlir::Value takeFactor(llvm::SmallVectorImpl<mlir::Value> &factors,
                       Pred predicate) {
  for (auto *it = factors.begin(); it != factors.end(); ++it)
    if (predicate(*it)) {
      mlir::Value found = *it;
      factors.erase(it);
      return found;
    }
  return nullptr;
}

} // namespace gaon

#endif // GAON_COMPILER_TRANSFORMS_GRAPHMATCHERS_H
