//===- BinaryCodec.cpp - Compact, versioned, bounds-checked encoding ------===//

#include "gaon/npu_sim/Codec.h"

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gaon::npu_sim {

namespace {

enum class Opcode : uint8_t {
  Dma = 1,
  Matmul = 2,
  Vector = 3,
  Signal = 4,
  Wait = 5,
  Barrier = 6,
  Gather = 7,
  DmaMulticast = 8 ///< a Dma payload, then the destination core count
};

// Payload sizes of version 2; a mismatch means corruption or another version.
constexpr uint16_t kMemRefBytes = 1 + 2 + 8;
constexpr uint16_t kDmaBytes = 2 * kMemRefBytes + 3 * 4 + 4 * 8;
constexpr uint16_t kDmaMulticastBytes = kDmaBytes + 2;
constexpr uint16_t kMatmulBytes = 3 * 4 + 2 + 1 + 3 * 8 + 3 * 4;
constexpr uint16_t kOperandBytes = 8 + 4 + 1;
constexpr uint16_t kVectorBytes =
    1 + 4 + 4 + 4 * kOperandBytes + 3 + 4 + 4; // op rows cols dst a b c bcasts
constexpr uint16_t kGatherBytes =
    kMemRefBytes + 4 + 8 + 4 + kMemRefBytes + 1 + 4 + kMemRefBytes + 8;
constexpr uint16_t kSignalBytes = 2 + 2 + 4;
constexpr uint16_t kWaitBytes = 2 + 4;
constexpr uint16_t kBarrierBytes = 2 + 2;
constexpr size_t kInstrHeaderBytes = 5;
constexpr size_t kFileHeaderBytes = 12;

class Writer {
public:
  void u8(uint8_t v) { bytes.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void memRef(const MemRef &ref) {
    u8(static_cast<uint8_t>(ref.space));
    u16(ref.core);
    u64(ref.addr);
  }
  void operand(const VecOperand &op) {
    u64(op.addr);
    u32(op.stride);
    u8(static_cast<uint8_t>(op.type));
  }
  std::vector<uint8_t> bytes;

private:
  void put(uint64_t v, int size) {
    for (int i = 0; i < size; ++i)
      bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
};

class Reader {
public:
  Reader(const uint8_t *data, size_t size) : data(data), size(size) {}

  void need(size_t count) {
    if (size - pos < count) {
      std::ostringstream message;
      message << "stream truncated: needs " << count << " bytes at offset "
              << pos << " while reading " << context << ", but only "
              << size - pos << " remain";
      throw SimError(message.str());
    }
  }
  uint8_t u8() {
    need(1);
    return data[pos++];
  }
  uint16_t u16() { return static_cast<uint16_t>(get(2)); }
  uint32_t u32() { return static_cast<uint32_t>(get(4)); }
  uint64_t u64() { return get(8); }
  float f32() {
    uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  [[noreturn]] void corrupt(const std::string &what) const {
    throw SimError("corrupt stream at offset " + std::to_string(pos) + " (" +
                   context + "): " + what);
  }
  DType dtype() {
    uint8_t v = u8();
    if (v >= kNumDTypes)
      corrupt("dtype code " + std::to_string(v) + " is not one of 0-" +
              std::to_string(kNumDTypes - 1));
    return static_cast<DType>(v);
  }
  MemRef memRef() {
    MemRef ref;
    uint8_t space = u8();
    if (space > static_cast<uint8_t>(MemSpace::Shared))
      corrupt("memory space code " + std::to_string(space) + " is not 0-2");
    ref.space = static_cast<MemSpace>(space);
    ref.core = u16();
    ref.addr = u64();
    return ref;
  }
  Broadcast broadcast() {
    uint8_t bcast = u8();
    if (bcast > static_cast<uint8_t>(Broadcast::Scalar))
      corrupt("broadcast code " + std::to_string(bcast) + " is not 0-3");
    return static_cast<Broadcast>(bcast);
  }
  VecOperand operand() {
    VecOperand op;
    op.addr = u64();
    op.stride = u32();
    op.type = dtype();
    return op;
  }
  size_t position() const { return pos; }
  size_t remaining() const { return size - pos; }
  std::string context = "header";

private:
  uint64_t get(int count) {
    need(count);
    uint64_t v = 0;
    for (int i = 0; i < count; ++i)
      v |= static_cast<uint64_t>(data[pos + i]) << (8 * i);
    pos += count;
    return v;
  }
  const uint8_t *data;
  size_t size;
  size_t pos = 0;
};

void encodeInstr(Writer &w, const Instr &instr) {
  auto header = [&](Opcode op, uint16_t payload) {
    w.u8(static_cast<uint8_t>(op));
    w.u8(static_cast<uint8_t>(instr.unit.kind));
    w.u8(instr.unit.index);
    w.u16(payload);
  };
  if (auto *dma = std::get_if<DmaCmd>(&instr.cmd)) {
    // Unicast transfers keep the version-2 opcode and payload.
    bool cast = dma->multicast > 1;
    header(cast ? Opcode::DmaMulticast : Opcode::Dma,
           cast ? kDmaMulticastBytes : kDmaBytes);
    w.memRef(dma->src);
    w.memRef(dma->dst);
    w.u32(dma->rowBytes);
    w.u32(dma->rows);
    w.u32(dma->planes);
    w.u64(dma->srcRowStride);
    w.u64(dma->dstRowStride);
    w.u64(dma->srcPlaneStride);
    w.u64(dma->dstPlaneStride);
    if (cast)
      w.u16(dma->multicast);
  } else if (auto *mm = std::get_if<MatmulCmd>(&instr.cmd)) {
    header(Opcode::Matmul, kMatmulBytes);
    w.u32(mm->m);
    w.u32(mm->n);
    w.u32(mm->k);
    w.u8(static_cast<uint8_t>(mm->inType));
    w.u8(static_cast<uint8_t>(mm->outType));
    w.u8(static_cast<uint8_t>((mm->accumulate ? 1 : 0) |
                              (mm->transposeB ? 2 : 0)));
    w.u64(mm->a);
    w.u64(mm->b);
    w.u64(mm->c);
    w.u32(mm->lda);
    w.u32(mm->ldb);
    w.u32(mm->ldc);
  } else if (auto *vec = std::get_if<VectorCmd>(&instr.cmd)) {
    header(Opcode::Vector, kVectorBytes);
    w.u8(static_cast<uint8_t>(vec->op));
    w.u32(vec->rows);
    w.u32(vec->cols);
    w.operand(vec->dst);
    w.operand(vec->a);
    w.operand(vec->b);
    w.operand(vec->c);
    w.u8(static_cast<uint8_t>(vec->bcast));
    w.u8(static_cast<uint8_t>(vec->bcastA));
    w.u8(static_cast<uint8_t>(vec->bcastC));
    w.f32(vec->alpha);
    w.f32(vec->beta);
  } else if (auto *gather = std::get_if<GatherCmd>(&instr.cmd)) {
    header(Opcode::Gather, kGatherBytes);
    w.memRef(gather->table);
    w.u32(gather->rowBytes);
    w.u64(gather->tableRowStride);
    w.u32(gather->numRows);
    w.memRef(gather->indices);
    w.u8(static_cast<uint8_t>(gather->indexType));
    w.u32(gather->count);
    w.memRef(gather->dst);
    w.u64(gather->dstRowStride);
  } else if (auto *signal = std::get_if<SignalCmd>(&instr.cmd)) {
    header(Opcode::Signal, kSignalBytes);
    w.u16(signal->core);
    w.u16(signal->sem);
    w.u32(signal->count);
  } else if (auto *wait = std::get_if<WaitCmd>(&instr.cmd)) {
    header(Opcode::Wait, kWaitBytes);
    w.u16(wait->sem);
    w.u32(wait->count);
  } else if (auto *barrier = std::get_if<BarrierCmd>(&instr.cmd)) {
    header(Opcode::Barrier, kBarrierBytes);
    w.u16(barrier->id);
    w.u16(barrier->participants);
  }
}

Instr decodeInstr(Reader &r) {
  Instr instr;
  uint8_t opcode = r.u8();
  uint8_t kind = r.u8();
  if (kind > static_cast<uint8_t>(UnitKind::Vector))
    r.corrupt("unit kind " + std::to_string(kind) + " is not 0-2");
  instr.unit.kind = static_cast<UnitKind>(kind);
  instr.unit.index = r.u8();
  uint16_t payload = r.u16();
  static const uint16_t expected[] = {
      0,          kDmaBytes,     kMatmulBytes, kVectorBytes,      kSignalBytes,
      kWaitBytes, kBarrierBytes, kGatherBytes, kDmaMulticastBytes};
  if (opcode == 0 || opcode > static_cast<uint8_t>(Opcode::DmaMulticast))
    r.corrupt("opcode " + std::to_string(opcode) + " is not 1-8");
  if (payload != expected[opcode])
    r.corrupt("payload of opcode " + std::to_string(opcode) + " is " +
              std::to_string(payload) + " bytes, version " +
              std::to_string(kStreamFormatVersion) + " has " +
              std::to_string(expected[opcode]));
  r.need(payload);
  switch (static_cast<Opcode>(opcode)) {
  case Opcode::Dma:
  case Opcode::DmaMulticast: {
    DmaCmd dma;
    dma.src = r.memRef();
    dma.dst = r.memRef();
    dma.rowBytes = r.u32();
    dma.rows = r.u32();
    dma.planes = r.u32();
    dma.srcRowStride = r.u64();
    dma.dstRowStride = r.u64();
    dma.srcPlaneStride = r.u64();
    dma.dstPlaneStride = r.u64();
    if (static_cast<Opcode>(opcode) == Opcode::DmaMulticast) {
      dma.multicast = r.u16();
      if (dma.multicast < 2)
        r.corrupt("multicast dma to " + std::to_string(dma.multicast) +
                  " cores (at least 2)");
    }
    instr.cmd = dma;
    break;
  }
  case Opcode::Matmul: {
    MatmulCmd mm;
    mm.m = r.u32();
    mm.n = r.u32();
    mm.k = r.u32();
    mm.inType = r.dtype();
    mm.outType = r.dtype();
    uint8_t flags = r.u8();
    if (flags > 3)
      r.corrupt("matmul flags " + std::to_string(flags) + " has unknown bits");
    mm.accumulate = flags & 1;
    mm.transposeB = flags & 2;
    mm.a = r.u64();
    mm.b = r.u64();
    mm.c = r.u64();
    mm.lda = r.u32();
    mm.ldb = r.u32();
    mm.ldc = r.u32();
    instr.cmd = mm;
    break;
  }
  case Opcode::Vector: {
    VectorCmd vec;
    uint8_t op = r.u8();
    if (op >= kNumVecOps)
      r.corrupt("vector op code " + std::to_string(op) + " is not 0-" +
                std::to_string(kNumVecOps - 1));
    vec.op = static_cast<VecOp>(op);
    vec.rows = r.u32();
    vec.cols = r.u32();
    vec.dst = r.operand();
    vec.a = r.operand();
    vec.b = r.operand();
    vec.c = r.operand();
    vec.bcast = r.broadcast();
    vec.bcastA = r.broadcast();
    vec.bcastC = r.broadcast();
    vec.alpha = r.f32();
    vec.beta = r.f32();
    instr.cmd = vec;
    break;
  }
  case Opcode::Gather: {
    GatherCmd gather;
    gather.table = r.memRef();
    gather.rowBytes = r.u32();
    gather.tableRowStride = r.u64();
    gather.numRows = r.u32();
    gather.indices = r.memRef();
    gather.indexType = r.dtype();
    gather.count = r.u32();
    gather.dst = r.memRef();
    gather.dstRowStride = r.u64();
    instr.cmd = gather;
    break;
  }
  case Opcode::Signal: {
    SignalCmd signal;
    signal.core = r.u16();
    signal.sem = r.u16();
    signal.count = r.u32();
    instr.cmd = signal;
    break;
  }
  case Opcode::Wait: {
    WaitCmd wait;
    wait.sem = r.u16();
    wait.count = r.u32();
    instr.cmd = wait;
    break;
  }
  case Opcode::Barrier: {
    BarrierCmd barrier;
    barrier.id = r.u16();
    barrier.participants = r.u16();
    instr.cmd = barrier;
    break;
  }
  }
  return instr;
}

} // namespace

std::vector<uint8_t> encodeBinary(const Stream &stream) {
  Writer w;
  for (char c : std::string("GNPU"))
    w.u8(static_cast<uint8_t>(c));
  w.u16(kStreamFormatVersion);
  w.u16(0);
  w.u32(static_cast<uint32_t>(stream.cores.size()));
  for (const auto &program : stream.cores) {
    w.u32(static_cast<uint32_t>(program.size()));
    for (const Instr &instr : program)
      encodeInstr(w, instr);
  }
  w.u32(crc32(w.bytes.data(), w.bytes.size()));
  return std::move(w.bytes);
}

Stream decodeBinary(const uint8_t *data, size_t size) {
  if (size < kFileHeaderBytes + 4)
    throw SimError("stream truncated: " + std::to_string(size) +
                   " bytes is shorter than the 16-byte header and checksum");
  if (std::memcmp(data, "GNPU", 4) != 0)
    throw SimError("not a Gaon NPU stream: bad magic (expected \"GNPU\")");
  Reader r(data, size - 4); // the last 4 bytes are the checksum
  r.need(4);
  r.u32();
  uint16_t version = r.u16();
  if (version != kStreamFormatVersion)
    throw SimError(
        "stream format version " + std::to_string(version) +
        " is not supported (this simulator reads version " +
        std::to_string(kStreamFormatVersion) +
        (version < kStreamFormatVersion
             ? "; version 1 streams predate gather, int64/bool and the "
               "select/compare ops: re-encode them from the text form, "
               "which is unchanged for version 1 instructions)"
             : "; the stream is newer than this simulator)"));
  if (r.u16() != 0)
    r.corrupt("reserved header field is not 0");
  uint32_t cores = r.u32();
  if (cores > 65536)
    r.corrupt("core count " + std::to_string(cores) + " is implausible");
  Stream stream;
  stream.cores.resize(cores);
  for (uint32_t core = 0; core < cores; ++core) {
    r.context = "core " + std::to_string(core) + " instruction count";
    uint32_t count = r.u32();
    // Each instruction takes at least its header: reject counts the bytes
    // cannot hold before allocating for them.
    if (count > r.remaining() / kInstrHeaderBytes)
      r.corrupt("truncated or corrupt: core " + std::to_string(core) +
                " claims " + std::to_string(count) + " instructions but only " +
                std::to_string(r.remaining()) + " bytes remain");
    stream.cores[core].reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      r.context =
          "core " + std::to_string(core) + " instruction " + std::to_string(i);
      stream.cores[core].push_back(decodeInstr(r));
    }
  }
  if (r.remaining() != 0)
    throw SimError("corrupt stream: " + std::to_string(r.remaining()) +
                   " unexpected bytes after the last instruction");
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i)
    stored |= static_cast<uint32_t>(data[size - 4 + i]) << (8 * i);
  if (stored != crc32(data, size - 4))
    throw SimError(
        "corrupt stream: checksum mismatch (the file was modified or damaged)");
  return stream;
}

Stream loadStreamFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw SimError("cannot open stream file " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GNPU", 4) == 0) {
    try {
      return decodeBinary(bytes.data(), bytes.size());
    } catch (const SimError &error) {
      throw SimError(path + ": " + error.what());
    }
  }
  return parseText(std::string(bytes.begin(), bytes.end()), path);
}

void saveStreamFile(const Stream &stream, const std::string &path) {
  std::ofstream file(path, std::ios::binary);
  if (!file)
    throw SimError("cannot write stream file " + path);
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0) {
    std::vector<uint8_t> bytes = encodeBinary(stream);
    file.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  } else {
    file << printText(stream);
  }
}

uint32_t crc32(const uint8_t *data, size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int bit = 0; bit < 8; ++bit)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

} // namespace gaon::npu_sim
