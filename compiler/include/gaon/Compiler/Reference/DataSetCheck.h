//===- DataSetCheck.h - Run a model on a backend-test data set --*- C++ -*-===//
//
// Shared by gaon-check and gaon-onnx-conformance: compile an ONNX model for
// one test_data_set_N folder, run it on the reference interpreter and compare
// every output with the expected one.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_COMPILER_REFERENCE_DATASETCHECK_H
#define GAON_COMPILER_REFERENCE_DATASETCHECK_H

#include "gaon/Compiler/Reference/GraphInterpreter.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>
#include <vector>

namespace gaon::reference {

struct OutputCheck {
  std::string name;
  std::vector<int64_t> shape;
  Comparison error;
  bool pass = false;
};

struct DataSetResult {
  std::string notes; ///< from the target runner (cycles, energy, ...)
  /// Where it stopped when it did not get to compare: "compile", "optimize",
  /// "run" or "data"; empty when outputs were compared.
  std::string failedStage;
  std::string message;
  std::vector<OutputCheck> outputs;
  bool pass() const {
    return failedStage.empty() &&
           llvm::all_of(outputs, [](const OutputCheck &o) { return o.pass; });
  }
};

/// Runs the compiled module on a target: returns its outputs, or failure
/// after emitting a diagnostic. `notes` receives lines for the report
/// (cycles, energy). The default runs the reference interpreter.
using TargetRunner =
    std::function<mlir::FailureOr<llvm::SmallVector<graph::ConstantTensor>>(
        mlir::ModuleOp, llvm::ArrayRef<graph::ConstantTensor>,
        std::string &notes)>;

struct CheckOptions {
  bool optimize = true;       ///< run gaon-graph-optimize before running
  std::string dtype = "fp32"; ///< or bf16 / fp16 (gaon-convert-precision)
  double rtol = 1e-4;         ///< largest relative L2 error that passes
  double atol = 1e-6;         ///< or largest max-abs error that passes
  TargetRunner runner;        ///< empty: the reference interpreter
};

DataSetResult checkDataSet(llvm::StringRef modelPath,
                           llvm::StringRef dataSetDir,
                           const CheckOptions &options);

} // namespace gaon::reference

#endif // GAON_COMPILER_REFERENCE_DATASETCHECK_H
