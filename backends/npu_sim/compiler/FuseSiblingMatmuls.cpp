//===- FuseSiblingMatmuls.cpp - One matmul for projections sharing A ------===//
//
// BERT-style attention projects the same activations with three separate
// weight matrices (Q, K, V). On the NPU each matmul is its own kernel and
// every core reloads A for each, and the weights of each are too narrow to
// keep eight cores streaming. Matmuls that share A, have constant weights
// (and constant biases, or none), the same activation and no residual are
// merged into one matmul over the concatenated weights, followed by a split
// of its result (which gaon-npu-fold-attention-layouts then folds into the
// attention kernel's reads).
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUFUSESIBLINGMATMULS
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

/// The constant [K, N] weights or [N] bias behind `value`, if any.
std::optional<graph::ConstantTensor> constantOf(Value value, int64_t rank) {
  auto constant = value ? value.getDefiningOp<graph::ConstantOp>() : nullptr;
  if (!constant || constant.getType().getRank() != rank)
    return std::nullopt;
  return graph::ConstantTensor::fromAttr(constant.getValue());
}

/// Whether `b` can join a group led by `a`.
bool compatible(MatMulOp a, MatMulOp b) {
  return a.getLhs() == b.getLhs() && !a.getResidual() && !b.getResidual() &&
         a.getActivation() == b.getActivation() &&
         bool(a.getBias()) == bool(b.getBias()) &&
         a.getType().getElementType() == b.getType().getElementType() &&
         a.getRhs().getType().getElementType() ==
             b.getRhs().getType().getElementType() &&
         (!a.getBias() || a.getBias().getType().getElementType() ==
                              b.getBias().getType().getElementType());
}

struct NpuFuseSiblingMatmulsPass
    : impl::NpuFuseSiblingMatmulsBase<NpuFuseSiblingMatmulsPass> {
  void runOnOperation() override {
    SmallVector<SmallVector<MatMulOp>> groups;
    getOperation().walk([&](MatMulOp op) {
      if (op.getResidual() || op.getRhs().getType().getRank() != 2 ||
          !op.getRhs().getDefiningOp<graph::ConstantOp>() ||
          (op.getBias() && !op.getBias().getDefiningOp<graph::ConstantOp>()))
        return;
      for (auto &group : groups)
        if (compatible(group.front(), op)) {
          group.push_back(op);
          return;
        }
      groups.push_back({op});
    });
    for (auto &group : groups)
      if (group.size() > 1)
        fuse(group);
  }

  void fuse(ArrayRef<MatMulOp> ops) {
    SmallVector<MatMulOp> group(ops);
    SmallVector<graph::ConstantTensor> weights, biases;
    for (MatMulOp op : group) {
      auto w = constantOf(op.getRhs(), 2);
      auto b = op.getBias() ? constantOf(op.getBias(), 1) : std::nullopt;
      if (!w || (op.getBias() && !b))
        return;
      weights.push_back(*w);
      if (b)
        biases.push_back(*b);
    }
    int64_t K = weights.front().getShape()[0], total = 0;
    for (const graph::ConstantTensor &w : weights)
      total += w.getShape()[1];
    // The earliest op of the group: A is defined before it.
    MatMulOp lead = group.front(), first = lead;
    for (MatMulOp op : group)
      if (op->isBeforeInBlock(first))
        first = op;
    OpBuilder b(first);
    Location loc = b.getFusedLoc(llvm::to_vector(
        llvm::map_range(group, [](MatMulOp op) { return op.getLoc(); })));
    auto wType = RankedTensorType::get(
        {K, total}, lead.getRhs().getType().getElementType());
    Value w = graph::ConstantOp::create(
        b, loc,
        graph::ConstantTensor::concatLastAxis(weights, wType)
            .toAttr("fused_weights"));
    Value bias;
    if (!biases.empty()) {
      auto bType = RankedTensorType::get(
          {total}, lead.getBias().getType().getElementType());
      bias = graph::ConstantOp::create(
          b, loc,
          graph::ConstantTensor::concatLastAxis(biases, bType)
              .toAttr("fused_bias"));
    }
    auto outType = lead.getType();
    SmallVector<int64_t> shape(outType.getShape());
    shape.back() = total;
    auto fused = MatMulOp::create(
        b, loc, RankedTensorType::get(shape, outType.getElementType()),
        lead.getLhs(), w, bias, Value(), Value(), Value(),
        lead.getActivationAttr());
    SmallVector<Type> parts;
    for (MatMulOp op : group)
      parts.push_back(op.getType());
    auto split = graph::SplitOp::create(b, loc, parts, fused.getResult(),
                                        b.getI64IntegerAttr(shape.size() - 1));
    for (auto [i, op] : llvm::enumerate(group)) {
      op.getResult().replaceAllUsesWith(split.getResult(i));
      Operation *rhs = op.getRhs().getDefiningOp();
      Operation *oldBias =
          op.getBias() ? op.getBias().getDefiningOp() : nullptr;
      op.erase();
      for (Operation *dead : {rhs, oldBias})
        if (dead && dead->use_empty())
          dead->erase();
    }
  }
};

} // namespace
} // namespace gaon::npu
