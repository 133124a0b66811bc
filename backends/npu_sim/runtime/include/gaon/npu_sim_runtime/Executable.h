//===- Executable.h - The npu-sim executable format -------------*- C++ -*-===//
//
// What the compiler puts in a .gaon program for target "npu-sim[:<chip>]"
// (format kNpuExecutableFormat) and what the npu-sim driver loads: the chip
// the stream was compiled for (as JSON text, so the artifact is
// self-contained), the tensors the stream reads and writes in simulated DRAM,
// and the command stream itself (the simulator's binary codec).
//
// Binary form, version 1 (little-endian; docs/npu-sim-driver.md):
//   "GNPUEXE\0" | u32 version | u32 flags (0)
//   u32 chip bytes | chip text (JSON object, or a preset name)
//   u64 dram bytes
//   u32 binding count | count x (u32 tensor id | u8 access | 3 x u8 zero |
//                                u64 dram addr | u64 bytes)
//   u32 stream bytes | stream (GNPU binary, its own CRC)
//   u32 CRC-32 (IEEE) of everything before it
//
// No MLIR and no runtime dependency: the compiler links this alone
// (library gaon_npu_sim_exec).
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_RUNTIME_EXECUTABLE_H
#define GAON_NPU_SIM_RUNTIME_EXECUTABLE_H

#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim/DType.h"
#include "gaon/npu_sim/Isa.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gaon::npu_sim_runtime {

/// Format string of an npu-sim program in a .gaon artifact
/// (ProgramDesc::format / ArtifactWriter::addProgram).
inline constexpr const char *kNpuExecutableFormat = "npu-cmd";
/// Driver name; artifact targets are "npu-sim" or "npu-sim:<preset>".
inline constexpr const char *kNpuSimDriverName = "npu-sim";
/// Entry point name the driver expects (one entry: the whole stream).
inline constexpr const char *kNpuEntryName = "main";

constexpr uint32_t kNpuExecutableVersion = 1;

/// A corrupt, truncated or inconsistent executable; the message says what
/// and where. A SimError, like every error of the simulator.
class ExecutableError : public npu_sim::SimError {
public:
  using npu_sim::SimError::SimError;
};

/// One artifact tensor the stream uses: the driver copies the bound buffer
/// into simulated DRAM at dramAddr before the run (Read, ReadWrite) and back
/// out of it after the run (Write, ReadWrite).
struct NpuBinding {
  enum Access : uint8_t { Read = 0, Write = 1, ReadWrite = 2 };
  uint32_t tensorId = 0; ///< Artifact tensor id (TensorDesc::id).
  uint64_t dramAddr = 0;
  uint64_t bytes = 0; ///< Must equal the tensor's size in the artifact.
  Access access = Read;

  bool operator==(const NpuBinding &o) const {
    return tensorId == o.tensorId && dramAddr == o.dramAddr &&
           bytes == o.bytes && access == o.access;
  }
};

const char *accessName(NpuBinding::Access access);

struct NpuExecutable {
  /// The chip: a JSON chip description (starts with '{'; parseChipJson), or
  /// a preset name / chip file path resolved with loadChip on the machine
  /// that runs it. Prefer JSON (chipJsonFor) so artifacts are self-contained.
  std::string chipJson;
  std::vector<NpuBinding> bindings;
  /// Simulated DRAM the stream uses, bindings and scratch included
  /// (<= the chip's DRAM).
  uint64_t dramBytes = 0;
  npu_sim::Stream stream;

  bool operator==(const NpuExecutable &o) const {
    return chipJson == o.chipJson && bindings == o.bindings &&
           dramBytes == o.dramBytes && stream == o.stream;
  }
};

/// Serializes (see the layout above). Throws ExecutableError when the chip
/// text or binding count do not fit the format's 32-bit lengths.
std::vector<uint8_t> encodeExecutable(const NpuExecutable &executable);
/// Parses and checks structure: magic, version ("unsupported npu-sim
/// executable version N"), every length against the bytes left, enums,
/// reserved bytes, the CRC, the embedded stream (decodeBinary), trailing
/// bytes, unique tensor ids, each binding inside [0, dramBytes). Throws
/// ExecutableError (npu_sim::SimError) with a clear message; never reads out
/// of bounds.
NpuExecutable decodeExecutable(const uint8_t *data, size_t size);
inline NpuExecutable decodeExecutable(const std::vector<uint8_t> &bytes) {
  return decodeExecutable(bytes.data(), bytes.size());
}

/// The chip text of a preset or chip file, for NpuExecutable::chipJson:
/// npu_sim::chipToJson(loadChip(presetOrPath)), canonical JSON with every
/// field explicit, so the artifact does not need the preset at run time.
/// (A compiler holding a ChipDesc calls npu_sim::chipToJson itself.) Throws
/// SimError when the chip cannot be found or does not parse.
std::string chipJsonFor(const std::string &presetOrPath);
/// Turns NpuExecutable::chipJson into a chip: JSON text is parsed, anything
/// else is a preset name or path for loadChip. Throws SimError.
npu_sim::ChipDesc resolveChip(const std::string &chipJson);
/// "" when the two chips have the same parameters (ChipDesc::operator==
/// with name, description and source ignored), else the first difference,
/// e.g.
/// "dram.bytes: 268435456 vs 536870912".
std::string compareChips(const npu_sim::ChipDesc &a,
                         const npu_sim::ChipDesc &b);

/// Checks an executable against the chip it will run on: dramBytes within
/// the chip's DRAM, bindings inside dramBytes and not overlapping, unique
/// tensor ids, and validateStream. Throws ExecutableError / SimError.
void validateExecutable(const NpuExecutable &executable,
                        const npu_sim::ChipDesc &chip);

/// The params block of an npu-sim dispatch: the artifact tensor id of each of
/// the dispatch's bindings, in binding order, as little-endian u32. The
/// driver matches dispatch bindings to NpuExecutable::bindings by these ids.
/// (A dispatch with empty params binds NpuExecutable::bindings by position.)
std::vector<uint8_t> encodeDispatchParams(const std::vector<uint32_t> &ids);
/// Inverse of encodeDispatchParams; throws ExecutableError when the size is
/// not 4 x bindingCount.
std::vector<uint32_t> decodeDispatchParams(const uint8_t *data, size_t size,
                                           size_t bindingCount);

} // namespace gaon::npu_sim_runtime

#endif // GAON_NPU_SIM_RUNTIME_EXECUTABLE_H
