// gaon-run's flags. Unknown flags and malformed values are usage errors.
#include "options.h"

#include <cstdlib>

namespace gaon::run {

const char *usageText() {
  return R"(usage: gaon-run model.gaon [options]

  --input [name=]file.npy|file.pb   input tensor (repeatable; without a name,
                                    files bind to graph inputs in order);
                                    with no --input, inputs are random
  --expect name=file.npy|file.pb    expected output (repeatable)
  --rtol R --atol A                 tolerance for --expect (1e-3, 1e-5)
  --output-dir D                    write every output as D/<name>.npy
  --repeat N                        timed runs (median reported; default 1)
  --warmup N                        untimed runs first (default 0)
  --queues N                        queues per module (default 2)
  --seed S                          seed for random inputs (default 1)
  --json report.json                write a JSON report
  --driver-lib path.so              load a driver library (repeatable)
  --device-option key=value         pass an option to the device (repeatable)
  --list-drivers                    print the registered drivers and exit
  --help                            this text

exit status: 0 ok, 1 error, 2 usage error, 3 outputs differ from --expect
)";
}

namespace {

bool splitPair(const std::string &text, std::string &key, std::string &value) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return false;
  key = text.substr(0, eq);
  value = text.substr(eq + 1);
  return !value.empty();
}

bool parseNumber(const std::string &text, double &out) {
  char *end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end && *end == '\0' && end != text.c_str();
}

bool parseCount(const std::string &text, long min, long max, long &out) {
  char *end = nullptr;
  out = std::strtol(text.c_str(), &end, 10);
  return end && *end == '\0' && end != text.c_str() && out >= min && out <= max;
}

} // namespace

std::string parseOptions(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // Accept both "--flag value" and "--flag=value".
    std::string flag = arg, inlineValue;
    bool hasInline = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      flag = arg.substr(0, arg.find('='));
      inlineValue = arg.substr(arg.find('=') + 1);
      hasInline = true;
    }
    auto value = [&](std::string &out) -> bool {
      if (hasInline) {
        out = inlineValue;
        return true;
      }
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    std::string v, key, val;
    long count;
    if (flag == "--help" || flag == "-h") {
      options.help = true;
    } else if (flag == "--list-drivers") {
      options.listDrivers = true;
    } else if (flag == "--input") {
      if (!value(v))
        return "--input needs a value";
      if (splitPair(v, key, val) && key.find('/') == std::string::npos)
        options.inputs.emplace_back(key, val);
      else
        options.inputs.emplace_back("", v);
    } else if (flag == "--expect") {
      if (!value(v) || !splitPair(v, key, val))
        return "--expect needs name=file";
      options.expected.emplace_back(key, val);
    } else if (flag == "--rtol" || flag == "--atol") {
      double number;
      if (!value(v) || !parseNumber(v, number) || number < 0)
        return flag + " needs a non-negative number";
      (flag == "--rtol" ? options.rtol : options.atol) = number;
    } else if (flag == "--repeat" || flag == "--warmup" || flag == "--queues") {
      long min = flag == "--warmup" ? 0 : 1;
      if (!value(v) || !parseCount(v, min, 1000000, count))
        return flag + " needs an integer >= " + std::to_string(min);
      (flag == "--repeat"   ? options.repeat
       : flag == "--warmup" ? options.warmup
                            : options.queues) = static_cast<int>(count);
    } else if (flag == "--seed") {
      if (!value(v) || !parseCount(v, 0, 2147483647, count))
        return "--seed needs a non-negative integer";
      options.seed = static_cast<unsigned long long>(count);
    } else if (flag == "--output-dir") {
      if (!value(options.outputDir) || options.outputDir.empty())
        return "--output-dir needs a directory";
    } else if (flag == "--json") {
      if (!value(options.jsonPath) || options.jsonPath.empty())
        return "--json needs a path";
    } else if (flag == "--driver-lib") {
      if (!value(v) || v.empty())
        return "--driver-lib needs a path";
      options.driverLibs.push_back(v);
    } else if (flag == "--device-option") {
      if (!value(v) || !splitPair(v, key, val))
        return "--device-option needs key=value";
      options.deviceOptions[key] = val;
    } else if (arg.rfind("-", 0) == 0 && arg != "-") {
      return "unknown flag '" + arg + "'";
    } else if (options.model.empty()) {
      options.model = arg;
    } else {
      return "unexpected argument '" + arg + "' (only one model)";
    }
  }
  if (!options.help && !options.listDrivers && options.model.empty())
    return "no model given";
  return "";
}

} // namespace gaon::run
