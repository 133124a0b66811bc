//===- FoldAttentionScale.cpp - Attention's scale into Q's projection -----===//
//
// softmax(Q K^T * s) with Q = X W + b is softmax((X (W s) + b s) K^T): when
// Q comes from a matmul over constant weights (and bias) whose product
// only this attention reads, the scale can multiply Q's weight columns and
// bias at compile time. For a power-of-two scale (1/8 for 64-wide heads)
// that is exact in every float type, so the scores are bit for bit the
// same, and the attention kernel no longer scales Q: one vector pass per
// item (BERT-base at 1024 tokens on rngd: ~50 of ~780 vector cycles per
// head and sequence).
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <cmath>

namespace gaon::npu {
#define GEN_PASS_DEF_NPUFOLDATTENTIONSCALE
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

/// The float constant behind `value`, if any.
static std::optional<graph::ConstantTensor> floatConstant(Value value) {
  auto constant = value ? value.getDefiningOp<graph::ConstantOp>() : nullptr;
  if (!constant || !isa<FloatType>(constant.getType().getElementType()))
    return std::nullopt;
  return graph::ConstantTensor::fromAttr(constant.getValue());
}

struct NpuFoldAttentionScalePass
    : impl::NpuFoldAttentionScaleBase<NpuFoldAttentionScalePass> {
  void runOnOperation() override {
    SmallVector<AttentionOp> attentions;
    getOperation().walk([&](AttentionOp a) { attentions.push_back(a); });
    for (AttentionOp a : attentions)
      fold(a);
  }

  void fold(AttentionOp a) {
    double scale = a.getScaleAttr().getValueAsDouble();
    int exp = 0;
    if (scale == 1.0 || !(scale > 0) || std::frexp(scale, &exp) != 0.5)
      return;
    // Q from a plain product (no activation or residual) over constant
    // [K, N] weights and a constant bias (or none), read by this attention
    // only, its Q columns apart from the K and V columns it also provides.
    Value q = a.getQuery();
    auto m = q.getDefiningOp<MatMulOp>();
    if (!m || m.getResidual() || m.getActivation() != "none" ||
        m.getRhs().getType().getRank() != 2)
      return;
    for (Operation *user : q.getUsers())
      if (user != a.getOperation())
        return;
    int64_t N = m.getRhs().getType().getDimSize(1);
    int64_t q0 = a.getQueryOffset(), q1 = q0 + a.getHeads() * a.getHeadDim();
    auto overlaps = [&](Value v, int64_t from, int64_t to) {
      return v == q && from < q1 && q0 < to;
    };
    if (q0 < 0 || q1 > N ||
        overlaps(a.getKey(), a.getKeyOffset(),
                 a.getKeyOffset() + a.getKvHeads() * a.getHeadDim()) ||
        overlaps(a.getValue(), a.getValueOffset(),
                 a.getValueOffset() + a.getKvHeads() * a.getValueDim()) ||
        (a.getMask() && a.getMask() == q))
      return;
    std::optional<graph::ConstantTensor> w = floatConstant(m.getRhs());
    std::optional<graph::ConstantTensor> bias;
    if (m.getBias()) {
      bias = floatConstant(m.getBias());
      if (!bias || bias->getNumElements() != N)
        return;
    }
    if (!w)
      return;
    OpBuilder b(m);
    int64_t K = m.getRhs().getType().getDimSize(0);
    graph::ConstantTensor scaled(m.getRhs().getType());
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) {
        double x = w->getDouble(k * N + j);
        scaled.setDouble(k * N + j, j >= q0 && j < q1 ? x * scale : x);
      }
    Value oldW = m.getRhs(), oldBias = m.getBias();
    m.getRhsMutable().assign(graph::ConstantOp::create(
        b, m.getLoc(), std::move(scaled).toAttr("attention_scaled_weights")));
    if (bias) {
      graph::ConstantTensor sb(cast<RankedTensorType>(oldBias.getType()));
      for (int64_t j = 0; j < N; ++j)
        sb.setDouble(j, j >= q0 && j < q1 ? bias->getDouble(j) * scale
                                          : bias->getDouble(j));
      m.getBiasMutable().assign(graph::ConstantOp::create(
          b, m.getLoc(), std::move(sb).toAttr("attention_scaled_bias")));
    }
    a.setScaleAttr(b.getF64FloatAttr(1.0));
    for (Value old : {oldW, oldBias})
      if (Operation *op = old ? old.getDefiningOp() : nullptr)
        if (op->use_empty())
          op->erase();
  }
};

} // namespace
} // namespace gaon::npu
