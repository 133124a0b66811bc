//===- Executable.cpp - Encode, decode and check npu-sim executables ------===//

#include "gaon/npu_sim_runtime/Executable.h"

#include "gaon/npu_sim/Codec.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <sstream>

namespace gaon::npu_sim_runtime {

using npu_sim::ChipDesc;
using npu_sim::SimError;

namespace {

constexpr char kMagic[8] = {'G', 'N', 'P', 'U', 'E', 'X', 'E', '\0'};
constexpr size_t kBindingBytes = 4 + 1 + 3 + 8 + 8;

class Writer {
public:
  std::vector<uint8_t> bytes;
  void u8(uint8_t v) { bytes.push_back(v); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void raw(const void *data, size_t size) {
    const auto *p = static_cast<const uint8_t *>(data);
    bytes.insert(bytes.end(), p, p + size);
  }

private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
};

class Reader {
public:
  Reader(const uint8_t *data, size_t size) : data(data), size(size) {}
  size_t left() const { return size - pos; }
  size_t offset() const { return pos; }
  void need(size_t n, const char *what) {
    if (n > left())
      fail(std::string("truncated: ") + what + " needs " + std::to_string(n) +
           " bytes, " + std::to_string(left()) + " left");
  }
  uint8_t u8(const char *what) { return static_cast<uint8_t>(get(1, what)); }
  uint32_t u32(const char *what) { return static_cast<uint32_t>(get(4, what)); }
  uint64_t u64(const char *what) { return get(8, what); }
  const uint8_t *take(size_t n, const char *what) {
    need(n, what);
    const uint8_t *p = data + pos;
    pos += n;
    return p;
  }
  [[noreturn]] void fail(const std::string &message) const {
    throw ExecutableError("npu-sim executable: " + message + " (at byte " +
                          std::to_string(pos) + " of " + std::to_string(size) +
                          ")");
  }

private:
  uint64_t get(int n, const char *what) {
    need(n, what);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= uint64_t(data[pos + i]) << (8 * i);
    pos += n;
    return v;
  }
  const uint8_t *data;
  size_t size;
  size_t pos = 0;
};

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

std::string describe(const NpuBinding &b) {
  return std::string("tensor ") + std::to_string(b.tensorId) + " (" +
         accessName(b.access) + ", " + std::to_string(b.bytes) +
         " bytes at dram " + hex(b.dramAddr) + ")";
}

// Structural checks shared by decode and validate.
void checkBindings(const NpuExecutable &exe, const std::string &prefix) {
  std::vector<const NpuBinding *> sorted;
  for (size_t i = 0; i < exe.bindings.size(); ++i) {
    const NpuBinding &b = exe.bindings[i];
    if (b.access > NpuBinding::ReadWrite)
      throw ExecutableError(prefix + "binding " + std::to_string(i) +
                            " has an invalid access " +
                            std::to_string(int(b.access)));
    if (b.dramAddr > exe.dramBytes || b.bytes > exe.dramBytes - b.dramAddr)
      throw ExecutableError(prefix + "binding " + std::to_string(i) + ", " +
                            describe(b) + ", ends past dram_bytes " +
                            std::to_string(exe.dramBytes));
    for (size_t j = 0; j < i; ++j)
      if (exe.bindings[j].tensorId == b.tensorId)
        throw ExecutableError(prefix + "tensor " + std::to_string(b.tensorId) +
                              " is bound twice (bindings " + std::to_string(j) +
                              " and " + std::to_string(i) + ")");
    if (b.bytes)
      sorted.push_back(&b);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const NpuBinding *x, const NpuBinding *y) {
              return x->dramAddr < y->dramAddr;
            });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i - 1]->dramAddr + sorted[i - 1]->bytes > sorted[i]->dramAddr)
      throw ExecutableError(
          prefix + "bindings overlap in DRAM: " + describe(*sorted[i - 1]) +
          " and " + describe(*sorted[i]));
}

} // namespace

const char *accessName(NpuBinding::Access access) {
  switch (access) {
  case NpuBinding::Read:
    return "read";
  case NpuBinding::Write:
    return "write";
  case NpuBinding::ReadWrite:
    return "readwrite";
  }
  return "invalid";
}

std::vector<uint8_t> encodeExecutable(const NpuExecutable &exe) {
  if (exe.chipJson.size() > UINT32_MAX)
    throw ExecutableError("npu-sim executable: chip text is too long");
  if (exe.bindings.size() > UINT32_MAX / kBindingBytes)
    throw ExecutableError("npu-sim executable: too many bindings");
  std::vector<uint8_t> stream = npu_sim::encodeBinary(exe.stream);
  if (stream.size() > UINT32_MAX)
    throw ExecutableError("npu-sim executable: stream is over 4 GiB");
  Writer w;
  w.raw(kMagic, sizeof(kMagic));
  w.u32(kNpuExecutableVersion);
  w.u32(0); // flags
  w.u32(static_cast<uint32_t>(exe.chipJson.size()));
  w.raw(exe.chipJson.data(), exe.chipJson.size());
  w.u64(exe.dramBytes);
  w.u32(static_cast<uint32_t>(exe.bindings.size()));
  for (const NpuBinding &b : exe.bindings) {
    w.u32(b.tensorId);
    w.u8(static_cast<uint8_t>(b.access));
    w.u8(0);
    w.u8(0);
    w.u8(0);
    w.u64(b.dramAddr);
    w.u64(b.bytes);
  }
  w.u32(static_cast<uint32_t>(stream.size()));
  w.raw(stream.data(), stream.size());
  w.u32(npu_sim::crc32(w.bytes.data(), w.bytes.size()));
  return std::move(w.bytes);
}

NpuExecutable decodeExecutable(const uint8_t *data, size_t size) {
  if (!data && size)
    throw ExecutableError("npu-sim executable: no data");
  Reader r(data, size);
  if (size < sizeof(kMagic) || std::memcmp(data, kMagic, sizeof(kMagic)) != 0)
    r.fail("not an npu-sim executable (magic \"GNPUEXE\" missing)");
  r.take(sizeof(kMagic), "magic");
  uint32_t version = r.u32("version");
  if (version != kNpuExecutableVersion)
    throw ExecutableError("unsupported npu-sim executable version " +
                          std::to_string(version) + "; this runtime reads " +
                          "version " + std::to_string(kNpuExecutableVersion));
  // Check the CRC before interpreting the rest: a flipped byte is reported
  // as corruption, not as whatever field it happened to hit.
  if (size < sizeof(kMagic) + 8 + 4)
    r.fail("truncated: no room for the checksum");
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i)
    stored |= uint32_t(data[size - 4 + i]) << (8 * i);
  if (npu_sim::crc32(data, size - 4) != stored)
    throw ExecutableError("npu-sim executable: checksum mismatch (the "
                          "executable is corrupted or truncated)");
  Reader body(data, size - 4);
  body.take(sizeof(kMagic) + 4, "header");
  uint32_t flags = body.u32("flags");
  if (flags != 0)
    body.fail("unknown flags " + std::to_string(flags));

  NpuExecutable exe;
  uint32_t chipBytes = body.u32("chip length");
  const uint8_t *chip = body.take(chipBytes, "chip text");
  exe.chipJson.assign(reinterpret_cast<const char *>(chip), chipBytes);
  exe.dramBytes = body.u64("dram bytes");
  uint32_t count = body.u32("binding count");
  if (uint64_t(count) * kBindingBytes > body.left())
    body.fail("binding count " + std::to_string(count) +
              " does not fit in the bytes left");
  exe.bindings.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    NpuBinding &b = exe.bindings[i];
    b.tensorId = body.u32("tensor id");
    uint8_t access = body.u8("access");
    if (access > NpuBinding::ReadWrite)
      body.fail("binding " + std::to_string(i) + " has invalid access " +
                std::to_string(access));
    b.access = static_cast<NpuBinding::Access>(access);
    for (int k = 0; k < 3; ++k)
      if (body.u8("reserved") != 0)
        body.fail("binding " + std::to_string(i) +
                  " has non-zero reserved bytes");
    b.dramAddr = body.u64("dram addr");
    b.bytes = body.u64("bytes");
  }
  uint32_t streamBytes = body.u32("stream length");
  const uint8_t *stream = body.take(streamBytes, "stream");
  if (body.left() != 0)
    body.fail(std::to_string(body.left()) + " trailing bytes");
  try {
    exe.stream = npu_sim::decodeBinary(stream, streamBytes);
  } catch (const SimError &e) {
    throw ExecutableError(std::string("npu-sim executable: stream: ") +
                          e.what());
  }
  checkBindings(exe, "npu-sim executable: ");
  return exe;
}

std::string chipJsonFor(const std::string &presetOrPath) {
  // Canonical JSON, every field explicit: parseChipJson gives back the same
  // ChipDesc on any machine, without the preset files.
  return npu_sim::chipToJson(npu_sim::loadChip(presetOrPath));
}

ChipDesc resolveChip(const std::string &chipJson) {
  size_t first = chipJson.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && chipJson[first] == '{')
    return npu_sim::parseChipJson(chipJson, "<executable chip>");
  return npu_sim::loadChip(chipJson);
}

std::string compareChips(const ChipDesc &a, const ChipDesc &b) {
  std::ostringstream diff;
  auto check = [&](const char *field, const auto &x, const auto &y) {
    if (diff.tellp() == 0 && !(x == y))
      diff << field << ": " << x << " vs " << y;
  };
  auto checkArray = [&](const char *field, const auto &x, const auto &y) {
    for (int t = 0; t < npu_sim::kNumDTypes; ++t)
      if (diff.tellp() == 0 && x[t] != y[t])
        diff << field << "." << npu_sim::dtypeName(npu_sim::DType(t)) << ": "
             << x[t] << " vs " << y[t];
  };
  check("clock_ghz", a.clockGhz, b.clockGhz);
  check("tdp_watts", a.tdpWatts, b.tdpWatts);
  check("cores.count", a.cores, b.cores);
  check("cores.semaphores", a.semaphoresPerCore, b.semaphoresPerCore);
  check("tensor_unit.rows", a.tensor.rows, b.tensor.rows);
  check("tensor_unit.cols", a.tensor.cols, b.tensor.cols);
  check("tensor_unit.dataflow", int(a.tensor.dataflow), int(b.tensor.dataflow));
  checkArray("tensor_unit.macs_per_cycle", a.tensor.macsPerCycle,
             b.tensor.macsPerCycle);
  check("tensor_unit.fp32_emulation_slowdown", a.tensor.fp32EmulationSlowdown,
        b.tensor.fp32EmulationSlowdown);
  check("tensor_unit.weight_double_buffer", a.tensor.weightDoubleBuffer,
        b.tensor.weightDoubleBuffer);
  check("vector_unit.lanes", a.vector.lanes, b.vector.lanes);
  check("vector_unit.pipeline_latency_cycles", a.vector.pipelineLatencyCycles,
        b.vector.pipelineLatencyCycles);
  if (diff.tellp() == 0 && a.vector.opCycles != b.vector.opCycles)
    diff << "vector_unit.op_cycles differ";
  check("scratchpad.bytes", a.scratchpad.bytes, b.scratchpad.bytes);
  check("scratchpad.banks", a.scratchpad.banks, b.scratchpad.banks);
  check("scratchpad.bytes_per_cycle", a.scratchpad.bytesPerCycle,
        b.scratchpad.bytesPerCycle);
  check("dma.engines", a.dma.engines, b.dma.engines);
  check("dma.bytes_per_cycle", a.dma.bytesPerCycle, b.dma.bytesPerCycle);
  check("dma.setup_cycles", a.dma.setupCycles, b.dma.setupCycles);
  check("dma.multicast", a.dma.multicast, b.dma.multicast);
  check("shared_sram.bytes", a.shared.bytes, b.shared.bytes);
  check("shared_sram.bytes_per_cycle", a.shared.bytesPerCycle,
        b.shared.bytesPerCycle);
  check("network.bytes_per_cycle", a.network.bytesPerCycle,
        b.network.bytesPerCycle);
  check("network.latency_cycles", a.network.latencyCycles,
        b.network.latencyCycles);
  check("dram.kind", a.dram.kind, b.dram.kind);
  check("dram.channels", a.dram.channels, b.dram.channels);
  check("dram.bytes", a.dram.bytes, b.dram.bytes);
  check("dram.bandwidth_gbps", a.dram.bandwidthGBps, b.dram.bandwidthGBps);
  check("dram.latency_ns", a.dram.latencyNs, b.dram.latencyNs);
  check("dram.interleave_bytes", a.dram.interleaveBytes,
        b.dram.interleaveBytes);
  checkArray("energy.pj_per_mac", a.energy.pjPerMac, b.energy.pjPerMac);
  check("energy.pj_per_scratchpad_byte", a.energy.pjPerScratchpadByte,
        b.energy.pjPerScratchpadByte);
  check("energy.pj_per_shared_byte", a.energy.pjPerSharedByte,
        b.energy.pjPerSharedByte);
  check("energy.pj_per_dram_bit", a.energy.pjPerDramBit, b.energy.pjPerDramBit);
  check("energy.pj_per_network_byte", a.energy.pjPerNetworkByte,
        b.energy.pjPerNetworkByte);
  check("energy.pj_per_vector_op", a.energy.pjPerVectorOp,
        b.energy.pjPerVectorOp);
  check("energy.static_watts", a.energy.staticWatts, b.energy.staticWatts);
  // ChipDesc::operator== is the authority; the list above names the field.
  if (diff.tellp() == 0) {
    ChipDesc x = a, y = b;
    x.name = y.name;
    x.description = y.description;
    x.source = y.source;
    if (!(x == y))
      diff << "chip parameters differ";
  }
  return diff.str();
}

void validateExecutable(const NpuExecutable &exe, const ChipDesc &chip) {
  if (exe.dramBytes > chip.dram.bytes)
    throw ExecutableError("npu-sim executable: dram_bytes " +
                          std::to_string(exe.dramBytes) +
                          " exceeds the DRAM of chip '" + chip.name + "' (" +
                          std::to_string(chip.dram.bytes) + " bytes)");
  checkBindings(exe, "npu-sim executable: ");
  if (exe.stream.cores.empty())
    throw ExecutableError("npu-sim executable: the stream has no cores");
  npu_sim::validateStream(exe.stream, chip);
}

std::vector<uint8_t> encodeDispatchParams(const std::vector<uint32_t> &ids) {
  Writer w;
  for (uint32_t id : ids)
    w.u32(id);
  return std::move(w.bytes);
}

std::vector<uint32_t> decodeDispatchParams(const uint8_t *data, size_t size,
                                           size_t bindingCount) {
  if (size != 4 * bindingCount)
    throw ExecutableError(
        "npu-sim dispatch params must hold one u32 tensor id per binding (" +
        std::to_string(bindingCount) + " bindings, so " +
        std::to_string(4 * bindingCount) + " bytes), got " +
        std::to_string(size) + " bytes");
  std::vector<uint32_t> ids(bindingCount);
  for (size_t i = 0; i < bindingCount; ++i)
    for (int k = 0; k < 4; ++k)
      ids[i] |= uint32_t(data[4 * i + k]) << (8 * k);
  return ids;
}

} // namespace gaon::npu_sim_runtime
