//===- Isa.cpp - Instruction names, builder and stream validation ---------===//

#include "gaon/npu_sim/Isa.h"

#include "gaon/npu_sim/ChipDesc.h"

#include <cstring>
#include <initializer_list>
#include <sstream>

namespace gaon::npu_sim {

std::string unitName(UnitRef unit) {
  switch (unit.kind) {
  case UnitKind::Dma:
    return "dma" + std::to_string(unit.index);
  case UnitKind::Tensor:
    return "tensor";
  case UnitKind::Vector:
    return "vector";
  }
  return "?";
}

const char *vecOpName(VecOp op) {
  static const char *const names[kNumVecOps] = {
      "add",    "sub",        "mul",        "div",        "max",    "min",
      "cast",   "exp",        "log",        "sqrt",       "rsqrt",  "recip",
      "erf",    "tanh",       "sigmoid",    "relu",       "neg",    "abs",
      "scale",  "reduce_sum", "reduce_max", "reduce_min", "cmp_eq", "cmp_ne",
      "cmp_lt", "cmp_le",     "cmp_gt",     "cmp_ge",     "select", "and",
      "or",     "xor",        "not",        "sin",        "cos",    "floor",
      "ceil",   "round",      "pow",        "mod",        "fmod",   "silu",
      "gelu",   "gelu_tanh",  "reduce_prod"};
  int index = static_cast<int>(op);
  return index < kNumVecOps ? names[index] : "?";
}

int vecOpArity(VecOp op) {
  switch (op) {
  case VecOp::Add:
  case VecOp::Sub:
  case VecOp::Mul:
  case VecOp::Div:
  case VecOp::Max:
  case VecOp::Min:
  case VecOp::CmpEq:
  case VecOp::CmpNe:
  case VecOp::CmpLt:
  case VecOp::CmpLe:
  case VecOp::CmpGt:
  case VecOp::CmpGe:
  case VecOp::And:
  case VecOp::Or:
  case VecOp::Xor:
  case VecOp::Pow:
  case VecOp::Mod:
  case VecOp::FMod:
    return 2;
  case VecOp::Select:
    return 3;
  default:
    return 1;
  }
}

bool isBinaryVecOp(VecOp op) { return vecOpArity(op) >= 2; }
bool isReductionVecOp(VecOp op) {
  return op == VecOp::ReduceSum || op == VecOp::ReduceMax ||
         op == VecOp::ReduceMin || op == VecOp::ReduceProd;
}
bool isComparisonVecOp(VecOp op) {
  return op >= VecOp::CmpEq && op <= VecOp::CmpGe;
}
bool isBitwiseVecOp(VecOp op) {
  return op == VecOp::And || op == VecOp::Or || op == VecOp::Xor ||
         op == VecOp::Not;
}

const char *broadcastName(Broadcast bcast) {
  switch (bcast) {
  case Broadcast::None:
    return "none";
  case Broadcast::Row:
    return "row";
  case Broadcast::Col:
    return "col";
  case Broadcast::Scalar:
    return "scalar";
  }
  return "?";
}

bool DmaCmd::operator==(const DmaCmd &o) const {
  return src == o.src && dst == o.dst && rowBytes == o.rowBytes &&
         rows == o.rows && planes == o.planes &&
         srcRowStride == o.srcRowStride && dstRowStride == o.dstRowStride &&
         srcPlaneStride == o.srcPlaneStride &&
         dstPlaneStride == o.dstPlaneStride && multicast == o.multicast;
}

bool GatherCmd::operator==(const GatherCmd &o) const {
  return table == o.table && rowBytes == o.rowBytes &&
         tableRowStride == o.tableRowStride && numRows == o.numRows &&
         indices == o.indices && indexType == o.indexType && count == o.count &&
         dst == o.dst && dstRowStride == o.dstRowStride;
}

bool MatmulCmd::operator==(const MatmulCmd &o) const {
  return m == o.m && n == o.n && k == o.k && inType == o.inType &&
         outType == o.outType && accumulate == o.accumulate &&
         transposeB == o.transposeB && a == o.a && b == o.b && c == o.c &&
         lda == o.lda && ldb == o.ldb && ldc == o.ldc;
}

bool VectorCmd::operator==(const VectorCmd &o) const {
  // Compare floats bitwise so that round-trip checks are exact.
  return op == o.op && rows == o.rows && cols == o.cols && dst == o.dst &&
         a == o.a && b == o.b && bcast == o.bcast && c == o.c &&
         bcastA == o.bcastA && bcastC == o.bcastC &&
         std::memcmp(&alpha, &o.alpha, 4) == 0 &&
         std::memcmp(&beta, &o.beta, 4) == 0;
}

size_t Stream::instructionCount() const {
  size_t count = 0;
  for (const auto &program : cores)
    count += program.size();
  return count;
}

CoreBuilder::CoreBuilder(Stream &stream, uint16_t core)
    : stream(stream), coreId(core) {
  if (stream.cores.size() <= core)
    stream.cores.resize(core + 1u);
}

std::vector<Instr> &CoreBuilder::program() { return stream.cores[coreId]; }

CoreBuilder &CoreBuilder::dma(uint8_t engine, MemRef dst, MemRef src,
                              uint32_t rowBytes, uint32_t rows,
                              uint64_t dstRowStride, uint64_t srcRowStride) {
  DmaCmd cmd;
  cmd.src = src;
  cmd.dst = dst;
  cmd.rowBytes = rowBytes;
  cmd.rows = rows;
  cmd.srcRowStride = srcRowStride ? srcRowStride : rowBytes;
  cmd.dstRowStride = dstRowStride ? dstRowStride : rowBytes;
  return dma(engine, cmd);
}

CoreBuilder &CoreBuilder::dma(uint8_t engine, const DmaCmd &cmd) {
  program().push_back({UnitRef::dma(engine), cmd});
  return *this;
}

CoreBuilder &CoreBuilder::broadcastDma(uint8_t engine, MemRef dst, MemRef src,
                                       uint32_t rowBytes, uint32_t rows,
                                       uint64_t dstRowStride) {
  DmaCmd cmd;
  cmd.src = src;
  cmd.dst = dst;
  cmd.rowBytes = rowBytes;
  cmd.rows = rows;
  cmd.srcRowStride = 0; // repeat the source row
  cmd.dstRowStride = dstRowStride ? dstRowStride : rowBytes;
  return dma(engine, cmd);
}

CoreBuilder &CoreBuilder::gather(uint8_t engine, MemRef dst, MemRef table,
                                 uint32_t rowBytes, uint32_t numRows,
                                 MemRef indices, DType indexType,
                                 uint32_t count, uint64_t dstRowStride,
                                 uint64_t tableRowStride) {
  GatherCmd cmd;
  cmd.table = table;
  cmd.rowBytes = rowBytes;
  cmd.tableRowStride = tableRowStride ? tableRowStride : rowBytes;
  cmd.numRows = numRows;
  cmd.indices = indices;
  cmd.indexType = indexType;
  cmd.count = count;
  cmd.dst = dst;
  cmd.dstRowStride = dstRowStride ? dstRowStride : rowBytes;
  return gather(engine, cmd);
}

CoreBuilder &CoreBuilder::gather(uint8_t engine, const GatherCmd &cmd) {
  program().push_back({UnitRef::dma(engine), cmd});
  return *this;
}

CoreBuilder &CoreBuilder::matmul(const MatmulCmd &cmd) {
  program().push_back({UnitRef::tensor(), cmd});
  return *this;
}

CoreBuilder &CoreBuilder::vector(const VectorCmd &cmd) {
  program().push_back({UnitRef::vector(), cmd});
  return *this;
}

static VecOperand packed(VecOperand operand, uint32_t cols) {
  if (operand.stride == 0)
    operand.stride = cols * dtypeBytes(operand.type);
  return operand;
}

CoreBuilder &CoreBuilder::unary(VecOp op, uint32_t rows, uint32_t cols,
                                VecOperand dst, VecOperand a, float alpha,
                                float beta) {
  VectorCmd cmd;
  cmd.op = op;
  cmd.rows = rows;
  cmd.cols = cols;
  cmd.dst = packed(dst, isReductionVecOp(op) ? 1 : cols);
  cmd.a = packed(a, cols);
  cmd.alpha = alpha;
  cmd.beta = beta;
  return vector(cmd);
}

CoreBuilder &CoreBuilder::binary(VecOp op, uint32_t rows, uint32_t cols,
                                 VecOperand dst, VecOperand a, VecOperand b,
                                 Broadcast bcast) {
  VectorCmd cmd;
  cmd.op = op;
  cmd.rows = rows;
  cmd.cols = cols;
  cmd.dst = packed(dst, cols);
  cmd.a = packed(a, cols);
  bool bIsColumn = bcast == Broadcast::Col || bcast == Broadcast::Scalar;
  cmd.b = packed(b, bIsColumn ? 1 : cols);
  cmd.bcast = bcast;
  return vector(cmd);
}

static bool isColumn(Broadcast bcast) {
  return bcast == Broadcast::Col || bcast == Broadcast::Scalar;
}

CoreBuilder &CoreBuilder::select(uint32_t rows, uint32_t cols, VecOperand dst,
                                 VecOperand c, VecOperand a, VecOperand b,
                                 Broadcast bcastC, Broadcast bcastA,
                                 Broadcast bcastB) {
  VectorCmd cmd;
  cmd.op = VecOp::Select;
  cmd.rows = rows;
  cmd.cols = cols;
  cmd.dst = packed(dst, cols);
  cmd.a = packed(a, isColumn(bcastA) ? 1 : cols);
  cmd.b = packed(b, isColumn(bcastB) ? 1 : cols);
  cmd.c = packed(c, isColumn(bcastC) ? 1 : cols);
  cmd.bcastA = bcastA;
  cmd.bcast = bcastB;
  cmd.bcastC = bcastC;
  return vector(cmd);
}

CoreBuilder &CoreBuilder::signal(UnitRef on, uint16_t sem, uint32_t count,
                                 int targetCore) {
  SignalCmd cmd;
  cmd.core = targetCore < 0 ? coreId : static_cast<uint16_t>(targetCore);
  cmd.sem = sem;
  cmd.count = count;
  program().push_back({on, cmd});
  return *this;
}

CoreBuilder &CoreBuilder::wait(UnitRef on, uint16_t sem, uint32_t count) {
  program().push_back({on, WaitCmd{sem, count}});
  return *this;
}

CoreBuilder &CoreBuilder::barrier(UnitRef on, uint16_t id,
                                  uint16_t participants) {
  program().push_back({on, BarrierCmd{id, participants}});
  return *this;
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

namespace {

using Wide = unsigned __int128;

class Validator {
public:
  Validator(const ChipDesc &chip) : chip(chip) {}

  void run(const Stream &stream) {
    if (stream.cores.size() > chip.cores)
      throw SimError("stream has programs for " +
                     std::to_string(stream.cores.size()) + " cores but chip " +
                     chip.name + " has " + std::to_string(chip.cores));
    for (size_t core = 0; core < stream.cores.size(); ++core)
      for (size_t index = 0; index < stream.cores[core].size(); ++index) {
        where =
            "core " + std::to_string(core) + " instr " + std::to_string(index);
        check(static_cast<uint16_t>(core), stream.cores[core][index]);
      }
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw SimError(where + ": " + what);
  }

  void checkUnit(UnitRef unit) {
    if (unit.kind == UnitKind::Dma && unit.index >= chip.dma.engines)
      fail("unit dma" + std::to_string(unit.index) + " does not exist (chip " +
           chip.name + " has " + std::to_string(chip.dma.engines) +
           " DMA engines per core)");
    if (unit.kind != UnitKind::Dma && unit.index != 0)
      fail("unit " + unitName(unit) + " has index " +
           std::to_string(unit.index) + ", must be 0");
    if (unit.kind > UnitKind::Vector)
      fail("unknown unit kind");
  }

  void checkExtent(const char *what, MemSpace space, uint16_t core,
                   uint64_t addr, Wide lastOffsetExclusive) {
    Wide end = static_cast<Wide>(addr) + lastOffsetExclusive;
    uint64_t size = 0;
    const char *spaceName = "DRAM";
    switch (space) {
    case MemSpace::Dram:
      size = chip.dram.bytes;
      break;
    case MemSpace::Scratchpad:
      if (core >= chip.cores)
        fail(std::string(what) + " names the scratchpad of core " +
             std::to_string(core) + " but the chip has " +
             std::to_string(chip.cores) + " cores");
      size = chip.scratchpad.bytes;
      spaceName = "scratchpad";
      break;
    case MemSpace::Shared:
      if (chip.shared.bytes == 0)
        fail(std::string(what) + " uses shared SRAM but chip " + chip.name +
             " has none");
      size = chip.shared.bytes;
      spaceName = "shared SRAM";
      break;
    default:
      fail(std::string(what) + " has an unknown memory space");
    }
    if (end > size) {
      std::ostringstream message;
      message << what << " [0x" << std::hex << addr << ", 0x"
              << static_cast<uint64_t>(end > ~0ull ? ~0ull
                                                   : static_cast<uint64_t>(end))
              << ") exceeds the " << spaceName << " size 0x" << size << std::dec
              << " (" << size << " bytes)";
      fail(message.str());
    }
  }

  void checkDma(const DmaCmd &cmd) {
    if (cmd.rowBytes == 0 || cmd.rows == 0 || cmd.planes == 0)
      fail("dma row_bytes, rows and planes must be positive");
    auto extent = [&](uint64_t rowStride, uint64_t planeStride) {
      return static_cast<Wide>(cmd.planes - 1) * planeStride +
             static_cast<Wide>(cmd.rows - 1) * rowStride + cmd.rowBytes;
    };
    checkExtent("dma source", cmd.src.space, cmd.src.core, cmd.src.addr,
                extent(cmd.srcRowStride, cmd.srcPlaneStride));
    checkExtent("dma destination", cmd.dst.space, cmd.dst.core, cmd.dst.addr,
                extent(cmd.dstRowStride, cmd.dstPlaneStride));
    if (cmd.multicast > 1) {
      if (!chip.dma.multicast)
        fail("dma multicast=" + std::to_string(cmd.multicast) + ", but chip " +
             chip.name + " has no multicast DMA (dma.multicast is false)");
      if (cmd.dst.space != MemSpace::Scratchpad)
        fail("a multicast dma must write scratchpads");
      if (uint32_t(cmd.dst.core) + cmd.multicast > chip.cores)
        fail("dma multicast to cores " + std::to_string(cmd.dst.core) + ".." +
             std::to_string(uint32_t(cmd.dst.core) + cmd.multicast - 1) +
             " but the chip has " + std::to_string(chip.cores) + " cores");
    }
  }

  void checkMatmul(uint16_t core, const MatmulCmd &cmd) {
    if (cmd.m == 0 || cmd.n == 0 || cmd.k == 0)
      fail("matmul m, n and k must be positive");
    if (chip.peakMacsPerCycle(cmd.inType) <= 0)
      fail(std::string("the tensor unit of chip ") + chip.name +
           " cannot multiply " + dtypeName(cmd.inType));
    bool intIn = cmd.inType == DType::I8;
    bool outOk =
        intIn ? cmd.outType == DType::I32
              : (cmd.outType == DType::F32 || cmd.outType == DType::BF16 ||
                 cmd.outType == DType::F16);
    bool inOk = cmd.inType == DType::F32 || cmd.inType == DType::BF16 ||
                cmd.inType == DType::F16 || cmd.inType == DType::FP8 ||
                cmd.inType == DType::I8;
    if (!outOk || !inOk)
      fail(std::string("matmul cannot produce ") + dtypeName(cmd.outType) +
           " from " + dtypeName(cmd.inType) +
           " (int8 -> int32; fp32/bf16/fp16/fp8 -> fp32/bf16/fp16)");
    unsigned in = dtypeBytes(cmd.inType), out = dtypeBytes(cmd.outType);
    checkExtent("matmul operand a", MemSpace::Scratchpad, core, cmd.a,
                static_cast<Wide>(cmd.m - 1) * cmd.lda +
                    static_cast<Wide>(cmd.k) * in);
    Wide bRows = cmd.transposeB ? cmd.n : cmd.k,
         bCols = cmd.transposeB ? cmd.k : cmd.n;
    checkExtent("matmul operand b", MemSpace::Scratchpad, core, cmd.b,
                (bRows - 1) * cmd.ldb + bCols * in);
    checkExtent("matmul result c", MemSpace::Scratchpad, core, cmd.c,
                static_cast<Wide>(cmd.m - 1) * cmd.ldc +
                    static_cast<Wide>(cmd.n) * out);
  }

  void checkVector(uint16_t core, const VectorCmd &cmd) {
    if (static_cast<int>(cmd.op) >= kNumVecOps)
      fail("unknown vector op");
    std::string name = vecOpName(cmd.op);
    if (cmd.rows == 0 || cmd.cols == 0)
      fail("vector " + name + " rows and cols must be positive");
    if (vectorOpCycles(chip, cmd.op) < 0)
      fail("the vector unit of chip " + chip.name + " has no " + name +
           " (cores.vector_unit.op_cycles)");
    for (const VecOperand *operand : {&cmd.dst, &cmd.a, &cmd.b, &cmd.c})
      if (static_cast<int>(operand->type) >= kNumDTypes)
        fail("vector " + name + " operand has an unknown dtype");
    for (Broadcast bcast : {cmd.bcast, cmd.bcastA, cmd.bcastC})
      if (static_cast<int>(bcast) > static_cast<int>(Broadcast::Scalar))
        fail("unknown broadcast");
    int arity = vecOpArity(cmd.op);
    if (cmd.op != VecOp::Select &&
        (cmd.bcastC != Broadcast::None || !(cmd.c == VecOperand{})))
      fail("vector " + name + " has operand c or bcast_c (select only)");
    if (isReductionVecOp(cmd.op) && cmd.bcastA != Broadcast::None)
      fail("vector " + name + " cannot broadcast operand a (a reduction)");
    if (isBitwiseVecOp(cmd.op)) {
      if (isFloatType(cmd.a.type) || (arity >= 2 && isFloatType(cmd.b.type)))
        fail("vector " + name + " needs integer or bool operands, got " +
             dtypeName(cmd.a.type) +
             (arity >= 2 ? std::string(", ") + dtypeName(cmd.b.type) : ""));
    }
    auto extent = [](const VecOperand &operand, uint32_t rows, uint32_t cols) {
      return static_cast<Wide>(rows - 1) * operand.stride +
             static_cast<Wide>(cols) * dtypeBytes(operand.type);
    };
    auto checkInput = [&](const char *what, const VecOperand &operand,
                          Broadcast bcast) {
      uint32_t rows =
          (bcast == Broadcast::None || bcast == Broadcast::Col) ? cmd.rows : 1;
      uint32_t cols =
          (bcast == Broadcast::None || bcast == Broadcast::Row) ? cmd.cols : 1;
      checkExtent(what, MemSpace::Scratchpad, core, operand.addr,
                  extent(operand, rows, cols));
    };
    checkInput("vector operand a", cmd.a, cmd.bcastA);
    uint32_t dstCols = isReductionVecOp(cmd.op) ? 1 : cmd.cols;
    checkExtent("vector destination", MemSpace::Scratchpad, core, cmd.dst.addr,
                extent(cmd.dst, cmd.rows, dstCols));
    if (arity >= 2)
      checkInput("vector operand b", cmd.b, cmd.bcast);
    if (arity >= 3)
      checkInput("vector operand c", cmd.c, cmd.bcastC);
  }

  void checkGather(uint16_t core, const GatherCmd &cmd) {
    if (cmd.rowBytes == 0 || cmd.numRows == 0 || cmd.count == 0)
      fail("gather row_bytes, table_rows and count must be positive");
    if (cmd.indexType != DType::I32 && cmd.indexType != DType::I64)
      fail(std::string("gather index_type must be int32 or int64, got ") +
           dtypeName(cmd.indexType));
    if (cmd.indices.space != MemSpace::Scratchpad || cmd.indices.core != core)
      fail("gather indices must be in the executing core's scratchpad (spm" +
           std::to_string(core) + ")");
    checkExtent("gather table", cmd.table.space, cmd.table.core, cmd.table.addr,
                static_cast<Wide>(cmd.numRows - 1) * cmd.tableRowStride +
                    cmd.rowBytes);
    checkExtent("gather indices", cmd.indices.space, cmd.indices.core,
                cmd.indices.addr,
                static_cast<Wide>(cmd.count) * dtypeBytes(cmd.indexType));
    checkExtent("gather destination", cmd.dst.space, cmd.dst.core, cmd.dst.addr,
                static_cast<Wide>(cmd.count - 1) * cmd.dstRowStride +
                    cmd.rowBytes);
  }

  void checkSemaphore(uint16_t sem, uint32_t count) {
    if (sem >= chip.semaphoresPerCore)
      fail("semaphore " + std::to_string(sem) + " does not exist (chip has " +
           std::to_string(chip.semaphoresPerCore) + " per core)");
    if (count == 0)
      fail("semaphore count must be positive");
  }

  void check(uint16_t core, const Instr &instr) {
    checkUnit(instr.unit);
    where += " (" + unitName(instr.unit) + ")";
    if (auto *dma = std::get_if<DmaCmd>(&instr.cmd)) {
      if (instr.unit.kind != UnitKind::Dma)
        fail("dma must run on a DMA engine");
      checkDma(*dma);
    } else if (auto *gather = std::get_if<GatherCmd>(&instr.cmd)) {
      if (instr.unit.kind != UnitKind::Dma)
        fail("gather must run on a DMA engine");
      checkGather(core, *gather);
    } else if (auto *mm = std::get_if<MatmulCmd>(&instr.cmd)) {
      if (instr.unit.kind != UnitKind::Tensor)
        fail("matmul must run on the tensor unit");
      checkMatmul(core, *mm);
    } else if (auto *vec = std::get_if<VectorCmd>(&instr.cmd)) {
      if (instr.unit.kind != UnitKind::Vector)
        fail("vector ops must run on the vector unit");
      checkVector(core, *vec);
    } else if (auto *signal = std::get_if<SignalCmd>(&instr.cmd)) {
      if (signal->core >= chip.cores)
        fail("signal targets core " + std::to_string(signal->core) + " of a " +
             std::to_string(chip.cores) + "-core chip");
      checkSemaphore(signal->sem, signal->count);
    } else if (auto *wait = std::get_if<WaitCmd>(&instr.cmd)) {
      checkSemaphore(wait->sem, wait->count);
    } else if (auto *barrier = std::get_if<BarrierCmd>(&instr.cmd)) {
      if (barrier->participants > chip.cores)
        fail("barrier expects " + std::to_string(barrier->participants) +
             " cores but the chip has " + std::to_string(chip.cores));
    }
  }

  const ChipDesc &chip;
  std::string where;
};

} // namespace

double vectorOpCycles(const ChipDesc &chip, VecOp op) {
  const auto &table = chip.vector.opCycles;
  auto listed = [&](const char *name) {
    auto it = table.find(name);
    return it == table.end() ? -1.0 : it->second;
  };
  // Derived cost: the sum of the components, unsupported if one is.
  auto sum = [](std::initializer_list<double> parts) {
    double total = 0;
    for (double part : parts) {
      if (part < 0)
        return -1.0;
      total += part;
    }
    return total;
  };
  switch (op) {
  case VecOp::Exp:
  case VecOp::Log:
  case VecOp::Sqrt:
  case VecOp::Rsqrt:
  case VecOp::Recip:
  case VecOp::Div:
  case VecOp::Erf:
  case VecOp::Tanh:
  case VecOp::Sigmoid:
  case VecOp::Sin:
  case VecOp::Cos:
    return listed(vecOpName(op));
  case VecOp::Pow:
  case VecOp::Mod:
  case VecOp::FMod:
  case VecOp::Silu:
  case VecOp::Gelu:
  case VecOp::GeluTanh: {
    double own = listed(vecOpName(op));
    if (own >= 0)
      return own;
    switch (op) {
    case VecOp::Pow:
      return sum({listed("exp"), listed("log"), 1});
    case VecOp::Mod:
    case VecOp::FMod:
      return sum({listed("div"), 2});
    case VecOp::Silu:
      return sum({listed("sigmoid"), 1});
    case VecOp::Gelu:
      return sum({listed("erf"), 3});
    default:
      return sum({listed("tanh"), 4});
    }
  }
  default:
    return 1.0;
  }
}

void validateStream(const Stream &stream, const ChipDesc &chip) {
  Validator(chip).run(stream);
}

} // namespace gaon::npu_sim
