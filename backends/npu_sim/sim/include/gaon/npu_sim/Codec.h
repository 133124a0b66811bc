//===- Codec.h - Binary and text forms of a command stream ------*- C++ -*-===//
//
// Binary form (version 2, little-endian; version 1 streams are rejected
// with a message saying so):
//   "GNPU" | u16 version | u16 reserved (0) | u32 cores
//   per core: u32 instruction count, then per instruction
//     u8 opcode | u8 unit kind | u8 unit index | u16 payload bytes | payload
//   u32 CRC-32 of everything before it
// Decoding checks every length, enum and the checksum: a truncated or
// corrupt stream raises SimError, never reads out of bounds.
//
// Text form: "core N" starts a core's program, then one instruction a line,
// "<unit>: <op> key=value ...", '#' starts a comment. See docs/simulator.md.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_CODEC_H
#define GAON_NPU_SIM_CODEC_H

#include "gaon/npu_sim/Isa.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gaon::npu_sim {

constexpr uint16_t kStreamFormatVersion = 2;

std::vector<uint8_t> encodeBinary(const Stream &stream);
Stream decodeBinary(const uint8_t *data, size_t size);

std::string printText(const Stream &stream);
/// `sourceName` prefixes error messages ("stream.txt:12: ...").
Stream parseText(const std::string &text,
                 const std::string &sourceName = "<text>");
/// One instruction in text form, without the unit prefix's core context.
std::string printInstruction(const Instr &instr);

/// Reads a stream file, binary when it starts with "GNPU", text otherwise.
Stream loadStreamFile(const std::string &path);
/// Writes binary when `path` ends in ".bin", text otherwise.
void saveStreamFile(const Stream &stream, const std::string &path);

/// CRC-32 (IEEE) of `size` bytes; the checksum of the binary stream
/// encoding, also used by containers that embed a stream.
uint32_t crc32(const uint8_t *data, size_t size);

} // namespace gaon::npu_sim

#endif // GAON_NPU_SIM_CODEC_H
