//===- Bench.h - One model on several targets, side by side ---*- C++ -*-===//
//
// The library behind gaon-bench and gaon.bench(): for each target, compile
// the model in-process (the same steps as gaon-compile), run it through the
// runtime (as gaon-run), and report latency, throughput, energy, power,
// performance per watt and the target's roofline bound side by side. The
// report is one JSON document (schema "gaon-bench/1", docs/gaon-bench.md);
// formatTable and renderHtml turn it into the printed table and the HTML
// report.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_BENCH_BENCH_H
#define GAON_BENCH_BENCH_H

#include "gaon/Tools/Progress.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gaon::bench {

enum class SimMode {
  Auto,       ///< timing-only when the model is big (see docs/gaon-bench.md)
  Functional, ///< always compute the data
  TimingOnly, ///< never compute the data
};

struct BenchOptions {
  std::string modelPath;
  std::vector<std::string> targets;     ///< "npu-sim:rngd", "cuda", ...
  std::vector<std::string> inputShapes; ///< "name=1x128" (as --input-shape)
  std::vector<std::string> boundInputs; ///< "name=file.pb" (as --bind-input)
  /// Input data "name=file.npy|file.pb"; inputs not given are random.
  std::vector<std::string> inputFiles;
  std::string dtype = "fp32";
  /// Timed runs per target; 0: 1 on a simulator (deterministic), 20 on
  /// hardware.
  int iterations = 0;
  /// Untimed runs first; -1: 0 on a simulator, 3 on hardware.
  int warmup = -1;
  /// Hardware: keep running until the timed runs took this long, so that
  /// energy counters (NVML's have millisecond resolution) see many runs.
  double minSeconds = 1.0;
  SimMode simMode = SimMode::Auto;
  /// npu-sim: simulate each kernel alone for the per-kernel breakdown.
  bool breakdown = true;
  uint64_t seed = 0;
  /// Driver libraries to dlopen (as gaon-run --driver-lib).
  std::vector<std::string> driverLibs;
  /// Roofline of the cuda target: HBM bandwidth and dense peak (fp16/bf16
  /// tensor cores; fp32 uses cudaPeakFlopsFp32). Nominal H100 SXM numbers
  /// unless measured ones are given.
  double cudaMemBytesPerS = 3.35e12;
  std::string cudaMemSource = "nominal H100 SXM HBM3 (3.35 TB/s)";
  double cudaPeakFlops = 989e12;
  double cudaPeakFlopsFp32 = 67e12;
  std::string cudaPeakSource =
      "nominal H100 SXM dense tensor cores (989 TFLOPS fp16/bf16; 67 "
      "TFLOPS fp32)";
  /// Progress on a terminal; may be null.
  tools::ProgressLine *progress = nullptr;
};

/// Registers the runtime drivers built in (npu-sim; cuda when the CUDA
/// backend is built) with the global registry; harmless when repeated.
void registerBuiltinDrivers();

/// The targets gaon-bench knows, for messages:
/// "cuda, npu-sim[:rngd|atom|tiny|chip.json]".
std::string knownTargets();

/// Checks options that make the whole run meaningless (no model, no or
/// unknown targets, bad dtype or counts); "" when fine.
std::string validateOptions(const BenchOptions &options);

struct BenchResult {
  /// Empty when the bench ran (targets may still be skipped or have failed:
  /// see report["targets"][i]["status"]).
  std::string error;
  nlohmann::json report;
  /// True when every target ran or was skipped.
  bool allOk() const;
};

/// Runs the benchmark. Never throws; a problem that stops everything (the
/// model does not import) is `error` (the compiler's message), a problem of
/// one target is that target's "error".
BenchResult runBench(const BenchOptions &options);

/// The printed table: one column per target, one row per metric.
std::string formatTable(const nlohmann::json &report);

/// One self-contained HTML page (inline CSS and SVG, no scripts, no
/// network) with the comparison charts and the simulators' breakdowns.
std::string renderHtml(const nlohmann::json &report);

} // namespace gaon::bench

#endif // GAON_BENCH_BENCH_H
