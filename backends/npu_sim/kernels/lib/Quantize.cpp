//===- Quantize.cpp - dynamic per-tensor int8 quantization ----------------===//
//
// q = saturate(round_half_even(x * 127 / m)), m = max|x| + 1e-30 over the
// whole tensor, and dequant = weight_scale * m / 127 (gaon_npu.quantize).
//
// Rows are split over cores. Each core brings its rows in (kept resident
// when they fit, so they are read once), takes |x| and the row maxima on
// the vector unit, and reduces them to one value. The cores then exchange
// their maxima over the network (4 bytes to every other core, one
// semaphore), so every core derives the same scale without a second kernel
// or a DRAM round trip, and quantizes its rows: x * (127 / m) in fp32, then
// `round` (half to even) stored as int8.
// Core 0 also writes the dequant scale.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace {

enum : uint16_t {
  kIn = kKernelSem, // a chunk of rows loaded (loader -> vector)
  kInFree,          // a streamed chunk's slot consumed (vector -> loader)
  kQDone,           // a chunk quantized (vector -> storer)
  kQFree,           // a streamed int8 slot stored (storer -> vector)
  kMaxReady,        // this core's maximum computed (vector -> storer)
  kPeerMax,         // another core's maximum arrived (remote -> vector)
  kScaleIn,         // the weight scale loaded (loader -> vector, core 0)
  kDequantOut,      // the dequant scale computed (vector -> storer, core 0)
  kIn1,             // resident: a chunk loaded by the second engine
};

constexpr float kTiny = 1e-30f;

} // namespace

void StreamEmitter::quantize(const Tensor &in, const Tensor &weightScale,
                             const Tensor &q, const Tensor &dequant) {
  const std::string kernel = "quantize";
  if (!isFloatType(in.dtype))
    fail(kernel, std::string("input must be a float tensor, not ") +
                     dtypeName(in.dtype));
  if (q.dtype != DType::I8 || q.shape != in.shape)
    fail(kernel,
         "result must be int8 of the input's shape " + shapeStr(in.shape));
  if (weightScale.dtype != DType::F32 || weightScale.numel() != 1 ||
      dequant.dtype != DType::F32 || dequant.numel() != 1)
    fail(kernel, "weight and dequant scales must be one f32 each");
  Ctx ctx{stream, chipDesc, &spmUse};
  for (VecOp op : {VecOp::Abs, VecOp::ReduceMax, VecOp::Recip, VecOp::Round})
    ctx.needVecOp(kernel, op);

  const int64_t L = in.shape.empty() ? 1 : in.shape.back();
  const int64_t R = L ? in.numel() / L : 0;
  const unsigned e = dtypeBytes(in.dtype);
  const unsigned used =
      static_cast<unsigned>(std::clamp<int64_t>(R, 1, ctx.cores()));
  const int64_t share = ceilDiv(std::max<int64_t>(R, 1), used);
  // Chunks of ~8k elements pipeline load, vector work and store finely.
  const int64_t tr =
      std::clamp<int64_t>(8192 / std::max<int64_t>(L, 1), 1, share);
  const uint64_t capacity = chipDesc.scratchpad.bytes;
  const uint64_t fixed = 64 * (4 + used) + uint64_t(share) * 4 +
                         uint64_t(tr) * L * 4 /* |x| in fp32 */;
  // Resident: all of a core's rows (and their int8 results) stay in the
  // scratchpad; otherwise both passes stream two-slot rings of chunks.
  const bool resident =
      fixed + uint64_t(share) * L * (e + 1) + 1024 <= capacity;
  if (!resident && fixed + uint64_t(tr) * L * 2 * (e + 1) + 1024 > capacity)
    fail(kernel, "a row of " + std::to_string(L) +
                     " elements does not fit the scratchpad of chip " +
                     chipDesc.name);
  beginKernel();
  if (R == 0 || L == 0)
    return;

  SpmAlloc spm{kernel, capacity, 0, ctx.use};
  const uint64_t maxima = spm.take(64 * used); // one per core, 4 bytes each
  const uint64_t scalars = spm.take(64);       // m, 127 / m, m / 127, w
  const uint64_t dqAt = spm.take(64);
  const uint64_t stats = spm.take(uint64_t(share) * 4);
  const uint64_t absAt = spm.take(uint64_t(tr) * L * 4);
  const int64_t inSlots = resident ? ceilDiv(share, tr) : 2;
  uint64_t inAt = spm.take(uint64_t(inSlots) * tr * L * e),
           qAt = spm.take(uint64_t(inSlots) * tr * L);
  const VecOperand gmax{scalars, 4, DType::F32},
      inv{scalars + 4, 4, DType::F32}, scale{scalars + 8, 4, DType::F32},
      wScale{scalars + 12, 4, DType::F32};

  UnitRef loader = ctx.loader(), storer = ctx.storer(),
          vector = UnitRef::vector();
  for (unsigned c = 0; c < used; ++c) {
    const int64_t r0 = splitBegin(R, used, c), r1 = splitBegin(R, used, c + 1);
    const int64_t chunks = ceilDiv(r1 - r0, tr);
    CoreBuilder b = ctx.core(c);
    auto rowsOf = [&](int64_t i) {
      return static_cast<uint32_t>(std::min(tr, r1 - r0 - i * tr));
    };
    auto inSlot = [&](int64_t i) {
      return inAt + uint64_t(i % inSlots) * tr * L * e;
    };
    auto qSlot = [&](int64_t i) {
      return qAt + uint64_t(i % inSlots) * tr * L;
    };
    // Loads: pass 1, and pass 2 again when not resident. A streamed slot is
    // reused two loads later, once the vector unit hands it back. Resident
    // chunks alternate between two engines (a 12 KB load is mostly fixed
    // DMA latency: one engine alone left the vector unit waiting).
    const int64_t loads = resident ? chunks : 2 * chunks;
    const bool twoEngines = resident && chipDesc.dma.engines >= 2;
    auto engineOf = [&](int64_t j) {
      return twoEngines && j % 2 ? storer : loader;
    };
    auto loadedSem = [&](int64_t j) -> uint16_t {
      return twoEngines && j % 2 ? kIn1 : kIn;
    };
    if (c == 0) {
      b.dma(loader.index, b.spm(wScale.addr), MemRef::dram(weightScale.addr),
            4);
      b.signal(loader, kScaleIn);
    }
    for (int64_t j = 0; j < loads; ++j) {
      int64_t i = j % chunks;
      if (!resident && j >= 2)
        b.wait(loader, kInFree);
      b.dma(engineOf(j).index, b.spm(inSlot(j)),
            MemRef::dram(in.addr + uint64_t(r0 + i * tr) * L * e),
            static_cast<uint32_t>(rowsOf(i) * L * e));
      b.signal(engineOf(j), loadedSem(j));
    }
    auto consumed = [&](int64_t j) { b.wait(vector, loadedSem(j)); };
    auto release = [&](int64_t j) {
      if (!resident && j + 2 < loads)
        b.signal(vector, kInFree);
    };

    // Pass 1: row maxima of |x|, then this core's maximum.
    for (int64_t i = 0; i < chunks; ++i) {
      consumed(i);
      uint32_t n = rowsOf(i), cols = static_cast<uint32_t>(L);
      vec(b, VecOp::Abs, n, cols, {absAt, cols * 4, DType::F32},
          {inSlot(i), cols * e, in.dtype});
      vec(b, VecOp::ReduceMax, n, cols,
          {stats + uint64_t(i * tr) * 4, 4, DType::F32},
          {absAt, cols * 4, DType::F32});
      release(i);
    }
    const uint32_t nr = static_cast<uint32_t>(r1 - r0);
    const VecOperand mine{maxima + uint64_t(c) * 4, 4, DType::F32};
    vec(b, VecOp::ReduceMax, 1, nr, mine, {stats, nr * 4, DType::F32});
    // Every other core gets this maximum at the same offset.
    if (used > 1) {
      b.signal(vector, kMaxReady);
      b.wait(storer, kMaxReady);
      for (unsigned d = 0; d < used; ++d) {
        if (d == c)
          continue;
        b.dma(storer.index, MemRef::spm(static_cast<uint16_t>(d), mine.addr),
              b.spm(mine.addr), 4);
        b.signal(storer, kPeerMax, 1, static_cast<int>(d));
      }
      b.wait(vector, kPeerMax, used - 1);
    }
    // m = max + tiny (an all-zero tensor quantizes to zeros), 127 / m and
    // the scale m / 127.
    vec(b, VecOp::ReduceMax, 1, used, gmax, {maxima, used * 4, DType::F32});
    vec(b, VecOp::Scale, 1, 1, gmax, gmax, {}, Broadcast::None, 1.0f, kTiny);
    vec(b, VecOp::Recip, 1, 1, inv, gmax);
    vec(b, VecOp::Scale, 1, 1, inv, inv, {}, Broadcast::None, 127.0f, 0.0f);
    vec(b, VecOp::Scale, 1, 1, scale, gmax, {}, Broadcast::None, 1.0f / 127.0f,
        0.0f);
    if (c == 0) {
      b.wait(vector, kScaleIn);
      vec(b, VecOp::Mul, 1, 1, {dqAt, 4, DType::F32}, wScale, scale);
      b.signal(vector, kDequantOut);
    }

    // Pass 2: x * (127 / m), stored as int8.
    for (int64_t i = 0; i < chunks; ++i) {
      int64_t j = resident ? i : chunks + i;
      if (!resident)
        consumed(j);
      if (!resident && i >= 2)
        b.wait(vector, kQFree);
      uint32_t n = rowsOf(i), cols = static_cast<uint32_t>(L);
      // Stores to int8 truncate, so the product rounds first (in fp32).
      vec(b, VecOp::Mul, n, cols, {absAt, cols * 4, DType::F32},
          {resident ? inSlot(i) : inSlot(j), cols * e, in.dtype}, inv,
          Broadcast::Scalar);
      vec(b, VecOp::Round, n, cols, {qSlot(i), cols, DType::I8},
          {absAt, cols * 4, DType::F32});
      b.signal(vector, kQDone);
      if (!resident)
        release(j);
    }
    if (c == 0) {
      b.wait(storer, kDequantOut);
      b.dma(storer.index, MemRef::dram(dequant.addr), b.spm(dqAt), 4);
    }
    for (int64_t i = 0; i < chunks; ++i) {
      b.wait(storer, kQDone);
      b.dma(storer.index, MemRef::dram(q.addr + uint64_t(r0 + i * tr) * L),
            b.spm(qSlot(i)), static_cast<uint32_t>(rowsOf(i) * L));
      if (!resident && i + 2 < chunks)
        b.signal(storer, kQFree);
    }
  }
}

} // namespace gaon::npu_kernels
