// gaon-run: runs a .gaon artifact on the driver its target names and
// reports output statistics, timing, memory and device counters.
#include "options.h"

#include "gaon/runtime/artifact.h"
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"
#include "gaon/runtime/tensor_io.h"

#include "gaon/Tools/Progress.h"

#include <nlohmann/json.hpp>

#ifdef GAON_RUN_HAVE_NPU_SIM
#include "gaon/npu_sim_runtime/Driver.h"
#endif
#ifdef GAON_RUN_HAVE_CUDA
#include "gaon/cuda_runtime/Driver.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sys/stat.h>

using namespace gaon::rt;
using gaon::run::Options;
using nlohmann::json;

namespace {

enum ExitCode { kOk = 0, kError = 1, kUsage = 2, kMismatch = 3 };

// An error that ends the run: message for stderr and the JSON report.
struct Failure {
  std::string message;
};

int fail(const Options &options, const std::string &message) {
  std::fprintf(stderr, "gaon-run: error: %s\n", message.c_str());
  if (!options.jsonPath.empty()) {
    json report = {{"status", "error"}, {"error", message}};
    std::string text = report.dump(2) + "\n";
    (void)writeFileAtomically(options.jsonPath,
                              std::vector<uint8_t>(text.begin(), text.end()));
  }
  return kError;
}

std::vector<HostTensor> gatherInputs(const Options &options,
                                     const ModelDesc &model, Status &status) {
  std::vector<HostTensor> inputs;
  if (options.inputs.empty()) {
    // Random inputs of the right dtypes and shapes, one seed per input.
    for (size_t i = 0; i < model.inputs.size(); ++i) {
      const TensorDesc &tensor = *model.findTensor(model.inputs[i]);
      inputs.push_back(randomTensor(tensor.name, tensor.dtype, tensor.shape,
                                    options.seed * 7919 + i));
    }
    return inputs;
  }
  size_t positional = 0;
  for (const auto &[name, path] : options.inputs) {
    Result<HostTensor> tensor = readTensorFile(path);
    if (!tensor.isOk()) {
      status = tensor.status();
      return {};
    }
    if (!name.empty()) {
      tensor->name = name;
    } else if (positional < model.inputs.size()) {
      tensor->name = model.findTensor(model.inputs[positional++])->name;
    } else {
      status = errorStatus(StatusCode::InvalidArgument,
                           "more --input files than the model has inputs (" +
                               std::to_string(model.inputs.size()) + ")");
      return {};
    }
    inputs.push_back(std::move(tensor.value()));
  }
  return inputs;
}

std::string safeFileName(const std::string &name) {
  std::string out;
  for (char c : name)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
            c == '_' || c == '.')
               ? c
               : '_';
  return out.empty() ? "output" : out;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int runModel(const Options &options) {
  for (const std::string &lib : options.driverLibs) {
    Status status = DriverRegistry::global().loadLibrary(lib);
    if (!status.isOk())
      return fail(options, status.message());
  }
  auto artifact = ArtifactReader::readFile(options.model);
  if (!artifact.isOk())
    return fail(options, artifact.status().message());
  const ModelDesc &model = artifact.value()->model();

  DeviceOptions deviceOptions = options.deviceOptions;
#ifdef GAON_RUN_HAVE_NPU_SIM
  // "npu-sim:<chip>" targets pick the simulated chip.
  gaon::npu_sim_runtime::addTargetDeviceOptions(model.target, deviceOptions);
#endif
  auto device = DriverRegistry::global().createDeviceForTarget(model.target,
                                                               deviceOptions);
  if (!device.isOk())
    return fail(options, device.status().message());
  ModuleOptions moduleOptions;
  moduleOptions.queueCount = static_cast<uint32_t>(options.queues);
  auto module = Module::load(device.value(), artifact.value(), moduleOptions);
  if (!module.isOk())
    return fail(options,
                "loading '" + model.name + "': " + module.status().message());

  Status inputStatus;
  std::vector<HostTensor> inputs = gatherInputs(options, model, inputStatus);
  if (!inputStatus.isOk())
    return fail(options, inputStatus.message());
  if (Status check = module.value()->checkInputs(inputs); !check.isOk())
    return fail(options, check.message());

  std::vector<double> latencies;
  // Device time of each run (the queues' busy time: CUDA events on a GPU)
  // and the energy summed over the timed runs.
  std::vector<double> deviceSeconds;
  double energyTotal = 0;
  std::vector<HostTensor> outputs;
  RunStats lastStats;
  Status runStatus;
  {
    // "run 2/10 | 3.4 s" on a terminal while a long simulation runs; the
    // line is gone before anything else is printed.
    gaon::tools::ProgressLine progress;
    gaon::tools::Spinner spinner(progress, "warming up");
    for (int i = 0; i < options.warmup && runStatus.isOk(); ++i)
      if (auto r = module.value()->run(inputs); !r.isOk())
        runStatus = r.status();
    for (int i = 0; i < options.repeat && runStatus.isOk(); ++i) {
      spinner.setLabel("run " + std::to_string(i + 1) + "/" +
                       std::to_string(options.repeat));
      spinner.setFraction(double(i) / options.repeat);
      RunStats stats;
      auto result = module.value()->run(inputs, &stats);
      if (!result.isOk()) {
        runStatus = result.status();
        break;
      }
      latencies.push_back(stats.wallSeconds);
      deviceSeconds.push_back(stats.counters.busyS);
      energyTotal += stats.counters.energyJ;
      lastStats = stats;
      outputs = std::move(result.value());
    }
  }
  if (!runStatus.isOk())
    return fail(options, runStatus.message());

  // Expected outputs.
  std::map<std::string, TensorComparison> comparisons;
  for (const auto &[name, path] : options.expected) {
    auto it = std::find_if(outputs.begin(), outputs.end(),
                           [&](const HostTensor &t) { return t.name == name; });
    if (it == outputs.end())
      return fail(options, "--expect names '" + name +
                               "', which is not an output of the model");
    auto expected = readTensorFile(path);
    if (!expected.isOk())
      return fail(options, expected.status().message());
    comparisons[name] =
        compareTensors(*it, expected.value(), options.rtol, options.atol);
  }

  if (!options.outputDir.empty()) {
    mkdir(options.outputDir.c_str(), 0755); // may already exist
    for (const HostTensor &output : outputs) {
      std::string path =
          options.outputDir + "/" + safeFileName(output.name) + ".npy";
      if (Status status = writeNpy(path, output); !status.isOk())
        return fail(options, status.message());
    }
  }

  const DeviceProperties &props = device.value()->properties();
  double medianS = median(latencies);
  std::printf("model   %s\ntarget  %s (device '%s', driver '%s')\n",
              model.name.c_str(), model.target.c_str(), props.name.c_str(),
              device.value()->driverName().c_str());
  bool allPass = true;
  json outputsJson = json::array();
  for (const HostTensor &output : outputs) {
    TensorStats stats = computeStats(output);
    std::printf("output  %-20s %-5s %-16s min %-12.6g max %-12.6g mean %.6g\n",
                output.name.c_str(), dtypeName(output.dtype),
                shapeToString(output.shape).c_str(), stats.min, stats.max,
                stats.mean);
    json entry = {{"name", output.name},
                  {"dtype", dtypeName(output.dtype)},
                  {"shape", output.shape},
                  {"min", stats.min},
                  {"max", stats.max},
                  {"mean", stats.mean},
                  {"non_finite", stats.nonFinite}};
    if (auto it = comparisons.find(output.name); it != comparisons.end()) {
      const TensorComparison &c = it->second;
      bool pass = c.shapeMatches && c.mismatches == 0;
      allPass = allPass && pass;
      std::printf("        vs expected: rel L2 %.3g, max abs %.3g, %llu "
                  "mismatches -> %s\n",
                  c.relativeL2, c.maxAbsError,
                  static_cast<unsigned long long>(c.mismatches),
                  pass ? "PASS" : "FAIL");
      entry["rel_l2"] =
          std::isfinite(c.relativeL2) ? json(c.relativeL2) : json();
      entry["max_abs"] =
          std::isfinite(c.maxAbsError) ? json(c.maxAbsError) : json();
      entry["mismatches"] = c.mismatches;
      entry["pass"] = pass;
    }
    outputsJson.push_back(entry);
  }
  std::printf("latency median %.6f s, min %.6f s over %d run(s)\n", medianS,
              *std::min_element(latencies.begin(), latencies.end()),
              options.repeat);
  const MemoryPlanDesc &plan = model.memoryPlan;
  std::printf("memory  arena %llu B (lower bound %llu B), weights %llu B\n",
              static_cast<unsigned long long>(plan.arenaSize),
              static_cast<unsigned long long>(plan.lowerBound),
              static_cast<unsigned long long>(artifact.value()->weightsSize()));
  if (props.reportsCycles())
    std::printf("cycles  %llu\n",
                static_cast<unsigned long long>(lastStats.counters.cycles));
  if (props.reportsEnergy())
    std::printf("energy  %.6g J\n", lastStats.counters.energyJ);

  if (!options.jsonPath.empty()) {
    json report = {
        {"status", allPass ? "ok" : "mismatch"},
        {"model", model.name},
        {"target", model.target},
        {"driver", device.value()->driverName()},
        {"device", props.name},
        {"latency_s", medianS},
        {"latencies_s", latencies},
        {"repeat", options.repeat},
        {"outputs", outputsJson},
        {"memory",
         {{"arena_bytes", plan.arenaSize},
          {"lower_bound_bytes", plan.lowerBound},
          {"weights_bytes", artifact.value()->weightsSize()},
          {"device_peak_bytes",
           device.value()->allocator().stats().peakBytesInUse}}},
        {"dispatches", lastStats.counters.dispatches},
        {"cycles",
         props.reportsCycles() ? json(lastStats.counters.cycles) : json()},
        {"energy_j",
         props.reportsEnergy() ? json(lastStats.counters.energyJ) : json()},
        {"device_s", deviceSeconds},
        {"device_s_median", median(deviceSeconds)},
        {"energy_j_per_run", props.reportsEnergy() && !latencies.empty()
                                 ? json(energyTotal / double(latencies.size()))
                                 : json()},
    };
#ifdef GAON_RUN_HAVE_NPU_SIM
    // The simulator's report of the last run (per-unit utilization, energy
    // by component, DRAM traffic, copies the driver made or skipped).
    std::string deviceReport =
        gaon::npu_sim_runtime::npuSimLastReportJson(*device.value());
    if (!deviceReport.empty())
      report["device_report"] = json::parse(deviceReport, nullptr, false);
#endif
    std::string text = report.dump(2) + "\n";
    Status status = writeFileAtomically(
        options.jsonPath, std::vector<uint8_t>(text.begin(), text.end()));
    if (!status.isOk())
      return fail(options, status.message());
  }
  return allPass ? kOk : kMismatch;
}

} // namespace

int main(int argc, char **argv) {
#ifdef GAON_RUN_HAVE_NPU_SIM
  (void)gaon::npu_sim_runtime::registerNpuSimDriver();
#endif
#ifdef GAON_RUN_HAVE_CUDA
  (void)gaon::cuda::registerCudaDriver();
#endif
  Options options;
  std::string usageError = gaon::run::parseOptions(argc, argv, options);
  if (!usageError.empty()) {
    std::fprintf(stderr, "gaon-run: %s\n\n%s", usageError.c_str(),
                 gaon::run::usageText());
    return kUsage;
  }
  if (options.help) {
    std::fputs(gaon::run::usageText(), stdout);
    return kOk;
  }
  if (options.listDrivers) {
    for (const std::string &lib : options.driverLibs)
      if (Status s = DriverRegistry::global().loadLibrary(lib); !s.isOk())
        return fail(options, s.message());
    for (const std::string &name : DriverRegistry::global().names())
      std::printf("%s\n", name.c_str());
    return kOk;
  }
  return runModel(options);
}
