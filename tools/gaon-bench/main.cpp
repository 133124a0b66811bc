//===- main.cpp - gaon-bench: one model, several targets, side by side ----===//
//
//   gaon-bench model.onnx --targets cuda,npu-sim:rngd,npu-sim:atom
//              [--input-shape name=1x128 ...] [--dtype fp16|bf16|fp32|int8]
//              [--json out.json] [--html report.html] [--iterations N]
//
// See docs/gaon-bench.md.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"

#include "gaon/runtime/tensor_io.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

using gaon::bench::BenchOptions;

namespace {

enum ExitCode { kOk = 0, kError = 1, kUsage = 2 };

const char *usageText() {
  return R"(usage: gaon-bench model.onnx --targets T[,T...] [options]

Compiles the model for each target in-process, runs it through the runtime and
reports latency, throughput, energy, power, performance per watt and the
roofline bound side by side.

targets: cuda, npu-sim[:rngd|atom|tiny|chip.json] (comma-separated or repeated)

options:
  --targets T,T...          targets to compare (required)
  --input-shape name=DxD    fix an input's shape (repeatable, comma-separated)
  --bind-input name=f.pb    replace an input by a constant (as gaon-compile)
  --input name=file         input data (.npy or .pb); others are random
  --dtype fp32|bf16|fp16|int8
                            compute type (default fp32; int8: npu-sim)
  --iterations N            timed runs (default: 1 simulated, 20 on hardware)
  --warmup N                untimed runs first (default: 0 simulated, 3 on hardware)
  --min-time S              hardware: run at least S seconds (default 1)
  --functional              npu-sim: always compute the data
  --timing-only             npu-sim: never compute the data (default: only
                            for models over 10 GFLOP per inference)
  --no-breakdown            npu-sim: skip the per-kernel breakdown
  --json out.json           write the report as JSON
  --html report.html        write a self-contained HTML report
  --seed S                  seed of the random inputs (default 0)
  --driver-lib path.so      load a runtime driver library (repeatable)
  --cuda-mem-bw B           cuda roofline: memory bandwidth in bytes/s
                            (default 3.35e12, nominal H100 SXM)
  --cuda-peak-tflops T      cuda roofline: dense fp16/bf16 peak (default 989)
  --help                    this text

exit status: 0 every target ran or was skipped, 1 an error (the model does not
compile, a target failed), 2 usage error
)";
}

// Splits "a,b,c" and appends the non-empty parts.
void appendList(std::vector<std::string> &out, const std::string &text) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos)
      comma = text.size();
    if (comma > start)
      out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
}

bool parseNumber(const std::string &text, double &value) {
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0';
}

bool parseCount(const std::string &text, int &value) {
  double number;
  if (!parseNumber(text, number) || number < 0 || number > 1e9 ||
      number != static_cast<int>(number))
    return false;
  value = static_cast<int>(number);
  return true;
}

struct CliOptions {
  BenchOptions bench;
  std::string jsonPath, htmlPath;
  bool help = false;
};

// "" or the usage error.
std::string parseArgs(int argc, char **argv, CliOptions &cli) {
  BenchOptions &o = cli.bench;
  bool functional = false, timingOnly = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool hasInlineValue = false;
    if (arg.rfind("--", 0) == 0) {
      if (size_t eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        hasInlineValue = true;
      }
    }
    auto needValue = [&]() -> bool {
      if (hasInlineValue)
        return true;
      if (i + 1 >= argc)
        return false;
      value = argv[++i];
      return true;
    };
    static const std::set<std::string> valued = {
        "--targets",    "--target",      "--input-shape",
        "--bind-input", "--input",       "--dtype",
        "--iterations", "--warmup",      "--min-time",
        "--json",       "--html",        "--seed",
        "--driver-lib", "--cuda-mem-bw", "--cuda-peak-tflops"};
    if (arg == "--help" || arg == "-h") {
      cli.help = true;
    } else if (arg == "--functional") {
      functional = true;
    } else if (arg == "--timing-only") {
      timingOnly = true;
    } else if (arg == "--no-breakdown") {
      o.breakdown = false;
    } else if (valued.count(arg)) {
      if (!needValue())
        return arg + " needs a value";
      double number = 0;
      if (arg == "--targets" || arg == "--target")
        appendList(o.targets, value);
      else if (arg == "--input-shape")
        o.inputShapes.push_back(value);
      else if (arg == "--bind-input")
        o.boundInputs.push_back(value);
      else if (arg == "--input")
        o.inputFiles.push_back(value);
      else if (arg == "--dtype")
        o.dtype = value;
      else if (arg == "--iterations") {
        if (!parseCount(value, o.iterations) || o.iterations == 0)
          return "--iterations needs a positive integer, got '" + value + "'";
      } else if (arg == "--warmup") {
        if (!parseCount(value, o.warmup))
          return "--warmup needs a non-negative integer, got '" + value + "'";
      } else if (arg == "--min-time") {
        if (!parseNumber(value, o.minSeconds) || o.minSeconds < 0)
          return "--min-time needs seconds >= 0, got '" + value + "'";
      } else if (arg == "--json")
        cli.jsonPath = value;
      else if (arg == "--html")
        cli.htmlPath = value;
      else if (arg == "--seed") {
        if (!parseNumber(value, number) || number < 0)
          return "--seed needs a non-negative integer, got '" + value + "'";
        o.seed = static_cast<uint64_t>(number);
      } else if (arg == "--driver-lib")
        o.driverLibs.push_back(value);
      else if (arg == "--cuda-mem-bw") {
        if (!parseNumber(value, number) || number <= 0)
          return "--cuda-mem-bw needs bytes/s > 0, got '" + value + "'";
        o.cudaMemBytesPerS = number;
        o.cudaMemSource = "given with --cuda-mem-bw (" + value + " B/s)";
      } else if (arg == "--cuda-peak-tflops") {
        if (!parseNumber(value, number) || number <= 0)
          return "--cuda-peak-tflops needs a value > 0, got '" + value + "'";
        o.cudaPeakFlops = number * 1e12;
        o.cudaPeakSource =
            "given with --cuda-peak-tflops (" + value + " TFLOPS)";
      }
    } else if (arg.rfind("-", 0) == 0 && arg != "-") {
      return "unknown option '" + arg + "'";
    } else if (o.modelPath.empty()) {
      o.modelPath = arg;
    } else {
      return "more than one model given ('" + o.modelPath + "', '" + arg + "')";
    }
  }
  if (functional && timingOnly)
    return "--functional and --timing-only exclude each other";
  o.simMode = functional   ? gaon::bench::SimMode::Functional
              : timingOnly ? gaon::bench::SimMode::TimingOnly
                           : gaon::bench::SimMode::Auto;
  return "";
}

bool writeText(const std::string &path, const std::string &text) {
  gaon::rt::Status status = gaon::rt::writeFileAtomically(
      path, std::vector<uint8_t>(text.begin(), text.end()));
  if (!status.isOk())
    std::fprintf(stderr, "gaon-bench: error: %s\n", status.message().c_str());
  return status.isOk();
}

} // namespace

int main(int argc, char **argv) {
  CliOptions cli;
  std::string usageError = parseArgs(argc, argv, cli);
  if (cli.help) {
    std::fputs(usageText(), stdout);
    return kOk;
  }
  if (usageError.empty())
    usageError = gaon::bench::validateOptions(cli.bench);
  if (!usageError.empty()) {
    std::fprintf(stderr, "gaon-bench: error: %s\n\n%s", usageError.c_str(),
                 usageText());
    return kUsage;
  }

  gaon::tools::ProgressLine progress;
  cli.bench.progress = &progress;
  gaon::bench::BenchResult result = gaon::bench::runBench(cli.bench);
  progress.clear();
  if (!result.error.empty()) {
    // The compiler's messages already read "error: ...".
    std::string message = result.error;
    if (message.rfind("error: ", 0) != 0)
      message = "error: " + message;
    std::fprintf(stderr, "gaon-bench: %s\n", message.c_str());
    if (!cli.jsonPath.empty())
      writeText(cli.jsonPath, nlohmann::json{{"schema", "gaon-bench/1"},
                                             {"status", "error"},
                                             {"error", result.error}}
                                      .dump(2) +
                                  "\n");
    return kError;
  }
  std::fputs(gaon::bench::formatTable(result.report).c_str(), stdout);
  bool written = true;
  if (!cli.jsonPath.empty())
    written = writeText(cli.jsonPath, result.report.dump(2) + "\n") && written;
  if (!cli.htmlPath.empty())
    written = writeText(cli.htmlPath, gaon::bench::renderHtml(result.report)) &&
              written;
  return result.allOk() && written ? kOk : kError;
}
