//===- Progress.h - Progress display for long compiles and runs -*- C++ -*-===//
//
// One status line on stderr, redrawn in place ("\r...\x1b[K"), for the tools
// whose work can take minutes (gaon-compile, gaon-bench, gaon-run and the
// Python package). It is drawn only when stderr is a terminal, so logs,
// pipes and tests see exactly the output they saw before; GAON_PROGRESS=0
// turns it off on a terminal too.
//
//   gaon::tools::ProgressLine line;          // disabled unless isatty(2)
//   line.set("[3/7] gaon-fuse-attention");
//   {
//     gaon::tools::Spinner spin(line, "simulating npu-sim:rngd");
//     spin.setFraction(0.4);                 // optional: shows "40%"
//     ...                                    // redrawn every 100 ms
//   }
//   line.clear();                            // also done by the destructor
//
// No MLIR or LLVM here: gaon-run links only the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TOOLS_PROGRESS_H
#define GAON_TOOLS_PROGRESS_H

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace gaon::tools {

/// True when progress should be drawn: stderr is a terminal and the
/// environment variable GAON_PROGRESS is not "0".
bool progressEnabled();

/// A status line on stderr. Every method is thread safe (MLIR may run
/// passes on worker threads); a disabled line does nothing at all.
class ProgressLine {
public:
  explicit ProgressLine(bool enabled = progressEnabled());
  ~ProgressLine();
  ProgressLine(const ProgressLine &) = delete;
  ProgressLine &operator=(const ProgressLine &) = delete;

  bool enabled() const { return isEnabled; }
  /// Replaces the line's text (cut to the terminal width).
  void set(const std::string &text);
  /// Erases the line, so that ordinary output starts on a clean row.
  void clear();
  /// Text prepended to every set() (e.g. "[npu-sim:rngd] "), kept until
  /// changed.
  void setPrefix(const std::string &prefix);

private:
  void draw(const std::string &text); // with `mutex` held
  bool isEnabled;
  bool shown = false;
  std::string prefix;
  std::mutex mutex;
};

/// While alive, redraws "<label> <spinner> <elapsed> [<percent>]" on a
/// ProgressLine every 100 ms from a background thread; clears the line when
/// destroyed. Does not start a thread when the line is disabled.
class Spinner {
public:
  Spinner(ProgressLine &line, std::string label);
  ~Spinner();
  Spinner(const Spinner &) = delete;
  Spinner &operator=(const Spinner &) = delete;

  void setLabel(const std::string &label);
  /// Fraction done in [0, 1]; a negative value hides the percentage.
  void setFraction(double fraction);
  void stop();

private:
  void loop();
  std::string render(unsigned tick);

  ProgressLine &line;
  std::mutex mutex;
  std::condition_variable wake;
  std::string label;
  double fraction = -1;
  bool stopping = false;
  std::chrono::steady_clock::time_point start;
  std::thread thread;
};

} // namespace gaon::tools

#endif // GAON_TOOLS_PROGRESS_H
