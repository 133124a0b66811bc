//===- FoldAttentionLayouts.cpp - Head transposes into attention strides --===//
//
// Exporters split heads with reshape [B, S, H*D] -> [B, S, H, D] and a
// transpose to [B, H, S, D], and merge them back the same way. The fused
// attention kernel reads and writes with strides, so both transposes fold
// into a gaon_cuda.attention that takes the [B, S, H, D] views: four
// kernels and their memory traffic per layer disappear.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"

namespace gaon::cuda {
#define GEN_PASS_DEF_CUDAFOLDATTENTIONLAYOUTS
#include "gaon/Backends/Cuda/Passes.h.inc"
} // namespace gaon::cuda

using namespace mlir;

namespace gaon::cuda {
namespace {

/// True for a transpose swapping dims 1 and 2 of a rank-4 tensor.
bool isHeadTranspose(Operation *op) {
  auto transpose = dyn_cast_or_null<graph::TransposeOp>(op);
  return transpose && transpose.getPerm() == ArrayRef<int64_t>{0, 2, 1, 3};
}

/// The [B, S, H, D] value `v` ([B, H, S, D]) was transposed from, if any.
Value bshdSource(Value v) {
  Operation *def = v.getDefiningOp();
  return isHeadTranspose(def) ? def->getOperand(0) : Value();
}

struct CudaFoldAttentionLayoutsPass
    : impl::CudaFoldAttentionLayoutsBase<CudaFoldAttentionLayoutsPass> {
  void runOnOperation() override {
    SmallVector<graph::AttentionOp> ops;
    getOperation().walk([&](graph::AttentionOp op) { ops.push_back(op); });
    for (graph::AttentionOp op : ops) {
      Value q = bshdSource(op.getQuery()), k = bshdSource(op.getKey()),
            v = bshdSource(op.getValue());
      Operation *merge = nullptr;
      if (op.getResult().hasOneUse() &&
          isHeadTranspose(*op.getResult().getUsers().begin()))
        merge = *op.getResult().getUsers().begin();
      if (!q && !k && !v && !merge)
        continue;
      OpBuilder b(merge ? merge : op.getOperation());
      Type resultType =
          merge ? merge->getResult(0).getType() : op.getResult().getType();
      auto folded = AttentionOp::create(
          b, op.getLoc(), resultType, q ? q : op.getQuery(),
          k ? k : op.getKey(), v ? v : op.getValue(), op.getMask(),
          op.getScaleAttr(), op.getCausalAttr(), b.getBoolAttr(bool(q)),
          b.getBoolAttr(bool(k)), b.getBoolAttr(bool(v)),
          b.getBoolAttr(merge != nullptr));
      if (merge) {
        merge->getResult(0).replaceAllUsesWith(folded.getResult());
        merge->erase();
      } else {
        op.getResult().replaceAllUsesWith(folded.getResult());
      }
      // The split transposes die with their last use.
      SmallVector<Operation *> transposes;
      for (Value operand : {op.getQuery(), op.getKey(), op.getValue()})
        if (Operation *def = operand.getDefiningOp())
          transposes.push_back(def);
      op.erase();
      for (Operation *def : transposes)
        if (isHeadTranspose(def) && def->use_empty())
          def->erase();
    }
  }
};

} // namespace
} // namespace gaon::cuda
