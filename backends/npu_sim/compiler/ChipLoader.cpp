//===- ChipLoader.cpp - Chip descriptions for the compiler ----------------===//

#include "gaon/Backends/NpuSim/ChipLoader.h"

#include "gaon/npu_sim/ChipDesc.h"

#include <cmath>
#include <exception>

namespace gaon::npu {

std::optional<ChipSummary> loadChipSummary(const std::string &nameOrPath,
                                           std::string &error) {
  try {
    npu_sim::ChipDesc chip = npu_sim::loadChip(nameOrPath);
    ChipSummary summary;
    summary.name = chip.name;
    // The artifact embeds the exact description it was compiled for.
    summary.json = npu_sim::chipToJson(chip);
    summary.cores = chip.cores;
    summary.tensorRows = chip.tensor.rows;
    summary.tensorCols = chip.tensor.cols;
    summary.scratchpadBytes = int64_t(chip.scratchpad.bytes);
    summary.dramBytes = int64_t(chip.dram.bytes);
    summary.clockMhz = int64_t(std::llround(chip.clockGhz * 1000));
    return summary;
  } catch (const std::exception &e) {
    error = e.what();
    return std::nullopt;
  }
}

std::optional<npu_sim::ChipDesc> parseChipDesc(const std::string &json,
                                               const std::string &sourceName,
                                               std::string &error) {
  try {
    return npu_sim::parseChipJson(json, sourceName);
  } catch (const std::exception &e) {
    error = e.what();
    return std::nullopt;
  }
}

} // namespace gaon::npu
