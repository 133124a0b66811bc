//===- Common.h - Shared helpers of the NPU kernels --------------*- C++
//-*-===//
//
// Strided views and the DMA decomposition every kernel uses to move
// rectangular tiles between DRAM and scratchpad, the scratchpad allocator,
// and the four-semaphore load/compute/store pipeline that double-buffers
// memory-bound kernels.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_KERNELS_COMMON_H
#define GAON_NPU_KERNELS_COMMON_H

#include "gaon/npu_kernels/Kernels.h"

#include <functional>
#include <string>

namespace gaon::npu_kernels::detail {

using namespace npu_sim;

[[noreturn]] void fail(const std::string &kernel, const std::string &why);
std::string shapeStr(const std::vector<int64_t> &shape);

/// Semaphores: 0/1 fence consecutive kernels; kernels own the rest.
enum : uint16_t { kFenceDone = 0, kFenceGo = 1, kKernelSem = 2 };

/// What a kernel needs to emit: the stream, the chip and the units it uses.
struct Ctx {
  Stream &stream;
  const ChipDesc &chip;
  /// Where the kernel records the scratchpad it uses (null: nowhere).
  StreamEmitter::SpmUse *use = nullptr;
  CoreBuilder core(unsigned c) const {
    return CoreBuilder(stream, static_cast<uint16_t>(c));
  }
  unsigned cores() const { return chip.cores; }
  /// Loads go on engine 0, stores on the last engine, so they overlap.
  UnitRef loader() const { return UnitRef::dma(0); }
  UnitRef storer() const {
    return UnitRef::dma(static_cast<uint8_t>(chip.dma.engines - 1));
  }
  /// Throws when the vector unit lacks `op` (exp, erf, ...).
  void needVecOp(const std::string &kernel, VecOp op) const;
};

/// Row-major strides in elements.
std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &shape);
/// Strides (elements) that read `t` broadcast NumPy-style to `outShape`:
/// 0 along broadcast dims. Throws when `t` does not broadcast.
std::vector<int64_t> broadcastStrides(const std::string &kernel,
                                      const Tensor &t,
                                      const std::vector<int64_t> &outShape);
/// Drops size-1 dims and merges dims that are contiguous in every view, so
/// the DMA decomposition emits as few descriptors as possible.
void coalesce(std::vector<int64_t> &shape,
              std::vector<std::vector<int64_t>> &strides);

/// One side of a copy over a shared shape: element (i0..in-1) lives at
/// base + sum(i_k * strides[k]) bytes in `space` (of `core`).
struct Side {
  MemSpace space = MemSpace::Dram;
  uint16_t core = 0;
  int64_t base = 0;
  std::vector<int64_t> strides; ///< Bytes per dim.
};
Side dramSide(uint64_t addr, const std::vector<int64_t> &elemStrides,
              unsigned elemBytes);
/// A packed scratchpad tile holding rows [r0, ...) of `shape` with row pitch
/// `pitch`; as a Side over the whole shape (its rows are linear in the
/// flattened row index).
Side spmTileSide(uint16_t core, uint64_t addr,
                 const std::vector<int64_t> &shape, int64_t r0, int64_t c0,
                 uint64_t pitch, unsigned elemBytes);

/// Copies flattened rows [r0, r0 + nr) x last-dim columns [c0, c0 + nc) of
/// `shape` from src to dst: one descriptor per run along the second-to-last
/// dim (whole runs batched as planes); a last dim that is not contiguous on
/// both sides moves element by element (rows of one element).
void emitRegionDma(CoreBuilder &b, uint8_t engine,
                   const std::vector<int64_t> &shape, const Side &src,
                   const Side &dst, int64_t r0, int64_t nr, int64_t c0,
                   int64_t nc, unsigned elemBytes);

/// Bump allocator over one core's scratchpad (64-byte aligned).
struct SpmAlloc {
  std::string kernel;
  uint64_t capacity;
  uint64_t offset = 0;
  StreamEmitter::SpmUse *use = nullptr; ///< Records what is taken.
  uint64_t take(uint64_t bytes);
};

/// A vector instruction built field by field (CoreBuilder's helpers turn a
/// 0 stride into a packed one; kernels use stride 0 to repeat a row).
void vec(CoreBuilder &b, VecOp op, uint32_t rows, uint32_t cols, VecOperand dst,
         VecOperand a, VecOperand bOp = {}, Broadcast bcast = Broadcast::None,
         float alpha = 1, float beta = 0, Broadcast bcastA = Broadcast::None);

/// Double-buffered load -> vector -> store hand-offs on one core with four
/// counting semaphores (each side consumes in the order the other
/// produces): two input slots and two output slots.
class Pipeline {
public:
  Pipeline(const Ctx &ctx, CoreBuilder &b, uint16_t semBase);
  /// Loader: waits until an input slot is free; returns the slot.
  int beginLoad();
  void endLoad();
  /// Vector: waits for the oldest loaded slot.
  void beginCompute();
  void endCompute(); ///< Input slot consumed.
  /// Vector: waits until an output slot is free; returns it.
  int beginOutput();
  void endOutput();
  /// Storer: waits for the oldest output.
  void beginStore();
  void endStore();
  /// Takes the hand-backs nobody waited for, so semaphores end at zero.
  void finish();
  UnitRef loader, storer;

private:
  CoreBuilder &b;
  uint16_t inFull, inFree, outFull, outFree;
  int loads = 0, outputs = 0;
};

/// Splits [0, n) into `parts` contiguous ranges; returns the begin of `i`.
inline int64_t splitBegin(int64_t n, int64_t parts, int64_t i) {
  return n * i / parts;
}
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Per-kernel scheduling (Schedule.cpp dispatches): run one step on `s`,
/// or give the scratchpad bytes per core a complete schedule needs. Both
/// throw KernelError.
void planMatmul(const ChipDesc &chip, const MatmulProblem &p, PlanStep step,
                Schedule &s);
uint64_t matmulBytes(const ChipDesc &chip, const MatmulProblem &p,
                     const Schedule &s);
void planAttention(const ChipDesc &chip, const AttentionProblem &p,
                   PlanStep step, Schedule &s);
uint64_t attentionBytes(const ChipDesc &chip, const AttentionProblem &p,
                        const Schedule &s);
void planRows(const ChipDesc &chip, const RowProblem &p, PlanStep step,
              Schedule &s);
uint64_t rowBytes(const ChipDesc &chip, const RowProblem &p, const Schedule &s);

/// dst = act(x) with the fused vector ops (a copy/cast for None).
void emitActivation(const Ctx &ctx, const std::string &kernel, CoreBuilder &b,
                    Activation act, uint32_t rows, uint32_t cols,
                    VecOperand dst, VecOperand x);

} // namespace gaon::npu_kernels::detail

#endif // GAON_NPU_KERNELS_COMMON_H
