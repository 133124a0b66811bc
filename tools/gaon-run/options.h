// Command-line parsing for gaon-run.
#ifndef GAON_TOOLS_GAON_RUN_OPTIONS_H
#define GAON_TOOLS_GAON_RUN_OPTIONS_H

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gaon::run {

struct Options {
  std::string model;
  // (name or "" for positional, path)
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::pair<std::string, std::string>> expected;
  std::string outputDir;
  std::string jsonPath;
  std::vector<std::string> driverLibs;
  std::map<std::string, std::string> deviceOptions;
  double rtol = 1e-3;
  double atol = 1e-5;
  int repeat = 1;
  int warmup = 0;
  int queues = 2;
  unsigned long long seed = 1;
  bool listDrivers = false;
  bool help = false;
};

// Returns "" on success or a message for a usage error.
std::string parseOptions(int argc, char **argv, Options &options);
const char *usageText();

} // namespace gaon::run

#endif
