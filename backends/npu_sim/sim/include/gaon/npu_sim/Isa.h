//===- Isa.h - Command stream of the simulated NPU --------------*- C++ -*-===//
//
// A stream holds one program per core. Each instruction names the unit of
// its core that executes it (a DMA engine, the tensor unit or the vector
// unit); every unit runs its own instructions in order, and units meet only
// through semaphores (within and across cores) and barriers (across cores).
// Addresses and strides are in bytes.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_ISA_H
#define GAON_NPU_SIM_ISA_H

#include "gaon/npu_sim/DType.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace gaon::npu_sim {

struct ChipDesc;

enum class UnitKind : uint8_t { Dma = 0, Tensor = 1, Vector = 2 };

struct UnitRef {
  UnitKind kind = UnitKind::Dma;
  uint8_t index = 0; ///< DMA engine number; 0 for the tensor and vector units.

  static UnitRef dma(uint8_t engine) { return {UnitKind::Dma, engine}; }
  static UnitRef tensor() { return {UnitKind::Tensor, 0}; }
  static UnitRef vector() { return {UnitKind::Vector, 0}; }
  bool operator==(const UnitRef &other) const {
    return kind == other.kind && index == other.index;
  }
};
/// "dma0", "tensor", "vector".
std::string unitName(UnitRef unit);

enum class MemSpace : uint8_t { Dram = 0, Scratchpad = 1, Shared = 2 };

struct MemRef {
  MemSpace space = MemSpace::Dram;
  uint16_t core =
      0; ///< Owner of a scratchpad; ignored for DRAM and shared SRAM.
  uint64_t addr = 0;

  static MemRef dram(uint64_t addr) { return {MemSpace::Dram, 0, addr}; }
  static MemRef spm(uint16_t core, uint64_t addr) {
    return {MemSpace::Scratchpad, core, addr};
  }
  static MemRef shared(uint64_t addr) { return {MemSpace::Shared, 0, addr}; }
  bool operator==(const MemRef &o) const {
    return space == o.space && core == o.core && addr == o.addr;
  }
};

/// Strided copy of planes x rows x rowBytes. Either side may be DRAM, any
/// core's scratchpad (another core's goes over the network) or shared SRAM.
///
/// Strides are taken literally: a stride of 0 means "repeat", not "packed".
/// A source row stride of 0 replicates one source row into every
/// destination row (broadcast), a source plane stride of 0 replicates one
/// source plane into every destination plane. (Only the CoreBuilder::dma
/// convenience overload turns a 0 stride into the packed stride; use
/// CoreBuilder::broadcastDma or a DmaCmd for replication.)
///
/// Multicast (chips whose `dma.multicast` is true): with `multicast` > 1 the
/// destination is a scratchpad and the data lands at dst.addr in the
/// scratchpads of cores dst.core .. dst.core + multicast - 1. The source is
/// read once (one DRAM read feeds a whole group of cores, as RNGD's input
/// broadcasting does); the issuing engine streams at its own rate.
struct DmaCmd {
  MemRef src, dst;
  uint32_t rowBytes = 0;
  uint32_t rows = 1;
  uint32_t planes = 1;
  uint64_t srcRowStride = 0, dstRowStride = 0;
  uint64_t srcPlaneStride = 0, dstPlaneStride = 0;
  uint16_t multicast = 0; ///< Destination cores; 0 or 1: dst.core only.
  bool operator==(const DmaCmd &o) const;
};

/// Indirect row gather on a DMA engine (embedding lookup):
///   dst[i] = table[indices[i]] for i in [0, count), each row rowBytes long.
/// An index is read as indexType (I32 or I64) from the executing core's
/// scratchpad; a negative index counts from the end (ONNX Gather), so the
/// valid range is [-numRows, numRows). An index outside it is a run-time
/// SimError naming the instruction and the index; nothing outside the
/// table is ever read. Timing is that of a `count`-row DMA of rowBytes rows
/// whose DRAM addresses are data dependent (assumed spread evenly over the
/// channels), plus reading the indices from the scratchpad.
struct GatherCmd {
  MemRef table;          ///< Row 0 of the table (DRAM, shared or scratchpad).
  uint32_t rowBytes = 0; ///< Bytes copied per row.
  uint64_t tableRowStride = 0; ///< Bytes between table rows (literal).
  uint32_t numRows = 0;        ///< Rows in the table: the bounds of an index.
  MemRef indices;              ///< Scratchpad of the executing core.
  DType indexType = DType::I32;
  uint32_t count = 0; ///< Rows to gather.
  MemRef dst;         ///< Row i goes to dst + i * dstRowStride.
  uint64_t dstRowStride = 0;
  bool operator==(const GatherCmd &o) const;
};

/// C[m,n] (+)= A[m,k] * B[k,n] (B given as [n,k] when transposeB) on the
/// executing core's scratchpad. Products accumulate in fp32 (int32 for int8)
/// and are rounded once when stored as outType.
struct MatmulCmd {
  uint32_t m = 0, n = 0, k = 0;
  DType inType = DType::BF16;
  DType outType = DType::F32;
  bool accumulate = false; ///< Add to the C already in the scratchpad.
  bool transposeB = false;
  uint64_t a = 0, b = 0, c = 0;
  uint32_t lda = 0, ldb = 0, ldc = 0; ///< Row strides in bytes.
  bool operator==(const MatmulCmd &o) const;
};

/// Vector-unit ops. Codes (the binary encoding) follow this order.
///
/// Operands may be fp32, bf16, fp16, fp8, int8, int32, int64 or bool. An op
/// computes in int64 (wrapping) when every input it reads is an integer or
/// bool type and the op is exact on integers (add sub mul div max min mod
/// fmod neg abs relu cast floor ceil round comparisons select bitwise
/// reductions); otherwise it computes in double. The result is stored in
/// dst's type (see storeElementF64/storeElementI64): float types round to
/// nearest even, float -> integer truncates toward zero and saturates,
/// integer -> narrower integer wraps, anything -> bool is `!= 0`.
enum class VecOp : uint8_t {
  // Binary: dst = a op b.
  Add,
  Sub,
  Mul,
  Div, ///< Integer division truncates toward zero; x / 0 is 0 for integers.
  Max,
  Min,
  // Unary: dst = f(a).
  Cast,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Recip,
  Erf,
  Tanh,
  Sigmoid,
  Relu,
  Neg,
  Abs,
  Scale, ///< dst = a * alpha + beta (always computed in double)
  // Row reductions: dst[r] = reduce(a[r, :]), dst is a column (rows x 1).
  ReduceSum,
  ReduceMax,
  // ---- Added in stream format version 2 ----
  ReduceMin,
  // Comparisons (binary): dst = (a cmp b) ? 1 : 0 in dst's type. NaN
  // compares unequal/unordered as in IEEE (cmp_ne is true for NaN).
  CmpEq,
  CmpNe,
  CmpLt,
  CmpLe,
  CmpGt,
  CmpGe,
  /// Ternary: dst = c != 0 ? a : b. a, b and c broadcast independently
  /// (bcastA, bcast, bcastC).
  Select,
  // Bitwise on integer/bool operands only (a bool operand makes them
  // logical). Not is logical for bool a, bitwise (~a) for integers.
  And,
  Or,
  Xor,
  Not,
  // Unary float ops.
  Sin,
  Cos,
  Floor,
  Ceil,
  Round, ///< Half to even (ONNX Round).
  // Binary float ops.
  Pow,  ///< a ** b (std::pow).
  Mod,  ///< Floored: result has the sign of b (Python %, ONNX Mod fmod=0).
  FMod, ///< Truncated: result has the sign of a (C fmod, ONNX Mod fmod=1).
  // Fused activations (one op, cost of their components).
  Silu,     ///< a * sigmoid(a)
  Gelu,     ///< a * 0.5 * (1 + erf(a / sqrt 2))
  GeluTanh, ///< a * 0.5 * (1 + tanh(sqrt(2/pi) * (a + 0.044715 a^3)))
  /// Row product (ONNX ReduceProd): double for floats, wrapping int64.
  ReduceProd,
};
constexpr int kNumVecOps = static_cast<int>(VecOp::ReduceProd) + 1;
const char *vecOpName(VecOp op);
/// Number of input operands: 1 (a), 2 (a, b) or 3 (a, b, c for select).
int vecOpArity(VecOp op);
bool isBinaryVecOp(VecOp op); ///< Reads operand b (binary ops and select).
bool isReductionVecOp(VecOp op);
bool isComparisonVecOp(VecOp op);
/// and/or/xor/not: integer and bool operands only.
bool isBitwiseVecOp(VecOp op);

/// How an input operand covers the rows x cols of the op.
enum class Broadcast : uint8_t {
  None,   ///< the operand is rows x cols
  Row,    ///< the operand is 1 x cols, repeated for every row (bias, gamma)
  Col,    ///< the operand is rows x 1, repeated along each row (softmax)
  Scalar, ///< the operand is 1 x 1
};
const char *broadcastName(Broadcast bcast);

struct VecOperand {
  uint64_t addr = 0;
  uint32_t stride = 0; ///< Row stride in bytes.
  DType type = DType::F32;
  bool operator==(const VecOperand &o) const {
    return addr == o.addr && stride == o.stride && type == o.type;
  }
};

/// Vector-unit op over a rows x cols tile of the executing core's scratchpad.
struct VectorCmd {
  VecOp op = VecOp::Add;
  uint32_t rows = 0, cols = 0;
  VecOperand dst, a, b;
  Broadcast bcast = Broadcast::None; ///< How b covers the tile.
  float alpha = 1.0f, beta = 0.0f;
  /// Condition of Select (unused otherwise; must stay default).
  VecOperand c;
  /// How a covers the tile (not for reductions; a broadcast cast is an
  /// "expand"). How c covers the tile (Select only).
  Broadcast bcastA = Broadcast::None, bcastC = Broadcast::None;
  bool operator==(const VectorCmd &o) const;
};

/// Adds `count` to semaphore `sem` of `core` (a remote core's semaphore is
/// reached over the network). Runs once every earlier instruction of its unit
/// has completed, so it publishes their results.
struct SignalCmd {
  uint16_t core = 0;
  uint16_t sem = 0;
  uint32_t count = 1;
  bool operator==(const SignalCmd &o) const {
    return core == o.core && sem == o.sem && count == o.count;
  }
};

/// Blocks the unit until semaphore `sem` of its core holds `count`, then
/// takes `count` from it.
struct WaitCmd {
  uint16_t sem = 0;
  uint32_t count = 1;
  bool operator==(const WaitCmd &o) const {
    return sem == o.sem && count == o.count;
  }
};

/// Blocks the unit until `participants` cores (0: all) reach barrier `id`.
struct BarrierCmd {
  uint16_t id = 0;
  uint16_t participants = 0;
  bool operator==(const BarrierCmd &o) const {
    return id == o.id && participants == o.participants;
  }
};

using Command = std::variant<DmaCmd, MatmulCmd, VectorCmd, SignalCmd, WaitCmd,
                             BarrierCmd, GatherCmd>;

struct Instr {
  UnitRef unit;
  Command cmd;
  bool operator==(const Instr &o) const {
    return unit == o.unit && cmd == o.cmd;
  }
};

struct Stream {
  std::vector<std::vector<Instr>> cores; ///< Program of core i at index i.
  bool operator==(const Stream &o) const { return cores == o.cores; }
  size_t instructionCount() const;
};

/// Appends the instructions of one core; the helpers fill packed strides
/// when a stride is left 0.
class CoreBuilder {
public:
  CoreBuilder(Stream &stream, uint16_t core);

  uint16_t core() const { return coreId; }
  MemRef spm(uint64_t addr) const { return MemRef::spm(coreId, addr); }

  /// Copies rows x rowBytes; strides of 0 mean packed rows.
  CoreBuilder &dma(uint8_t engine, MemRef dst, MemRef src, uint32_t rowBytes,
                   uint32_t rows = 1, uint64_t dstRowStride = 0,
                   uint64_t srcRowStride = 0);
  CoreBuilder &dma(uint8_t engine, const DmaCmd &cmd);
  /// Copies one source row (rowBytes) into `rows` destination rows (source
  /// row stride 0); a dstRowStride of 0 means packed.
  CoreBuilder &broadcastDma(uint8_t engine, MemRef dst, MemRef src,
                            uint32_t rowBytes, uint32_t rows,
                            uint64_t dstRowStride = 0);
  /// Gathers `count` rows of a table with numRows rows; strides of 0 mean
  /// packed (rowBytes).
  CoreBuilder &gather(uint8_t engine, MemRef dst, MemRef table,
                      uint32_t rowBytes, uint32_t numRows, MemRef indices,
                      DType indexType, uint32_t count,
                      uint64_t dstRowStride = 0, uint64_t tableRowStride = 0);
  CoreBuilder &gather(uint8_t engine, const GatherCmd &cmd);
  CoreBuilder &matmul(const MatmulCmd &cmd);
  CoreBuilder &vector(const VectorCmd &cmd);
  /// Unary or reduction op; a stride of 0 means packed rows.
  CoreBuilder &unary(VecOp op, uint32_t rows, uint32_t cols, VecOperand dst,
                     VecOperand a, float alpha = 1.0f, float beta = 0.0f);
  CoreBuilder &binary(VecOp op, uint32_t rows, uint32_t cols, VecOperand dst,
                      VecOperand a, VecOperand b,
                      Broadcast bcast = Broadcast::None);
  /// dst = c ? a : b with each operand broadcast as given; a stride of 0
  /// means packed for the operand's shape.
  CoreBuilder &select(uint32_t rows, uint32_t cols, VecOperand dst,
                      VecOperand c, VecOperand a, VecOperand b,
                      Broadcast bcastC = Broadcast::None,
                      Broadcast bcastA = Broadcast::None,
                      Broadcast bcastB = Broadcast::None);
  CoreBuilder &signal(UnitRef on, uint16_t sem, uint32_t count = 1,
                      int targetCore = -1);
  CoreBuilder &wait(UnitRef on, uint16_t sem, uint32_t count = 1);
  CoreBuilder &barrier(UnitRef on, uint16_t id, uint16_t participants = 0);

private:
  std::vector<Instr> &program();
  Stream &stream;
  uint16_t coreId;
};

/// Cycles per lane-wide group of `op` on `chip`, or a negative value when
/// the chip cannot run it. Simple ops cost 1; exp, log, sqrt, rsqrt, recip,
/// div, erf, tanh, sigmoid, sin, cos come from the chip's op_cycles (absent:
/// unsupported); fused/derived ops cost their components unless op_cycles
/// lists them: pow = exp + log + 1, mod/fmod = div + 2, silu = sigmoid + 1,
/// gelu = erf + 3, gelu_tanh = tanh + 4.
double vectorOpCycles(const ChipDesc &chip, VecOp op);

/// Checks a stream against a chip: units, addresses, extents, semaphores,
/// dtypes, supported vector ops. Throws SimError naming the core, the
/// instruction index and the problem.
void validateStream(const Stream &stream, const ChipDesc &chip);

} // namespace gaon::npu_sim

#endif // GAON_NPU_SIM_ISA_H
