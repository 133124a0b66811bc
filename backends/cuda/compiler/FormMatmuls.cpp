//===- FormMatmuls.cpp - Matmuls and their epilogues to cuBLASLt ----------===//

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace gaon::cuda {
#define GEN_PASS_DEF_CUDAFORMMATMULS
#include "gaon/Backends/Cuda/Passes.h.inc"
} // namespace gaon::cuda

using namespace mlir;

namespace gaon::cuda {
namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// True when cuBLASLt can run `lhs x rhs`: lhs [..., M, K] and rhs either
/// 2-D (shared by all batches), batch dims all 1, or the lhs's batch dims.
bool isLibraryMatmul(graph::MatMulOp op) {
  auto lhs = tensorType(op.getLhs()), rhs = tensorType(op.getRhs());
  Type element = lhs.getElementType();
  if (!element.isF32() && !element.isF16() && !element.isBF16())
    return false;
  if (rhs.getElementType() != element || lhs.getRank() < 2 ||
      rhs.getRank() < 2 ||
      tensorType(op.getResult()).getRank() != lhs.getRank())
    return false;
  if (rhs.getRank() == 2)
    return true;
  auto rhsBatch = rhs.getShape().drop_back(2);
  if (llvm::all_of(rhsBatch, [](int64_t d) { return d == 1; }))
    return rhs.getRank() <= lhs.getRank();
  return rhs.getRank() == lhs.getRank() &&
         rhsBatch == lhs.getShape().drop_back(2);
}

/// The bias of `add` when its other operand than `product` has N elements
/// laid out along the last dimension only.
Value biasOf(graph::AddOp add, Value product) {
  Value other = add.getLhs() == product ? add.getRhs() : add.getLhs();
  if (other == product || add.getResult().getType() != product.getType())
    return {};
  auto type = tensorType(other);
  int64_t n = tensorType(product).getShape().back();
  if (type.getRank() == 0 || type.getShape().back() != n ||
      type.getNumElements() != n)
    return {};
  return other;
}

struct CudaFormMatmulsPass : impl::CudaFormMatmulsBase<CudaFormMatmulsPass> {
  void runOnOperation() override {
    SmallVector<graph::MatMulOp> matmuls;
    getOperation().walk([&](graph::MatMulOp op) {
      if (isLibraryMatmul(op))
        matmuls.push_back(op);
    });
    for (graph::MatMulOp op : matmuls)
      form(op);
  }

  void form(graph::MatMulOp op) {
    Value result = op.getResult();
    Operation *last = op;
    Value bias;
    StringRef activation = "none";
    Type element = tensorType(result).getElementType();
    // Each absorbed op must be the only user of the value before it, so
    // nothing else needs the intermediate.
    if (result.hasOneUse())
      if (auto add = dyn_cast<graph::AddOp>(*result.getUsers().begin()))
        if ((bias = biasOf(add, result))) {
          last = add;
          result = add.getResult();
        }
    if (result.hasOneUse()) {
      Operation *user = *result.getUsers().begin();
      if (auto gelu = dyn_cast<graph::GeluOp>(user);
          gelu && (gelu.getApproximate() || !element.isF32())) {
        activation = "gelu_tanh";
        last = user;
      } else if (isa<graph::ReluOp>(user)) {
        activation = "relu";
        last = user;
      }
    }
    OpBuilder b(last);
    Value rhs = op.getRhs();
    // A [1, ..., 1, K, N] rhs is the same bytes as [K, N].
    if (tensorType(rhs).getRank() > 2 &&
        tensorType(rhs).getRank() != tensorType(op.getLhs()).getRank()) {
      auto shape = tensorType(rhs).getShape().take_back(2);
      rhs = graph::ReshapeOp::create(
          b, op.getLoc(),
          RankedTensorType::get(shape, tensorType(rhs).getElementType()), rhs);
    }
    if (bias && tensorType(bias).getRank() != 1) {
      auto type =
          RankedTensorType::get({tensorType(bias).getNumElements()}, element);
      bias = graph::ReshapeOp::create(b, op.getLoc(), type, bias);
    }
    auto matmul = MatMulOp::create(
        b, op.getLoc(), last->getResult(0).getType(), op.getLhs(), rhs, bias,
        b.getStringAttr(activation), b.getBoolAttr(false));
    last->getResult(0).replaceAllUsesWith(matmul.getResult());
    // Erase the absorbed chain from its end back to the matmul.
    eraseDeadChain(last, op);
  }

  /// Erases `last` and the producers up to and including `first`, all of
  /// which are now unused.
  static void eraseDeadChain(Operation *last, Operation *first) {
    SmallVector<Operation *> worklist{last};
    while (!worklist.empty()) {
      Operation *cur = worklist.pop_back_val();
      if (!cur->use_empty())
        continue;
      SmallVector<Operation *> producers;
      if (cur != first)
        for (Value operand : cur->getOperands())
          if (Operation *def = operand.getDefiningOp())
            producers.push_back(def);
      cur->erase();
      for (Operation *def : producers)
        if (def == first ||
            isa<graph::AddOp, graph::GeluOp, graph::ReluOp>(def))
          worklist.push_back(def);
    }
  }
};

} // namespace
} // namespace gaon::cuda
