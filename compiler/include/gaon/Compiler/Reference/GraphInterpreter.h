//===- GraphInterpreter.h - Reference evaluation of gaon.graph --*- C++ -*-===//
//
// Evaluates a gaon.graph function on the host, op by op, in double precision
// rounded to each value's element type. It is the numerical reference for
// the importer and the passes (their output must match the ONNX model's
// reference outputs) and the golden model that backends are compared with.
// It favours obviously-correct loops over speed: use it on test-sized models.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_COMPILER_REFERENCE_GRAPHINTERPRETER_H
#define GAON_COMPILER_REFERENCE_GRAPHINTERPRETER_H

#include "gaon/Dialect/Graph/ConstantTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <functional>

namespace gaon::reference {

/// Runs `func` on `inputs` (one per argument, types must match). Errors are
/// emitted on the op that cannot be evaluated.
/// `onValue`, when given, sees every op result as it is computed (the op is
/// the one in `func`, not a copy).
using ValueCallback = std::function<void(mlir::Operation *, unsigned,
                                         const graph::ConstantTensor &)>;
mlir::FailureOr<llvm::SmallVector<graph::ConstantTensor>>
interpret(mlir::func::FuncOp func, llvm::ArrayRef<graph::ConstantTensor> inputs,
          const ValueCallback &onValue = nullptr);

/// Error figures of `actual` against `expected` (same element count).
struct Comparison {
  double relativeL2 = 0; ///< ||actual - expected|| / ||expected||
  double maxAbs = 0;     ///< max |actual - expected|
  bool sameShape = true;
  /// True when non-finite values (NaN, inf) differ.
  bool nonFiniteMismatch = false;
};
Comparison compare(const graph::ConstantTensor &actual,
                   const graph::ConstantTensor &expected);

} // namespace gaon::reference

#endif // GAON_COMPILER_REFERENCE_GRAPHINTERPRETER_H
