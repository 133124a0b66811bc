//===- CudaDialect.cpp - gaon.cuda dialect --------------------------------===//

#include "gaon/Dialect/Cuda/CudaDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace gaon::cuda;

#include "gaon/Dialect/Cuda/CudaDialect.cpp.inc"

void CudaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "gaon/Dialect/Cuda/CudaOps.cpp.inc"
      >();
}

LogicalResult MatMulOp::verify() {
  auto lhs = getLhs().getType(), rhs = getRhs().getType();
  auto result = getResult().getType();
  if (lhs.getRank() < 2 || rhs.getRank() < 2 ||
      result.getRank() != lhs.getRank())
    return emitOpError("lhs and result must have the same rank >= 2, rhs "
                       "rank >= 2");
  int64_t rank = lhs.getRank();
  int64_t k = lhs.getDimSize(rank - 1), m = lhs.getDimSize(rank - 2);
  int64_t rk = rhs.getDimSize(rhs.getRank() - (getTransposeRhs() ? 1 : 2));
  int64_t rn = rhs.getDimSize(rhs.getRank() - (getTransposeRhs() ? 2 : 1));
  int64_t n = result.getDimSize(rank - 1);
  // A 2-D rhs may have zero-padded columns beyond the result's (aligned
  // rows for cuBLASLt); they are not computed.
  bool widerRhs = rhs.getRank() == 2 && !getTransposeRhs() && rn > n;
  if (k != rk || result.getDimSize(rank - 2) != m || (rn != n && !widerRhs))
    return emitOpError("operand and result shapes do not form a matmul");
  if (rhs.getRank() != 2 && rhs.getRank() != rank)
    return emitOpError("rhs must be 2-D or have the lhs's batch dimensions");
  if (rhs.getRank() == rank &&
      rhs.getShape().drop_back(2) != lhs.getShape().drop_back(2))
    return emitOpError("rhs batch dimensions differ from the lhs's");
  if (getBias() && getBias().getType().getNumElements() != n)
    return emitOpError("bias must have one element per output column");
  if (getResidual() && getResidual().getType() != result)
    return emitOpError("residual must have the result's type");
  StringRef act = getActivation();
  if (act != "none" && act != "gelu_tanh" && act != "relu")
    return emitOpError("unknown activation '") << act << "'";
  Type element = lhs.getElementType();
  if (rhs.getElementType() != element ||
      (getBias() && getBias().getType().getElementType() != element))
    return emitOpError("operands must share one element type");
  // f16/bf16 products may be written as f32 (cuBLASLt converts in its
  // epilogue), but then a bias would have another type than D.
  Type out = result.getElementType();
  if (out != element &&
      !(out.isF32() && (element.isF16() || element.isBF16()) && !getBias()))
    return emitOpError("result element type must be the operands' (or f32 "
                       "for f16/bf16 operands without a bias)");
  return success();
}

int64_t AttentionOp::getNumHeads() {
  return getResult().getType().getDimSize(getResultBshd() ? 2 : 1);
}

int64_t AttentionOp::getNumKvHeads() {
  if (auto heads = getKvHeads())
    return static_cast<int64_t>(*heads);
  return getKey().getType().getDimSize(getKeyBshd() ? 2 : 1);
}

LogicalResult AttentionOp::verify() {
  auto result = getResult().getType();
  if (result.getRank() != 4)
    return emitOpError("needs a rank-4 result");
  struct Operand {
    const char *name;
    RankedTensorType type;
    bool bshd;
    int64_t offset, heads;
  } operands[] = {{"query", getQuery().getType(), getQueryBshd(),
                   static_cast<int64_t>(getQueryHeadOffset()), getNumHeads()},
                  {"key", getKey().getType(), getKeyBshd(),
                   static_cast<int64_t>(getKeyHeadOffset()), getNumKvHeads()},
                  {"value", getValue().getType(), getValueBshd(),
                   static_cast<int64_t>(getValueHeadOffset()),
                   getNumKvHeads()}};
  int64_t headDim = result.getDimSize(3);
  for (const Operand &o : operands) {
    if (o.type.getRank() != 4 || o.type.getDimSize(3) != headDim)
      return emitOpError(o.name)
             << " must be rank 4 with the result's head dim " << headDim;
    int64_t available = o.type.getDimSize(o.bshd ? 2 : 1);
    if (o.offset < 0 || o.heads <= 0 || o.offset + o.heads > available)
      return emitOpError(o.name)
             << " heads [" << o.offset << ", " << o.offset + o.heads
             << ") are not within its " << available << " heads";
  }
  if (getNumHeads() % getNumKvHeads() != 0)
    return emitOpError("heads (")
           << getNumHeads() << ") must be a multiple of kv_heads ("
           << getNumKvHeads() << ")";
  return success();
}

LogicalResult FusionOp::verify() {
  Block &block = getBlock();
  if (block.getNumArguments() != getInputs().size())
    return emitOpError("body must take one argument per input");
  for (auto [arg, input] : llvm::zip(block.getArguments(), getInputs()))
    if (arg.getType() != input.getType())
      return emitOpError("body argument types must match the inputs");
  auto yield = cast<YieldOp>(block.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yielded types must match the results");
  return success();
}

LogicalResult LaunchOp::verify() {
  if (getGrid().size() != 3 || getBlock().size() != 3)
    return emitOpError("grid and block must have three dimensions");
  for (int32_t d : llvm::concat<const int32_t>(getGrid(), getBlock()))
    if (d <= 0)
      return emitOpError("grid and block dimensions must be positive");
  return success();
}

#define GET_OP_CLASSES
#include "gaon/Dialect/Cuda/CudaOps.cpp.inc"
