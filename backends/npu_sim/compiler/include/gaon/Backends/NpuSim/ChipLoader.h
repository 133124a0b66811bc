//===- ChipLoader.h - Chip descriptions for the compiler --------*- C++ -*-===//
//
// The simulator library reports errors with exceptions; the compiler is
// built without them. This bridge (compiled with exceptions) turns them
// into error strings.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_BACKENDS_NPUSIM_CHIPLOADER_H
#define GAON_BACKENDS_NPUSIM_CHIPLOADER_H

#include "gaon/npu_sim/ChipDesc.h"

#include <cstdint>
#include <optional>
#include <string>

namespace gaon::npu {

struct ChipSummary {
  std::string name;
  std::string json; ///< the full description, embedded in artifacts
  int64_t cores = 0;
  int64_t tensorRows = 0, tensorCols = 0;
  int64_t scratchpadBytes = 0;
  int64_t dramBytes = 0;
  int64_t clockMhz = 0;
};

/// Loads a preset (rngd, atom, tiny) or a chip description file.
std::optional<ChipSummary> loadChipSummary(const std::string &nameOrPath,
                                           std::string &error);

/// Parses the full description a #gaon_npu.chip carries (its `json`).
std::optional<npu_sim::ChipDesc> parseChipDesc(const std::string &json,
                                               const std::string &sourceName,
                                               std::string &error);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_CHIPLOADER_H
