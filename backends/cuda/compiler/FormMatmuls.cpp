//===- FormMatmuls.cpp - Matmuls and their epilogues to cuBLASLt ----------===//

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

#include <algorithm>
#include <cstring>

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

/// The only user of `v`, looking through single-use reshapes that keep the
/// last dimension (the same rows, viewed), with the value it uses; a null
/// user when there is none or several.
std::pair<Operation *, Value> soleUser(Value v) {
  while (v.hasOneUse()) {
    Operation *user = *v.getUsers().begin();
    auto reshape = dyn_cast<graph::ReshapeOp>(user);
    if (!reshape)
      return {user, v};
    if (tensorType(reshape.getResult()).getShape().back() !=
        tensorType(v).getShape().back())
      return {nullptr, {}};
    v = reshape.getResult();
  }
  return {nullptr, {}};
}

/// The residual of `add`: its other operand than `product` when it has the
/// product's type (no broadcast), so cuBLASLt can read it as C.
Value residualOf(graph::AddOp add, Value product) {
  Value other = add.getLhs() == product ? add.getRhs() : add.getLhs();
  if (other == product || other.getType() != product.getType() ||
      add.getResult().getType() != product.getType())
    return {};
  return other;
}

/// cuBLASLt's fast kernels need 16-byte aligned rows. A product whose rows
/// of N elements are not (GPT-2's LM head: 50257 x f16) is computed into [..,
/// Npad] columns from an rhs (and bias) padded with zeros, then sliced back:
/// the slice fuses into the consumer's kernel. Constant operands are padded at
/// compile time.
constexpr int64_t kRowAlignmentBytes = 16;

Value padLastDim(OpBuilder &b, Location loc, Value v, int64_t padded) {
  auto type = tensorType(v);
  SmallVector<int64_t> shape(type.getShape());
  int64_t n = shape.back();
  shape.back() = padded;
  auto paddedType = RankedTensorType::get(shape, type.getElementType());
  if (auto constant = v.getDefiningOp<graph::ConstantOp>())
    if (auto source = graph::ConstantTensor::fromAttr(constant.getValue())) {
      graph::ConstantTensor result(paddedType);
      int64_t rows = type.getNumElements() / n;
      size_t width = source->bytes().size() / type.getNumElements();
      llvm::MutableArrayRef<char> out = result.bytes();
      std::fill(out.begin(), out.end(), 0);
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(out.data() + r * padded * width,
                    source->bytes().data() + r * n * width, n * width);
      return graph::ConstantOp::create(b, constant.getLoc(), paddedType,
                                       result.toAttr("padded"));
    }
  SmallVector<int64_t> low(shape.size(), 0), high(shape.size(), 0);
  high.back() = padded - n;
  return graph::PadOp::create(
      b, loc, paddedType, v, b.getDenseI64ArrayAttr(low),
      b.getDenseI64ArrayAttr(high), b.getF64FloatAttr(0.0));
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
    Value bias, residual;
    StringRef activation = "none";
    Type element = tensorType(result).getElementType();
    // Rows that must be padded to 16 bytes (below) leave no room for a
    // residual of the result's layout.
    int64_t n = tensorType(result).getShape().back();
    int64_t align =
        kRowAlignmentBytes / (tensorType(result).getElementTypeBitWidth() / 8);
    bool unaligned = n % align != 0;
    // Each absorbed op must be the only user of the value before it, so
    // nothing else needs the intermediate; row-preserving reshapes between
    // them are views and are looked through.
    auto [user, input] = soleUser(result);
    if (auto add = dyn_cast_or_null<graph::AddOp>(user))
      if ((bias = biasOf(add, input))) {
        last = add;
        std::tie(user, input) = soleUser(add.getResult());
      }
    if (auto add = dyn_cast_or_null<graph::AddOp>(user); add && !unaligned)
      if ((residual = residualOf(add, input))) {
        last = add;
        user = nullptr; // cuBLASLt activates after adding C: not gelu(x) + r
      }
    if (auto gelu = dyn_cast_or_null<graph::GeluOp>(user);
        gelu && (gelu.getApproximate() || !element.isF32())) {
      activation = "gelu_tanh";
      last = user;
    } else if (isa_and_nonnull<graph::ReluOp>(user)) {
      activation = "relu";
      last = user;
    }
    // A final f16/bf16 -> f32 cast is cuBLASLt writing f32 from its f32
    // accumulators: no f16 round trip through memory, no cast kernel. Not
    // with a bias or residual of the operands' type, and only for 16-byte
    // aligned f32 rows: for GPT-2's 50257 logits cuBLASLt falls back to an
    // sm75 kernel (0.19 ms at 1x128 on the H100, measured), slower than the
    // padded f16 product and a fused slice + cast kernel.
    bool f32Out = false;
    if (!bias && !residual && (element.isF16() || element.isBF16()) &&
        n % (kRowAlignmentBytes / 4) == 0) {
      auto [castUser, castInput] = soleUser(last->getResult(0));
      auto castOp = dyn_cast_or_null<graph::CastOp>(castUser);
      if (castOp && tensorType(castOp.getResult()).getElementType().isF32()) {
        last = castOp;
        f32Out = true;
      }
    }
    OpBuilder b(last);
    SmallVector<Operation *> originals{op.getRhs().getDefiningOp(),
                                       bias ? bias.getDefiningOp() : nullptr};
    Value rhs = op.getRhs();
    // A [1, ..., 1, K, N] rhs is the same bytes as [K, N].
    auto rhsBatch = tensorType(rhs).getShape().drop_back(2);
    if (tensorType(rhs).getRank() > 2 &&
        llvm::all_of(rhsBatch, [](int64_t d) { return d == 1; }) &&
        rhsBatch != tensorType(op.getLhs()).getShape().drop_back(2)) {
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
    // The product's own shape; reshapes looked through are applied after.
    auto resultType = tensorType(op.getResult());
    if (f32Out)
      resultType = RankedTensorType::get(resultType.getShape(), b.getF32Type());
    if (residual && tensorType(residual) != resultType)
      residual = graph::ReshapeOp::create(b, op.getLoc(), resultType, residual);
    int64_t padded = (n + align - 1) / align * align;
    bool pad = unaligned && tensorType(rhs).getRank() == 2;
    if (pad) {
      rhs = padLastDim(b, op.getLoc(), rhs, padded);
      if (bias)
        bias = padLastDim(b, op.getLoc(), bias, padded);
    }
    // An f32 result is written unpadded from the padded rhs (the matmul
    // reads only its N columns); an f16/bf16 one is computed padded and
    // sliced (fused into the consumer).
    bool slice = pad && !f32Out;
    if (slice) {
      SmallVector<int64_t> shape(resultType.getShape());
      shape.back() = padded;
      resultType = RankedTensorType::get(shape, resultType.getElementType());
    }
    auto matmul = MatMulOp::create(b, op.getLoc(), resultType, op.getLhs(), rhs,
                                   bias, residual, b.getStringAttr(activation),
                                   b.getBoolAttr(false));
    Value replacement = matmul.getResult();
    if (slice) {
      SmallVector<int64_t> starts(resultType.getRank(), 0),
          steps(resultType.getRank(), 1);
      replacement = graph::SliceOp::create(
          b, op.getLoc(), tensorType(op.getResult()), replacement,
          b.getDenseI64ArrayAttr(starts), b.getDenseI64ArrayAttr(steps));
    }
    if (replacement.getType() != last->getResult(0).getType())
      replacement = graph::ReshapeOp::create(
          b, op.getLoc(), last->getResult(0).getType(), replacement);
    last->getResult(0).replaceAllUsesWith(replacement);
    // Erase the absorbed chain from its end back to the matmul, and the
    // unpadded constants padding replaced.
    eraseDeadChain(last, op);
    for (Operation *def : originals)
      if (def && isa<graph::ConstantOp>(def) && def->use_empty())
        def->erase();
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
        if (def == first || isa<graph::AddOp, graph::GeluOp, graph::ReluOp,
                                graph::ReshapeOp, graph::CastOp>(def))
          worklist.push_back(def);
    }
  }
};

} // namespace
} // namespace gaon::cuda
