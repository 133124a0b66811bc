//===- gaon-npu-sim.cpp - Run a command stream on a simulated NPU ---------===//
//
//   gaon-npu-sim stream.txt|stream.bin [--chip rngd|atom|tiny|path.json]
//                [--timing-only] [--trace out.json] [--json report.json]
//                [--convert out.bin|out.txt]
//   gaon-npu-sim --validate-chip path.json
//   gaon-npu-sim --print-chip rngd|path.json   (canonical JSON, chipToJson)
//
//===----------------------------------------------------------------------===//

#include "gaon/npu_sim/Codec.h"
#include "gaon/npu_sim/Simulator.h"

#include <cstring>
#include <fstream>
#include <iostream>

using namespace gaon::npu_sim;

namespace {

const char *const kUsage =
    "usage: gaon-npu-sim STREAM [--chip NAME|PATH] [--timing-only] [--trace "
    "OUT.json]\n"
    "                    [--json REPORT.json] [--convert OUT.bin|OUT.txt]\n"
    "       gaon-npu-sim --validate-chip PATH.json\n"
    "       gaon-npu-sim --print-chip NAME|PATH.json\n"
    "STREAM is a text (.txt) or binary (GNPU) command stream. --chip takes a "
    "preset\n"
    "(rngd, atom, tiny; default rngd) or a chip description file.\n";

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream file(path, std::ios::binary);
  if (!file)
    throw SimError("cannot write " + path);
  file << text;
}

} // namespace

int main(int argc, char **argv) {
  std::string streamPath, chipName, tracePath, jsonPath, convertPath,
      validatePath, printChip;
  RunOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "gaon-npu-sim: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--chip")
      chipName = value();
    else if (arg == "--timing-only")
      options.functional = false;
    else if (arg == "--trace")
      tracePath = value();
    else if (arg == "--json")
      jsonPath = value();
    else if (arg == "--convert")
      convertPath = value();
    else if (arg == "--validate-chip")
      validatePath = value();
    else if (arg == "--print-chip")
      printChip = value();
    else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "gaon-npu-sim: unknown option " << arg << "\n" << kUsage;
      return 2;
    } else if (streamPath.empty()) {
      streamPath = arg;
    } else {
      std::cerr << "gaon-npu-sim: more than one stream given\n" << kUsage;
      return 2;
    }
  }
  try {
    if (!printChip.empty()) {
      std::cout << chipToJson(loadChip(printChip)) << "\n";
      return 0;
    }
    if (!validatePath.empty()) {
      ChipDesc chip = loadChip(validatePath);
      std::cout << validatePath << ": valid chip '" << chip.name << "' ("
                << chip.cores << " cores @ " << chip.clockGhz << " GHz, "
                << chip.peakMacsPerCycle(DType::BF16) * chip.cores * 2 *
                       chip.clockGhz / 1000
                << " bf16 TFLOPS, " << chip.dram.bandwidthGBps << " GB/s "
                << chip.dram.kind << ")\n";
      return 0;
    }
    if (streamPath.empty()) {
      std::cerr << kUsage;
      return 2;
    }
    ChipDesc chip = loadChip(chipName);
    Stream stream = loadStreamFile(streamPath);
    if (!convertPath.empty()) {
      saveStreamFile(stream, convertPath);
      std::cout << "wrote " << convertPath << "\n";
      return 0;
    }
    options.trace = !tracePath.empty();
    Simulator simulator(chip);
    Report report = simulator.run(stream, options);
    std::cout << reportToText(report);
    if (!jsonPath.empty())
      writeFile(jsonPath, reportToJson(report) + "\n");
    if (!tracePath.empty())
      writeFile(tracePath, simulator.traceJson());
    return 0;
  } catch (const SimError &error) {
    std::cerr << "gaon-npu-sim: error: " << error.what() << "\n";
    return 1;
  }
}
