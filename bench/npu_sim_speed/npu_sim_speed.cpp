//===- npu_sim_speed.cpp - Simulator speed benchmark ----------------------===//
//
// Measures simulated cycles per wall-clock second (timing-only, one host
// thread) on a GEMM-heavy stream and on BERT-base at tile level, and prints
// one JSON object (the Python driver turns it into a table).
//
//   npu-sim-speed [--repeat N] [--quick]
//
//===----------------------------------------------------------------------===//

#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim/Workloads.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

using namespace gaon::npu_sim;

namespace {

struct Case {
  std::string name, chip;
  std::function<Stream(const ChipDesc &)> make;
  bool functional = false;
};

double seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string escape(const std::string &text) {
  std::string out;
  for (char c : text)
    out += c == '"' ? std::string("\\\"") : std::string(1, c);
  return out;
}

} // namespace

int main(int argc, char **argv) {
  int repeat = 5;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--quick"))
      quick = true;
  }
  uint32_t big = quick ? 4096 : 8192;
  std::vector<Case> cases = {
      {"gemm " + std::to_string(big) + "^3 bf16, 1 core", "rngd",
       [&](const ChipDesc &chip) {
         GemmSpec spec;
         spec.m = spec.n = spec.k = big;
         return makeGemmStream(chip, spec);
       }},
      {"gemm " + std::to_string(big) + "^3 bf16, 8 cores", "rngd",
       [&](const ChipDesc &chip) {
         GemmSpec spec;
         spec.m = spec.n = spec.k = big;
         spec.cores = 8;
         return makeGemmStream(chip, spec);
       }},
      {"gemm 4096^3 fp16, 8 engines", "atom",
       [](const ChipDesc &chip) {
         GemmSpec spec;
         spec.m = spec.n = spec.k = 4096;
         spec.type = DType::F16;
         spec.cores = 8;
         return makeGemmStream(chip, spec);
       }},
      {"BERT-base seq128 x12 layers", "rngd",
       [](const ChipDesc &chip) { return makeBertStream(chip, BertSpec{}); }},
      {"BERT-base seq128 x12 layers", "atom",
       [](const ChipDesc &chip) { return makeBertStream(chip, BertSpec{}); }},
      {"BERT-base seq128 x12 layers (functional)", "rngd",
       [](const ChipDesc &chip) { return makeBertStream(chip, BertSpec{}); },
       true},
  };

  std::printf("{\n  \"cases\": [\n");
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case &c = cases[i];
    ChipDesc chip = loadChip(c.chip);
    auto buildStart = std::chrono::steady_clock::now();
    Stream stream = c.make(chip);
    double buildSeconds = seconds(buildStart);
    RunOptions options;
    options.functional = c.functional;
    int runs = c.functional ? 1 : repeat;
    double best = 1e30;
    Report report;
    for (int r = 0; r < runs; ++r) {
      Simulator sim(chip);
      auto start = std::chrono::steady_clock::now();
      report = sim.run(stream, options);
      best = std::min(best, seconds(start));
    }
    uint64_t macs = 0;
    for (uint64_t m : report.macs)
      macs += m;
    std::printf(
        "    {\"name\": \"%s\", \"chip\": \"%s\", \"mode\": \"%s\", "
        "\"instructions\": %zu, \"simulated_cycles\": %.0f, "
        "\"simulated_seconds\": %.6e, \"wall_seconds\": %.6f, "
        "\"stream_build_seconds\": %.6f, \"cycles_per_second\": %.6e, "
        "\"instructions_per_second\": %.6e, \"macs\": %llu, "
        "\"mac_utilization\": %.4f, \"energy_joules\": %.6e, "
        "\"average_watts\": %.3f}%s\n",
        escape(c.name).c_str(), c.chip.c_str(),
        c.functional ? "functional" : "timing", stream.instructionCount(),
        report.cycles, report.seconds, best, buildSeconds, report.cycles / best,
        stream.instructionCount() / best, static_cast<unsigned long long>(macs),
        report.macUtilization, report.energy.totalJ, report.averageWatts,
        i + 1 < cases.size() ? "," : "");
    std::fflush(stdout);
  }
  std::printf("  ]\n}\n");
  return 0;
}
