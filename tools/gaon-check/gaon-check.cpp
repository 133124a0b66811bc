//===- gaon-check.cpp - Check a model against its reference outputs -------===//
//
//   gaon-check DIR [--target reference] [--emit=graph|import] [--rtol R]
//
// DIR is in the ONNX backend-test layout (model.onnx, test_data_set_*/
// input_K.pb and output_K.pb). For each data set the model is compiled for
// the data set's input shapes, run on the target, and every output is
// compared with the reference: relative L2 error and max absolute error.
// Prints PASS/FAIL per data set; exits 1 on any failure.
//
//===----------------------------------------------------------------------===//

#ifdef GAON_WITH_NPU_SIM
#include "gaon/Backends/NpuSim/NpuRunner.h"
#endif
#include "gaon/Compiler/Reference/DataSetCheck.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {

cl::OptionCategory category("gaon-check options");
cl::opt<std::string> testDir(cl::Positional, cl::desc("<test directory>"),
                             cl::Required, cl::cat(category));
cl::opt<std::string> target(
    "target",
    cl::desc("Where to run: reference (the host interpreter of gaon.graph) "
             "or npu-sim[:rngd|atom|tiny|chip.json] (the NPU simulator)"),
    cl::init("reference"), cl::cat(category));
cl::opt<bool> compareIntermediates(
    "compare-intermediates",
    cl::desc("npu-sim: compare every intermediate tensor with the reference "
             "interpreter and report the first op that differs"),
    cl::cat(category));
cl::opt<std::string> emit("emit",
                          cl::desc("IR level to run: graph (optimized, "
                                   "default) or import"),
                          cl::init("graph"), cl::cat(category));
cl::opt<std::string> dtype("dtype",
                           cl::desc("Compute type: fp32 (default), bf16, "
                                    "fp16 or int8 (npu-sim: products over "
                                    "constant weights in int8, the rest bf16)"),
                           cl::init("fp32"), cl::cat(category));
cl::opt<double> rtol("rtol",
                     cl::desc("Largest relative L2 error that passes "
                              "(default 1e-4 for fp32, 2e-2 for bf16/fp16, "
                              "5e-2 for int8)"),
                     cl::init(1e-4), cl::cat(category));
cl::opt<double> atol("atol",
                     cl::desc("Errors whose max absolute value is within "
                              "atol pass too (default 1e-6)"),
                     cl::init(1e-6), cl::cat(category));

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

/// --rtol, or the default for --dtype.
double defaultRtol() {
  if (rtol.getNumOccurrences() || dtype == "fp32")
    return rtol;
  return dtype == "int8" ? 5e-2 : 2e-2;
}

/// Runs one data set and prints its verdict. Returns true when it passes.
bool runDataSet(StringRef modelPath, StringRef dataSet) {
  gaon::reference::CheckOptions options;
  options.optimize = emit == "graph";
  options.dtype = dtype;
  options.rtol = defaultRtol();
  options.atol = atol;
#ifdef GAON_WITH_NPU_SIM
  if (StringRef(target).starts_with("npu-sim"))
    options.runner = gaon::npu::makeNpuSimRunner(
        StringRef(target).split(':').second.str(), compareIntermediates,
        options.rtol, options.atol, /*quantizeInt8=*/dtype == "int8");
#endif
  auto result = gaon::reference::checkDataSet(modelPath, dataSet, options);
  StringRef name = sys::path::filename(dataSet);
  if (!result.failedStage.empty()) {
    outs() << "FAIL " << name << ": " << result.failedStage << ": "
           << result.message << "\n"
           << result.notes;
    return false;
  }
  outs() << (result.pass() ? "PASS " : "FAIL ") << name << "\n" << result.notes;
  for (const auto &output : result.outputs)
    outs() << formatv(
        "  output '{0}' [{1}]: rel-L2 {2:e2}, max-abs {3:e2}{4}\n", output.name,
        shapeString(output.shape), output.error.relativeL2, output.error.maxAbs,
        !output.error.sameShape          ? " (shape differs)"
        : output.error.nonFiniteMismatch ? " (NaN/inf differ)"
                                         : "");
  return result.pass();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Check a model against reference outputs\n");
  bool npuTarget = StringRef(target).split(':').first == "npu-sim";
#ifndef GAON_WITH_NPU_SIM
  npuTarget = false;
#endif
  if (target != "reference" && !npuTarget) {
    WithColor::error(errs(), "")
        << "unknown target '" << target
        << "' (available: reference, npu-sim[:rngd|atom|tiny|chip.json])\n";
    return 1;
  }
  if (dtype != "fp32" && dtype != "bf16" && dtype != "fp16" &&
      dtype != "int8") {
    WithColor::error(errs(), "")
        << "unknown --dtype '" << dtype << "' (fp32, bf16, fp16 or int8)\n";
    return 1;
  }
  if (dtype == "int8" && !npuTarget) {
    WithColor::error(errs(), "")
        << "--dtype int8 runs on npu-sim only (target '" << target << "')\n";
    return 1;
  }
  if (dtype != "fp32" && emit == "import") {
    WithColor::error(errs(), "") << "--dtype needs --emit=graph\n";
    return 1;
  }
  if (emit != "graph" && emit != "import") {
    WithColor::error(errs(), "") << "--emit must be graph or import\n";
    return 1;
  }
  SmallString<256> modelPath(testDir);
  sys::path::append(modelPath, "model.onnx");
  if (!sys::fs::exists(modelPath)) {
    WithColor::error(errs(), "") << "no model.onnx in '" << testDir << "'\n";
    return 1;
  }
  std::vector<std::string> dataSets;
  std::error_code ec;
  for (sys::fs::directory_iterator it(testDir, ec), end; it != end && !ec;
       it.increment(ec))
    if (sys::path::filename(it->path()).starts_with("test_data_set_"))
      dataSets.push_back(it->path());
  llvm::sort(dataSets);
  if (dataSets.empty()) {
    WithColor::error(errs(), "")
        << "no test_data_set_* folders in '" << testDir << "'\n";
    return 1;
  }
  int passed = 0;
  for (const std::string &dataSet : dataSets)
    passed += runDataSet(modelPath, dataSet);
  outs() << passed << "/" << dataSets.size() << " data sets passed on "
         << target << " (" << emit << " IR, " << dtype
         << ", rel-L2 <= " << defaultRtol() << ")\n";
  return passed == int(dataSets.size()) ? 0 : 1;
}
