//===- Kernels.h - NPU command-stream kernels for transformer ops -*- C++
//-*-===//
//
// An MLIR-free kernel library: a compiler lays every tensor out row-major in
// simulated DRAM and calls one StreamEmitter method per graph op, in program
// order. Each call appends one kernel to an npu_sim::Stream; a kernel may use
// every core and the whole scratchpad of each core, and the emitter fences
// consecutive kernels (all units drain, then a barrier) so a kernel only reads
// DRAM after the previous one finished writing it.
//
// Conventions shared by every kernel:
//  * Tensors are dense and row-major at `addr`; rank 0 is one element.
//  * Arithmetic runs in fp32 on the vector unit and is rounded once when
//    stored in the output dtype. Matmuls accumulate in fp32 on the tensor
//    unit (fp32 inputs run at whatever rate the chip gives fp32, emulated
//    when the tensor unit has no native fp32).
//  * Anything unsupported throws KernelError naming the op and the reason;
//    the emitter never appends a stream it cannot prove correct. A throwing
//    call may leave a partial kernel in the stream: discard the stream.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_KERNELS_KERNELS_H
#define GAON_NPU_KERNELS_KERNELS_H

#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim/Isa.h"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace gaon::npu_kernels {

/// Every unsupported request (bad shapes, dtypes, ops the chip lacks, tiles
/// that cannot fit) is reported as a KernelError whose message starts with
/// the kernel name.
class KernelError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A dense row-major tensor in simulated DRAM.
struct Tensor {
  uint64_t addr = 0;
  npu_sim::DType dtype = npu_sim::DType::F32;
  std::vector<int64_t> shape; ///< Empty: a scalar.

  int64_t numel() const;
  uint64_t bytes() const;
};

enum class Activation { None, Relu, Gelu, GeluTanh, Silu };
enum class ReduceOp { Sum, Max, Min, Mean, Prod };

/// Fused matmul epilogue, applied on the vector unit while the tensor unit
/// computes the next tile: out = act(alpha * (A x B) + bias) + residual.
struct Epilogue {
  std::optional<Tensor> bias; ///< N elements (shape [N] or [1, N], ...).
  Activation activation = Activation::None;
  std::optional<Tensor> residual; ///< Same shape as out.
  float alpha = 1.0f;
  /// N elements: the residual is multiplied by them per column before it
  /// is added (a layer norm's scale moved out of the norm into every
  /// consumer: gaon-npu-fold-norm-affine). Needs a residual.
  std::optional<Tensor> residualScale;
  /// int8 products (A and B int8, accumulated in int32): one f32 element,
  /// the scale of A times the scale of B (gaon_npu.quantize's
  /// dequant_scale). The epilogue multiplies by it first.
  std::optional<Tensor> dequant;
  /// Set by the matmul kernel itself, not by callers: where `dequant` sits
  /// in every core's scratchpad.
  uint64_t dequantSpm = 0;
};

/// How the work of a kernel is dealt to cores.
enum class Split {
  Rows,  ///< Contiguous ranges of output row blocks (a core walks the column
         ///< blocks of one row block, reusing its A tile).
  Cols,  ///< Contiguous ranges of output column blocks (weight streaming:
         ///< every core reads all of A and its own slice of B).
  Heads, ///< (batch, head, query block) items dealt round-robin.
};

/// The schedule of one kernel: the decisions the compiler's gaon-npu-tile,
/// gaon-npu-partition and gaon-npu-double-buffer passes make and record on
/// the op as #gaon_npu.schedule, and that the kernels follow.
struct Schedule {
  /// Tile sizes: matmul {m, n, k}, or {m, n, k, 2} where pairs of cores
  /// split K (weight streaming over one row block: each core reads half of
  /// A, partners exchange partial sums over the network); attention
  /// {query block, key block}; row ops (softmax, layer/RMS norm) {rows}.
  std::vector<int64_t> tile;
  Split split = Split::Rows;
  /// Cores that get work (0: every core of the chip).
  unsigned cores = 0;
  /// Scratchpad slots per operand: matmul {A, B, C} (A = 1: A stays
  /// resident, loaded once); attention {Q, K/V, scores}; row ops {in, out}.
  /// Empty: the kernel's default buffering.
  std::vector<int64_t> buffers;
  /// Matmul with a constant B and A resident: each core's whole slice of
  /// B is loaded into free scratchpad before the kernel's fence, behind the
  /// previous kernel's last loads, so it streams while that kernel
  /// finishes. Only valid when no earlier kernel writes B (weights).
  bool prefetch = false;
};

/// Where attention finds one [B, H, S, D] operand: element (b, h, s, d) at
/// addr + (b * batch + h * head + s * row + d) * element bytes. A
/// projection's token-major output [B, S, W] holding head h at columns
/// [c + h * D, ...) is addr + c, batch = S * W, head = D, row = W.
struct HeadStrides {
  int64_t batch = 0, head = 0, row = 0;
};
/// Strides of q, k, v and out; unset (all zero) means dense [B, H, S, D].
struct AttentionLayout {
  HeadStrides q, k, v, out;
};

/// What a kernel computes, for scheduling (tensor addresses are ignored).
struct MatmulProblem {
  Tensor a, b, out;
  Epilogue epilogue;
  /// B is a constant no kernel writes (weights): it may be prefetched.
  bool constantB = false;
};
struct AttentionProblem {
  Tensor q, k, v;
  std::optional<Tensor> mask;
  Tensor out;
};
enum class RowKind { Softmax, LayerNorm, RmsNorm };
struct RowProblem {
  RowKind kind = RowKind::Softmax;
  Tensor in, out;
  std::optional<Tensor> scale, bias;
};
using Problem = std::variant<MatmulProblem, AttentionProblem, RowProblem>;

/// The scheduling steps, in the order the compiler runs them.
enum class PlanStep {
  Tile,      ///< Sets `tile`: the largest tiles whose double-buffered slots
             ///< fit the scratchpad (and that leave work for every core).
  Partition, ///< Sets `split` and `cores` for the tiles chosen.
  Buffer,    ///< Sets `buffers` (deeper where the scratchpad allows),
             ///< checked against the scratchpad with the tiles chosen.
};

/// Runs one scheduling step on `schedule` (the earlier steps must have
/// run). Never throws: returns an empty string, or why no schedule fits
/// (e.g. "layerNorm: a row of 1048576 elements does not fit ...").
std::string planStep(const npu_sim::ChipDesc &chip, const Problem &problem,
                     PlanStep step, Schedule &schedule);
/// The library's own choice: every step in order. Throws KernelError.
Schedule defaultSchedule(const npu_sim::ChipDesc &chip, const Problem &problem);
/// Scratchpad bytes per core that `schedule` needs for `problem` (all steps
/// run). Throws KernelError on a malformed problem.
uint64_t scheduleBytes(const npu_sim::ChipDesc &chip, const Problem &problem,
                       const Schedule &schedule);

class StreamEmitter {
public:
  /// Appends to `stream` (creating one program per core of `chip`).
  StreamEmitter(npu_sim::Stream &stream, const npu_sim::ChipDesc &chip);

  /// NumPy matmul: [..., M, K] x [..., K, N] -> [..., M, N] with broadcast
  /// batch dims; a rank-1 A is [1, K], a rank-1 B is [K, 1] (dim dropped in
  /// out). A and B share one float dtype; out, bias, residual any float.
  /// `schedule` (from the compiler's passes) or, when null, the default.
  void matmul(const Tensor &a, const Tensor &b, const Tensor &out,
              const Epilogue &ep = {}, const Schedule *schedule = nullptr);
  /// out = a op b (add sub mul div max min) with NumPy broadcasting.
  void binary(npu_sim::VecOp op, const Tensor &a, const Tensor &b,
              const Tensor &out);
  /// out = f(in) for a unary VecOp; Scale computes in * alpha + beta.
  void unary(npu_sim::VecOp op, const Tensor &in, const Tensor &out,
             float alpha = 1, float beta = 0);
  /// out = act(in) for activations the ISA has no single op for.
  void activation(Activation act, const Tensor &in, const Tensor &out);
  /// Converts dtype (round to nearest even, integers saturate).
  void cast(const Tensor &in, const Tensor &out);
  /// out = cond != 0 ? a : b, broadcasting all three.
  void select(const Tensor &cond, const Tensor &a, const Tensor &b,
              const Tensor &out);
  /// Reduces `axes` (negative counts from the end; empty: all). `out` holds
  /// the kept dims in order, with or without the reduced dims kept as 1.
  void reduce(ReduceOp op, const Tensor &in, const std::vector<int64_t> &axes,
              const Tensor &out);
  /// Cumulative sum along `axis` (negative counts from the end): exclusive
  /// sums the elements before each position (the first gets 0), reverse
  /// sums from the end. Exact on integers (wrapping as their dtype); bf16,
  /// fp16 and fp8 accumulate in fp32 and are rounded once.
  void cumsum(const Tensor &in, int64_t axis, bool exclusive, bool reverse,
              const Tensor &out);
  /// Dynamic per-tensor int8 quantization (gaon_npu.quantize): with m =
  /// max|in| + 1e-30 over the whole tensor, q = in * (127 / m) rounded half
  /// to even (int8, shape of `in`) and dequant = weightScale * (m / 127)
  /// (one f32 each).
  void quantize(const Tensor &in, const Tensor &weightScale, const Tensor &q,
                const Tensor &dequant);
  /// Over the last axis.
  void softmax(const Tensor &in, const Tensor &out,
               const Schedule *schedule = nullptr);
  /// Over the last axis; scale and bias have last-dim elements.
  void layerNorm(const Tensor &in, const Tensor &scale, const Tensor *bias,
                 double eps, const Tensor &out,
                 const Schedule *schedule = nullptr);
  /// Without a scale (null): the bare normalisation, plus the bias if any
  /// (a norm whose scale and shift were folded into the next matmuls).
  void layerNorm(const Tensor &in, const Tensor *scale, const Tensor *bias,
                 double eps, const Tensor &out,
                 const Schedule *schedule = nullptr);
  void rmsNorm(const Tensor &in, const Tensor &scale, double eps,
               const Tensor &out, const Schedule *schedule = nullptr);
  /// Flash attention: q [B, H, Sq, D], k [B, Hkv, Sk, D], v [B, Hkv, Sk, Dv]
  /// (H a multiple of Hkv), out [B, H, Sq, Dv]; mask (additive, float)
  /// broadcastable to [B, H, Sq, Sk]; causal keeps key j <= query i
  /// (top-left aligned, as torch's is_causal). Scores stay in scratchpad.
  void attention(const Tensor &q, const Tensor &k, const Tensor &v,
                 const Tensor *mask, double scale, bool causal,
                 const Tensor &out, const Schedule *schedule = nullptr,
                 const AttentionLayout *layout = nullptr);
  /// out[i, ...] = table[indices[i], ...] (embedding lookup, axis 0).
  void gatherRows(const Tensor &table, const Tensor &indices,
                  const Tensor &out);
  /// ONNX GatherElements: out[.., j, ..] = data[.., indices[.., j, ..], ..]
  /// along `axis` (negative indices count from the end; out of range is a
  /// run-time SimError). out has the indices' shape and the data's dtype.
  void gatherElements(const Tensor &data, const Tensor &indices, int64_t axis,
                      const Tensor &out);
  /// out = in permuted (out.shape[i] == in.shape[perm[i]]).
  void transpose(const Tensor &in, const std::vector<int64_t> &perm,
                 const Tensor &out);
  /// Same elements, any shapes of equal size (reshape materialisation);
  /// dtypes must match (use cast otherwise).
  void copy(const Tensor &in, const Tensor &out);
  /// out[i] = in[starts + i * steps] per axis (steps > 0).
  void slice(const Tensor &in, const std::vector<int64_t> &starts,
             const std::vector<int64_t> &steps, const Tensor &out);
  void concat(const std::vector<Tensor> &ins, int64_t axis, const Tensor &out);
  void broadcastTo(const Tensor &in, const Tensor &out);

  /// What keepActivationsOnChip moved off DRAM.
  struct OnChipStats {
    unsigned ranges = 0; ///< Values kept on chip.
    uint64_t bytes = 0;  ///< Their total size.
  };
  /// Call once, after the last kernel (OnChipActivations.cpp). On a chip
  /// with multicast DMA, every byte range inside [arenaLo, arenaHi) (the
  /// compiler's activation arena: never a model input or output) that one
  /// kernel writes with plain DMAs and later kernels only read with DMAs
  /// or gathers, before any kernel writes it again, stays on chip: its
  /// stores become multicasts into one free scratchpad range of every core
  /// (free from the producer to the last reader, prefetched weights
  /// included) and its loads read the executing core's copy. The fences
  /// already order the stores before the loads. Ranges that do not fit
  /// stay in DRAM; so does everything on a chip without multicast.
  OnChipStats keepActivationsOnChip(uint64_t arenaLo, uint64_t arenaHi);

  const npu_sim::ChipDesc &chip() const { return chipDesc; }
  /// Kernels appended so far.
  int kernels() const { return kernelCount; }

  struct Impl; // Internal helpers (lib/Common.h).
  /// Scratchpad offsets a kernel used (any core): [lo, hi).
  struct SpmUse {
    uint64_t lo = UINT64_MAX, hi = 0;
    void add(uint64_t from, uint64_t to) {
      lo = from < lo ? from : lo;
      hi = to > hi ? to : hi;
    }
  };

  /// What the emitter knows of each kernel it appended, so that a later
  /// matmul can have its weights loaded while earlier kernels run.
  struct KernelRecord {
    std::vector<size_t> start; ///< Per core: program index of its fence.
    SpmUse spm;                ///< Scratchpad it uses.
    double cycles = 0;         ///< Estimated duration (closeRecord).
    double dramBytes = 0;      ///< Its own DRAM traffic.
    double hosted = 0;         ///< Prefetched bytes other kernels put in it.
    /// Whether dma0 waits on the kernel's own work (attention, streamed
    /// matmuls); otherwise it is done after its first dma0Busy cycles.
    bool dma0Waits = false;
    /// Busiest core's busy cycles of dma0 and of the storing (last) engine.
    double dma0Busy = 0, storerBusy = 0;
    bool closed = false;
  };
  /// A prefetched weight slice, in scratchpad [lo, hi) of every core from
  /// its first host kernel to the kernel that reads it.
  struct PrefetchRegion {
    uint64_t lo = 0, hi = 0;
    size_t host = 0, consumer = 0;
  };

private:
  void beginKernel();
  /// A matmul whose schedule splits K over pairs of cores (tile {m, n, k,
  /// 2}; Matmul.cpp).
  void matmulKSplit(const Tensor &a, const Tensor &b, const Tensor &out,
                    const Epilogue &ep, const Schedule &sched);
  /// Estimates the duration and DRAM traffic of the last kernel appended.
  void closeRecord();
  /// Loads each core's B blocks of a weight-streaming matmul (the next
  /// kernel) into the top of its scratchpad during earlier kernels
  /// (Matmul.cpp). Returns false, having emitted nothing, when no region
  /// fits (or, with `mustFit`, when the hosts' spare DRAM time takes less
  /// than half of it); else sets the per-core region's size and offset.
  /// With `hostedItems` >= 0 the region still holds all of a core's
  /// blocks, but only its first `hostedItems` are loaded by earlier kernels
  /// (the matmul loads the rest itself).
  bool prefetchWeights(const Tensor &b, int64_t bOff, int64_t K, int64_t N,
                       int64_t tk, int64_t tn, unsigned e, int64_t total,
                       int64_t mTiles, int64_t nTiles, bool colSplit,
                       unsigned useCores, uint64_t own, uint64_t &region,
                       uint64_t &regionAt, bool mustFit = false,
                       int64_t hostedItems = -1, bool deep = false);
  /// Appends the k-slice loads of B's column block at n0 into scratchpad
  /// offset `at` (relative to a prefetch region) of `core`.
  static void appendBlockLoads(std::vector<npu_sim::DmaCmd> &loads,
                               const Tensor &b, int64_t bOff, int64_t K,
                               int64_t N, int64_t tk, int64_t tn, unsigned e,
                               int64_t n0, uint64_t at, unsigned core);
  /// Places a prefetch region of `region` bytes per core above `own` bytes
  /// and spreads each core's `chunks` (destinations relative to the
  /// region) over earlier kernels; false, having emitted nothing, when no
  /// region fits, or with `mustFit` when the hosts' spare DRAM time holds
  /// less than half of it (otherwise the previous kernel takes the rest).
  bool hostPrefetch(std::vector<std::vector<npu_sim::DmaCmd>> &chunks,
                    uint64_t own, uint64_t region, uint64_t &regionAt,
                    bool mustFit = false, bool deep = false);
  /// Kernels that may host a prefetch, counting back from the previous one.
  static constexpr size_t kPrefetchDepth = 8;
  /// The same for a slice of B too large to prefetch whole: as far back as
  /// its region fits (GPT-2 small's LM head over its 12 layers).
  static constexpr size_t kDeepPrefetchDepth = 1024;
  /// The earlier kernels, nearest first, that could host a prefetch region
  /// of `region` bytes per core above `own` (up to kPrefetchDepth of them,
  /// or kDeepPrefetchDepth when `deep`, while the region fits), each with
  /// where the region would sit and its spare DRAM bytes.
  struct PrefetchHosts {
    struct Host {
      size_t host = 0;
      uint64_t at = 0;
      double spare = 0;
    };
    std::vector<Host> hosts;
  };
  PrefetchHosts prefetchHosts(uint64_t own, uint64_t region, bool deep);
  /// Of the kernel being emitted (reset by beginKernel).
  SpmUse spmUse;
  std::vector<KernelRecord> records;
  std::vector<PrefetchRegion> regions;
  npu_sim::Stream &stream;
  npu_sim::ChipDesc chipDesc;
  int kernelCount = 0;
};

} // namespace gaon::npu_kernels

#endif // GAON_NPU_KERNELS_KERNELS_H
