//===- ScalarOps.h - Scalar code for gaon_graph elementwise ops -*- C++ -*-===//
//
// The arith/math code of one element of a gaon_graph elementwise op (and of
// reduction combiners), shared by the two ways fusions become kernels: the
// elemental kernel emitter (KernelEmitter.cpp) and the linalg form of a
// fusion (FusionsToLinalg.cpp), whose linalg.generic bodies are built with
// the same code so both compute bit-identical values.
//
// Values are computed in a "compute type": f32 for f16/bf16/f32 data, the
// integer type for integers, i1 for booleans.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_BACKENDS_CUDA_SCALAROPS_H
#define GAON_BACKENDS_CUDA_SCALAROPS_H

#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <string>

namespace gaon::cuda {

/// Reported on the op that cannot be lowered; unwinds the emitter (callers
/// compile with -fexceptions).
struct Unsupported {
  mlir::Operation *op;
  std::string what;
};

inline mlir::RankedTensorType tensorType(mlir::Value v) {
  return mlir::cast<mlir::RankedTensorType>(v.getType());
}

/// f32 for f16/bf16 (math runs in f32), the type itself otherwise.
mlir::Type computeType(mlir::Type element);

enum class Combine { Sum, Max, Min, Prod };

class ScalarOps {
public:
  ScalarOps(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  mlir::Value f32(double v);
  mlir::Value constantOf(mlir::Type type, double v);
  /// The identity of `kind` as a float of type `type` (f32 by default).
  mlir::Value identity(Combine kind, mlir::Type type = {});
  /// Max and min of integers compare unsigned when `isUnsigned` (the
  /// reductions reject unsigned data; elementwise max/min pass it).
  mlir::Value combine(Combine kind, mlir::Value a, mlir::Value c,
                      bool isUnsigned = false);

  /// Whether unary()/binary() compute `op` (elementwise, numpy broadcast).
  static bool isUnary(mlir::Operation *op);
  static bool isBinary(mlir::Operation *op);
  /// One element of a unary/binary gaon_graph op from its operands' elements
  /// in compute type; `operandElement` is the operands' tensor element type.
  mlir::Value unary(mlir::Operation *op, mlir::Value x);
  mlir::Value binary(mlir::Operation *op, mlir::Value x, mlir::Value y,
                     mlir::Type operandElement);
  /// A gaon_graph.cast of `x` (compute type of `from`) to `to`.
  mlir::Value convert(mlir::Value x, mlir::Type from, mlir::Type to);
  /// The value of a splat gaon_graph.constant in compute type.
  mlir::Value splatConstant(graph::ConstantOp op);
  mlir::Value clamp(graph::ClampOp op, mlir::Value x);
  /// x ** y for integers: exact, wrapping like numpy (square and multiply
  /// over y's bits in an scf.for); a negative y gives 1 / x^|y| truncated
  /// (0 unless |x| == 1).
  mlir::Value integerPow(mlir::Value x, mlir::Value y, bool isUnsigned);

  mlir::OpBuilder &b;
  mlir::Location loc;
};

} // namespace gaon::cuda

#endif // GAON_BACKENDS_CUDA_SCALAROPS_H
