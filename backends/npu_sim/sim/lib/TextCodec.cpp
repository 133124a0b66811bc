//===- TextCodec.cpp - Readable form of a command stream ------------------===//
//
//   core 0
//   dma0: dma dst=spm0:0x0 src=dram:0x1000 row_bytes=256 rows=64
//   src_row_stride=1024 dma0: signal sem=0 tensor: wait sem=0 tensor: matmul
//   m=64 n=64 k=64 in=bf16 out=fp32 a=0x0 lda=128 b=0x2000 ldb=128 ... vector:
//   exp rows=64 cols=64 dst=0x8000:256:fp32 a=0x4000:256:fp32
//
// Fields equal to their default are omitted when printing, so printing a
// parsed stream reproduces it and parsing a printed stream gives it back.
//
//===----------------------------------------------------------------------===//

#include "gaon/npu_sim/Codec.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

namespace gaon::npu_sim {

namespace {

std::string hex(uint64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%llx",
                static_cast<unsigned long long>(value));
  return buffer;
}

std::string floatText(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
  return buffer;
}

std::string memRefText(const MemRef &ref) {
  switch (ref.space) {
  case MemSpace::Dram:
    return "dram:" + hex(ref.addr);
  case MemSpace::Scratchpad:
    return "spm" + std::to_string(ref.core) + ":" + hex(ref.addr);
  case MemSpace::Shared:
    return "shared:" + hex(ref.addr);
  }
  return "?";
}

std::string operandText(const VecOperand &op) {
  return hex(op.addr) + ":" + std::to_string(op.stride) + ":" +
         dtypeName(op.type);
}

void printCommand(std::ostream &out, const Command &cmd) {
  if (auto *dma = std::get_if<DmaCmd>(&cmd)) {
    out << "dma dst=" << memRefText(dma->dst) << " src=" << memRefText(dma->src)
        << " row_bytes=" << dma->rowBytes;
    if (dma->rows != 1)
      out << " rows=" << dma->rows;
    if (dma->planes != 1)
      out << " planes=" << dma->planes;
    if (dma->dstRowStride)
      out << " dst_row_stride=" << dma->dstRowStride;
    if (dma->srcRowStride)
      out << " src_row_stride=" << dma->srcRowStride;
    if (dma->dstPlaneStride)
      out << " dst_plane_stride=" << dma->dstPlaneStride;
    if (dma->srcPlaneStride)
      out << " src_plane_stride=" << dma->srcPlaneStride;
    if (dma->multicast > 1)
      out << " multicast=" << dma->multicast;
  } else if (auto *mm = std::get_if<MatmulCmd>(&cmd)) {
    out << "matmul m=" << mm->m << " n=" << mm->n << " k=" << mm->k
        << " in=" << dtypeName(mm->inType) << " out=" << dtypeName(mm->outType)
        << " a=" << hex(mm->a) << " lda=" << mm->lda << " b=" << hex(mm->b)
        << " ldb=" << mm->ldb << " c=" << hex(mm->c) << " ldc=" << mm->ldc;
    if (mm->accumulate)
      out << " acc=1";
    if (mm->transposeB)
      out << " transb=1";
  } else if (auto *vec = std::get_if<VectorCmd>(&cmd)) {
    out << vecOpName(vec->op) << " rows=" << vec->rows << " cols=" << vec->cols
        << " dst=" << operandText(vec->dst) << " a=" << operandText(vec->a);
    if (isBinaryVecOp(vec->op) || !(vec->b == VecOperand{}))
      out << " b=" << operandText(vec->b);
    if (vec->op == VecOp::Select || !(vec->c == VecOperand{}))
      out << " c=" << operandText(vec->c);
    if (vec->bcast != Broadcast::None)
      out << " bcast=" << broadcastName(vec->bcast);
    if (vec->bcastA != Broadcast::None)
      out << " bcast_a=" << broadcastName(vec->bcastA);
    if (vec->bcastC != Broadcast::None)
      out << " bcast_c=" << broadcastName(vec->bcastC);
    VectorCmd defaults;
    if (std::memcmp(&vec->alpha, &defaults.alpha, 4) != 0)
      out << " alpha=" << floatText(vec->alpha);
    if (std::memcmp(&vec->beta, &defaults.beta, 4) != 0)
      out << " beta=" << floatText(vec->beta);
  } else if (auto *gather = std::get_if<GatherCmd>(&cmd)) {
    out << "gather dst=" << memRefText(gather->dst)
        << " table=" << memRefText(gather->table)
        << " indices=" << memRefText(gather->indices)
        << " row_bytes=" << gather->rowBytes
        << " table_rows=" << gather->numRows << " count=" << gather->count;
    if (gather->indexType != DType::I32)
      out << " index_type=" << dtypeName(gather->indexType);
    if (gather->dstRowStride)
      out << " dst_row_stride=" << gather->dstRowStride;
    if (gather->tableRowStride)
      out << " table_row_stride=" << gather->tableRowStride;
  } else if (auto *signal = std::get_if<SignalCmd>(&cmd)) {
    out << "signal sem=" << signal->sem << " core=" << signal->core;
    if (signal->count != 1)
      out << " count=" << signal->count;
  } else if (auto *wait = std::get_if<WaitCmd>(&cmd)) {
    out << "wait sem=" << wait->sem;
    if (wait->count != 1)
      out << " count=" << wait->count;
  } else if (auto *barrier = std::get_if<BarrierCmd>(&cmd)) {
    out << "barrier id=" << barrier->id;
    if (barrier->participants)
      out << " cores=" << barrier->participants;
  }
}

class LineParser {
public:
  LineParser(const std::string &source, size_t line)
      : source(source), line(line) {}

  [[noreturn]] void fail(const std::string &what) const {
    throw SimError(source + ":" + std::to_string(line) + ": " + what);
  }

  uint64_t number(const std::string &key, const std::string &text,
                  uint64_t max) const {
    if (text.empty() || text[0] == '-' || text[0] == '+')
      fail(key + "=" + text + " is not a non-negative integer");
    errno = 0;
    char *end = nullptr;
    unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (errno == ERANGE || *end != '\0')
      fail(key + "=" + text + " is not a non-negative integer");
    if (value > max)
      fail(key + "=" + text + " exceeds " + std::to_string(max));
    return value;
  }

  float real(const std::string &key, const std::string &text) const {
    char *end = nullptr;
    float value = std::strtof(text.c_str(), &end);
    if (text.empty() || *end != '\0')
      fail(key + "=" + text + " is not a number");
    return value;
  }

  DType dtype(const std::string &key, const std::string &text) const {
    auto type = parseDType(text);
    if (!type)
      fail(key + "=" + text + " is not a dtype (" + dtypeNameList() + ")");
    return *type;
  }

  MemRef memRef(const std::string &key, const std::string &text,
                uint16_t core) const {
    size_t colon = text.find(':');
    if (colon == std::string::npos)
      fail(key + "=" + text +
           " must be dram:ADDR, spm[CORE]:ADDR or shared:ADDR");
    std::string space = text.substr(0, colon);
    uint64_t addr = number(key, text.substr(colon + 1), ~0ull);
    if (space == "dram")
      return MemRef::dram(addr);
    if (space == "shared")
      return MemRef::shared(addr);
    if (space.rfind("spm", 0) == 0) {
      uint16_t owner =
          space.size() == 3
              ? core
              : static_cast<uint16_t>(number(key, space.substr(3), 65535));
      return MemRef::spm(owner, addr);
    }
    fail(key + "=" + text + ": unknown memory space '" + space + "'");
  }

  VecOperand operand(const std::string &key, const std::string &text) const {
    size_t first = text.find(':'), second = text.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      fail(key + "=" + text + " must be ADDR:ROW_STRIDE:DTYPE");
    VecOperand op;
    op.addr = number(key, text.substr(0, first), ~0ull);
    op.stride = static_cast<uint32_t>(
        number(key, text.substr(first + 1, second - first - 1), 0xffffffffull));
    op.type = dtype(key, text.substr(second + 1));
    return op;
  }

  UnitRef unit(const std::string &text) const {
    if (text == "tensor")
      return UnitRef::tensor();
    if (text == "vector")
      return UnitRef::vector();
    if (text.rfind("dma", 0) == 0 && text.size() > 3)
      return UnitRef::dma(
          static_cast<uint8_t>(number("unit", text.substr(3), 255)));
    fail("unknown unit '" + text + "' (dma<N>, tensor, vector)");
  }

private:
  const std::string &source;
  size_t line;
};

// key=value fields of one instruction; take() marks a field used so leftover
// (unknown or misspelt) fields are reported.
class Fields {
public:
  Fields(const LineParser &parser, std::istringstream &words) : parser(parser) {
    std::string word;
    while (words >> word) {
      size_t eq = word.find('=');
      if (eq == std::string::npos || eq == 0)
        parser.fail("expected key=value, got '" + word + "'");
      if (!values.emplace(word.substr(0, eq), word.substr(eq + 1)).second)
        parser.fail("field '" + word.substr(0, eq) + "' given twice");
    }
  }
  bool has(const std::string &key) const { return values.count(key) != 0; }
  std::string take(const std::string &key) {
    auto it = values.find(key);
    if (it == values.end())
      parser.fail("missing field '" + key + "'");
    std::string value = it->second;
    values.erase(it);
    return value;
  }
  uint64_t number(const std::string &key, uint64_t max) {
    return parser.number(key, take(key), max);
  }
  uint64_t numberOr(const std::string &key, uint64_t max, uint64_t fallback) {
    return has(key) ? number(key, max) : fallback;
  }
  void finish() const {
    if (!values.empty())
      parser.fail("unknown field '" + values.begin()->first + "'");
  }

private:
  const LineParser &parser;
  std::map<std::string, std::string> values;
};

const uint64_t kU32 = 0xffffffffull, kU16 = 0xffffull;

Command parseCommand(const std::string &op, Fields &f, const LineParser &p,
                     uint16_t core) {
  if (op == "dma") {
    DmaCmd dma;
    dma.dst = p.memRef("dst", f.take("dst"), core);
    dma.src = p.memRef("src", f.take("src"), core);
    dma.rowBytes = static_cast<uint32_t>(f.number("row_bytes", kU32));
    dma.rows = static_cast<uint32_t>(f.numberOr("rows", kU32, 1));
    dma.planes = static_cast<uint32_t>(f.numberOr("planes", kU32, 1));
    dma.dstRowStride = f.numberOr("dst_row_stride", ~0ull, 0);
    dma.srcRowStride = f.numberOr("src_row_stride", ~0ull, 0);
    dma.dstPlaneStride = f.numberOr("dst_plane_stride", ~0ull, 0);
    dma.srcPlaneStride = f.numberOr("src_plane_stride", ~0ull, 0);
    dma.multicast = static_cast<uint16_t>(f.numberOr("multicast", kU16, 0));
    return dma;
  }
  if (op == "matmul") {
    MatmulCmd mm;
    mm.m = static_cast<uint32_t>(f.number("m", kU32));
    mm.n = static_cast<uint32_t>(f.number("n", kU32));
    mm.k = static_cast<uint32_t>(f.number("k", kU32));
    mm.inType = p.dtype("in", f.take("in"));
    mm.outType = p.dtype("out", f.take("out"));
    mm.a = f.number("a", ~0ull);
    mm.lda = static_cast<uint32_t>(f.number("lda", kU32));
    mm.b = f.number("b", ~0ull);
    mm.ldb = static_cast<uint32_t>(f.number("ldb", kU32));
    mm.c = f.number("c", ~0ull);
    mm.ldc = static_cast<uint32_t>(f.number("ldc", kU32));
    mm.accumulate = f.numberOr("acc", 1, 0) != 0;
    mm.transposeB = f.numberOr("transb", 1, 0) != 0;
    return mm;
  }
  if (op == "gather") {
    GatherCmd gather;
    gather.dst = p.memRef("dst", f.take("dst"), core);
    gather.table = p.memRef("table", f.take("table"), core);
    gather.indices = p.memRef("indices", f.take("indices"), core);
    gather.rowBytes = static_cast<uint32_t>(f.number("row_bytes", kU32));
    gather.numRows = static_cast<uint32_t>(f.number("table_rows", kU32));
    gather.count = static_cast<uint32_t>(f.number("count", kU32));
    if (f.has("index_type"))
      gather.indexType = p.dtype("index_type", f.take("index_type"));
    gather.dstRowStride = f.numberOr("dst_row_stride", ~0ull, 0);
    gather.tableRowStride = f.numberOr("table_row_stride", ~0ull, 0);
    return gather;
  }
  if (op == "signal") {
    SignalCmd signal;
    signal.sem = static_cast<uint16_t>(f.number("sem", kU16));
    signal.core = static_cast<uint16_t>(f.numberOr("core", kU16, core));
    signal.count = static_cast<uint32_t>(f.numberOr("count", kU32, 1));
    return signal;
  }
  if (op == "wait") {
    WaitCmd wait;
    wait.sem = static_cast<uint16_t>(f.number("sem", kU16));
    wait.count = static_cast<uint32_t>(f.numberOr("count", kU32, 1));
    return wait;
  }
  if (op == "barrier") {
    BarrierCmd barrier;
    barrier.id = static_cast<uint16_t>(f.number("id", kU16));
    barrier.participants = static_cast<uint16_t>(f.numberOr("cores", kU16, 0));
    return barrier;
  }
  for (int i = 0; i < kNumVecOps; ++i) {
    if (op != vecOpName(static_cast<VecOp>(i)))
      continue;
    VectorCmd vec;
    vec.op = static_cast<VecOp>(i);
    vec.rows = static_cast<uint32_t>(f.number("rows", kU32));
    vec.cols = static_cast<uint32_t>(f.number("cols", kU32));
    vec.dst = p.operand("dst", f.take("dst"));
    vec.a = p.operand("a", f.take("a"));
    bool hasB = f.has("b");
    if (hasB)
      vec.b = p.operand("b", f.take("b"));
    if (isBinaryVecOp(vec.op) && !hasB)
      p.fail(std::string(vecOpName(vec.op)) + " needs operand b");
    bool hasC = f.has("c");
    if (hasC)
      vec.c = p.operand("c", f.take("c"));
    if (vec.op == VecOp::Select && !hasC)
      p.fail("select needs operand c (the condition)");
    auto bcast = [&](const char *key) {
      std::string text = f.take(key);
      for (int b = 0; b <= static_cast<int>(Broadcast::Scalar); ++b)
        if (text == broadcastName(static_cast<Broadcast>(b)))
          return static_cast<Broadcast>(b);
      p.fail(std::string(key) + "=" + text +
             " is not none, row, col or scalar");
    };
    if (f.has("bcast"))
      vec.bcast = bcast("bcast");
    if (f.has("bcast_a"))
      vec.bcastA = bcast("bcast_a");
    if (f.has("bcast_c"))
      vec.bcastC = bcast("bcast_c");
    if (f.has("alpha"))
      vec.alpha = p.real("alpha", f.take("alpha"));
    if (f.has("beta"))
      vec.beta = p.real("beta", f.take("beta"));
    return vec;
  }
  p.fail("unknown instruction '" + op + "'");
}

} // namespace

std::string printInstruction(const Instr &instr) {
  std::ostringstream out;
  out << unitName(instr.unit) << ": ";
  printCommand(out, instr.cmd);
  return out.str();
}

std::string printText(const Stream &stream) {
  std::ostringstream out;
  out << "# gaon npu stream v" << kStreamFormatVersion << "\n";
  for (size_t core = 0; core < stream.cores.size(); ++core) {
    out << "core " << core << "\n";
    for (const Instr &instr : stream.cores[core])
      out << "  " << printInstruction(instr) << "\n";
  }
  return out.str();
}

Stream parseText(const std::string &text, const std::string &sourceName) {
  Stream stream;
  std::istringstream lines(text);
  std::string line;
  size_t lineNo = 0;
  int core = -1;
  while (std::getline(lines, line)) {
    ++lineNo;
    LineParser parser(sourceName, lineNo);
    size_t hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    std::istringstream words(line);
    std::string first;
    if (!(words >> first))
      continue;
    if (first == "core") {
      std::string id;
      if (!(words >> id))
        parser.fail("'core' needs a core number");
      core = static_cast<int>(parser.number("core", id, 65535));
      if (static_cast<size_t>(core) < stream.cores.size() &&
          !stream.cores[core].empty())
        parser.fail("core " + id + " given twice");
      if (stream.cores.size() <= static_cast<size_t>(core))
        stream.cores.resize(core + 1);
      std::string extra;
      if (words >> extra)
        parser.fail("unexpected '" + extra + "' after core number");
      continue;
    }
    if (core < 0)
      parser.fail("instruction before any 'core N' line");
    if (first.back() != ':')
      parser.fail("expected '<unit>:' (dma<N>, tensor, vector), got '" + first +
                  "'");
    first.pop_back();
    Instr instr;
    instr.unit = parser.unit(first);
    std::string op;
    if (!(words >> op))
      parser.fail("missing instruction after '" + first + ":'");
    Fields fields(parser, words);
    instr.cmd = parseCommand(op, fields, parser, static_cast<uint16_t>(core));
    fields.finish();
    stream.cores[core].push_back(instr);
  }
  return stream;
}

} // namespace gaon::npu_sim
