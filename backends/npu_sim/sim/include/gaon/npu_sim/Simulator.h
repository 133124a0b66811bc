//===- Simulator.h - Event-driven NPU simulator -----------------*- C++ -*-===//
//
// Usage (what a runtime driver does):
//
//   ChipDesc chip = loadChip("rngd");
//   Simulator sim(chip);
//   sim.writeDram(weightsOffset, bytes.data(), bytes.size());
//   Report report = sim.run(stream);          // functional + timing
//   sim.readDram(outputOffset, out.data(), out.size());
//   std::string json = reportToJson(report);
//
// DRAM, scratchpads and shared SRAM persist across run() calls, so a driver
// can load weights once and run several streams.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_SIMULATOR_H
#define GAON_NPU_SIM_SIMULATOR_H

#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim/Isa.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gaon::npu_sim {

struct RunOptions {
  bool functional =
      true;           ///< false: timing only, no arithmetic or data movement.
  bool trace = false; ///< Record a timeline (Simulator::traceJson()).
};

struct UnitReport {
  uint16_t core = 0;
  std::string unit; ///< dma0, tensor, vector
  uint64_t instructions = 0;
  double busyCycles = 0;
  double utilization = 0; ///< busyCycles / total cycles
};

struct EnergyReport {
  double macJ = 0, vectorJ = 0, scratchpadJ = 0, sharedJ = 0, dramJ = 0,
         networkJ = 0;
  double staticJ = 0;
  double totalJ = 0;
};

struct Report {
  std::string chip;
  double cycles = 0;
  double seconds = 0;
  uint64_t instructions = 0;
  std::vector<UnitReport> units;

  std::array<uint64_t, kNumDTypes> macs{}; ///< By input dtype.
  /// Achieved MACs per cycle over the whole chip / the chip's peak for the
  /// dtypes that ran (weighted by their MAC counts).
  double macUtilization = 0;
  uint64_t vectorElements = 0;

  uint64_t dramReadBytes = 0, dramWriteBytes = 0;
  uint64_t scratchpadReadBytes = 0, scratchpadWriteBytes = 0;
  uint64_t sharedBytes = 0;
  uint64_t networkBytes = 0;

  EnergyReport energy;
  double averageWatts = 0;
  double tdpWatts = 0;
  std::vector<std::string> warnings;

  double wallSeconds = 0; ///< Host time the simulation took.
  double simulatedCyclesPerSecond() const {
    return wallSeconds > 0 ? cycles / wallSeconds : 0;
  }
};

std::string reportToJson(const Report &report, int indent = 2);
/// Human-readable summary for the tool.
std::string reportToText(const Report &report);

class Simulator {
public:
  explicit Simulator(ChipDesc chip);
  ~Simulator();
  Simulator(const Simulator &) = delete;
  Simulator &operator=(const Simulator &) = delete;

  const ChipDesc &chip() const { return chipDesc; }

  void writeDram(uint64_t addr, const void *data, size_t bytes);
  void readDram(uint64_t addr, void *data, size_t bytes) const;
  void writeScratchpad(uint16_t core, uint64_t addr, const void *data,
                       size_t bytes);
  void readScratchpad(uint16_t core, uint64_t addr, void *data,
                      size_t bytes) const;
  void writeShared(uint64_t addr, const void *data, size_t bytes);
  void readShared(uint64_t addr, void *data, size_t bytes) const;

  /// Validates the stream against the chip, then runs it. Throws SimError on
  /// an invalid stream or a deadlock (naming the blocked units).
  Report run(const Stream &stream, const RunOptions &options = {});

  /// Chrome/Perfetto trace of the last run with options.trace set: one
  /// process per core, one thread per unit, timestamps in microseconds.
  std::string traceJson() const;

  struct Memories; // Internal.

private:
  ChipDesc chipDesc;
  std::unique_ptr<Memories> memories;
  std::string lastTrace;
};

} // namespace gaon::npu_sim

#endif // GAON_NPU_SIM_SIMULATOR_H
