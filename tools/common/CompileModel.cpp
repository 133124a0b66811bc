//===- CompileModel.cpp - ONNX -> artifact, shared by the tools -----------===//

#include "gaon/Tools/CompileModel.h"
#include "gaon/Tools/PassProgress.h"

#ifdef GAON_WITH_CUDA
#include "gaon/Backends/Cuda/Codegen.h"
#include "gaon/Backends/Cuda/Passes.h"
#endif
#ifdef GAON_WITH_NPU_SIM
#include "gaon/Backends/NpuSim/EmitArtifact.h"
#include "gaon/Backends/NpuSim/Passes.h"
#endif
#include "gaon/Compiler/Onnx/OnnxImporter.h"
#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphDialect.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <mutex>
#include <optional>

using namespace mlir;

namespace gaon::tools {

//===----------------------------------------------------------------------===//
// Backends
//===----------------------------------------------------------------------===//

namespace {

std::vector<TargetBackend> &backendList() {
  // Built-in backends register on first use rather than from static
  // initializers, which a static library would drop.
  static std::vector<TargetBackend> backends = [] {
    std::vector<TargetBackend> list;
#ifdef GAON_WITH_NPU_SIM
    TargetBackend npu;
    npu.name = "npu-sim";
    npu.usage = "npu-sim[:rngd|atom|tiny|chip.json]";
    npu.defaultVariant = "rngd";
    npu.dtypes = {"fp32", "bf16", "fp16", "int8"};
    npu.buildPipeline = [](OpPassManager &pm, const std::string &variant,
                           const std::string &dtype) {
      npu::buildNpuPipeline(pm, variant, /*reuseMemory=*/true,
                            /*fuseEpilogues=*/true,
                            /*quantizeInt8=*/dtype == "int8");
    };
    npu.emit = [](ModuleOp module, const std::string &path,
                  const EmitRequest &request) {
      npu::EmitOptions options;
      options.target = request.target;
      options.modelName = request.modelName;
      options.streamText = request.programText;
      return npu::emitNpuArtifact(module, path, options);
    };
    list.push_back(std::move(npu));
#endif
#ifdef GAON_WITH_CUDA
    TargetBackend cudaBackend;
    cudaBackend.name = "cuda";
    cudaBackend.usage = "cuda[:sm_90|sm_80|sm_86|sm_89|sm_100]";
    // The architecture defaults inside the backend (cudaArchOfTarget); the
    // artifact records the target as given, as gaon-compile always did.
    cudaBackend.defaultVariant = "";
    cudaBackend.registerDialects = [](DialectRegistry &registry) {
      registry.insert<cuda::CudaDialect>();
      cuda::registerCudaCodegenDependencies(registry);
    };
    cudaBackend.buildPipeline = [](OpPassManager &pm, const std::string &,
                                   const std::string &) {
      cuda::buildCudaLoweringPipeline(pm);
    };
    cudaBackend.emit = [](ModuleOp module, const std::string &path,
                          const EmitRequest &request) -> LogicalResult {
      std::string error;
      std::string arch = cuda::cudaArchOfTarget(request.target, error);
      if (arch.empty())
        return module.emitError(error);
      if (failed(cuda::serializeKernelsToPtx(module, arch)))
        return module.emitError("PTX generation failed");
      cuda::CudaEmitOptions options;
      options.target = request.target;
      options.arch = arch;
      options.modelName = request.modelName;
      return cuda::emitCudaArtifact(module, path, options);
    };
    list.push_back(std::move(cudaBackend));
#endif
    return list;
  }();
  return backends;
}

std::mutex &backendMutex() {
  static std::mutex mutex;
  return mutex;
}

} // namespace

void registerTargetBackend(TargetBackend backend) {
  std::lock_guard<std::mutex> lock(backendMutex());
  for (TargetBackend &existing : backendList())
    if (existing.name == backend.name) {
      existing = std::move(backend);
      return;
    }
  backendList().push_back(std::move(backend));
}

const TargetBackend *findTargetBackend(llvm::StringRef name) {
  std::lock_guard<std::mutex> lock(backendMutex());
  for (const TargetBackend &backend : backendList())
    if (backend.name == name)
      return &backend;
  return nullptr;
}

std::string availableTargets() {
  std::lock_guard<std::mutex> lock(backendMutex());
  std::string text;
  for (const TargetBackend &backend : backendList())
    text += (text.empty() ? "" : ", ") + backend.usage;
  return text.empty() ? "none: this build has no compiler backend" : text;
}

std::string parseTarget(llvm::StringRef text, TargetSpec &spec) {
  auto [name, variant] = text.split(':');
  spec.backend = findTargetBackend(name);
  if (!spec.backend)
    return "unknown target '" + text.str() +
           "' (available: " + availableTargets() + ")";
  spec.variant = variant.empty() ? spec.backend->defaultVariant : variant.str();
  // The artifact records the variant the chip was compiled for.
  spec.target =
      spec.variant.empty() ? name.str() : name.str() + ":" + spec.variant;
  return "";
}

std::string checkDType(llvm::StringRef dtype) {
  if (dtype == "fp32" || dtype == "bf16" || dtype == "fp16" || dtype == "int8")
    return "";
  return "unknown --dtype '" + dtype.str() + "' (fp32, bf16, fp16 or int8)";
}

std::string checkTargetDType(TargetSpec &spec, llvm::StringRef dtype) {
  if (std::string error = checkDType(dtype); !error.empty())
    return error;
  if (spec.backend && !llvm::is_contained(spec.backend->dtypes, dtype)) {
    std::string supported;
    for (const std::string &d : spec.backend->dtypes)
      supported += (supported.empty() ? "" : ", ") + d;
    return "target '" + spec.target + "' does not support --dtype " +
           dtype.str() + " (it takes " + supported + ")";
  }
  spec.dtype = dtype.str();
  return "";
}

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

DiagnosticCollector::DiagnosticCollector(MLIRContext &context, bool echo)
    : echo(echo) {
  handler = std::make_unique<ScopedDiagnosticHandler>(
      &context, [this](Diagnostic &diag) {
        record(diag.getSeverity(), diag.str());
        for (Diagnostic &note : diag.getNotes())
          record(DiagnosticSeverity::Note, note.str());
        return success();
      });
}

DiagnosticCollector::~DiagnosticCollector() = default;

void DiagnosticCollector::addError(const std::string &message) {
  record(DiagnosticSeverity::Error, message);
}

void DiagnosticCollector::record(DiagnosticSeverity severity,
                                 const std::string &message) {
  const char *prefix = "note: ";
  if (severity == DiagnosticSeverity::Error) {
    prefix = "error: ";
    if (errors++ == 0)
      firstError = lines.size();
  } else if (severity == DiagnosticSeverity::Warning) {
    prefix = "warning: ";
  }
  lines.push_back(prefix + message);
  if (!echo)
    return;
  auto &os = llvm::errs();
  if (severity == DiagnosticSeverity::Error)
    llvm::WithColor::error(os, "");
  else if (severity == DiagnosticSeverity::Warning)
    llvm::WithColor::warning(os, "");
  else
    llvm::WithColor::note(os, "");
  os << message << "\n";
}

std::string DiagnosticCollector::text() const {
  std::string out;
  for (const std::string &line : lines)
    out += (out.empty() ? "" : "\n") + line;
  return out;
}

std::string DiagnosticCollector::errorText() const {
  std::string out;
  for (size_t i = errors ? firstError : lines.size(); i < lines.size(); ++i)
    out += (out.empty() ? "" : "\n") + lines[i];
  return out;
}

//===----------------------------------------------------------------------===//
// Steps
//===----------------------------------------------------------------------===//

std::unique_ptr<MLIRContext> createCompilerContext() {
  DialectRegistry registry;
  {
    std::lock_guard<std::mutex> lock(backendMutex());
    for (const TargetBackend &backend : backendList())
      if (backend.registerDialects)
        backend.registerDialects(registry);
  }
  auto context = std::make_unique<MLIRContext>(registry);
  context->loadDialect<graph::GraphDialect, func::FuncDialect>();
  return context;
}

OwningOpRef<ModuleOp> importModel(MLIRContext &context,
                                  const CompileOptions &options) {
  onnx::ImportOptions importOptions;
  importOptions.functionName = options.funcName;
  Location unknown = UnknownLoc::get(&context);
  for (const std::string &shape : options.inputShapes)
    if (std::string error = onnx::parseInputShape(shape, importOptions);
        !error.empty()) {
      emitError(unknown) << error;
      return nullptr;
    }
  for (const std::string &binding : options.boundInputs)
    if (std::string error = onnx::parseBoundInput(binding, importOptions);
        !error.empty()) {
      emitError(unknown) << error;
      return nullptr;
    }
  if (options.progress)
    options.progress->set("importing " + options.modelPath);
  OwningOpRef<ModuleOp> module =
      onnx::importOnnxModel(context, options.modelPath, importOptions);
  if (!module)
    return nullptr;
  if (failed(verify(*module))) {
    emitError(unknown)
        << "the imported IR does not verify (a bug in the importer)";
    return nullptr;
  }
  return module;
}

void buildGraphPipeline(OpPassManager &pm, llvm::StringRef dtype) {
  buildGraphOptimizationPipeline(pm);
  // int8: the target quantizes products over constant weights; the rest of
  // the graph runs in bf16.
  if (dtype != "fp32")
    pm.addNestedPass<func::FuncOp>(createConvertPrecision(
        ConvertPrecisionOptions{dtype == "fp16" ? "f16" : "bf16"}));
}

void buildTargetPipeline(OpPassManager &pm, const TargetSpec &spec) {
  if (spec.backend && spec.backend->buildPipeline)
    spec.backend->buildPipeline(pm, spec.variant, spec.dtype);
}

LogicalResult runPasses(ModuleOp module,
                        const std::function<void(OpPassManager &)> &build,
                        ProgressLine *progress, const std::string &label) {
  PassManager pm(module->getContext());
  build(pm);
  std::optional<ClearProgressOnDiagnostic> clearer;
  if (progress && progress->enabled()) {
    progress->setPrefix(label);
    addPassProgress(pm, *progress);
    clearer.emplace(*module->getContext(), *progress);
  }
  LogicalResult result = pm.run(module);
  if (progress) {
    progress->clear();
    progress->setPrefix("");
  }
  return result;
}

LogicalResult emitArtifact(ModuleOp module, const TargetSpec &spec,
                           const std::string &path,
                           const std::string &modelName,
                           std::string *programText) {
  if (!spec.backend || !spec.backend->emit)
    return module.emitError("no backend to emit target '")
           << spec.target << "'";
  EmitRequest request;
  request.target = spec.target;
  request.modelName = modelName;
  request.programText = programText;
  return spec.backend->emit(module, path, request);
}

std::string modelNameFor(llvm::StringRef modelPath) {
  llvm::StringRef stem = llvm::sys::path::stem(modelPath);
  llvm::StringRef folder =
      llvm::sys::path::filename(llvm::sys::path::parent_path(modelPath));
  return (stem == "model" && !folder.empty() ? folder : stem).str();
}

//===----------------------------------------------------------------------===//
// Cost
//===----------------------------------------------------------------------===//

namespace {

uint64_t tensorBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() ||
      !tensor.getElementType().isIntOrFloat())
    return 0;
  unsigned bits = tensor.getElementType().getIntOrFloatBitWidth();
  return uint64_t(tensor.getNumElements()) * ((bits + 7) / 8);
}

double elements(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.hasStaticShape() ? double(tensor.getNumElements())
                                           : 0;
}

// A table that only gathers read (an embedding) needs only the slices they
// take, not all of it: BERT-base reads 128 of its 30,522 word-embedding rows
// at 128 tokens. Any other use reads the whole constant.
uint64_t constantBytesRead(graph::ConstantOp constant) {
  uint64_t whole = tensorBytes(constant.getType());
  uint64_t gathered = 0;
  for (OpOperand &use : constant->getUses()) {
    auto gather = dyn_cast<graph::GatherOp>(use.getOwner());
    if (!gather || use.getOperandNumber() != 0)
      return whole;
    gathered += tensorBytes(gather.getType());
  }
  return constant->use_empty() ? whole : std::min(whole, gathered);
}

} // namespace

GraphCost analyzeGraphCost(ModuleOp module, llvm::StringRef funcName) {
  GraphCost cost;
  auto func = module.lookupSymbol<func::FuncOp>(funcName);
  if (!func)
    for (auto candidate : module.getOps<func::FuncOp>())
      func = candidate;
  if (!func || func.isExternal())
    return cost;
  for (Type type : func.getArgumentTypes())
    cost.inputBytes += tensorBytes(type);
  for (Type type : func.getResultTypes())
    cost.outputBytes += tensorBytes(type);
  func.walk([&](Operation *op) {
    if (auto constant = dyn_cast<graph::ConstantOp>(op)) {
      cost.weightBytes += constantBytesRead(constant);
    } else if (auto matmul = dyn_cast<graph::MatMulOp>(op)) {
      // Every result element is a dot product over K.
      auto lhs = cast<RankedTensorType>(matmul.getLhs().getType());
      cost.flops +=
          2 * elements(matmul.getType()) * double(lhs.getShape().back());
      ++cost.matmuls;
      auto weights = matmul.getRhs().getDefiningOp<graph::ConstantOp>();
      if (weights && weights.getType().getRank() == 2 &&
          isa<FloatType>(weights.getType().getElementType())) {
        cost.matmulWeightBytes += tensorBytes(weights.getType());
        cost.matmulWeightElements += uint64_t(elements(weights.getType()));
      }
    } else if (auto attention = dyn_cast<graph::AttentionOp>(op)) {
      // [B, H, Sq, D] results; QK^T and PV each cost Sq x Sk x D per head.
      auto key = cast<RankedTensorType>(attention.getKey().getType());
      double sk = double(key.getDimSize(key.getRank() - 2));
      cost.flops += 4 * elements(attention.getType()) * sk;
      ++cost.attentions;
    } else if (auto conv = dyn_cast<graph::ConvOp>(op)) {
      // Each output element reduces over Cin/groups x kernel elements.
      auto weight = cast<RankedTensorType>(conv.getWeight().getType());
      double perOutput = 1;
      for (int64_t d : weight.getShape().drop_front())
        perOutput *= double(d);
      cost.flops += 2 * elements(conv.getType()) * perOutput;
      ++cost.convolutions;
    }
  });
  return cost;
}

} // namespace gaon::tools
