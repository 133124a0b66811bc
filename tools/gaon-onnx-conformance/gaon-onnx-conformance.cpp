//===- gaon-onnx-conformance.cpp - Run the ONNX backend node tests --------===//
//
//   gaon-onnx-conformance [DIR] [--filter TEXT] [--json report.json] [-v]
//
// Imports every ONNX backend test under DIR (default: Debian's
// libonnx-testdata node tests), specialized to the shapes of its first data
// set, and classifies it: imported, unsupported op, or failed (any other
// error, a crash or a timeout). Each test runs in a forked child so that a
// crash is reported as a failure instead of ending the run.
//
//===----------------------------------------------------------------------===//

#include "gaon/Compiler/Onnx/OnnxImporter.h"
#ifdef GAON_WITH_NPU_SIM
#include "gaon/Backends/NpuSim/NpuRunner.h"
#endif
#include "gaon/Compiler/Reference/DataSetCheck.h"
#include "gaon/Dialect/Graph/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <csignal>
#include <map>
#include <poll.h>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

using namespace llvm;

namespace {

cl::OptionCategory category("gaon-onnx-conformance options");
cl::opt<std::string> testRoot(cl::Positional, cl::desc("[test directory]"),
                              cl::init("/usr/share/libonnx-testdata/data/node"),
                              cl::cat(category));
cl::opt<std::string> filter("filter",
                            cl::desc("Only run tests whose name contains TEXT"),
                            cl::value_desc("TEXT"), cl::cat(category));
cl::opt<std::string> jsonPath("json", cl::desc("Write a JSON report"),
                              cl::value_desc("path"), cl::cat(category));
cl::opt<bool> verbose("v", cl::desc("Print every test, not only failures"),
                      cl::cat(category));
cl::opt<bool> runTests(
    "run",
    cl::desc("Also run every imported test's data sets on the reference "
             "interpreter and compare the outputs (fp32: rel-L2 <= 1e-4)"),
    cl::cat(category));
cl::opt<std::string>
    target("target",
           cl::desc("With --run: where to run, reference (default) or "
                    "npu-sim[:rngd|atom|tiny]"),
           cl::init("reference"), cl::cat(category));
cl::opt<unsigned> timeoutSeconds("timeout", cl::desc("Seconds per test"),
                                 cl::init(30), cl::cat(category));

/// Imported tests are refined by --run into Passed, Wrong and RunFailed.
enum class Status { Imported, Unsupported, Failed, Passed, Wrong, RunFailed };
constexpr int kNumStatus = 6;

struct Result {
  std::string name;
  Status status;
  std::string message;
};

const char *statusName(Status status) {
  switch (status) {
  case Status::Imported:
    return "imported";
  case Status::Unsupported:
    return "unsupported";
  case Status::Failed:
    return "failed";
  case Status::Passed:
    return "passed";
  case Status::Wrong:
    return "wrong";
  case Status::RunFailed:
    return "run-failed";
  }
  return "?";
}

/// Runs every data set of an imported test on the reference interpreter.
Result runDataSets(StringRef name, StringRef dir) {
  SmallString<256> modelPath(dir);
  sys::path::append(modelPath, "model.onnx");
  std::error_code ec;
  std::vector<std::string> dataSets;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (sys::path::filename(it->path()).starts_with("test_data_set_"))
      dataSets.push_back(it->path());
  llvm::sort(dataSets);
  for (const std::string &dataSet : dataSets) {
    gaon::reference::CheckOptions options;
#ifdef GAON_WITH_NPU_SIM
    if (StringRef(target).starts_with("npu-sim"))
      options.runner = gaon::npu::makeNpuSimRunner(
          StringRef(target).split(':').second.str());
#endif
    auto result = gaon::reference::checkDataSet(modelPath, dataSet, options);
    std::string where = sys::path::filename(dataSet).str();
    if (!result.failedStage.empty())
      return {name.str(), Status::RunFailed,
              where + ": " + result.failedStage + ": " + result.message};
    for (const auto &output : result.outputs)
      if (!output.pass)
        return {name.str(), Status::Wrong,
                formatv("{0}: output '{1}' rel-L2 {2:e2}, max-abs {3:e2}{4}",
                        where, output.name, output.error.relativeL2,
                        output.error.maxAbs,
                        output.error.nonFiniteMismatch ? " (NaN/inf differ)"
                        : !output.error.sameShape      ? " (shape differs)"
                                                       : "")
                    .str()};
  }
  return {name.str(), Status::Passed, ""};
}

/// Runs in the child: imports one test and returns its classification.
Result importOne(StringRef name, StringRef dir, bool bindSmall) {
  gaon::onnx::ImportOptions options;
  SmallString<256> modelPath(dir), dataSet(dir);
  sys::path::append(modelPath, "model.onnx");
  sys::path::append(dataSet, "test_data_set_0");
  if (std::string error = gaon::onnx::specializeToDataSet(modelPath, dataSet,
                                                          options, bindSmall);
      !error.empty())
    return {name.str(), Status::Failed, error};
  mlir::MLIRContext context;
  std::string firstError;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error &&
        firstError.empty())
      firstError = d.str();
    return mlir::success();
  });
  auto module = gaon::onnx::importOnnxModel(context, modelPath, options);
  if (!module) {
    if (!bindSmall && StringRef(firstError).contains("compile-time constant"))
      return importOne(name, dir, /*bindSmall=*/true);
    bool unsupported = StringRef(firstError).starts_with("unsupported ") ||
                       StringRef(firstError).contains("is not supported");
    return {name.str(), unsupported ? Status::Unsupported : Status::Failed,
            firstError};
  }
  if (failed(mlir::verify(*module)))
    return {name.str(), Status::Failed,
            "imported IR does not verify: " + firstError};
  if (!runTests)
    return {name.str(), Status::Imported, ""};
  return runDataSets(name, dir);
}

/// Forks, runs importOne in the child and reads its verdict from a pipe.
Result runIsolated(StringRef name, StringRef dir) {
  int fds[2];
  if (pipe(fds) != 0)
    return {name.str(), Status::Failed, "pipe() failed"};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Result result = importOne(name, dir, /*bindSmall=*/false);
    std::string payload =
        std::to_string(int(result.status)) + "\n" + result.message;
    (void)!write(fds[1], payload.data(), payload.size());
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string payload;
  char chunk[4096];
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  bool timedOut = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, int(left)) <= 0)
      continue;
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n <= 0)
      break;
    payload.append(chunk, size_t(n));
  }
  close(fds[0]);
  if (timedOut)
    kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timedOut)
    return {name.str(), Status::Failed,
            "timed out after " + std::to_string(timeoutSeconds) + " s"};
  if (WIFSIGNALED(status))
    return {name.str(), Status::Failed,
            std::string("crashed: ") + strsignal(WTERMSIG(status))};
  auto [code, message] = StringRef(payload).split('\n');
  int value = 0;
  if (code.getAsInteger(10, value) || value < 0 || value >= kNumStatus)
    return {name.str(), Status::Failed, "child reported nothing"};
  return {name.str(), Status(value), message.str()};
}

/// The op type named by an "unsupported ONNX op 'X'" message, or the kind
/// of other unsupported feature.
std::string unsupportedOp(StringRef message) {
  if (message.starts_with("unsupported input type"))
    return "<non-tensor or string input>";
  if (!message.starts_with("unsupported ONNX op")) {
    // "... is not supported at node 'n' (Op, opset N)": a feature of Op.
    auto op = message.rsplit('(').second.split(',').first;
    return op.str() + " (feature)";
  }
  auto [before, rest] = message.split('\'');
  auto [op, after] = rest.split('\'');
  return op.str();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "ONNX node-test import harness\n");

  std::vector<std::string> tests;
  std::error_code ec;
  for (sys::fs::directory_iterator it(testRoot, ec), end; it != end && !ec;
       it.increment(ec)) {
    SmallString<256> model(it->path());
    sys::path::append(model, "model.onnx");
    std::string name = sys::path::filename(it->path()).str();
    if (sys::fs::exists(model) &&
        (filter.empty() || StringRef(name).contains(filter)))
      tests.push_back(name);
  }
  bool knownTarget = target == "reference";
#ifdef GAON_WITH_NPU_SIM
  knownTarget |= StringRef(target).split(':').first == "npu-sim";
#endif
  if (!knownTarget) {
    errs() << "error: unknown target '" << target
           << "' (available: reference, npu-sim[:preset])\n";
    return 1;
  }
  if (ec || tests.empty()) {
    errs() << "error: no ONNX tests (*/model.onnx) found under '" << testRoot
           << "'" << (ec ? ": " + ec.message() : "") << "\n";
    return 1;
  }
  llvm::sort(tests);

  std::vector<Result> results;
  std::map<std::string, int> unsupportedCounts;
  int counts[kNumStatus] = {};
  for (const std::string &name : tests) {
    SmallString<256> dir(testRoot);
    sys::path::append(dir, name);
    Result result = runIsolated(name, dir);
    counts[int(result.status)]++;
    if (result.status == Status::Unsupported)
      unsupportedCounts[unsupportedOp(result.message)]++;
    if (verbose || result.status == Status::Failed ||
        result.status == Status::Wrong || result.status == Status::RunFailed)
      outs() << statusName(result.status) << "  " << name
             << (result.message.empty() ? "" : ": " + result.message) << "\n";
    results.push_back(std::move(result));
  }

  int imported = counts[0] + counts[3] + counts[4] + counts[5];
  outs() << "\n"
         << tests.size() << " tests: " << imported << " imported, " << counts[1]
         << " unsupported op, " << counts[2] << " failed\n";
  if (runTests)
    outs() << target << " run of the imported tests: " << counts[3]
           << " passed, " << counts[4] << " wrong, " << counts[5]
           << " could not run\n";
  if (!unsupportedCounts.empty()) {
    outs() << "unsupported op types (" << unsupportedCounts.size() << "):";
    for (auto &[op, count] : unsupportedCounts)
      outs() << " " << op << "(" << count << ")";
    outs() << "\n";
  }

  if (!jsonPath.empty()) {
    json::Array testArray;
    for (const Result &r : results)
      testArray.push_back(json::Object{{"name", r.name},
                                       {"status", statusName(r.status)},
                                       {"message", r.message}});
    json::Object unsupported;
    for (auto &[op, count] : unsupportedCounts)
      unsupported[op] = count;
    json::Object report{
        {"test_root", testRoot},
        {"target", target},
        {"summary", json::Object{{"total", int64_t(tests.size())},
                                 {"imported", imported},
                                 {"unsupported", counts[1]},
                                 {"failed", counts[2]},
                                 {"run_passed", counts[3]},
                                 {"run_wrong", counts[4]},
                                 {"run_could_not_run", counts[5]}}},
        {"unsupported_ops", std::move(unsupported)},
        {"tests", std::move(testArray)}};
    std::string tmp = jsonPath + ".tmp";
    {
      raw_fd_ostream os(tmp, ec);
      if (ec) {
        errs() << "error: cannot write '" << tmp << "': " << ec.message()
               << "\n";
        return 1;
      }
      os << formatv("{0:2}", json::Value(std::move(report))) << "\n";
    }
    if (auto renameError = sys::fs::rename(tmp, jsonPath)) {
      errs() << "error: cannot write '" << jsonPath
             << "': " << renameError.message() << "\n";
      return 1;
    }
  }
  return 0;
}
