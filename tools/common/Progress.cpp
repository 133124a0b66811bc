//===- Progress.cpp - Progress display for long compiles and runs ---------===//

#include "gaon/Tools/Progress.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/ioctl.h>
#include <unistd.h>

namespace gaon::tools {

bool progressEnabled() {
  const char *env = std::getenv("GAON_PROGRESS");
  if (env && std::strcmp(env, "0") == 0)
    return false;
  return isatty(STDERR_FILENO) == 1;
}

namespace {

// Columns of the terminal on stderr; 80 when it cannot be asked.
size_t terminalWidth() {
  struct winsize size = {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 8)
    return size.ws_col;
  return 80;
}

} // namespace

ProgressLine::ProgressLine(bool enabled) : isEnabled(enabled) {}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::draw(const std::string &text) {
  // One column short of the width: writing the last column makes some
  // terminals wrap, and the next "\r" would then redraw on a new row.
  std::string shownText = prefix + text;
  size_t width = terminalWidth() - 1;
  if (shownText.size() > width)
    shownText = shownText.substr(0, width);
  std::fprintf(stderr, "\r%s\x1b[K", shownText.c_str());
  std::fflush(stderr);
  shown = true;
}

void ProgressLine::set(const std::string &text) {
  if (!isEnabled)
    return;
  std::lock_guard<std::mutex> lock(mutex);
  draw(text);
}

void ProgressLine::setPrefix(const std::string &newPrefix) {
  std::lock_guard<std::mutex> lock(mutex);
  prefix = newPrefix;
}

void ProgressLine::clear() {
  if (!isEnabled)
    return;
  std::lock_guard<std::mutex> lock(mutex);
  if (!shown)
    return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  shown = false;
}

Spinner::Spinner(ProgressLine &line, std::string label)
    : line(line), label(std::move(label)),
      start(std::chrono::steady_clock::now()) {
  if (line.enabled())
    thread = std::thread([this] { loop(); });
}

Spinner::~Spinner() { stop(); }

void Spinner::setLabel(const std::string &newLabel) {
  std::lock_guard<std::mutex> lock(mutex);
  label = newLabel;
}

void Spinner::setFraction(double newFraction) {
  std::lock_guard<std::mutex> lock(mutex);
  fraction = newFraction;
}

void Spinner::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping)
      return;
    stopping = true;
  }
  wake.notify_all();
  if (thread.joinable()) {
    thread.join();
    line.clear();
  }
}

std::string Spinner::render(unsigned tick) {
  static const char frames[] = {'|', '/', '-', '\\'};
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  char tail[64];
  if (fraction >= 0)
    std::snprintf(tail, sizeof tail, " %c %.1f s  %3.0f%%", frames[tick % 4],
                  elapsed, fraction * 100);
  else
    std::snprintf(tail, sizeof tail, " %c %.1f s", frames[tick % 4], elapsed);
  return label + tail;
}

void Spinner::loop() {
  std::unique_lock<std::mutex> lock(mutex);
  // Work that ends within a quarter second draws nothing (no flicker).
  wake.wait_for(lock, std::chrono::milliseconds(250),
                [this] { return stopping; });
  for (unsigned tick = 0; !stopping; ++tick) {
    std::string text = render(tick);
    // Draw without holding our lock, so setLabel never waits on stderr.
    lock.unlock();
    line.set(text);
    lock.lock();
    wake.wait_for(lock, std::chrono::milliseconds(100),
                  [this] { return stopping; });
  }
}

} // namespace gaon::tools
