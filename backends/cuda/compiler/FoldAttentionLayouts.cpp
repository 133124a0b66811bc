//===- FoldAttentionLayouts.cpp - Head transposes into attention strides --===//
//
// Exporters split heads with reshape [B, S, H*D] -> [B, S, H, D] and a
// transpose to [B, H, S, D], and merge them back the same way. The fused
// attention kernel reads and writes with strides, so both transposes fold
// into a gaon_cuda.attention that takes the [B, S, H, D] views: four
// kernels and their memory traffic per layer disappear.
//
// When Q, K and V are the parts of one split of a fused QKV projection
// ([B, S, (Hq + 2 Hkv) D] split on the last axis, GPT-2's c_attn, or the
// merged projections of gaon-cuda-merge-sibling-matmuls), the attention
// reads them as head ranges of that tensor's [B, S, Hq + 2 Hkv, D] view and
// the split's copy kernel disappears as well.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SetVector.h"

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

/// Where a [B, S, H, D] value lives inside a split of [B, S, W] (or
/// [B * S, W]) on its last axis: the split, and the value's first head in
/// W viewed as W / D heads.
struct HeadRange {
  graph::SplitOp split;
  int64_t offset = 0;
};

std::optional<HeadRange> packedSource(Value bshd) {
  auto reshape = bshd.getDefiningOp<graph::ReshapeOp>();
  if (!reshape)
    return std::nullopt;
  auto part = dyn_cast<OpResult>(reshape.getInput());
  auto split = part ? dyn_cast<graph::SplitOp>(part.getOwner()) : nullptr;
  if (!split)
    return std::nullopt;
  auto in = cast<RankedTensorType>(split.getInput().getType());
  auto bshdType = cast<RankedTensorType>(bshd.getType());
  int64_t d = bshdType.getDimSize(3);
  // [B, S, W] or [B * S, W]: the rows are the (batch, position) pairs.
  int64_t last = in.getRank() - 1;
  if (in.getRank() < 2 || split.getAxis() != last ||
      in.getNumElements() / in.getDimSize(last) !=
          bshdType.getDimSize(0) * bshdType.getDimSize(1) ||
      in.getDimSize(last) % d != 0)
    return std::nullopt;
  int64_t offset = 0;
  for (Value earlier : split.getResults().take_front(part.getResultNumber()))
    offset += cast<RankedTensorType>(earlier.getType()).getDimSize(last);
  if (offset % d != 0)
    return std::nullopt;
  return HeadRange{split, offset / d};
}

/// Erases `op` and, transitively, the ops feeding it that are left unused
/// (the split, its reshapes, the head transposes).
void eraseIfDead(Operation *op) {
  if (!op || !op->use_empty() ||
      !isa<graph::TransposeOp, graph::ReshapeOp, graph::SplitOp>(op))
    return;
  llvm::SetVector<Operation *> producers;
  for (Value operand : op->getOperands())
    if (Operation *def = operand.getDefiningOp())
      producers.insert(def);
  op->erase();
  for (Operation *def : producers)
    eraseIfDead(def);
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
      Value query = q ? q : op.getQuery(), key = k ? k : op.getKey(),
            value = v ? v : op.getValue();
      // Q, K and V as head ranges of one packed [B, S, W / D, D] view.
      std::optional<HeadRange> pq, pk, pv;
      IntegerAttr kvHeads;
      if (q && k && v && (pq = packedSource(q)) && (pk = packedSource(k)) &&
          (pv = packedSource(v)) && pq->split == pk->split &&
          pk->split == pv->split) {
        auto in = cast<RankedTensorType>(pq->split.getInput().getType());
        auto qType = cast<RankedTensorType>(q.getType());
        int64_t d = qType.getDimSize(3);
        auto packedType =
            RankedTensorType::get({qType.getDimSize(0), qType.getDimSize(1),
                                   in.getShape().back() / d, d},
                                  in.getElementType());
        query = key = value = graph::ReshapeOp::create(
            b, op.getLoc(), packedType, pq->split.getInput());
        kvHeads = b.getI64IntegerAttr(
            cast<RankedTensorType>(k.getType()).getDimSize(2));
      } else {
        pq = pk = pv = HeadRange{};
      }
      auto folded = AttentionOp::create(
          b, op.getLoc(), resultType, query, key, value, op.getMask(),
          op.getScaleAttr(), op.getCausalAttr(), b.getBoolAttr(bool(q)),
          b.getBoolAttr(bool(k)), b.getBoolAttr(bool(v)),
          b.getBoolAttr(merge != nullptr), b.getI64IntegerAttr(pq->offset),
          b.getI64IntegerAttr(pk->offset), b.getI64IntegerAttr(pv->offset),
          kvHeads);
      if (merge) {
        merge->getResult(0).replaceAllUsesWith(folded.getResult());
        merge->erase();
      } else {
        op.getResult().replaceAllUsesWith(folded.getResult());
      }
      // The split transposes (and a split folded above) die with their
      // last use.
      llvm::SetVector<Operation *> producers;
      for (Value operand : {op.getQuery(), op.getKey(), op.getValue()})
        if (Operation *def = operand.getDefiningOp())
          producers.insert(def);
      op.erase();
      for (Operation *def : producers)
        eraseIfDead(def);
    }
  }
};

} // namespace
} // namespace gaon::cuda
