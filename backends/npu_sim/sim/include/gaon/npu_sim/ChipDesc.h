//===- ChipDesc.h - Description of a simulated NPU --------------*- C++ -*-===//
//
// A chip description is read from JSON (see docs/simulator.md for the schema)
// and validated field by field, so a typo or an out-of-range value fails with
// a message naming the file, the field and the allowed range.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_CHIPDESC_H
#define GAON_NPU_SIM_CHIPDESC_H

#include "gaon/npu_sim/DType.h"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gaon::npu_sim {

enum class Dataflow : uint8_t { WeightStationary, OutputStationary };

struct TensorUnitDesc {
  uint32_t rows = 0; ///< PE rows: the contraction (K) dimension of a fold.
  uint32_t cols = 0; ///< PE columns: the output (N) dimension of a fold.
  Dataflow dataflow = Dataflow::WeightStationary;
  /// Native MACs per cycle per dtype; 0 means not native. fp32 may be absent:
  /// it is then emulated at bf16 rate / fp32EmulationSlowdown.
  std::array<double, kNumDTypes> macsPerCycle{};
  double fp32EmulationSlowdown = 4.0;
  /// Weight registers are double-buffered: the next fold's weights load while
  /// the current fold streams, so back-to-back folds hide the load.
  bool weightDoubleBuffer = true;
};

struct VectorUnitDesc {
  uint32_t lanes = 0; ///< Elements processed per cycle by a simple op.
  double pipelineLatencyCycles = 0;
  /// Cycles per lane-wide group for each supported op beyond the simple ones
  /// (exp, erf, tanh, rsqrt, ...). An op that is absent is unsupported.
  std::map<std::string, double> opCycles;
};

struct ScratchpadDesc {
  uint64_t bytes = 0;
  uint32_t banks = 1;
  double bytesPerCycle = 0; ///< Port bandwidth seen by one DMA transfer.
};

struct DmaDesc {
  uint32_t engines = 0;
  double bytesPerCycle = 0;
  double setupCycles = 0; ///< Descriptor issue cost per transfer.
  /// One transfer may write the same scratchpad range of a group of cores
  /// (DmaCmd::multicast), reading its source once.
  bool multicast = false;
};

struct SharedSramDesc {
  uint64_t bytes = 0; ///< 0: the chip has no shared SRAM.
  double bytesPerCycle = 0;
};

struct NetworkDesc {
  double bytesPerCycle = 0; ///< Per core link.
  double latencyCycles = 0;
};

struct DramDesc {
  std::string kind;
  uint32_t channels = 0;
  uint64_t bytes = 0;
  double bandwidthGBps = 0; ///< Total over all channels.
  double latencyNs = 0;
  uint32_t interleaveBytes = 256;
};

struct EnergyDesc {
  std::array<double, kNumDTypes> pjPerMac{};
  double pjPerScratchpadByte = 0;
  double pjPerSharedByte = 0;
  double pjPerDramBit = 0;
  double pjPerNetworkByte = 0;
  double pjPerVectorOp = 0; ///< Per element of a vector op (simple op = 1).
  double staticWatts = 0;
};

struct ChipDesc {
  std::string name;
  std::string description; ///< Free text ("" when the file has none).
  std::string source; ///< File it came from, for messages (not serialized).
  double clockGhz = 1.0;
  uint32_t cores = 1;
  uint32_t semaphoresPerCore = 32;
  TensorUnitDesc tensor;
  VectorUnitDesc vector;
  ScratchpadDesc scratchpad;
  DmaDesc dma;
  SharedSramDesc shared;
  NetworkDesc network;
  DramDesc dram;
  EnergyDesc energy;
  double tdpWatts = 0;

  double dramBytesPerCycle() const { return dram.bandwidthGBps / clockGhz; }
  double dramLatencyCycles() const { return dram.latencyNs * clockGhz; }
  /// MACs per cycle of one core for `type`, emulated fp32 included; 0 when
  /// the tensor unit cannot run `type` at all.
  double peakMacsPerCycle(DType type) const;
  /// Energy of one MAC of `type`, falling back to the emulation cost for fp32.
  double pjPerMac(DType type) const;

  /// Every field but `source` is equal.
  bool operator==(const ChipDesc &o) const;
  bool operator!=(const ChipDesc &o) const { return !(*this == o); }
};

/// Parses and validates a chip description. `sourceName` prefixes messages.
ChipDesc parseChipJson(std::string_view text, std::string_view sourceName);
/// Serializes a chip in the file format, every field explicit (defaults
/// included), so parseChipJson(chipToJson(c), ...) == c exactly (doubles
/// are written with round-trip precision). For embedding the chip a stream
/// was compiled for in an artifact.
std::string chipToJson(const ChipDesc &chip, int indent = 2);
/// Loads a preset by name (rngd, atom, tiny) or a JSON file by path. An empty
/// name means rngd. Presets are searched in $GAON_NPU_PRESETS, then in the
/// directory compiled in at build time, then in the installed share dir.
ChipDesc loadChip(const std::string &nameOrPath);
std::vector<std::string> presetSearchDirs();

} // namespace gaon::npu_sim

#endif // GAON_NPU_SIM_CHIPDESC_H
