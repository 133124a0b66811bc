//===- NpuBreakdown.cpp - Where time and energy go on npu-sim -------------===//

#include "NpuBreakdown.h"

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"
#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim_runtime/Executable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>
#include <map>
#include <regex>
#include <stdexcept>

using namespace mlir;
using nlohmann::json;

namespace gaon::bench {

namespace {

// The first ONNX node name in a (possibly fused) location.
std::string nodeName(Location loc) {
  std::string name;
  loc->walk([&](Location inner) {
    if (auto named = dyn_cast<NameLoc>(inner)) {
      name = named.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name;
}

// "3" for exporter paths such as "/blocks.3/attn/MatMul" (GPT-2 style),
// "/bert/encoder/layer.3/..." or "/model/layers.3/..."; "" otherwise.
std::string layerOf(const std::string &name) {
  static const std::regex pattern(
      R"((?:^|/)(?:blocks?|layers?|h)[._/]?(\d+)(?:/|$))");
  std::smatch match;
  if (std::regex_search(name, match, pattern))
    return match[1].str();
  return "";
}

int64_t dramAddress(func::FuncOp func, Value value) {
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto attr = func.getArgAttrOfType<DenseI64ArrayAttr>(arg.getArgNumber(),
                                                         npu::kDramAttrName);
    return attr ? attr[0] : -1;
  }
  auto attr = value.getDefiningOp()->getAttrOfType<DenseI64ArrayAttr>(
      npu::kDramAttrName);
  unsigned index = cast<OpResult>(value).getResultNumber();
  return attr && index < attr.size() ? attr[index] : -1;
}

} // namespace

std::vector<KernelLabel> npuKernelLabels(ModuleOp module) {
  std::vector<KernelLabel> labels;
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func || func.isExternal())
    return labels;
  Block &body = func.getBody().front();
  // Mirrors the emitter (EmitArtifact.cpp): constants and reshapes emit no
  // kernel, a split one slice per result, every other op one kernel.
  for (Operation &op : body.without_terminator()) {
    if (isa<graph::ConstantOp, graph::ReshapeOp>(op))
      continue;
    std::string name = nodeName(op.getLoc());
    KernelLabel label{op.getName().stripDialect().str(), name, layerOf(name)};
    unsigned count = isa<graph::SplitOp>(op) ? op.getNumResults() : 1;
    for (unsigned i = 0; i < count; ++i)
      labels.push_back(label);
  }
  // Results not computed in their output slot are copied there.
  Operation *ret = body.getTerminator();
  for (auto [i, value] : llvm::enumerate(ret->getOperands())) {
    auto slot =
        func.getResultAttrOfType<DenseI64ArrayAttr>(i, npu::kDramAttrName);
    if (slot && dramAddress(func, value) != slot[0])
      labels.push_back({"copy to output", "", ""});
  }
  return labels;
}

namespace {

bool isBarrier(const npu_sim::Instr &instr) {
  return std::holds_alternative<npu_sim::BarrierCmd>(instr.cmd);
}

// What a kernel does when no label names it: its busiest kind of command.
std::string describeByContent(const npu_sim::Stream &piece) {
  size_t matmuls = 0, vectors = 0, moves = 0;
  for (const auto &program : piece.cores)
    for (const npu_sim::Instr &instr : program) {
      matmuls += std::holds_alternative<npu_sim::MatmulCmd>(instr.cmd);
      vectors += std::holds_alternative<npu_sim::VectorCmd>(instr.cmd);
      moves += std::holds_alternative<npu_sim::DmaCmd>(instr.cmd) ||
               std::holds_alternative<npu_sim::GatherCmd>(instr.cmd);
    }
  if (matmuls)
    return "matmul kernel";
  if (vectors)
    return "vector kernel";
  return moves ? "data movement" : "empty";
}

json aggregate(const json &kernels, const char *key, double totalSeconds,
               double totalEnergy) {
  std::map<std::string, json> groups;
  std::vector<std::string> order;
  for (const json &kernel : kernels) {
    std::string name = kernel[key].get<std::string>();
    if (name.empty())
      name = std::string(key) == "layer" ? "outside layers" : "?";
    auto [it, inserted] = groups.emplace(name, json{{key, name},
                                                    {"kernels", 0},
                                                    {"cycles", 0.0},
                                                    {"seconds", 0.0},
                                                    {"energy_j", 0.0}});
    if (inserted)
      order.push_back(name);
    json &group = it->second;
    group["kernels"] = group["kernels"].get<int>() + 1;
    for (const char *field : {"cycles", "seconds", "energy_j"})
      group[field] = group[field].get<double>() + kernel[field].get<double>();
  }
  json list = json::array();
  for (const std::string &name : order) {
    json group = groups[name];
    group["share_time"] =
        totalSeconds > 0 ? group["seconds"].get<double>() / totalSeconds : 0;
    group["share_energy"] =
        totalEnergy > 0 ? group["energy_j"].get<double>() / totalEnergy : 0;
    list.push_back(group);
  }
  // Op kinds by time, most first; layers in model order (first seen).
  if (std::string(key) == "op")
    std::stable_sort(
        list.begin(), list.end(), [](const json &a, const json &b) {
          return a["seconds"].get<double>() > b["seconds"].get<double>();
        });
  return list;
}

} // namespace

json npuKernelBreakdown(const rt::ProgramDesc &program,
                        const std::vector<KernelLabel> &labels,
                        tools::ProgressLine *progress) {
  npu_sim_runtime::NpuExecutable exe =
      npu_sim_runtime::decodeExecutable(program.executable);
  npu_sim::ChipDesc chip = npu_sim_runtime::resolveChip(exe.chipJson);
  const auto &cores = exe.stream.cores;

  // Kernel k of core c: the instructions between its (k-1)-th and k-th
  // barrier. Every core has the same number of fences.
  std::vector<std::vector<size_t>> barriers(cores.size());
  for (size_t c = 0; c < cores.size(); ++c)
    for (size_t i = 0; i < cores[c].size(); ++i)
      if (isBarrier(cores[c][i]))
        barriers[c].push_back(i);
  for (size_t c = 1; c < cores.size(); ++c)
    if (barriers[c].size() != barriers[0].size())
      throw std::runtime_error(
          "the stream's cores have different numbers of barriers; kernels "
          "cannot be separated");
  size_t kernelCount = cores.empty() ? 0 : barriers[0].size() + 1;
  bool labelled = labels.size() == kernelCount;

  npu_sim::Simulator simulator(chip);
  npu_sim::RunOptions options;
  options.functional = false;
  std::unique_ptr<tools::Spinner> spinner;
  if (progress)
    spinner = std::make_unique<tools::Spinner>(
        *progress,
        "per-kernel breakdown (" + std::to_string(kernelCount) + " kernels)");
  json kernels = json::array();
  double totalSeconds = 0, totalEnergy = 0, totalCycles = 0;
  for (size_t k = 0; k < kernelCount; ++k) {
    npu_sim::Stream piece;
    piece.cores.resize(cores.size());
    for (size_t c = 0; c < cores.size(); ++c) {
      size_t begin = k == 0 ? 0 : barriers[c][k - 1] + 1;
      size_t end = k < barriers[c].size() ? barriers[c][k] : cores[c].size();
      piece.cores[c].assign(cores[c].begin() + begin, cores[c].begin() + end);
    }
    npu_sim::Report report = simulator.run(piece, options);
    KernelLabel label =
        labelled ? labels[k] : KernelLabel{describeByContent(piece), "", ""};
    const npu_sim::EnergyReport &e = report.energy;
    kernels.push_back(
        {{"index", k},
         {"op", label.op},
         {"name", label.name},
         {"layer", label.layer},
         {"cycles", report.cycles},
         {"seconds", report.seconds},
         {"energy_j", e.totalJ},
         {"energy_components_j",
          {{"mac", e.macJ},
           {"vector", e.vectorJ},
           {"sram", e.scratchpadJ + e.sharedJ},
           {"dram", e.dramJ},
           {"network", e.networkJ},
           {"static", e.staticJ}}},
         {"mac_utilization", report.macUtilization},
         {"dram_bytes", report.dramReadBytes + report.dramWriteBytes}});
    totalSeconds += report.seconds;
    totalEnergy += e.totalJ;
    totalCycles += report.cycles;
    if (spinner)
      spinner->setFraction(double(k + 1) / double(kernelCount));
  }
  if (spinner)
    spinner->stop();
  return {
      {"method", "each kernel (the work between two chip-wide barriers) "
                 "simulated alone in timing-only mode"},
      {"kernel_count", kernelCount},
      {"labelled", labelled},
      {"labels_expected", labels.size()},
      {"sum_cycles", totalCycles},
      {"sum_seconds", totalSeconds},
      {"sum_energy_j", totalEnergy},
      {"kernels", kernels},
      {"by_op", aggregate(kernels, "op", totalSeconds, totalEnergy)},
      {"by_layer", aggregate(kernels, "layer", totalSeconds, totalEnergy)},
  };
}

} // namespace gaon::bench
