//===- GraphOps.h - gaon.graph operations -----------------------*- C++ -*-===//

#ifndef GAON_DIALECT_GRAPH_GRAPHOPS_H
#define GAON_DIALECT_GRAPH_GRAPHOPS_H

#include "gaon/Dialect/Graph/GraphDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace gaon::graph {

/// The elementwise, reduction kinds that share one verifier and folder.
enum class BinaryKind {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Max,
  Min,
  Mod,
  And,
  Or,
  Xor,
  Equal,
  Less,
  LessEqual,
  Greater,
  GreaterEqual
};
enum class UnaryKind {
  Neg,
  Abs,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Reciprocal,
  Tanh,
  Erf,
  Sigmoid,
  Relu,
  Silu,
  Sin,
  Cos,
  Floor,
  Ceil,
  Round,
  Sign,
  Not
};
enum class ReduceKind { Sum, Mean, Max, Min, Prod };

/// Shape of broadcasting `lhs` with `rhs` (NumPy rules), or failure.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

llvm::LogicalResult verifyBinaryOp(mlir::Operation *op, bool isComparison);
llvm::LogicalResult verifyReduceOp(mlir::Operation *op,
                                   llvm::ArrayRef<int64_t> axes, bool keepDims);
mlir::OpFoldResult foldBinaryOp(mlir::Operation *op, BinaryKind kind,
                                mlir::Attribute lhs, mlir::Attribute rhs);
mlir::OpFoldResult foldUnaryOp(mlir::Operation *op, UnaryKind kind,
                               mlir::Attribute input);
mlir::OpFoldResult foldReduceOp(mlir::Operation *op, ReduceKind kind,
                                mlir::Attribute input,
                                llvm::ArrayRef<int64_t> axes);

} // namespace gaon::graph

#define GET_OP_CLASSES
#include "gaon/Dialect/Graph/GraphOps.h.inc"

#endif // GAON_DIALECT_GRAPH_GRAPHOPS_H
