//===- DataSetCheck.cpp - Run a model on a backend-test data set ----------===//

#include "gaon/Compiler/Reference/DataSetCheck.h"

#include "gaon/Compiler/Onnx/OnnxImporter.h"
#include "gaon/Compiler/Transforms/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using gaon::graph::ConstantTensor;

namespace gaon::reference {

/// Reads <prefix>K.pb for K = 0, 1, ... until one is missing.
static bool readSeries(mlir::MLIRContext &context, StringRef dir,
                       StringRef prefix, SmallVectorImpl<ConstantTensor> &out,
                       std::string &error) {
  for (int k = 0;; ++k) {
    SmallString<256> path(dir);
    sys::path::append(path, prefix + std::to_string(k) + ".pb");
    if (!sys::fs::exists(path))
      return true;
    auto tensor = gaon::onnx::readTensorFile(context, path, error);
    if (!tensor)
      return false;
    out.push_back(std::move(*tensor));
  }
}

/// Older ONNX test data stores bfloat16 tensors as UINT16 bit patterns; read
/// them as the bf16 values they are.
static ConstantTensor asBf16IfBits(const ConstantTensor &tensor,
                                   mlir::Type wanted) {
  if (!wanted.isBF16() ||
      !tensor.getType().getElementType().isUnsignedInteger(16))
    return tensor;
  return *ConstantTensor::fromBytes(tensor.getType().clone(wanted),
                                    tensor.bytes());
}

DataSetResult checkDataSet(StringRef modelPath, StringRef dataSetDir,
                           const CheckOptions &options) {
  DataSetResult result;
  mlir::MLIRContext context;
  std::string firstError;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error &&
        firstError.empty())
      firstError = d.str();
    return mlir::success();
  });
  auto stop = [&](StringRef stage, const std::string &message) {
    result.failedStage = stage.str();
    result.message = message;
    return result;
  };

  SmallVector<ConstantTensor> inputs, expected;
  std::string error;
  if (!readSeries(context, dataSetDir, "input_", inputs, error) ||
      !readSeries(context, dataSetDir, "output_", expected, error))
    return stop("data", error);

  // Inputs that must be compile-time constants (shapes, axes) are bound to
  // the data set's values on a second attempt.
  mlir::OwningOpRef<mlir::ModuleOp> module;
  onnx::ImportOptions importOptions;
  std::vector<std::string> inputNames;
  for (bool bind : {false, true}) {
    importOptions = onnx::ImportOptions();
    inputNames.clear();
    if (std::string e = onnx::specializeToDataSet(
            modelPath, dataSetDir, importOptions, bind, &inputNames);
        !e.empty())
      return stop("data", e);
    firstError.clear();
    module = onnx::importOnnxModel(context, modelPath, importOptions);
    if (module || !StringRef(firstError).contains("compile-time constant"))
      break;
  }
  if (!module)
    return stop("compile", firstError);
  if (options.optimize) {
    mlir::PassManager pm(&context);
    buildGraphOptimizationPipeline(pm);
    if (options.dtype != "fp32")
      pm.addNestedPass<mlir::func::FuncOp>(createConvertPrecision(
          ConvertPrecisionOptions{options.dtype == "fp16" ? "f16" : "bf16"}));
    if (failed(pm.run(*module)))
      return stop("optimize", firstError);
  }
  auto func = module->lookupSymbol<mlir::func::FuncOp>("main");
  // Arguments are the graph inputs in order, minus the bound ones.
  SmallVector<ConstantTensor> args;
  for (auto [k, name] : llvm::enumerate(inputNames)) {
    if (importOptions.boundInputs.count(name))
      continue;
    if (k >= inputs.size())
      return stop("data", "the data set has no input_" + std::to_string(k) +
                              ".pb for input '" + name + "'");
    if (args.size() >= func.getNumArguments())
      return stop("data", "the data set's inputs do not match the model's");
    auto argType = mlir::cast<mlir::RankedTensorType>(
        func.getArgumentTypes()[args.size()]);
    args.push_back(asBf16IfBits(inputs[k], argType.getElementType()));
  }
  if (args.size() != func.getNumArguments())
    return stop("data", "the data set's inputs do not match the model's");
  auto outputs = options.runner ? options.runner(*module, args, result.notes)
                                : interpret(func, args);
  if (failed(outputs))
    return stop("run", firstError);
  if (outputs->size() != expected.size())
    return stop("data", "the model has " + std::to_string(outputs->size()) +
                            " outputs, the data set " +
                            std::to_string(expected.size()));
  for (auto [i, pair] : llvm::enumerate(llvm::zip(*outputs, expected))) {
    auto &[actual, stored] = pair;
    ConstantTensor reference =
        asBf16IfBits(stored, actual.getType().getElementType());
    OutputCheck check;
    auto name = func.getResultAttrOfType<mlir::StringAttr>(i, "gaon.name");
    check.name = name ? name.getValue().str() : "output_" + std::to_string(i);
    check.shape.assign(actual.getShape().begin(), actual.getShape().end());
    check.error = compare(actual, reference);
    check.pass = check.error.sameShape && !check.error.nonFiniteMismatch &&
                 (check.error.relativeL2 <= options.rtol ||
                  check.error.maxAbs <= options.atol);
    result.outputs.push_back(std::move(check));
  }
  return result;
}

} // namespace gaon::reference
