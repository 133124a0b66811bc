//===- Bench.cpp - Compile, run and compare a model on several targets ----===//

#include "Bench.h"
#include "NpuBreakdown.h"

#include "gaon/Tools/CompileModel.h"
#ifdef GAON_BENCH_HAVE_CUDA_DRIVER
#include "gaon/cuda_runtime/Driver.h"
#endif
#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim_runtime/Driver.h"
#include "gaon/npu_sim_runtime/Executable.h"
#include "gaon/runtime/artifact.h"
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"
#include "gaon/runtime/tensor_io.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace gaon::rt;
using nlohmann::json;

namespace gaon::bench {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Above this many FLOPs per run, npu-sim runs in timing-only mode unless
// --functional: functional simulation computes every MAC on the host and
// copies the weights in; timing-only costs the same for any tensor size.
// Measured here (BERT-base, bf16, rngd): 1x32 (5.5 GFLOP) 1.5 s functional;
// 1x128 (22 GFLOP) 2.8 s functional, 0.03 s timing-only.
constexpr double kFunctionalFlopLimit = 1e10;

// The model's FLOPs and bytes after graph optimization, and the IR itself
// (each target lowers a clone).
struct Graph {
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<tools::DiagnosticCollector> diagnostics;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  tools::GraphCost cost;
  double compileSeconds = 0;
};

// A temporary directory for the artifacts, removed with its files.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base && *base ? base : "/tmp") + "/gaon-bench-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()))
      dir = buffer.data();
  }
  ~TempDir() {
    for (const std::string &file : files)
      std::remove(file.c_str());
    if (!dir.empty())
      rmdir(dir.c_str());
  }
  bool ok() const { return !dir.empty(); }
  std::string file(const std::string &name) {
    files.push_back(dir + "/" + name);
    return files.back();
  }

private:
  std::string dir;
  std::vector<std::string> files;
};

std::string safeName(const std::string &text) {
  std::string out;
  for (char c : text)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

bool isIntegerType(DType dtype) {
  return dtype == DType::I32 || dtype == DType::I64 || dtype == DType::I16 ||
         dtype == DType::I8 || dtype == DType::U8 || dtype == DType::U16 ||
         dtype == DType::U32 || dtype == DType::U64;
}

// Inputs from files where given, else random (seeded) of the model's dtype
// and shape; integer inputs named like masks are all ones, so that a model
// sees no padding (random ids are in [0, 16), valid for any vocabulary).
Result<std::vector<HostTensor>> makeInputs(const BenchOptions &options,
                                           const ModelDesc &model) {
  std::map<std::string, HostTensor> given;
  for (const std::string &spec : options.inputFiles) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      return errorStatus(StatusCode::InvalidArgument,
                         "--input '" + spec + "' is not name=file");
    GAON_ASSIGN_OR_RETURN(HostTensor tensor,
                          readTensorFile(spec.substr(eq + 1)));
    tensor.name = spec.substr(0, eq);
    given[tensor.name] = std::move(tensor);
  }
  std::vector<HostTensor> inputs;
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    const TensorDesc &desc = *model.findTensor(model.inputs[i]);
    if (auto it = given.find(desc.name); it != given.end()) {
      inputs.push_back(std::move(it->second));
      given.erase(it);
      continue;
    }
    HostTensor tensor = randomTensor(desc.name, desc.dtype, desc.shape,
                                     options.seed * 7919 + i);
    if (isIntegerType(desc.dtype) &&
        llvm::StringRef(desc.name).contains_insensitive("mask"))
      for (uint64_t e = 0; e < tensor.elementCount(); ++e)
        storeFromDouble(desc.dtype, 1.0,
                        tensor.data.data() + e * dtypeSize(desc.dtype));
    inputs.push_back(std::move(tensor));
  }
  if (!given.empty())
    return errorStatus(StatusCode::InvalidArgument,
                       "--input names '" + given.begin()->first +
                           "', which is not an input of the model");
  return inputs;
}

// Batch and sequence length of the workload, from the first input of the
// graph: batch is its first dimension; the sequence length its last when it
// holds integer ids (a text model), else n/a.
json workloadOf(mlir::ModuleOp module) {
  json shape = {{"batch", 1}, {"seq", nullptr}};
  auto func = module.lookupSymbol<mlir::func::FuncOp>("main");
  if (!func || func.getNumArguments() == 0)
    return shape;
  auto type =
      llvm::dyn_cast<mlir::RankedTensorType>(func.getArgumentTypes()[0]);
  auto nameAttr = func.getArgAttrOfType<mlir::StringAttr>(0, "gaon.name");
  std::string name = nameAttr ? nameAttr.getValue().str() : "input_0";
  if (!type)
    return shape;
  if (type.getRank() >= 1)
    shape["batch"] = type.getDimSize(0);
  bool ids = type.getElementType().isInteger() &&
             type.getElementType().getIntOrFloatBitWidth() > 1;
  if (ids && type.getRank() >= 2) {
    shape["seq"] = type.getShape().back();
    shape["seq_source"] =
        "last dimension of input '" + name + "' (integer ids)";
  } else {
    shape["seq_note"] = "n/a: the first input '" + name +
                        "' is not an integer id tensor of rank >= 2";
  }
  return shape;
}

// Peak FLOP/s and DRAM bandwidth of the chip an npu-sim program runs on.
json npuRooflineInputs(const ProgramDesc &program, const std::string &dtype) {
  npu_sim_runtime::NpuExecutable exe =
      npu_sim_runtime::decodeExecutable(program.executable);
  npu_sim::ChipDesc chip = npu_sim_runtime::resolveChip(exe.chipJson);
  npu_sim::DType type = dtype == "bf16"   ? npu_sim::DType::BF16
                        : dtype == "fp16" ? npu_sim::DType::F16
                        : dtype == "int8" ? npu_sim::DType::I8
                                          : npu_sim::DType::F32;
  double macs = chip.peakMacsPerCycle(type);
  double peak = 2 * macs * chip.cores * chip.clockGhz * 1e9;
  char peakSource[256], memSource[256];
  std::snprintf(peakSource, sizeof peakSource,
                "chip '%s': %u cores x %g %s MACs/cycle%s x 2 x %g GHz",
                chip.name.c_str(), chip.cores, macs, npu_sim::dtypeName(type),
                type == npu_sim::DType::F32 &&
                        chip.tensor.macsPerCycle[int(type)] <= 0
                    ? " (emulated)"
                    : "",
                chip.clockGhz);
  std::snprintf(memSource, sizeof memSource, "chip '%s': %s DRAM %g GB/s",
                chip.name.c_str(), chip.dram.kind.c_str(),
                chip.dram.bandwidthGBps);
  return {{"peak_flops", peak},
          {"peak_flops_source", peakSource},
          {"mem_bytes_per_s", chip.dram.bandwidthGBps * 1e9},
          {"mem_source", memSource},
          {"tdp_w", chip.tdpWatts}};
}

json cudaRooflineInputs(const BenchOptions &options) {
  return {{"peak_flops", options.dtype == "fp32" ? options.cudaPeakFlopsFp32
                                                 : options.cudaPeakFlops},
          {"peak_flops_source", options.cudaPeakSource},
          {"mem_bytes_per_s", options.cudaMemBytesPerS},
          {"mem_source", options.cudaMemSource}};
}

// max(FLOPs / peak, minimum bytes / bandwidth), minimum bytes = weights +
// inputs + outputs (each read or written once).
json roofline(json inputs, const tools::GraphCost &cost, double latency) {
  double flops = cost.flops;
  double bytes = double(cost.weightBytes + cost.inputBytes + cost.outputBytes);
  double peak = inputs["peak_flops"].get<double>();
  double bandwidth = inputs["mem_bytes_per_s"].get<double>();
  double computeS = peak > 0 ? flops / peak : 0;
  double memoryS = bandwidth > 0 ? bytes / bandwidth : 0;
  double bound = std::max(computeS, memoryS);
  inputs["flops"] = flops;
  inputs["min_bytes"] = bytes;
  inputs["compute_s"] = computeS;
  inputs["memory_s"] = memoryS;
  inputs["bound_s"] = bound;
  inputs["bound"] = computeS >= memoryS ? "compute" : "memory";
  inputs["latency_over_bound"] = bound > 0 ? json(latency / bound) : json();
  return inputs;
}

json nullIfNotPositive(double value) {
  return value > 0 ? json(value) : json();
}

// Throughput, energy, power and efficiency from latency and energy per run.
void addDerivedMetrics(json &t, const json &shape) {
  double latency = t["latency_s"].get<double>();
  int64_t batch = shape["batch"].get<int64_t>();
  t["inferences_per_s"] = nullIfNotPositive(latency > 0 ? 1 / latency : 0);
  t["samples_per_s"] =
      nullIfNotPositive(latency > 0 ? double(batch) / latency : 0);
  double tokens =
      shape["seq"].is_null() ? 0 : double(batch) * shape["seq"].get<double>();
  t["tokens_per_s"] =
      tokens > 0 && latency > 0 ? json(tokens / latency) : json();
  if (t["energy_j"].is_null()) {
    for (const char *key : {"avg_power_w", "inferences_per_j",
                            "joules_per_token", "tokens_per_j"})
      t[key] = nullptr;
    return;
  }
  double energy = t["energy_j"].get<double>();
  t["avg_power_w"] = nullIfNotPositive(latency > 0 ? energy / latency : 0);
  // Inferences/s per watt = inferences per joule.
  t["inferences_per_j"] = nullIfNotPositive(energy > 0 ? 1 / energy : 0);
  t["joules_per_token"] = tokens > 0 ? json(energy / tokens) : json();
  t["tokens_per_j"] = tokens > 0 && energy > 0 ? json(tokens / energy) : json();
}

json skipped(const std::string &target, const std::string &reason) {
  return {{"target", target}, {"status", "skipped"}, {"reason", reason}};
}

json failed(json t, const std::string &message) {
  t["status"] = "error";
  t["error"] = message;
  return t;
}

// Compiles the shared graph for one target, runs it and measures it.
json benchTarget(const BenchOptions &options, Graph &graph,
                 const std::string &target, const json &shape, TempDir &temp) {
  tools::ProgressLine *progress = options.progress;
  if (progress)
    progress->setPrefix("[" + target + "] ");
  bool isNpu = llvm::StringRef(target).split(':').first == "npu-sim";
  bool functional = options.simMode == SimMode::Functional ||
                    (options.simMode == SimMode::Auto &&
                     graph.cost.flops <= kFunctionalFlopLimit);

  // 1. A device first: a target that cannot run here is skipped before
  // spending a compile on it.
  DeviceOptions deviceOptions;
  if (isNpu) {
    npu_sim_runtime::addTargetDeviceOptions(target, deviceOptions);
    if (!functional)
      deviceOptions["timing-only"] = "1";
  }
  auto device =
      DriverRegistry::global().createDeviceForTarget(target, deviceOptions);
  // Hardware that is not here is skipped; the simulator is always here, so
  // its failure is the user's (a chip file that does not parse).
  if (!device.isOk() && isNpu)
    return failed({{"target", target}}, device.status().message());
  if (!device.isOk())
    return skipped(target, "no device: " + device.status().message());
  const DeviceProperties &props = device.value()->properties();
  bool simulated = device.value()->driverName() == "npu-sim";

  // 2. Compile (a clone of the optimized graph) to an artifact.
  tools::TargetSpec spec;
  if (std::string error = tools::parseTarget(target, spec); !error.empty())
    return skipped(target, "this build cannot compile for it: " + error);
  if (std::string error = tools::checkTargetDType(spec, options.dtype);
      !error.empty())
    return skipped(target, error);
  json t = {{"target", target},
            {"status", "ok"},
            {"device", props.name},
            {"driver", device.value()->driverName()},
            {"simulated", simulated}};
  if (isNpu)
    t["mode"] = functional ? "functional" : "timing-only";
  auto compileStart = Clock::now();
  mlir::OwningOpRef<mlir::ModuleOp> module = graph.module->clone();
  std::string artifactPath = temp.file(safeName(target) + ".gaon");
  std::vector<KernelLabel> labels;
  size_t diagnosticsBefore = graph.diagnostics->text().size();
  auto compileFailed = [&]() {
    if (progress)
      progress->clear();
    std::string text = graph.diagnostics->text().substr(diagnosticsBefore);
    while (!text.empty() && text.front() == '\n')
      text.erase(0, 1);
    return failed(t, text.empty() ? "compilation failed" : text);
  };
  if (mlir::failed(tools::runPasses(
          *module,
          [&](mlir::OpPassManager &pm) {
            tools::buildTargetPipeline(pm, spec);
          },
          progress, "[" + target + "] ")))
    return compileFailed();
  if (progress) {
    progress->setPrefix("[" + target + "] ");
    progress->set("emitting the artifact");
  }
  if (mlir::failed(tools::emitArtifact(*module, spec, artifactPath,
                                       tools::modelNameFor(options.modelPath))))
    return compileFailed();
  if (isNpu && options.breakdown)
    labels = npuKernelLabels(*module);
  module = nullptr; // the IR of a big model holds as much as its weights
  t["compile_s"] = graph.compileSeconds + secondsSince(compileStart);

  // 3. Load and run through the runtime, as gaon-run does.
  ArtifactReadOptions readOptions;
  readOptions.verifyWeightsChecksum = false; // written a moment ago
  auto artifact = ArtifactReader::readFile(artifactPath, readOptions);
  // The mapping outlives the name: big artifacts do not pile up in TMPDIR.
  std::remove(artifactPath.c_str());
  if (!artifact.isOk())
    return failed(t, artifact.status().message());
  const ModelDesc &model = artifact.value()->model();
  auto loaded = Module::load(device.value(), artifact.value());
  if (!loaded.isOk())
    return failed(t,
                  "loading '" + model.name + "': " + loaded.status().message());
  auto inputs = makeInputs(options, model);
  if (!inputs.isOk())
    return failed(t, inputs.status().message());
  Module &runner = *loaded.value();

  int iterations =
      options.iterations > 0 ? options.iterations : (simulated ? 1 : 20);
  int warmup = options.warmup >= 0 ? options.warmup : (simulated ? 0 : 3);
  double minSeconds = simulated ? 0 : options.minSeconds;
  std::vector<double> walls, busy;
  Counters total;
  {
    std::unique_ptr<tools::Spinner> spinner;
    if (progress)
      spinner = std::make_unique<tools::Spinner>(*progress, "warming up");
    for (int i = 0; i < warmup; ++i)
      if (auto r = runner.run(inputs.value()); !r.isOk())
        return failed(t, r.status().message());
    auto start = Clock::now();
    // Hardware: at least `iterations` runs and `minSeconds`, at most 100k.
    for (int i = 0;
         i < iterations || (secondsSince(start) < minSeconds && i < 100000);
         ++i) {
      if (spinner) {
        spinner->setLabel("run " + std::to_string(i + 1) + "/" +
                          std::to_string(iterations));
        spinner->setFraction(std::min(1.0, double(i) / iterations));
      }
      RunStats stats;
      auto result = runner.run(inputs.value(), &stats);
      if (!result.isOk())
        return failed(t, result.status().message());
      walls.push_back(stats.wallSeconds);
      busy.push_back(stats.counters.busyS);
      total.dispatches += stats.counters.dispatches;
      total.cycles += stats.counters.cycles;
      total.energyJ += stats.counters.energyJ;
      total.busyS += stats.counters.busyS;
    }
  }
  size_t runs = walls.size();
  t["iterations"] = runs;
  t["warmup"] = warmup;
  t["host_wall_s"] = median(walls);
  // A simulator's latency is what it simulated (cycles / clock), not how
  // long the host took to simulate it; hardware that times its own work
  // (cuda: CUDA events around each run) reports busy seconds, which leave
  // out the host's copies in and out; otherwise the host's wall clock is all
  // there is.
  if (simulated) {
    t["latency_s"] = median(busy);
    t["latency_source"] = "simulated (cycles / clock)";
  } else if (median(busy) > 0) {
    t["latency_s"] = median(busy);
    t["latency_source"] = "device busy time (driver counters)";
  } else {
    t["latency_s"] = median(walls);
    t["latency_source"] = "host wall clock per run";
  }
  t["cycles"] = props.reportsCycles() ? json(total.cycles / runs) : json();
  if (props.reportsEnergy()) {
    t["energy_j"] = total.energyJ / double(runs);
    t["energy_source"] =
        simulated
            ? "simulator energy model (dynamic + static)"
            : "driver energy counters over " + std::to_string(runs) + " runs" +
                  (device.value()->driverName() == "cuda" ? " (NVML)" : "");
  } else {
    t["energy_j"] = nullptr;
    t["energy_source"] = "n/a: the device does not report energy";
  }
  addDerivedMetrics(t, shape);

  // 4. Roofline bound of this target.
  const ProgramDesc *program = model.findProgram(model.target);
  try {
    if (isNpu && program) {
      // int8: matmul weights take one byte each (the rest stays bf16), and
      // the peak is the int8 rate.
      tools::GraphCost cost = graph.cost;
      if (options.dtype == "int8")
        cost.weightBytes += cost.matmulWeightElements - cost.matmulWeightBytes;
      t["roofline"] = roofline(npuRooflineInputs(*program, options.dtype), cost,
                               t["latency_s"].get<double>());
    } else if (llvm::StringRef(target).starts_with("cuda"))
      t["roofline"] = roofline(cudaRooflineInputs(options), graph.cost,
                               t["latency_s"].get<double>());
  } catch (const std::exception &e) {
    t["roofline_error"] = e.what();
  }

  // 5. The simulator's own report and where time and energy go.
  if (isNpu) {
    std::string report = npu_sim_runtime::npuSimLastReportJson(*device.value());
    if (!report.empty()) {
      json deviceReport = json::parse(report, nullptr, false);
      if (!deviceReport.is_discarded()) {
        t["mac_utilization"] = deviceReport.value("mac_utilization", 0.0);
        t["device_report"] = deviceReport;
      }
    }
    if (options.breakdown && program) {
      try {
        t["breakdown"] = npuKernelBreakdown(*program, labels, progress);
      } catch (const std::exception &e) {
        t["breakdown_error"] = e.what();
      }
    }
  }
  if (progress) {
    progress->clear();
    progress->setPrefix("");
  }
  return t;
}

bool parseTargetName(const std::string &target) {
  auto [name, variant] = llvm::StringRef(target).split(':');
  if (name == "npu-sim")
    return true;
  return name == "cuda";
}

} // namespace

void registerBuiltinDrivers() {
  // Already registered is OK, not an error.
  (void)npu_sim_runtime::registerNpuSimDriver();
#ifdef GAON_BENCH_HAVE_CUDA_DRIVER
  (void)cuda::registerCudaDriver();
#endif
}

std::string knownTargets() {
  return "cuda, npu-sim[:rngd|atom|tiny|chip.json]";
}

std::string validateOptions(const BenchOptions &options) {
  if (options.modelPath.empty())
    return "no model given";
  if (options.targets.empty())
    return "no targets given (--targets, known: " + knownTargets() + ")";
  for (const std::string &target : options.targets)
    if (!parseTargetName(target))
      return "unknown target '" + target + "' (known: " + knownTargets() + ")";
  if (std::string error = tools::checkDType(options.dtype); !error.empty())
    return error;
  if (options.iterations < 0)
    return "--iterations must be positive";
  if (options.minSeconds < 0)
    return "--min-time must not be negative";
  return "";
}

bool BenchResult::allOk() const {
  if (!error.empty())
    return false;
  for (const json &t : report.value("targets", json::array()))
    if (t.value("status", "") == "error")
      return false;
  return true;
}

BenchResult runBench(const BenchOptions &options) {
  BenchResult result;
  if (std::string error = validateOptions(options); !error.empty()) {
    result.error = error;
    return result;
  }
  registerBuiltinDrivers();
  for (const std::string &lib : options.driverLibs)
    if (Status status = DriverRegistry::global().loadLibrary(lib);
        !status.isOk()) {
      result.error = status.message();
      return result;
    }
  TempDir temp;
  if (!temp.ok()) {
    result.error = "cannot create a temporary directory for the artifacts";
    return result;
  }

  // Import and optimize once; every target lowers a clone.
  Graph graph;
  graph.context = tools::createCompilerContext();
  graph.diagnostics =
      std::make_unique<tools::DiagnosticCollector>(*graph.context, false);
  tools::CompileOptions compile;
  compile.modelPath = options.modelPath;
  compile.dtype = options.dtype;
  compile.inputShapes = options.inputShapes;
  compile.boundInputs = options.boundInputs;
  compile.progress = options.progress;
  auto start = Clock::now();
  graph.module = tools::importModel(*graph.context, compile);
  if (!graph.module || mlir::failed(tools::runPasses(
                           *graph.module,
                           [&](mlir::OpPassManager &pm) {
                             tools::buildGraphPipeline(pm, options.dtype);
                           },
                           options.progress, "[graph] "))) {
    if (options.progress)
      options.progress->clear();
    result.error = graph.diagnostics->errorText();
    if (result.error.empty())
      result.error = "error: compiling '" + options.modelPath + "' failed";
    return result;
  }
  graph.compileSeconds = secondsSince(start);
  graph.cost = tools::analyzeGraphCost(*graph.module);

  json workload = workloadOf(*graph.module);
  json targets = json::array();
  for (const std::string &target : options.targets) {
    json t;
    try {
      t = benchTarget(options, graph, target, workload, temp);
    } catch (const std::exception &e) {
      t = failed({{"target", target}}, e.what());
    }
    if (options.progress) {
      options.progress->clear();
      options.progress->setPrefix("");
    }
    targets.push_back(t);
  }

  const tools::GraphCost &cost = graph.cost;
  result.report = {
      {"schema", "gaon-bench/1"},
      {"model", tools::modelNameFor(options.modelPath)},
      {"model_path", options.modelPath},
      {"dtype", options.dtype},
      {"input_shapes", options.inputShapes},
      {"workload", workload},
      {"graph",
       {{"flops", cost.flops},
        {"flops_counted", "2 x MACs of matmuls, convolutions and attention "
                          "(QK^T and PV over every key)"},
        {"weights_bytes", cost.weightBytes},
        {"input_bytes", cost.inputBytes},
        {"output_bytes", cost.outputBytes},
        {"matmuls", cost.matmuls},
        {"attentions", cost.attentions},
        {"compile_s", graph.compileSeconds}}},
      {"targets", targets},
  };
  return result;
}

} // namespace gaon::bench
