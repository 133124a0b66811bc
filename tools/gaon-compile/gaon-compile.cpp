//===- gaon-compile.cpp - Compile ONNX models with Gaon -------------------===//
//
//   gaon-compile model.onnx --emit=graph [--input-shape name=2x16] [-o out]
//   gaon-compile model.onnx --target=npu-sim[:preset] -o model.gaon
//   gaon-compile model.onnx --target=cuda[:sm_90] --dtype=fp16 -o model.gaon
//
// Imports the model, specializes its shapes, folds and optimizes the
// gaon.graph IR, and writes the requested form: IR, or for a target an
// artifact that gaon-run executes.
//
//===----------------------------------------------------------------------===//

#ifdef GAON_WITH_CUDA
#include "gaon/Backends/Cuda/Codegen.h"
#include "gaon/Backends/Cuda/Passes.h"
#endif
#include "gaon/Compiler/Onnx/OnnxImporter.h"
#include "gaon/Dialect/Graph/GraphDialect.h"
#include "gaon/Tools/CompileModel.h"
#include "gaon/Tools/PassProgress.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {

enum class EmitKind { Import, Graph, Npu, Cuda, Ptx, Artifact };

constexpr const char *kTargets =
    "npu-sim[:rngd|atom|tiny|chip.json], cuda[:sm_90|sm_80|sm_86|sm_89|sm_100]";

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
                          "optimized gaon.graph IR (default without --target)"),
               clEnumValN(EmitKind::Npu, "npu",
                          "the IR lowered for npu-sim (chip, DRAM plan) and "
                          "its command stream in text form"),
               clEnumValN(EmitKind::Cuda, "cuda",
                          "the IR lowered for cuda: cuBLASLt matmuls, "
                          "attention and generated gpu.func kernels"),
               clEnumValN(EmitKind::Ptx, "ptx",
                          "the PTX of the generated kernels (--target=cuda)"),
               clEnumValN(EmitKind::Artifact, "artifact",
                          "a .gaon artifact for gaon-run (default with "
                          "--target)")),
    cl::cat(category));
cl::opt<std::string>
    target("target",
           cl::desc("Compile for a target: npu-sim[:rngd|atom|tiny|chip.json] "
                    "or cuda[:sm_90|sm_80|...]"),
           cl::value_desc("target"), cl::cat(category));
cl::opt<std::string>
    dtype("dtype",
          cl::desc("Compute type: fp32 (default), bf16 or fp16 (weights and "
                   "activations; matmuls and reductions accumulate in fp32), "
                   "or int8 (npu-sim: bf16, with products over constant "
                   "weights in int8)"),
          cl::init("fp32"), cl::cat(category));
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

cl::opt<bool>
    timing("timing",
           cl::desc("Print where the compile time goes (import, each pass, "
                    "emission) to stderr"),
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
      return fail("output '" + outputPath +
                  "' would overwrite the input model");
  }

  // Every backend's dialects registered, the import's loaded.
  std::unique_ptr<mlir::MLIRContext> contextOwner =
      gaon::tools::createCompilerContext();
  mlir::MLIRContext &context = *contextOwner;
  // Print diagnostics as `error: message` (the message names the node).
  mlir::ScopedDiagnosticHandler handler(&context, [](mlir::Diagnostic &diag) {
    auto &os = errs();
    switch (diag.getSeverity()) {
    case mlir::DiagnosticSeverity::Error:
      WithColor::error(os, "");
      break;
    case mlir::DiagnosticSeverity::Warning:
      WithColor::warning(os, "");
      break;
    default:
      WithColor::note(os, "");
      break;
    }
    os << diag.str() << "\n";
    for (auto &note : diag.getNotes())
      WithColor::note(os, "") << note.str() << "\n";
    return mlir::success();
  });

  // What to produce: IR unless a target is named.
  bool emitGiven = emit.getNumOccurrences() > 0;
  EmitKind kind = emitGiven        ? emit.getValue()
                  : target.empty() ? EmitKind::Graph
                                   : EmitKind::Artifact;
  StringRef targetName = StringRef(target).split(':').first;
  if (!target.empty() && targetName != "npu-sim" && targetName != "cuda")
    return fail("unknown target '" + target + "' (available: " + kTargets +
                ")");
  bool forCuda = targetName == "cuda";
  if ((kind == EmitKind::Cuda || kind == EmitKind::Ptx) && !forCuda)
    return fail("--emit=cuda and --emit=ptx need --target=cuda[:sm_XX]");
  if (kind == EmitKind::Npu && targetName != "npu-sim")
    return fail("--emit=npu needs --target=npu-sim[:preset]");
  bool lowersForNpu = targetName == "npu-sim" &&
                      (kind == EmitKind::Npu || kind == EmitKind::Artifact);
  bool lowersForCuda =
      forCuda && (kind == EmitKind::Cuda || kind == EmitKind::Ptx ||
                  kind == EmitKind::Artifact);
  if (kind == EmitKind::Artifact && target.empty())
    return fail(std::string("--emit=artifact needs --target (available: ") +
                kTargets + ")");
  std::string cudaArch;
  if (forCuda) {
#ifdef GAON_WITH_CUDA
    std::string error;
    cudaArch = gaon::cuda::cudaArchOfTarget(target, error);
    if (cudaArch.empty())
      return fail(error);
#else
    return fail("this gaon-compile was built without the cuda backend "
                "(configure with the CUDA toolkit installed)");
#endif
  }
  if (std::string error = gaon::tools::checkDType(dtype); !error.empty())
    return fail(error);
  if (kind == EmitKind::Artifact && outputPath == "-")
    return fail("an artifact is binary: give the output file with -o");
  // The backend (tools/common/CompileModel.cpp, shared with gaon-bench and
  // the Python package).
  gaon::tools::TargetSpec spec;
  if (lowersForNpu || lowersForCuda)
    if (std::string error = gaon::tools::parseTarget(target, spec);
        !error.empty())
      return fail(lowersForNpu ? "this gaon-compile was built without the "
                                 "npu-sim backend"
                               : error);
  if (lowersForNpu || lowersForCuda)
    if (std::string error = gaon::tools::checkTargetDType(spec, dtype);
        !error.empty())
      return fail(error);

  // "[3/7] pass" on a terminal; cleared before any diagnostic is printed.
  gaon::tools::ProgressLine progress;
  gaon::tools::ClearProgressOnDiagnostic clearProgress(context, progress);
  // --timing: the report prints when the manager goes out of scope, after
  // every phase's scope (declared later) has closed.
  mlir::DefaultTimingManager timingManager;
  timingManager.setEnabled(timing);
  mlir::TimingScope rootTiming = timingManager.getRootScope();
  mlir::OwningOpRef<mlir::ModuleOp> module;
  {
    mlir::TimingScope importTiming = rootTiming.nest("import (ONNX reader)");
    gaon::tools::Spinner spinner(progress, "importing " + inputPath);
    module = gaon::onnx::importOnnxModel(context, inputPath, options);
  }
  if (!module)
    return 1;
  if (failed(mlir::verify(*module)))
    return fail("the imported IR does not verify (a bug in the importer)");

  if (kind != EmitKind::Import) {
    mlir::PassManager pm(&context);
    gaon::tools::buildGraphPipeline(pm, dtype);
    if (lowersForNpu || lowersForCuda)
      gaon::tools::buildTargetPipeline(pm, spec);
    gaon::tools::addPassProgress(pm, progress);
    mlir::TimingScope passTiming = rootTiming.nest("passes");
    pm.enableTiming(passTiming);
    if (failed(pm.run(*module)))
      return 1;
    progress.clear();
  }
  mlir::TimingScope emitTiming = rootTiming.nest("emission");

  std::string modelName = gaon::tools::modelNameFor(inputPath);

#ifdef GAON_WITH_CUDA
  if (lowersForCuda && kind != EmitKind::Cuda) {
    // The cuda backend's emit step serializes the kernels itself.
    if (kind == EmitKind::Artifact) {
      gaon::tools::Spinner spinner(progress, "emitting the artifact");
      return failed(gaon::tools::emitArtifact(*module, spec, outputPath,
                                              modelName))
                 ? 1
                 : 0;
    }
    if (failed(gaon::cuda::serializeKernelsToPtx(*module, cudaArch)))
      return fail("PTX generation failed");
    std::string errorMessage;
    auto output = mlir::openOutputFile(outputPath, &errorMessage);
    if (!output)
      return fail(errorMessage);
    for (auto &[name, ptx] : gaon::cuda::collectPtx(*module))
      output->os() << "// ---- kernel module @" << name << " (" << cudaArch
                   << ")\n"
                   << ptx << "\n";
    output->keep();
    return 0;
  }
#endif

#ifdef GAON_WITH_NPU_SIM
  std::string streamText;
  if (lowersForNpu) {
    std::string artifactPath =
        kind == EmitKind::Artifact ? outputPath.getValue() : "";
    gaon::tools::Spinner spinner(progress, kind == EmitKind::Artifact
                                               ? "emitting the artifact"
                                               : "emitting the stream");
    if (failed(gaon::tools::emitArtifact(*module, spec, artifactPath, modelName,
                                         kind == EmitKind::Npu ? &streamText
                                                               : nullptr)))
      return 1;
    if (kind == EmitKind::Artifact)
      return 0;
  }
#endif

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
#ifdef GAON_WITH_NPU_SIM
  if (kind == EmitKind::Npu)
    output->os() << "// command stream (gaon-npu-sim text form):\n"
                 << streamText;
#endif
  output->keep();
  return 0;
}
