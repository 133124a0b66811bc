//===- GraphMatchers.cpp - Helpers for fusion patterns --------------------===//

#include "GraphMatchers.h"

#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;

namespace gaon {

std::optional<double> getSplatValue(Value value) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  auto tensor = graph::ConstantTensor::fromAttr(attr);
  if (!tensor || tensor->getNumElements() == 0 || !tensor->isFloat())
    return std::nullopt;
  double first = tensor->getDouble(0);
  for (int64_t i = 1; i < tensor->getNumElements(); ++i)
    if (tensor->getDouble(i) != first)
      return std::nullopt;
  return first;
}

bool isSplatNear(Value value, double expected, double relTol) {
  auto splat = getSplatValue(value);
  return splat && std::fabs(*splat - expected) <= relTol * std::fabs(expected);
}

template <typename OpTy>
static void collectLeaves(Value value, int depth, bool isRoot,
                          SmallVectorImpl<Value> &leaves) {
  auto op = value.getDefiningOp<OpTy>();
  if (!op || depth == 0 || (!isRoot && !value.hasOneUse())) {
    leaves.push_back(value);
    return;
  }
  collectLeaves<OpTy>(op.getLhs(), depth - 1, false, leaves);
  collectLeaves<OpTy>(op.getRhs(), depth - 1, false, leaves);
}

SmallVector<Value> getProductFactors(Value root, int maxDepth) {
  SmallVector<Value> leaves;
  collectLeaves<graph::MulOp>(root, maxDepth, true, leaves);
  return leaves;
}

SmallVector<Value> getSumTerms(Value root, int maxDepth) {
  SmallVector<Value> leaves;
  collectLeaves<graph::AddOp>(root, maxDepth, true, leaves);
  return leaves;
}

} // namespace gaon
