//===- FoldAttentionLayouts.cpp - Head split/merge into attention DMA -----===//
//
// Exporters split heads with reshape [B, S, H*D] -> [B, S, H, D] and a
// transpose to [B, H, S, D] (GPT-2 first slices Q, K and V out of one fused
// projection), and merge them back with the inverse transpose. Each of
// those is a strided copy through DRAM behind its own barrier. The
// attention kernel moves every head block by DMA anyway, so it can read the
// projection's rows and write the merged rows directly: the transposes and
// slices fold into a gaon_npu.attention over the token-major tensors.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUFOLDATTENTIONLAYOUTS
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

bool isHeadTranspose(Operation *op) {
  auto transpose = dyn_cast_or_null<graph::TransposeOp>(op);
  return transpose && transpose.getPerm() == ArrayRef<int64_t>{0, 2, 1, 3};
}

/// A token-major source of one attention operand: head h is columns
/// [offset + h * dim, ...) of `rows` ([B, S, W]).
struct HeadSource {
  Value rows;
  int64_t offset = 0;
};

/// For an operand [B, H, S, D] = transpose(reshape([B, S, H*D] value)),
/// the value, looking through a slice of the last axis (a split result).
std::optional<HeadSource> headSource(Value operand) {
  Operation *def = operand.getDefiningOp();
  if (!isHeadTranspose(def))
    return std::nullopt;
  auto reshape = def->getOperand(0).getDefiningOp<graph::ReshapeOp>();
  if (!reshape)
    return std::nullopt;
  Value rows = reshape.getInput();
  auto rowsType = cast<RankedTensorType>(rows.getType());
  auto split = cast<RankedTensorType>(reshape.getType()); // [B, S, H, D]
  if (rowsType.getRank() != 3 ||
      rowsType.getDimSize(0) != split.getDimSize(0) ||
      rowsType.getDimSize(1) != split.getDimSize(1))
    return std::nullopt;
  HeadSource source{rows, 0};
  // A slice of a fused projection along its last axis: read the projection.
  if (auto result = dyn_cast<OpResult>(rows))
    if (auto splitOp = dyn_cast<graph::SplitOp>(result.getOwner());
        splitOp && splitOp.getAxis() == 2) {
      int64_t offset = 0;
      for (unsigned i = 0; i < result.getResultNumber(); ++i)
        offset += cast<RankedTensorType>(splitOp.getResult(i).getType())
                      .getShape()
                      .back();
      source = {splitOp.getInput(), offset};
    }
  return source;
}

struct NpuFoldAttentionLayoutsPass
    : impl::NpuFoldAttentionLayoutsBase<NpuFoldAttentionLayoutsPass> {
  void runOnOperation() override {
    SmallVector<graph::AttentionOp> ops;
    getOperation().walk([&](graph::AttentionOp op) { ops.push_back(op); });
    for (graph::AttentionOp op : ops) {
      std::optional<HeadSource> q = headSource(op.getQuery()),
                                k = headSource(op.getKey()),
                                v = headSource(op.getValue());
      // Only the whole pattern folds: the kernel reads all operands and
      // writes its result in one layout.
      if (!q || !k || !v || !op.getResult().hasOneUse() ||
          !isHeadTranspose(*op.getResult().getUsers().begin()))
        continue;
      Operation *merge = *op.getResult().getUsers().begin();
      auto qType = op.getQuery().getType(), kType = op.getKey().getType(),
           vType = op.getValue().getType();
      auto mergedType = cast<RankedTensorType>(merge->getResult(0).getType());
      int64_t B = qType.getDimSize(0), H = qType.getDimSize(1),
              Sq = qType.getDimSize(2), D = qType.getDimSize(3),
              Dv = vType.getDimSize(3);
      OpBuilder b(merge);
      auto resultType =
          RankedTensorType::get({B, Sq, H * Dv}, mergedType.getElementType());
      auto folded = AttentionOp::create(
          b, op.getLoc(), resultType, q->rows, k->rows, v->rows, op.getMask(),
          op.getScaleAttr(), op.getCausalAttr(), b.getI64IntegerAttr(H),
          b.getI64IntegerAttr(kType.getDimSize(1)), b.getI64IntegerAttr(D),
          b.getI64IntegerAttr(Dv), b.getI64IntegerAttr(q->offset),
          b.getI64IntegerAttr(k->offset), b.getI64IntegerAttr(v->offset));
      // The merged [B, S, H, Dv] is a view of the [B, S, H * Dv] rows.
      Value merged = graph::ReshapeOp::create(b, op.getLoc(), mergedType,
                                              folded.getResult());
      merge->getResult(0).replaceAllUsesWith(merged);
      merge->erase();
      SmallVector<Operation *> dead;
      for (Value operand : {op.getQuery(), op.getKey(), op.getValue()})
        dead.push_back(operand.getDefiningOp());
      llvm::sort(dead);
      dead.erase(llvm::unique(dead), dead.end());
      op.erase();
      // Transposes, then their reshapes, then split ops die with their
      // last use.
      for (unsigned round = 0; round < 3; ++round) {
        SmallVector<Operation *> next;
        for (Operation *def : dead) {
          if (!def || !llvm::all_of(def->getResults(),
                                    [](Value r) { return r.use_empty(); }))
            continue;
          for (Value operand : def->getOperands())
            if (Operation *producer = operand.getDefiningOp();
                producer && isa<graph::ReshapeOp, graph::SplitOp>(producer))
              next.push_back(producer);
          def->erase();
        }
        llvm::sort(next);
        next.erase(llvm::unique(next), next.end());
        dead = std::move(next);
      }
    }
  }
};

} // namespace
} // namespace gaon::npu
