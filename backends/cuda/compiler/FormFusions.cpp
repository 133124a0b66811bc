//===- FormFusions.cpp - Group graph ops into kernel-sized fusions --------===//
//
// Decides, from the last op to the first, which values are recomputed
// inside their single consumer's kernel ("inlined") and which are written to
// memory ("roots"), then wraps each root with its inlined producers in a
// gaon_cuda.fusion. Inlined values have one use, so moving them into the
// fusion never duplicates work except for cloned splat constants.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

namespace gaon::cuda {
#define GEN_PASS_DEF_CUDAFORMFUSIONS
#include "gaon/Backends/Cuda/Passes.h.inc"
} // namespace gaon::cuda

using namespace mlir;

namespace gaon::cuda {
namespace {

bool isSplatConstant(Operation *op) {
  auto constant = dyn_cast<graph::ConstantOp>(op);
  if (!constant)
    return false;
  auto attr = dyn_cast<DenseElementsAttr>(constant.getValue());
  return attr && attr.isSplat();
}

/// Ops whose results are always written to memory: reductions and row ops
/// (their consumers would recompute a whole row per element) and the
/// per-element loops (matmul fallback, convolution, cumulative sums).
bool mustMaterialize(Operation *op) {
  return isa<graph::ReduceSumOp, graph::ReduceMeanOp, graph::ReduceMaxOp,
             graph::ReduceMinOp, graph::ReduceProdOp, graph::ArgMaxOp,
             graph::CumSumOp, graph::SoftmaxOp, graph::LayerNormOp,
             graph::RmsNormOp, graph::MatMulOp, graph::ConvOp>(op);
}

/// gaon.graph ops that run in generated kernels (everything but constants,
/// views and attention, which has its own kernel).
bool isCompute(Operation *op) {
  return isa<graph::GraphDialect>(op->getDialect()) &&
         !isa<graph::ConstantOp, graph::ReshapeOp, graph::AttentionOp>(op);
}

struct CudaFormFusionsPass : impl::CudaFormFusionsBase<CudaFormFusionsPass> {
  using CudaFormFusionsBase::CudaFormFusionsBase;

  void runOnOperation() override {
    Block &body = getOperation().getBody().front();
    SmallVector<Operation *> ops;
    for (Operation &op : body)
      ops.push_back(&op);

    // Decide inlining from the back: an op's users are decided before it.
    llvm::DenseSet<Operation *> inFusion, inlined;
    for (Operation *op : llvm::reverse(ops)) {
      bool candidate =
          (isCompute(op) && !mustMaterialize(op)) || isa<graph::ReshapeOp>(op);
      if (candidate && op->getNumResults() == 1 &&
          op->getResult(0).hasOneUse() &&
          inFusion.contains(*op->getResult(0).getUsers().begin())) {
        inlined.insert(op);
        inFusion.insert(op);
      } else if (isCompute(op)) {
        inFusion.insert(op);
      }
    }

    // Form fusions from the last root back, so a producer that does not
    // fit in its consumer's fusion can still become a root of its own.
    llvm::DenseSet<Operation *> extraRoots, erased;
    for (Operation *op : llvm::reverse(ops)) {
      if (erased.contains(op) || !isCompute(op) ||
          (inlined.contains(op) && !extraRoots.contains(op)))
        continue;
      formFusion(op, inlined, extraRoots, erased);
    }
  }

  void formFusion(Operation *root, const llvm::DenseSet<Operation *> &inlined,
                  llvm::DenseSet<Operation *> &extraRoots,
                  llvm::DenseSet<Operation *> &erased) {
    // Collect the inlined producer tree of `root`.
    llvm::SetVector<Operation *> group;
    SmallVector<Operation *> worklist{root};
    group.insert(root);
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (!def || !inlined.contains(def) || extraRoots.contains(def) ||
            group.contains(def))
          continue;
        if (group.size() >= maxOpsPerFusion) {
          // Formed later, as its own fusion. A reshape is a view, never a
          // root: the op it reads is, and the reshape stays outside.
          Operation *cut = def;
          while (isa<graph::ReshapeOp>(cut)) {
            Operation *source = cut->getOperand(0).getDefiningOp();
            if (!source || !inlined.contains(source))
              break;
            cut = source;
          }
          extraRoots.insert(cut);
          continue;
        }
        group.insert(def);
        worklist.push_back(def);
      }
    }
    // Program order (all ops are in one block).
    SmallVector<Operation *> ordered(group.begin(), group.end());
    llvm::sort(ordered, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });

    // Inputs: values defined outside the group, except splat constants,
    // which are cloned in.
    llvm::SetVector<Value> inputs;
    llvm::SetVector<Operation *> splats;
    for (Operation *op : ordered)
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (def && group.contains(def))
          continue;
        if (def && isSplatConstant(def))
          splats.insert(def);
        else
          inputs.insert(operand);
      }

    OpBuilder b(root);
    auto fusion = FusionOp::create(b, root->getLoc(), root->getResultTypes(),
                                   inputs.getArrayRef());
    Block *block = new Block();
    fusion.getBody().push_back(block);
    IRMapping mapping;
    for (Value input : inputs)
      mapping.map(input, block->addArgument(input.getType(), input.getLoc()));
    OpBuilder inner = OpBuilder::atBlockEnd(block);
    for (Operation *splat : splats)
      inner.clone(*splat, mapping);
    for (Operation *op : ordered)
      inner.clone(*op, mapping);
    SmallVector<Value> yielded;
    for (Value result : root->getResults())
      yielded.push_back(mapping.lookup(result));
    YieldOp::create(inner, root->getLoc(), yielded);

    root->replaceAllUsesWith(fusion.getResults());
    for (Operation *op : llvm::reverse(ordered)) {
      erased.insert(op);
      op->erase();
    }
    for (Operation *splat : splats)
      if (splat->use_empty()) {
        erased.insert(splat);
        splat->erase();
      }
  }
};

} // namespace
} // namespace gaon::cuda
