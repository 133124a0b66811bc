//===- CompileModel.h - ONNX -> artifact, shared by the tools ---*- C++ -*-===//
//
// The steps gaon-compile runs, as a library, so that gaon-bench and the
// Python package compile in-process exactly as the CLI does (same passes,
// same messages):
//
//   importModel      ONNX -> gaon.graph, shapes specialized, constants folded
//   runPasses        with buildGraphPipeline (canonicalize, CSE, fusions,
//                    precision) and/or buildTargetPipeline (the backend's)
//   emitArtifact     the backend's lowering to a .gaon file
//
// Backends register themselves as TargetBackends: npu-sim when it is built
// (GAON_WITH_NPU_SIM); the CUDA backend adds "cuda" with one
// registerTargetBackend call (see docs/gaon-bench.md).
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TOOLS_COMPILEMODEL_H
#define GAON_TOOLS_COMPILEMODEL_H

#include "gaon/Tools/Progress.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gaon::tools {

/// What emitArtifact asks of a backend.
struct EmitRequest {
  std::string target;    ///< recorded in the artifact, e.g. "npu-sim:rngd"
  std::string modelName; ///< recorded in the artifact
  /// When set, receives a textual form of the generated program (npu-sim:
  /// the command stream, for --emit=npu).
  std::string *programText = nullptr;
};

/// A compiler backend, named by the part of a target before the colon.
struct TargetBackend {
  std::string name;           ///< "npu-sim", "cuda"
  std::string usage;          ///< "npu-sim[:rngd|atom|tiny|chip.json]"
  std::string defaultVariant; ///< used when the target has no ":variant"
  /// Adds dialects and interfaces the backend needs in the context (may be
  /// empty).
  std::function<void(mlir::DialectRegistry &)> registerDialects;
  /// The --dtype values it compiles (checkTargetDType).
  std::vector<std::string> dtypes = {"fp32", "bf16", "fp16"};
  /// Adds the backend's passes (run after buildGraphPipeline), for the
  /// target's --dtype.
  std::function<void(mlir::OpPassManager &, const std::string &variant,
                     const std::string &dtype)>
      buildPipeline;
  /// Lowers what the pipeline produced and writes the artifact to `path`
  /// ("" = only EmitRequest::programText). Errors are MLIR diagnostics.
  std::function<mlir::LogicalResult(mlir::ModuleOp, const std::string &path,
                                    const EmitRequest &)>
      emit;
};

/// Adds (or replaces, by name) a backend.
void registerTargetBackend(TargetBackend backend);
/// Null when no backend of that name is built in.
const TargetBackend *findTargetBackend(llvm::StringRef name);
/// "npu-sim[:rngd|atom|tiny|chip.json]", one entry per backend, for messages.
std::string availableTargets();

struct TargetSpec {
  const TargetBackend *backend = nullptr;
  std::string variant;        ///< after the colon, or the backend's default
  std::string target;         ///< what the artifact records ("npu-sim:rngd")
  std::string dtype = "fp32"; ///< set by checkTargetDType
};

/// Parses "npu-sim:atom"; returns "" or "unknown target 'x' (available:
/// ...)".
std::string parseTarget(llvm::StringRef text, TargetSpec &spec);
/// "" or "unknown --dtype 'x' (fp32, bf16, fp16 or int8)".
std::string checkDType(llvm::StringRef dtype);
/// Checks that the parsed target compiles `dtype` and records it in `spec`
/// (its pipeline depends on it); "" or "target 'cuda' does not support
/// --dtype int8 (it takes fp32, bf16, fp16)".
std::string checkTargetDType(TargetSpec &spec, llvm::StringRef dtype);

struct CompileOptions {
  std::string modelPath;
  std::string dtype = "fp32"; ///< fp32, bf16, fp16
  /// "name=1x128" each (comma-separated lists allowed), as --input-shape.
  std::vector<std::string> inputShapes;
  /// "name=file.pb" each, as --bind-input.
  std::vector<std::string> boundInputs;
  std::string funcName = "main";
  /// Pass-by-pass progress ("[3/7] gaon-fuse-attention"); may be null.
  ProgressLine *progress = nullptr;
};

/// Records every diagnostic of a context as "error: ...", "warning: ...",
/// "note: ..." lines (the CLI's format); with `echo` also prints them to
/// stderr as they come, coloured like gaon-compile's. Keep it alive while
/// the context is used.
class DiagnosticCollector {
public:
  DiagnosticCollector(mlir::MLIRContext &context, bool echo);
  ~DiagnosticCollector();
  // The handler points at this object.
  DiagnosticCollector(const DiagnosticCollector &) = delete;
  DiagnosticCollector &operator=(const DiagnosticCollector &) = delete;
  /// Adds an error that did not come from MLIR (bad option values).
  void addError(const std::string &message);
  /// All recorded lines, newline-separated, without a trailing newline.
  std::string text() const;
  /// The recorded lines from the first error on (what an exception says).
  std::string errorText() const;
  bool hasErrors() const { return errors > 0; }

private:
  void record(mlir::DiagnosticSeverity severity, const std::string &message);
  std::vector<std::string> lines;
  size_t firstError = 0;
  unsigned errors = 0;
  bool echo;
  std::unique_ptr<mlir::ScopedDiagnosticHandler> handler;
};

/// A context with the dialects the import creates loaded and every
/// backend's dialects and interfaces registered.
std::unique_ptr<mlir::MLIRContext> createCompilerContext();

/// Parses the shape and binding options and imports the model; on failure
/// the reason is a diagnostic (option errors are emitted at an unknown
/// location) and the result is null. The IR is verified.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const CompileOptions &options);

/// gaon-graph-optimize, then gaon-convert-precision for bf16/fp16.
void buildGraphPipeline(mlir::OpPassManager &pm, llvm::StringRef dtype);
/// The backend's passes for `spec`.
void buildTargetPipeline(mlir::OpPassManager &pm, const TargetSpec &spec);

/// Runs the passes `build` adds on `module`, showing "[k/N] pass" on
/// `progress` (may be null) after `label` (e.g. "npu-sim:rngd ").
mlir::LogicalResult
runPasses(mlir::ModuleOp module,
          const std::function<void(mlir::OpPassManager &)> &build,
          ProgressLine *progress, const std::string &label = "");

/// The backend's emission: writes the artifact to `path`.
mlir::LogicalResult emitArtifact(mlir::ModuleOp module, const TargetSpec &spec,
                                 const std::string &path,
                                 const std::string &modelName,
                                 std::string *programText = nullptr);

/// Exports are often all called model.onnx: the model is named after its
/// folder then, else after the file's stem.
std::string modelNameFor(llvm::StringRef modelPath);

/// Work and bytes of one forward pass of an optimized gaon.graph function,
/// the target-independent inputs of a roofline bound.
struct GraphCost {
  /// 2 x multiply-adds of matmuls, convolutions and attention (QK^T and PV,
  /// every key counted: causal masking is not discounted).
  double flops = 0;
  /// Every constant in its (converted) dtype; of a table only gathers read
  /// (an embedding), the slices they take.
  uint64_t weightBytes = 0;
  /// Of those, the 2-D float weights of matmuls (what --dtype int8 stores
  /// in one byte per element): bytes and elements.
  uint64_t matmulWeightBytes = 0, matmulWeightElements = 0;
  uint64_t inputBytes = 0, outputBytes = 0;
  uint64_t matmuls = 0, attentions = 0, convolutions = 0;
};
/// Of the function `funcName` (or the only function) of `module`.
GraphCost analyzeGraphCost(mlir::ModuleOp module,
                           llvm::StringRef funcName = "main");

} // namespace gaon::tools

#endif // GAON_TOOLS_COMPILEMODEL_H
