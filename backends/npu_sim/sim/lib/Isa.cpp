//===- Isa.cpp - Instruction names, builder and stream validation ---------===//

#include "gaon/npu_sim/Isa.h"

#include "gaon/npu_sim/ChipDesc.h"

#include <cstring>
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
      "add",     "sub",  "mul",  "div",   "max",   "min",        "cast",
      "exp",     "log",  "sqrt", "rsqrt", "recip", "erf",        "tanh",
      "sigmoid", "relu", "neg",  "abs",   "scale", "reduce_sum", "reduce_max"};
  return names[static_cast<int>(op)];
}

bool isBinaryVecOp(VecOp op) { return op <= VecOp::Min; }
bool isReductionVecOp(VecOp op) {
  return op == VecOp::ReduceSum || op == VecOp::ReduceMax;
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
         dstPlaneStride == o.dstPlaneStride;
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
         a == o.a && b == o.b && bcast == o.bcast &&
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
    if (!outOk || cmd.inType == DType::I32)
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
    if (cmd.rows == 0 || cmd.cols == 0)
      fail(std::string("vector ") + vecOpName(cmd.op) +
           " rows and cols must be positive");
    std::string name = vecOpName(cmd.op);
    bool costed = name == "exp" || name == "log" || name == "sqrt" ||
                  name == "rsqrt" || name == "recip" || name == "div" ||
                  name == "erf" || name == "tanh" || name == "sigmoid";
    if (costed && !chip.vector.opCycles.count(name))
      fail("the vector unit of chip " + chip.name + " has no " + name +
           " (cores.vector_unit.op_cycles)");
    auto extent = [](const VecOperand &operand, uint32_t rows, uint32_t cols) {
      return static_cast<Wide>(rows - 1) * operand.stride +
             static_cast<Wide>(cols) * dtypeBytes(operand.type);
    };
    checkExtent("vector operand a", MemSpace::Scratchpad, core, cmd.a.addr,
                extent(cmd.a, cmd.rows, cmd.cols));
    uint32_t dstCols = isReductionVecOp(cmd.op) ? 1 : cmd.cols;
    checkExtent("vector destination", MemSpace::Scratchpad, core, cmd.dst.addr,
                extent(cmd.dst, cmd.rows, dstCols));
    if (isBinaryVecOp(cmd.op)) {
      if (static_cast<int>(cmd.bcast) > static_cast<int>(Broadcast::Scalar))
        fail("unknown broadcast");
      uint32_t bRows =
          (cmd.bcast == Broadcast::None || cmd.bcast == Broadcast::Col)
              ? cmd.rows
              : 1;
      uint32_t bCols =
          (cmd.bcast == Broadcast::None || cmd.bcast == Broadcast::Row)
              ? cmd.cols
              : 1;
      checkExtent("vector operand b", MemSpace::Scratchpad, core, cmd.b.addr,
                  extent(cmd.b, bRows, bCols));
    }
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

void validateStream(const Stream &stream, const ChipDesc &chip) {
  Validator(chip).run(stream);
}

} // namespace gaon::npu_sim
