//===- FoldNormAffine.cpp - A norm's scale and shift into its matmuls -----===//
//
// A layer norm y = x^ * gamma + beta whose result only feeds matmuls as A,
// over constant weights W (and constant biases b, or none), is the same
// as the bare normalisation x^ feeding matmuls over diag(gamma) W with
// bias beta W + b: the weights absorb the scale and shift at compile time
// and the norm kernel drops two of its seven vector passes per row
// (GPT-2's pre-norm layers and its final norm before the LM head). A
// matmul that takes the norm as its residual instead, with a constant
// bias c, computes P + c + x^ * gamma + beta: it gets gamma as its
// residual_scale and c + beta as its bias (BERT's post-norms feed the
// next layer's matmuls as A and its output projection or FFN
// down-projection as residual; one more vector pass in that matmul's
// epilogue, two fewer per row in the norm).
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUFOLDNORMAFFINE
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

/// The constant behind `value` with `elements` elements, if any.
static std::optional<graph::ConstantTensor> constantOf(Value value,
                                                       int64_t elements) {
  auto constant = value ? value.getDefiningOp<graph::ConstantOp>() : nullptr;
  if (!constant || constant.getType().getNumElements() != elements ||
      !isa<FloatType>(constant.getType().getElementType()))
    return std::nullopt;
  return graph::ConstantTensor::fromAttr(constant.getValue());
}

/// Whether `value` is a float constant with `elements` elements (a cheap
/// test: constantOf copies the data, 154 MB for GPT-2's LM head in fp32).
static bool isFloatConstant(Value value, int64_t elements) {
  auto constant = value ? value.getDefiningOp<graph::ConstantOp>() : nullptr;
  return constant && constant.getType().getNumElements() == elements &&
         isa<FloatType>(constant.getType().getElementType());
}

/// Every element of `t` as a double.
static SmallVector<double> doublesOf(const graph::ConstantTensor &t) {
  SmallVector<double> out(t.getNumElements());
  for (int64_t i = 0; i < t.getNumElements(); ++i)
    out[i] = t.getDouble(i);
  return out;
}

/// Whether every element of `t` equals `v`.
static bool allEqual(const graph::ConstantTensor &t, double v) {
  for (int64_t i = 0; i < t.getNumElements(); ++i)
    if (t.getDouble(i) != v)
      return false;
  return true;
}

/// Erases `value`'s defining op when nothing uses it any more.
static void eraseIfDead(Value value) {
  if (Operation *op = value ? value.getDefiningOp() : nullptr)
    if (op->use_empty())
      op->erase();
}

struct NpuFoldNormAffinePass
    : impl::NpuFoldNormAffineBase<NpuFoldNormAffinePass> {
  void runOnOperation() override {
    SmallVector<graph::LayerNormOp> norms;
    getOperation().walk([&](graph::LayerNormOp n) { norms.push_back(n); });
    for (graph::LayerNormOp n : norms)
      fold(n);
  }

  void fold(graph::LayerNormOp n) {
    auto type = n.getType();
    if (type.getRank() < 1 || int64_t(n.getAxis()) != type.getRank() - 1 ||
        type.getShape().back() <= 0)
      return;
    int64_t L = type.getShape().back();
    std::optional<graph::ConstantTensor> gamma = constantOf(n.getScale(), L);
    std::optional<graph::ConstantTensor> beta;
    if (n.getBias()) {
      beta = constantOf(n.getBias(), L);
      if (!beta)
        return;
    }
    if (!gamma || (allEqual(*gamma, 1.0) && (!beta || allEqual(*beta, 0.0))))
      return;
    // Every user: a matmul reading the norm as A only, over constant [L, N]
    // weights and a constant [N] bias (or none when there is no shift: a
    // new bias would cost the matmul an epilogue pass, e.g. GPT-2's LM
    // head, 1024 x 50257 in fp32, ran 8% longer with one); or reading it
    // as its residual only (not yet scaled), with a constant bias of L
    // elements when there is a shift.
    bool shift = beta && !allEqual(*beta, 0.0);
    SmallVector<MatMulOp> users, residualUsers;
    for (Operation *user : n.getResult().getUsers()) {
      auto m = dyn_cast<MatMulOp>(user);
      if (!m || m.getRhs() == n.getResult() || m.getBias() == n.getResult())
        return;
      if (m.getResidual() == n.getResult()) {
        if (m.getLhs() == n.getResult() || m.getResidualScale() ||
            m.getType().getShape().back() != L ||
            (shift && !isFloatConstant(m.getBias(), L)))
          return;
        if (!llvm::is_contained(residualUsers, m))
          residualUsers.push_back(m);
        continue;
      }
      if (m.getLhs() != n.getResult() || m.getRhs().getType().getRank() != 2 ||
          m.getRhs().getType().getDimSize(0) != L)
        return;
      int64_t N = m.getRhs().getType().getDimSize(1);
      if (!isFloatConstant(m.getRhs(), L * N) ||
          (m.getBias() && !isFloatConstant(m.getBias(), N)) ||
          (shift && !m.getBias()))
        return;
      if (!llvm::is_contained(users, m))
        users.push_back(m);
    }
    if (users.empty() && residualUsers.empty())
      return;
    SmallVector<double> g = doublesOf(*gamma);
    SmallVector<double> shiftBy =
        shift ? doublesOf(*beta) : SmallVector<double>();
    for (MatMulOp m : users) {
      int64_t N = m.getRhs().getType().getDimSize(1);
      graph::ConstantTensor w = *constantOf(m.getRhs(), L * N);
      graph::ConstantTensor scaled(m.getRhs().getType());
      // One pass over W: its scaled copy, and beta W + b accumulated in
      // double over k in order (rounded once to the bias dtype).
      SmallVector<double> acc;
      if (shift)
        acc = doublesOf(*constantOf(m.getBias(), N));
      for (int64_t k = 0; k < L; ++k)
        for (int64_t j = 0; j < N; ++j) {
          const double x = w.getDouble(k * N + j);
          scaled.setDouble(k * N + j, g[k] * x);
          if (shift)
            acc[j] += shiftBy[k] * x;
        }
      OpBuilder b(m);
      Value oldW = m.getRhs(), oldBias = m.getBias();
      m.getRhsMutable().assign(graph::ConstantOp::create(
          b, m.getLoc(), std::move(scaled).toAttr("norm_scaled_weights")));
      if (shift) {
        Type biasElement =
            cast<RankedTensorType>(oldBias.getType()).getElementType();
        graph::ConstantTensor bias(RankedTensorType::get({N}, biasElement));
        for (int64_t j = 0; j < N; ++j)
          bias.setDouble(j, acc[j]);
        m.getBiasMutable().assign(graph::ConstantOp::create(
            b, m.getLoc(), std::move(bias).toAttr("norm_shifted_bias")));
      }
      eraseIfDead(oldW);
      if (shift)
        eraseIfDead(oldBias);
    }
    // Residual users: gamma scales the residual, beta joins the bias, kept
    // in f32 (in bf16 the sum's rounding moved BERT-base's output by
    // another 1e-3 rel-L2; the epilogue adds in f32 either way).
    for (MatMulOp m : residualUsers) {
      OpBuilder b(m);
      m.getResidualScaleMutable().assign(n.getScale());
      if (!shift)
        continue;
      Value oldBias = m.getBias();
      graph::ConstantTensor c = *constantOf(oldBias, L);
      graph::ConstantTensor bias(RankedTensorType::get({L}, b.getF32Type()));
      for (int64_t j = 0; j < L; ++j)
        bias.setDouble(j, c.getDouble(j) + shiftBy[j]);
      m.getBiasMutable().assign(graph::ConstantOp::create(
          b, m.getLoc(), std::move(bias).toAttr("norm_shifted_bias")));
      eraseIfDead(oldBias);
    }
    // The bare normalisation: scale ones, no shift.
    OpBuilder b(n);
    graph::ConstantTensor ones(cast<RankedTensorType>(n.getScale().getType()));
    for (int64_t i = 0; i < ones.getNumElements(); ++i)
      ones.setDouble(i, 1.0);
    Value onesValue =
        graph::ConstantOp::create(b, n.getLoc(), ones.toAttr("norm_ones"));
    auto bare = graph::LayerNormOp::create(b, n.getLoc(), type, n.getInput(),
                                           onesValue, Value(), n.getAxisAttr(),
                                           n.getEpsilonAttr());
    Value oldScale = n.getScale(), oldShift = n.getBias();
    n.getResult().replaceAllUsesWith(bare.getResult());
    n.erase();
    eraseIfDead(oldScale);
    eraseIfDead(oldShift);
  }
};

} // namespace
} // namespace gaon::npu
