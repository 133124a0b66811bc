//===- MergeSiblingMatmuls.cpp - One GEMM for projections of one input ----===//
//
// BERT's and LLaMA's attention projects one activation three times (Q, K,
// V): three GEMMs that, at batch 1, each leave most of the GPU idle and pay
// a launch. Their constant weights [K, N_i] (and biases [N_i]) concatenate
// at compile time into one [K, sum N_i] product whose result is split back
// on the last axis. gaon-cuda-fold-attention-layouts then reads the parts
// as head ranges of the packed result, so the split never runs either.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace gaon::cuda {
#define GEN_PASS_DEF_CUDAMERGESIBLINGMATMULS
#include "gaon/Backends/Cuda/Passes.h.inc"
} // namespace gaon::cuda

using namespace mlir;

namespace gaon::cuda {
namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// A constant's bytes, if `v` is a graph constant.
std::optional<graph::ConstantTensor> constantOf(Value v) {
  auto constant = v.getDefiningOp<graph::ConstantOp>();
  if (!constant)
    return std::nullopt;
  return graph::ConstantTensor::fromAttr(constant.getValue());
}

/// True when `v` reaches an attention operand through its only users, with
/// only views, head transposes and (bias) adds between: the split of the
/// merged product then folds away instead of running as a copy.
bool feedsAttention(Value v) {
  while (v.hasOneUse()) {
    Operation *user = *v.getUsers().begin();
    if (isa<graph::AttentionOp>(user))
      return true;
    if (!isa<graph::ReshapeOp, graph::TransposeOp, graph::AddOp>(user))
      return false;
    v = user->getResult(0);
  }
  return false;
}

/// One projection: lhs x constant rhs [K, N], with an optional constant
/// bias of N elements added by its only user.
struct Projection {
  graph::MatMulOp matmul;
  graph::AddOp biasAdd; ///< null without a bias
  Value bias;
  int64_t n = 0;
  Value result() { return biasAdd ? biasAdd.getResult() : matmul.getResult(); }
};

std::optional<Projection> projectionOf(graph::MatMulOp op) {
  auto rhs = tensorType(op.getRhs());
  Type element = rhs.getElementType();
  if (rhs.getRank() != 2 || !constantOf(op.getRhs()) ||
      tensorType(op.getLhs()).getElementType() != element ||
      (!element.isF32() && !element.isF16() && !element.isBF16()))
    return std::nullopt;
  Projection p{op, nullptr, {}, rhs.getDimSize(1)};
  Value product = op.getResult();
  if (product.hasOneUse())
    if (auto add = dyn_cast<graph::AddOp>(*product.getUsers().begin())) {
      Value other = add.getLhs() == product ? add.getRhs() : add.getLhs();
      auto type = tensorType(other);
      if (other != product && add.getResult().getType() == product.getType() &&
          type.getNumElements() == p.n && type.getRank() >= 1 &&
          type.getShape().back() == p.n && constantOf(other)) {
        p.biasAdd = add;
        p.bias = other;
      }
    }
  return p;
}

/// Concatenates [rows, N_i] constants (or, with `rows` 0, vectors of N_i
/// elements, whatever their shape) along their last axis.
Value concatColumns(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                    int64_t rows, Type element) {
  int64_t total = 0;
  SmallVector<graph::ConstantTensor> tensors;
  for (Value part : parts) {
    total += tensorType(part).getShape().back();
    tensors.push_back(*constantOf(part));
  }
  SmallVector<int64_t> shape = rows == 0 ? SmallVector<int64_t>{total}
                                         : SmallVector<int64_t>{rows, total};
  auto type = RankedTensorType::get(shape, element);
  graph::ConstantTensor merged =
      graph::ConstantTensor::concatLastAxis(tensors, type);
  return graph::ConstantOp::create(b, loc, type, merged.toAttr("merged"));
}

struct CudaMergeSiblingMatmulsPass
    : impl::CudaMergeSiblingMatmulsBase<CudaMergeSiblingMatmulsPass> {
  void runOnOperation() override {
    // Projections of the same lhs, in program order.
    llvm::MapVector<Value, SmallVector<Projection>> byInput;
    getOperation().walk([&](graph::MatMulOp op) {
      if (auto p = projectionOf(op); p && feedsAttention(p->result()))
        byInput[op.getLhs()].push_back(*p);
    });
    for (auto &[lhs, group] : byInput) {
      // Every member must agree with the first on the rhs rows and on
      // having a bias.
      int64_t rows = tensorType(group.front().matmul.getRhs()).getDimSize(0);
      bool hasBias = bool(group.front().bias);
      llvm::erase_if(group, [&](Projection &p) {
        return tensorType(p.matmul.getRhs()).getDimSize(0) != rows ||
               bool(p.bias) != hasBias;
      });
      if (group.size() >= 2)
        merge(group);
    }
  }

  void merge(MutableArrayRef<Projection> group) {
    graph::MatMulOp first = group.front().matmul;
    Location loc = first.getLoc();
    OpBuilder b(first);
    Type element = tensorType(first.getRhs()).getElementType();
    int64_t k = tensorType(first.getRhs()).getDimSize(0);
    SmallVector<Value> weights, biases;
    for (Projection &p : group) {
      weights.push_back(p.matmul.getRhs());
      if (p.bias)
        biases.push_back(p.bias);
    }
    Value weight = concatColumns(b, loc, weights, k, element);
    int64_t total = tensorType(weight).getDimSize(1);
    SmallVector<int64_t> shape(tensorType(first.getResult()).getShape());
    shape.back() = total;
    auto resultType = RankedTensorType::get(shape, element);
    Value merged =
        graph::MatMulOp::create(b, loc, resultType, first.getLhs(), weight);
    if (!biases.empty()) {
      Value bias = concatColumns(b, loc, biases, 0, element);
      merged = graph::AddOp::create(b, loc, resultType, merged, bias);
    }
    SmallVector<Type> partTypes;
    for (Projection &p : group)
      partTypes.push_back(p.result().getType());
    auto split =
        graph::SplitOp::create(b, loc, partTypes, merged,
                               b.getI64IntegerAttr(resultType.getRank() - 1));
    for (auto [p, part] : llvm::zip(group, split.getResults())) {
      Projection member = p;
      member.result().replaceAllUsesWith(part);
      SmallVector<Operation *> dead;
      if (member.biasAdd)
        dead.push_back(member.biasAdd);
      dead.push_back(member.matmul);
      for (Value constant : {Value(member.matmul.getRhs()), member.bias})
        if (constant)
          dead.push_back(constant.getDefiningOp());
      for (Operation *op : dead)
        if (op->use_empty())
          op->erase();
    }
  }
};

} // namespace
} // namespace gaon::cuda
