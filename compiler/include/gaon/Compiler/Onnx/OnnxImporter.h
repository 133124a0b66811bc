//===- OnnxImporter.h - ONNX protobuf to gaon.graph -------------*- C++ -*-===//
//
// Imports an ONNX model into a `func.func @main` of gaon.graph ops with
// static shapes. Dynamic dimensions are fixed by ImportOptions::inputShapes;
// every value computable at compile time (a TorchScript export's shape
// arithmetic) is folded into a constant while importing.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_COMPILER_ONNX_ONNXIMPORTER_H
#define GAON_COMPILER_ONNX_ONNXIMPORTER_H

#include "gaon/Dialect/Graph/ConstantTensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace gaon::onnx {

struct ImportOptions {
  /// Shapes for graph inputs (`--input-shape name=2x16`); required for inputs
  /// with dynamic dimensions, checked against static ones.
  llvm::StringMap<llvm::SmallVector<int64_t>> inputShapes;
  /// Graph inputs replaced by constants read from serialized TensorProto
  /// files (`--bind-input name=file.pb`): for inputs that carry shapes,
  /// axes or bounds, whose values the compiler must know.
  llvm::StringMap<std::string> boundInputs;
  /// Name of the function holding the graph.
  std::string functionName = "main";
};

/// Parses `text` of the form `name=2x16` (several separated by `,` or given
/// one per call) into `options`. Returns an error message or "".
std::string parseInputShape(llvm::StringRef text, ImportOptions &options);

/// Parses `name=file.pb` into `options.boundInputs`. Returns an error or "".
std::string parseBoundInput(llvm::StringRef text, ImportOptions &options);

/// Imports the model at `path`. Errors are emitted as diagnostics on
/// `context` (unsupported ops, malformed files, shape mismatches) and yield a
/// null module.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxModel(mlir::MLIRContext &context,
                                                  llvm::StringRef path,
                                                  const ImportOptions &options);

/// Reads a serialized onnx.TensorProto file (a backend test's input_K.pb or
/// output_K.pb). On failure returns nullopt and sets `error`.
std::optional<graph::ConstantTensor> readTensorFile(mlir::MLIRContext &context,
                                                    llvm::StringRef path,
                                                    std::string &error);

/// Fills `options` for running the model on the data set in `dataSetDir`
/// (ONNX backend-test layout: input_K.pb for the K-th graph input that is
/// not an initializer). Dynamic inputs get the data's shapes; with
/// `bindSmall`, integer vectors and scalars (shapes, axes, bounds) are bound
/// as constants, as a deployed model would have them. Returns an error or "".
/// `inputNames`, when given, receives the names of those graph inputs in
/// data-set order.
std::string specializeToDataSet(llvm::StringRef modelPath,
                                llvm::StringRef dataSetDir,
                                ImportOptions &options, bool bindSmall,
                                std::vector<std::string> *inputNames = nullptr);

/// The ONNX op types the importer converts (domain "" / "ai.onnx").
std::vector<std::string> getSupportedOpTypes();

} // namespace gaon::onnx

#endif // GAON_COMPILER_ONNX_ONNXIMPORTER_H
