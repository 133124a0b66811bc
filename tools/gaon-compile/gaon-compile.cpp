//===- gaon-compile.cpp - Compile ONNX models with Gaon -------------------===//
//
//   gaon-compile model.onnx --emit=graph [--input-shape name=2x16] [-o out]
//
// Imports the model, specializes its shapes, folds and optimizes the
// gaon.graph IR, and writes the requested form.
//
//===----------------------------------------------------------------------===//

#include "gaon/Compiler/Onnx/OnnxImporter.h"
#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {

enum class EmitKind { Import, Graph };

cl::OptionCategory category("gaon-compile options");

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.onnx>"),
                               cl::Required, cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("path"), cl::init("-"),
                                cl::cat(category));
cl::opt<EmitKind> emit(
    "emit", cl::desc("What to produce"), cl::init(EmitKind::Graph),
    cl::values(clEnumValN(EmitKind::Import, "import",
                          "gaon.graph IR as imported (folded, not optimized)"),
               clEnumValN(EmitKind::Graph, "graph",
                          "optimized gaon.graph IR")),
    cl::cat(category));
cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Fix an input's shape, e.g. input_ids=2x16 (repeatable, or "
             "comma-separated)"),
    cl::value_desc("name=DxD..."), cl::cat(category));
cl::list<std::string> boundInputs(
    "bind-input",
    cl::desc("Replace an input by the constant in a TensorProto file, for "
             "inputs that carry shapes or axes (repeatable)"),
    cl::value_desc("name=file.pb"), cl::cat(category));
cl::opt<std::string> funcName("func-name",
                             cl::desc("Name of the generated function"),
                             cl::init("main"), cl::cat(category));
cl::opt<bool> keepWeights(
    "keep-weights",
    cl::desc("Print weight blobs in full (default: elide blobs over 64 bytes "
             "so the IR stays readable)"),
    cl::init(false), cl::cat(category));

int fail(const Twine &message) {
  WithColor::error(errs(), "") << message << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Gaon compiler\n");

  gaon::onnx::ImportOptions options;
  options.functionName = funcName;
  for (const std::string &shape : inputShapes)
    if (std::string error = gaon::onnx::parseInputShape(shape, options);
        !error.empty())
      return fail(error);

  for (const std::string &binding : boundInputs)
    if (std::string error = gaon::onnx::parseBoundInput(binding, options);
        !error.empty())
      return fail(error);

  if (outputPath != "-") {
    SmallString<256> in(inputPath), out(outputPath);
    sys::fs::make_absolute(in);
    sys::fs::make_absolute(out);
    if (sys::fs::equivalent(in, out) || in == out)
      return fail("output '" + outputPath + "' would overwrite the input model");
  }

  mlir::MLIRContext context;
  context.loadDialect<gaon::graph::GraphDialect, mlir::func::FuncDialect>();
  // Print diagnostics as `error: message` (the message names the node).
  mlir::ScopedDiagnosticHandler handler(&context, [](mlir::Diagnostic &diag) {
    auto &os = errs();
    switch (diag.getSeverity()) {
    case mlir::DiagnosticSeverity::Error: WithColor::error(os, ""); break;
    case mlir::DiagnosticSeverity::Warning: WithColor::warning(os, ""); break;
    default: WithColor::note(os, ""); break;
    }
    os << diag.str() << "\n";
    for (auto &note : diag.getNotes())
      WithColor::note(os, "") << note.str() << "\n";
    return mlir::success();
  });

  auto module = gaon::onnx::importOnnxModel(context, inputPath, options);
  if (!module)
    return 1;
  if (failed(mlir::verify(*module)))
    return fail("the imported IR does not verify (a bug in the importer)");

  if (emit == EmitKind::Graph) {
    mlir::PassManager pm(&context);
    gaon::buildGraphOptimizationPipeline(pm);
    if (failed(pm.run(*module)))
      return fail("optimization failed");
  }

  std::string errorMessage;
  auto output = mlir::openOutputFile(outputPath, &errorMessage);
  if (!output)
    return fail(errorMessage);
  mlir::OpPrintingFlags flags;
  // Without the weights the module is printed in local scope, which leaves
  // out the dialect_resources section (building its hex text for a large
  // model would take most of the compile time).
  if (!keepWeights)
    flags.useLocalScope();
  module->print(output->os(), flags);
  output->os() << "\n";
  output->keep();
  return 0;
}
