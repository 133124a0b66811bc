//===- Attention.cpp - Flash attention (online softmax, scores on chip) ---===//
//
// Work items are (batch, head, query block), dealt to cores by cost.
// Per key block the tensor unit computes S = Q K^T into one of two fp32
// score slots while the vector unit runs the online softmax of the other
// (running max m, running sum l, O rescaled by exp(m_old - m_new)) and
// writes P = exp(S - m) in the input dtype; the tensor unit accumulates
// P V into the item's fp32 O. An item's O / l runs after the next item's
// first block, so the vector unit never waits for the last P V. dma0 loads
// Q (two slots) and K/V/mask blocks (the schedule's buffers[1] slots); the
// last engine stores finished O blocks. Scores never reach DRAM.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace {

enum : uint16_t {
  kQFull = kKernelSem, // Q block loaded (dma0 -> tensor)
  kQFree,              // Q block's last QK done (tensor -> dma0)
  kKVFull,             // K/V block loaded (dma0 -> tensor)
  kKVFree,             // K/V block's PV done (tensor -> dma0)
  kMaskFull,           // mask block loaded (dma0 -> vector)
  kMaskFree,           // mask block used (vector -> dma0)
  kSFull,              // scores ready (tensor -> vector)
  kPReady,             // P cast and O rescaled (vector -> tensor)
  kPVDone,             // P V accumulated into O (tensor -> vector)
  kODone,              // O block normalised (vector -> storer)
  kOFree,              // O block stored (storer -> vector)
  kQScaled,            // Q block scaled in place (vector -> tensor)
  kConsts,             // rows of ones and 1 / scale made (vector -> dma0)
};

struct Step {
  int64_t item, b, h, q0, nq, k0, nk;
  bool first, last;
};

/// An attention problem after checking.
struct AttnShape {
  int64_t B = 0, H = 0, Sq = 0, D = 0, Hkv = 0, Sk = 0, Dv = 0;
  DType type = DType::F32;
  unsigned e = 0, eo = 0, em = 0;
  bool mask = false, maskCol = false, maskRow = false;
  std::vector<int64_t> maskStr;
};

AttnShape analyze(const ChipDesc &chip, const Tensor &q, const Tensor &k,
                  const Tensor &v, const Tensor *mask, const Tensor &out) {
  const std::string kernel = "attention";
  Stream scratch;
  Ctx ctx{scratch, chip};
  if (q.shape.size() != 4 || k.shape.size() != 4 || v.shape.size() != 4 ||
      out.shape.size() != 4)
    fail(kernel, "q, k, v and out must be rank 4 [B, H, S, D]");
  AttnShape a;
  a.B = q.shape[0], a.H = q.shape[1], a.Sq = q.shape[2], a.D = q.shape[3];
  a.Hkv = k.shape[1], a.Sk = k.shape[2], a.Dv = v.shape[3];
  if (k.shape[0] != a.B || v.shape[0] != a.B || k.shape[3] != a.D ||
      v.shape[1] != a.Hkv || v.shape[2] != a.Sk || a.Hkv == 0 ||
      a.H % a.Hkv != 0)
    fail(kernel, "shapes q " + shapeStr(q.shape) + ", k " + shapeStr(k.shape) +
                     ", v " + shapeStr(v.shape) + " do not agree");
  if (out.shape != std::vector<int64_t>{a.B, a.H, a.Sq, a.Dv})
    fail(kernel, "out must be " + shapeStr({a.B, a.H, a.Sq, a.Dv}));
  a.type = q.dtype;
  if (k.dtype != a.type || v.dtype != a.type || !isFloatType(a.type) ||
      chip.peakMacsPerCycle(a.type) <= 0)
    fail(kernel, "q, k, v must share a float dtype the tensor unit runs");
  if (!isFloatType(out.dtype) || (mask && !isFloatType(mask->dtype)))
    fail(kernel, "out and mask must be float (additive mask)");
  if (mask)
    a.maskStr = broadcastStrides(kernel, *mask, {a.B, a.H, a.Sq, a.Sk});
  ctx.needVecOp(kernel, VecOp::Exp);
  ctx.needVecOp(kernel, VecOp::Recip);
  a.e = dtypeBytes(a.type);
  a.eo = dtypeBytes(out.dtype);
  a.mask = mask != nullptr;
  a.em = mask ? dtypeBytes(mask->dtype) : 0;
  a.maskCol = mask && a.maskStr[3] == 0 && a.Sk > 1;
  // One row for every query (padding masks [B, 1, 1, Sk]): loaded once per
  // block and broadcast by the vector unit, not repeated by the DMA (a
  // repeated DRAM row streams from one channel).
  a.maskRow = mask && !a.maskCol && a.maskStr[2] == 0;
  return a;
}

/// Scratchpad bytes per core: three Q slots, two of the other blocks,
/// `kv` of the K, V and mask blocks, rows of ones and 1 / scale (and
/// their scratch), the extra column of Q and K when the mask is folded.
uint64_t footprint(const AttnShape &a, int64_t tq, int64_t tk, int64_t kv = 2) {
  return 3 * tq * (a.D + 1) * a.e + 4 * std::max(tk, tq) * a.e + kv * tk * a.e +
         64 +
         2 * (tq * tk * 4 + tq * tk * a.e + tq * a.Dv * 4 + tq * a.Dv * a.eo) +
         kv * (tk * a.D * a.e + tk * a.Dv * a.e +
               (a.mask ? (a.maskCol ? tq : tq * tk) * a.em : 0)) +
         8 * tq * 4 + 24 * 64;
}

} // namespace

namespace detail {

uint64_t attentionBytes(const ChipDesc &chip, const AttentionProblem &p,
                        const Schedule &s) {
  AttnShape a =
      analyze(chip, p.q, p.k, p.v, p.mask ? &*p.mask : nullptr, p.out);
  if (s.tile.size() != 2)
    fail("attention", "a schedule needs tile {query block, key block}");
  return footprint(a, s.tile[0], s.tile[1],
                   s.buffers.size() == 3 ? s.buffers[1] : 2);
}

void planAttention(const ChipDesc &chip, const AttentionProblem &p,
                   PlanStep step, Schedule &s) {
  const std::string kernel = "attention";
  AttnShape a =
      analyze(chip, p.q, p.k, p.v, p.mask ? &*p.mask : nullptr, p.out);
  if (step == PlanStep::Tile) {
    // Blocks of at least one array fold; key blocks as wide as the vector
    // unit (the online softmax costs per row and lane group, so a narrower
    // score tile leaves lanes idle); halved until two of each fit.
    const TensorUnitDesc &tu = chip.tensor;
    int64_t tq = std::clamp<int64_t>(a.Sq, 1, std::max<int64_t>(128, tu.rows));
    // Key blocks span up to 1024 keys (four vector widths on RNGD): each
    // further block of an item costs the online softmax a rescale of O and
    // a handful of statistics ops.
    int64_t tk = std::clamp<int64_t>(
        a.Sk, 1,
        std::max<int64_t>({1024, tu.cols, int64_t(chip.vector.lanes)}));
    // Halve the query block while that evens out the cores' work (12
    // heads of one 128-query block leave 4 of 8 cores doing two).
    auto perCore = [&](int64_t q) {
      return ceilDiv(a.B * a.H * ceilDiv(a.Sq, q), chip.cores) * q;
    };
    while (tq >= 2 * std::max<int64_t>(32, tu.rows / 4) &&
           perCore(tq / 2) < perCore(tq))
      tq /= 2;
    while (footprint(a, tq, tk) > chip.scratchpad.bytes) {
      if (tq <= 1 && tk <= 1)
        fail(kernel, "head dim " + std::to_string(a.D) +
                         " is too large for the scratchpad of chip " +
                         chip.name + " (" +
                         std::to_string(chip.scratchpad.bytes) +
                         " bytes per core)");
      (tq >= tk ? tq : tk) = std::max<int64_t>(1, (tq >= tk ? tq : tk) / 2);
    }
    s.tile = {tq, tk};
    return;
  }
  if (s.tile.size() != 2)
    fail(kernel, "tile sizes {query block, key block} must be chosen first");
  if (step == PlanStep::Partition) {
    // (batch, head, query block) items round-robin: heads are independent.
    int64_t items = a.B * a.H * ceilDiv(a.Sq, s.tile[0]);
    s.split = Split::Heads;
    s.cores = static_cast<unsigned>(std::clamp<int64_t>(items, 1, chip.cores));
    return;
  }
  uint64_t need = footprint(a, s.tile[0], s.tile[1]);
  if (need > chip.scratchpad.bytes)
    fail(kernel, "blocks [" + std::to_string(s.tile[0]) + ", " +
                     std::to_string(s.tile[1]) + "] double-buffered need " +
                     std::to_string(need) +
                     " scratchpad bytes per core; chip " + chip.name + " has " +
                     std::to_string(chip.scratchpad.bytes));
  // The online softmax pipelines two score and output blocks; Q gets three
  // slots (the vector unit scales Q one item ahead of its scores); K/V
  // (and mask) blocks get four where they fit, so the loader runs two
  // blocks ahead of the scores (one slot ahead, each block's load waited
  // for a P V).
  int64_t kv =
      footprint(a, s.tile[0], s.tile[1], 4) <= chip.scratchpad.bytes ? 4 : 2;
  s.buffers = {3, kv, 2};
}

} // namespace detail

void StreamEmitter::attention(const Tensor &q, const Tensor &k, const Tensor &v,
                              const Tensor *mask, double scale, bool causal,
                              const Tensor &out, const Schedule *schedule,
                              const AttentionLayout *layout) {
  const std::string kernel = "attention";
  Ctx ctx{stream, chipDesc, &spmUse};
  AttnShape as = analyze(chipDesc, q, k, v, mask, out);
  Schedule sched =
      schedule
          ? *schedule
          : defaultSchedule(chipDesc,
                            AttentionProblem{q, k, v,
                                             mask ? std::optional<Tensor>(*mask)
                                                  : std::nullopt,
                                             out});
  if (sched.tile.size() != 2 || sched.tile[0] < 1 || sched.tile[1] < 1 ||
      sched.split != Split::Heads || sched.buffers.size() != 3 ||
      sched.buffers[0] != 3 || sched.buffers[2] != 2 || sched.buffers[1] < 2 ||
      sched.buffers[1] > 8)
    fail(kernel, "the schedule needs tile {query block, key block} >= 1, "
                 "split heads and buffers {3, 2..8, 2}");
  const int64_t kv = sched.buffers[1];
  // Scale Q once per item instead of every score block when that is exact:
  // a power-of-two scale (1/8 for 64-wide heads), or fp32. A scale of 1
  // (folded into Q's projection: gaon-npu-fold-attention-scale) needs
  // neither.
  const bool unitScale = scale == 1.0;
  int scaleExp = 0;
  bool prescale =
      !unitScale && scale > 0 &&
      (std::frexp(scale, &scaleExp) == 0.5 || q.dtype == DType::F32);
  if (footprint(as, sched.tile[0], sched.tile[1], kv) >
      chipDesc.scratchpad.bytes)
    fail(kernel,
         "the schedule does not fit the scratchpad of chip " + chipDesc.name);
  unsigned useCores =
      sched.cores ? std::min(sched.cores, ctx.cores()) : ctx.cores();
  int64_t B = as.B, H = as.H, Sq = as.Sq, D = as.D, Hkv = as.Hkv, Sk = as.Sk,
          Dv = as.Dv;
  const std::vector<int64_t> &maskStr = as.maskStr;
  DType type = as.type;
  beginKernel();
  if (out.numel() == 0)
    return;
  if (Sk == 0)
    fail(kernel, "no keys (Sk = 0)");

  unsigned e = as.e, eo = as.eo, em = as.em;
  // Operand strides (elements): dense [B, H, S, D] unless a layout says
  // otherwise (head split/merge transposes folded into the DMA).
  auto strides = [](const HeadStrides *given, int64_t heads, int64_t seq,
                    int64_t dim) {
    if (given && given->row)
      return *given;
    return HeadStrides{heads * seq * dim, seq * dim, dim};
  };
  HeadStrides qs = strides(layout ? &layout->q : nullptr, H, Sq, D),
              ks = strides(layout ? &layout->k : nullptr, Hkv, Sk, D),
              vs = strides(layout ? &layout->v : nullptr, Hkv, Sk, Dv),
              os = strides(layout ? &layout->out : nullptr, H, Sq, Dv);
  // Rows [s0, s0 + n) of one head: one contiguous transfer when its rows
  // are packed, else one DMA row per token.
  auto headRows = [](CoreBuilder &b, uint8_t engine, MemRef dst, MemRef src,
                     int64_t dim, unsigned bytes, int64_t n, int64_t rowStride,
                     bool store) {
    if (rowStride == dim) {
      b.dma(engine, dst, src, static_cast<uint32_t>(n * dim * bytes));
      return;
    }
    uint32_t packed = static_cast<uint32_t>(dim * bytes),
             strided = static_cast<uint32_t>(rowStride * bytes);
    b.dma(engine, dst, src, packed, static_cast<uint32_t>(n),
          store ? strided : packed, store ? packed : strided);
  };
  bool maskCol = as.maskCol, maskRow = as.maskRow;
  int64_t tq = sched.tile[0], tk = sched.tile[1];
  SpmAlloc spm{kernel, chipDesc.scratchpad.bytes, 0, ctx.use};
  auto pair = [&](uint64_t n) {
    uint64_t first = spm.take(n);
    return std::array<uint64_t, 2>{first, spm.take(n)};
  };
  auto ring = [&](uint64_t n) {
    std::vector<uint64_t> slots;
    for (int64_t i = 0; i < kv; ++i)
      slots.push_back(spm.take(n));
    return slots;
  };
  // Heads no wider than the array: the tensor unit sums P's rows into l
  // (a 1 x nk row of ones times P^T, one more pass like P V), so the
  // vector unit drops its row sum, 1 of the 8 cycles per lane group of a
  // masked score block. (Wider heads keep the tensor unit busier than
  // the vector unit already.)
  const bool lOnTensor =
      D <= int64_t(chipDesc.tensor.rows) && Dv <= int64_t(chipDesc.tensor.cols);
  // A per-key mask in the input dtype (padding masks) is folded into the
  // scores' matmul: K gets the mask as an extra column, Q a column of
  // ones (1 / scale before Q is scaled in place), so S = Q K^T + mask
  // needs no add on the vector unit (1 of the 7 cycles per lane group
  // left). The extra column fits the array's fold when the head is
  // narrower than the array.
  const bool fold = mask && maskRow && mask->dtype == type &&
                    (prescale || unitScale) &&
                    D + 1 <= int64_t(chipDesc.tensor.rows) &&
                    chipDesc.semaphoresPerCore > kConsts;
  const int64_t dq = fold ? D + 1 : D; // Q and K row pitch (elements)
  std::vector<uint64_t> kSlot = ring(tk * dq * e), vSlot = ring(tk * Dv * e);
  // Q: three slots (the vector unit scales Q one item ahead of its use).
  std::vector<uint64_t> qSlot;
  for (int i = 0; i < 3; ++i)
    qSlot.push_back(spm.take(tq * dq * e));
  auto sSlot = pair(tq * tk * 4), pSlot = pair(tq * tk * e),
       oSlot = pair(tq * Dv * 4), ooSlot = pair(tq * Dv * eo),
       mSlot = pair(tq * 4);
  std::vector<uint64_t> maskSlot(kv, 0);
  if (mask && !fold)
    maskSlot = ring((maskCol ? tq : tq * tk) * em);
  // Per item (two in flight): l; scratch columns for the block statistics,
  // the correction and 1 / l.
  std::array<uint64_t, 2> colL = pair(tq * 4);
  uint64_t colR = spm.take(tq * 4), colT = spm.take(tq * 4),
           colC = spm.take(tq * 4);
  const int64_t onesLen = std::max(tk, tq);
  uint64_t onesRow = spm.take(onesLen * e), onesTmp = spm.take(onesLen * e),
           onesTmp2 = spm.take(onesLen * e);
  // Constants: -inf (the folded causal mask), -FLT_MAX and FLT_MIN (the
  // guards of fully masked rows).
  uint64_t invScaleRow = fold ? spm.take(tq * e) : 0,
           negInfAt = mask ? spm.take(64) : 0, negMaxAt = negInfAt + 4,
           tinyAt = negInfAt + 8;

  int64_t qBlocks = ceilDiv(Sq, tq), items = B * H * qBlocks;
  UnitRef loader = ctx.loader(), storer = ctx.storer();
  UnitRef tensor = UnitRef::tensor(), vector = UnitRef::vector();
  const float negInf = -INFINITY;
  // Items go to the least-loaded core, costliest first (a causal item's
  // cost grows with its keys, so late query blocks are spread instead of
  // all landing on the same core); equal costs deal round-robin.
  auto keysOf = [&](int64_t item) {
    int64_t q0 = item % qBlocks * tq, nq = std::min(tq, Sq - q0);
    return causal ? std::min(Sk, q0 + nq) : Sk;
  };
  // An item's work: the softmax's ~7 ops per row and lane group of its
  // keys (a key block can hold a whole causal row range, so blocks alone
  // do not measure it) plus the tensor unit's passes (Q K^T, P V and,
  // with l on the tensor unit, ones x P^T) per array fold of keys, and a
  // little per block. (Lane groups alone dealt the 896- and 1024-key
  // items of a 1024-token causal attention to different cores: equal
  // softmax work, but 12% more tensor work on half the cores.)
  int64_t lanes = chipDesc.vector.lanes, arr = chipDesc.tensor.rows;
  auto costOf = [&](int64_t item) {
    int64_t keys = keysOf(item);
    int64_t nq = std::min(tq, Sq - item % qBlocks * tq);
    return 7 * nq * ceilDiv(keys, lanes) +
           (lOnTensor ? 3 : 2) * std::max(nq, arr) * ceilDiv(keys, arr) +
           64 * ceilDiv(keys, tk);
  };
  std::vector<int64_t> order(items);
  for (int64_t i = 0; i < items; ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return costOf(x) > costOf(y); });
  std::vector<std::vector<int64_t>> itemsOf(useCores);
  std::vector<int64_t> load(useCores, 0);
  for (int64_t item : order) {
    unsigned best = 0;
    for (unsigned c = 1; c < useCores; ++c)
      if (load[c] < load[best])
        best = c;
    load[best] += costOf(item);
    itemsOf[best].push_back(item);
  }
  for (unsigned core = 0; core < useCores; ++core) {
    std::vector<Step> steps;
    std::sort(itemsOf[core].begin(), itemsOf[core].end());
    for (int64_t item : itemsOf[core]) {
      Step s;
      s.item = item;
      s.b = item / (H * qBlocks);
      s.h = item / qBlocks % H;
      s.q0 = item % qBlocks * tq;
      s.nq = std::min(tq, Sq - s.q0);
      // Top-left causal: query i sees keys j <= i.
      int64_t keys = keysOf(item);
      for (int64_t k0 = 0; k0 < keys; k0 += tk) {
        s.k0 = k0;
        s.nk = std::min(tk, keys - k0);
        s.first = k0 == 0;
        s.last = k0 + tk >= keys;
        steps.push_back(s);
      }
    }
    if (steps.empty())
      continue;
    CoreBuilder cb = ctx.core(core);
    int64_t T = static_cast<int64_t>(steps.size()), itemNo = -1;

    // First step of each item.
    std::vector<int64_t> firstOf;
    for (int64_t t = 0; t < T; ++t)
      if (steps[t].first)
        firstOf.push_back(t);
    int64_t itemCount = static_cast<int64_t>(firstOf.size());
    // Q of item w into slot w % 3 (free once item w - 3's last QK ran).
    auto loadQ = [&](int64_t w) {
      const Step &s = steps[firstOf[w]];
      if (w >= 3)
        cb.wait(loader, kQFree);
      MemRef qSrc = MemRef::dram(
          q.addr + (s.b * qs.batch + s.h * qs.head + s.q0 * qs.row) * e);
      if (fold) {
        // Rows at pitch D + 1; column D gets 1 / scale (1 once scaled).
        cb.dma(0, cb.spm(qSlot[w % 3]), qSrc, static_cast<uint32_t>(D * e),
               static_cast<uint32_t>(s.nq), dq * e, qs.row * e);
        if (w == 0)
          cb.wait(loader, kConsts);
        cb.dma(0, cb.spm(qSlot[w % 3] + D * e), cb.spm(invScaleRow), e,
               static_cast<uint32_t>(s.nq), dq * e, e);
      } else {
        headRows(cb, 0, cb.spm(qSlot[w % 3]), qSrc, D, e, s.nq, qs.row, false);
      }
      cb.signal(loader, kQFull);
    };

    // dma0: Q one item ahead, K/V (and mask) per step.
    itemNo = -1;
    loadQ(0);
    for (int64_t t = 0; t < T; ++t) {
      const Step &s = steps[t];
      int sl = static_cast<int>(t % kv);
      if (s.first && ++itemNo + 1 < itemCount)
        loadQ(itemNo + 1);
      if (t >= kv)
        cb.wait(loader, kKVFree);
      int64_t hk = s.h / (H / Hkv);
      MemRef kSrc = MemRef::dram(
          k.addr + (s.b * ks.batch + hk * ks.head + s.k0 * ks.row) * e);
      if (fold) {
        // Rows at pitch D + 1; column D gets the block's mask.
        cb.dma(0, cb.spm(kSlot[sl]), kSrc, static_cast<uint32_t>(D * e),
               static_cast<uint32_t>(s.nk), dq * e, ks.row * e);
        int64_t at = s.b * maskStr[0] + s.h * maskStr[1] + s.k0 * maskStr[3];
        cb.dma(0, cb.spm(kSlot[sl] + D * e), MemRef::dram(mask->addr + at * em),
               em, static_cast<uint32_t>(s.nk), dq * e, maskStr[3] * em);
      } else {
        headRows(cb, 0, cb.spm(kSlot[sl]), kSrc, D, e, s.nk, ks.row, false);
      }
      headRows(
          cb, 0, cb.spm(vSlot[sl]),
          MemRef::dram(v.addr +
                       (s.b * vs.batch + hk * vs.head + s.k0 * vs.row) * e),
          Dv, e, s.nk, vs.row, false);
      cb.signal(loader, kKVFull);
      if (mask && !fold) {
        if (t >= kv)
          cb.wait(loader, kMaskFree);
        DmaCmd d;
        int64_t at = s.b * maskStr[0] + s.h * maskStr[1] + s.q0 * maskStr[2] +
                     s.k0 * maskStr[3];
        d.src = MemRef::dram(mask->addr + at * em);
        d.dst = cb.spm(maskSlot[sl]);
        d.rows = static_cast<uint32_t>(maskRow ? 1 : s.nq);
        d.srcRowStride = maskStr[2] * em;
        d.rowBytes = static_cast<uint32_t>((maskCol ? 1 : s.nk) * em);
        d.dstRowStride = d.rowBytes;
        cb.dma(0, d);
        cb.signal(loader, kMaskFull);
      }
    }

    // Tensor: QK(t + 1) is issued before PV(t) so the vector unit's softmax
    // of block t overlaps the next block's scores.
    std::vector<int64_t> itemOf(T);
    itemNo = -1;
    for (int64_t t = 0; t < T; ++t)
      itemOf[t] = steps[t].first ? ++itemNo : itemNo;
    auto qk = [&](int64_t t) {
      const Step &s = steps[t];
      cb.wait(tensor, kKVFull);
      if (s.first)
        cb.wait(tensor, prescale ? kQScaled : kQFull);
      MatmulCmd mm;
      mm.m = static_cast<uint32_t>(s.nq);
      mm.n = static_cast<uint32_t>(s.nk);
      mm.k = static_cast<uint32_t>(dq);
      mm.inType = type;
      mm.outType = DType::F32;
      mm.transposeB = true;
      mm.a = qSlot[itemOf[t] % 3];
      mm.lda = static_cast<uint32_t>(dq * e);
      mm.b = kSlot[t % kv];
      mm.ldb = static_cast<uint32_t>(dq * e);
      mm.c = sSlot[t % 2];
      mm.ldc = static_cast<uint32_t>(s.nk * 4); // packed at pitch nk
      cb.matmul(mm);
      cb.signal(tensor, kSFull);
      if (s.last)
        cb.signal(tensor, kQFree);
    };
    qk(0);
    for (int64_t t = 0; t < T; ++t) {
      if (t + 1 < T)
        qk(t + 1);
      const Step &s = steps[t];
      cb.wait(tensor, kPReady);
      MatmulCmd mm;
      mm.m = static_cast<uint32_t>(s.nq);
      mm.n = static_cast<uint32_t>(Dv);
      mm.k = static_cast<uint32_t>(s.nk);
      mm.inType = type;
      mm.outType = DType::F32;
      mm.accumulate = !s.first;
      mm.a = pSlot[t % 2];
      mm.lda = static_cast<uint32_t>(s.nk * e);
      mm.b = vSlot[t % kv];
      mm.ldb = static_cast<uint32_t>(Dv * e);
      mm.c = oSlot[itemOf[t] % 2];
      mm.ldc = static_cast<uint32_t>(Dv * 4);
      cb.matmul(mm);
      if (lOnTensor) {
        // l (a 1 x nq row) += ones (1 x nk) x P^T; the vector unit has
        // rescaled l with O.
        MatmulCmd lm;
        lm.m = 1;
        lm.n = static_cast<uint32_t>(s.nq);
        lm.k = static_cast<uint32_t>(s.nk);
        lm.inType = type;
        lm.outType = DType::F32;
        lm.accumulate = !s.first;
        lm.transposeB = true;
        lm.a = onesRow;
        lm.lda = static_cast<uint32_t>(s.nk * e);
        lm.b = pSlot[t % 2];
        lm.ldb = static_cast<uint32_t>(s.nk * e);
        lm.c = colL[itemOf[t] % 2];
        lm.ldc = static_cast<uint32_t>(s.nq * 4);
        cb.matmul(lm);
      }
      cb.signal(tensor, kKVFree);
      cb.signal(tensor, kPVDone);
    }

    // Vector: online softmax. An item's normalisation (O / l, after its
    // last P V) is deferred past the next item's first block, so the
    // vector unit works on that block while the tensor unit finishes P V
    // instead of waiting for it.
    int cur = 0;
    std::function<void()> pendingFinish;
    // Q scaled in place (exact: a power of two) one item ahead, so the
    // scores need no scaling pass.
    auto scaleQ = [&](int64_t w) {
      if (!prescale || w >= itemCount)
        return;
      uint32_t n = static_cast<uint32_t>(steps[firstOf[w]].nq * dq);
      cb.wait(vector, kQFull);
      vec(cb, VecOp::Scale, 1, n, {qSlot[w % 3], n * e, type},
          {qSlot[w % 3], n * e, type}, {}, Broadcast::None, float(scale), 0);
      cb.signal(vector, kQScaled);
    };
    if (lOnTensor || fold) {
      // A row of ones from whatever the scratchpad holds: x == x is 1
      // unless x is NaN, x != x is 1 only then.
      uint32_t n = static_cast<uint32_t>(onesLen);
      VecOperand raw{onesTmp, n * e, type}, ne{onesTmp2, n * e, type},
          ones{onesRow, n * e, type};
      vec(cb, VecOp::CmpEq, 1, n, ones, raw, raw);
      vec(cb, VecOp::CmpNe, 1, n, ne, raw, raw);
      vec(cb, VecOp::Add, 1, n, ones, ones, ne);
      if (fold) {
        // 1 / scale for Q's extra column, -inf for the causal mask.
        uint32_t nq = static_cast<uint32_t>(tq);
        vec(cb, VecOp::Scale, 1, nq, {invScaleRow, nq * e, type},
            {onesRow, nq * e, type}, {}, Broadcast::None, float(1.0 / scale),
            0);
        vec(cb, VecOp::Scale, 1, 1, {negInfAt, 4, DType::F32},
            {onesRow, e, type}, {}, Broadcast::None, 0, negInf);
        cb.signal(vector, kConsts);
      }
    }
    if (mask) {
      // A masked row can be -inf everywhere (left padding): m starts at
      // max(m, -FLT_MAX) so that S - m stays -inf there (exp: 0) instead of
      // -inf - -inf = NaN, and the normalisation takes 1 / max(l, FLT_MIN)
      // so that such a row's l of 0 gives O = 0, as torch's SDPA does.
      // Both are no-ops on rows with a key left (m finite, l >= 1). The
      // constants come from whatever the scratchpad holds: x < x is 0.
      VecOperand guards{negMaxAt, 8, DType::F32};
      vec(cb, VecOp::CmpLt, 1, 2, guards, guards, guards);
      vec(cb, VecOp::Scale, 1, 1, {negMaxAt, 4, DType::F32},
          {negMaxAt, 4, DType::F32}, {}, Broadcast::None, 1,
          -std::numeric_limits<float>::max());
      vec(cb, VecOp::Scale, 1, 1, {tinyAt, 4, DType::F32},
          {tinyAt, 4, DType::F32}, {}, Broadcast::None, 1,
          std::numeric_limits<float>::min());
    }
    scaleQ(0);
    for (int64_t t = 0; t < T; ++t) {
      const Step &s = steps[t];
      uint32_t r = static_cast<uint32_t>(s.nq), c = static_cast<uint32_t>(s.nk);
      int64_t w = itemOf[t];
      if (s.first)
        scaleQ(w + 1);
      // Score and probability tiles are packed at pitch nk.
      VecOperand S{sSlot[t % 2], c * 4, DType::F32};
      VecOperand P{pSlot[t % 2], c * e, type};
      VecOperand O{oSlot[w % 2], static_cast<uint32_t>(Dv * 4), DType::F32};
      VecOperand mOld{mSlot[cur], 4, DType::F32},
          mNew{mSlot[1 - cur], 4, DType::F32};
      VecOperand l{colL[w % 2], 4, DType::F32}, tmp{colT, 4, DType::F32},
          corr{colC, 4, DType::F32};
      Broadcast none = Broadcast::None, col = Broadcast::Col;
      // The vector unit costs per row and lane group: per-row statistics
      // (r x 1 columns, contiguous) run as one 1 x r row, and elementwise
      // ops over a packed tile as one row of r * c elements.
      auto rowOf = [&](VecOperand v, uint32_t n) {
        return VecOperand{v.addr, n * dtypeBytes(v.type), v.type};
      };
      auto colOp = [&](VecOp op, VecOperand dst, VecOperand a,
                       VecOperand b = {}) {
        vec(cb, op, 1, r, rowOf(dst, r), rowOf(a, r),
            b.stride ? rowOf(b, r) : b);
      };
      auto tileOp = [&](VecOp op, VecOperand dst, VecOperand a, float alpha = 1,
                        float beta = 0) {
        vec(cb, op, 1, r * c, rowOf(dst, r * c), rowOf(a, r * c), {}, none,
            alpha, beta);
      };
      cb.wait(vector, kSFull);
      if (!prescale && !unitScale)
        tileOp(VecOp::Scale, S, S, float(scale), 0);
      if (causal) {
        // Keys past the query's position become -inf (before the mask, so
        // a -inf mask never meets 0 * inf).
        for (int64_t i = 0; i < s.nq; ++i) {
          int64_t from = s.q0 + i - s.k0 + 1;
          if (from >= s.nk)
            continue;
          from = std::max<int64_t>(from, 0);
          VecOperand row{S.addr + i * S.stride + from * 4, S.stride,
                         DType::F32};
          if (fold) // S holds the mask, maybe -inf: 0 * -inf is NaN
            vec(cb, VecOp::Min, 1, static_cast<uint32_t>(s.nk - from), row, row,
                {negInfAt, 4, DType::F32}, Broadcast::Scalar);
          else
            vec(cb, VecOp::Scale, 1, static_cast<uint32_t>(s.nk - from), row,
                row, {}, none, 0, negInf);
        }
      }
      if (mask && !fold) {
        cb.wait(vector, kMaskFull);
        VecOperand m{maskSlot[t % kv],
                     static_cast<uint32_t>((maskCol ? 1 : s.nk) * em),
                     mask->dtype};
        vec(cb, VecOp::Add, r, c, S, S, m,
            maskCol   ? col
            : maskRow ? Broadcast::Row
                      : none);
        cb.signal(vector, kMaskFree);
      }
      // The first block's statistics go straight to m and l.
      vec(cb, VecOp::ReduceMax, r, c, s.first ? mNew : tmp, S);
      if (!s.first)
        colOp(VecOp::Max, mNew, mOld, tmp); // >= -FLT_MAX as mOld is
      else if (mask)
        vec(cb, VecOp::Max, 1, r, rowOf(mNew, r), rowOf(mNew, r),
            {negMaxAt, 0, DType::F32}, Broadcast::Scalar);
      vec(cb, VecOp::Sub, r, c, S, S, mNew, col);
      // exp writes P in the input dtype directly (no separate cast); l sums
      // the rounded P that P V multiplies.
      tileOp(VecOp::Exp, P, S);
      if (!lOnTensor)
        vec(cb, VecOp::ReduceSum, r, c, s.first ? l : tmp, P);
      if (!s.first) {
        colOp(VecOp::Sub, corr, mOld, mNew);
        colOp(VecOp::Exp, corr, corr);
        if (!lOnTensor) {
          colOp(VecOp::Mul, l, l, corr);
          colOp(VecOp::Add, l, l, tmp);
        }
        cb.wait(vector, kPVDone); // O (and l) hold blocks < t
        if (lOnTensor)
          colOp(VecOp::Mul, l, l, corr);
        vec(cb, VecOp::Mul, r, static_cast<uint32_t>(Dv), O, O, corr, col);
      }
      cb.signal(vector, kPReady);
      cur = 1 - cur;
      // The previous item's normalisation waits for its last P V, which
      // the tensor unit ran while this block's softmax did.
      if (s.first && pendingFinish) {
        pendingFinish();
        pendingFinish = nullptr;
      }
      if (s.last) {
        pendingFinish = [&, s, w, r, l, O] {
          cb.wait(vector, kPVDone);
          VecOperand inv{colR, 4, DType::F32};
          if (mask)
            vec(cb, VecOp::Max, 1, r, {l.addr, r * 4, DType::F32},
                {l.addr, r * 4, DType::F32}, {tinyAt, 0, DType::F32},
                Broadcast::Scalar);
          vec(cb, VecOp::Recip, 1, r, {inv.addr, r * 4, DType::F32},
              {l.addr, r * 4, DType::F32});
          if (w >= 2)
            cb.wait(vector, kOFree);
          vec(cb, VecOp::Mul, r, static_cast<uint32_t>(Dv),
              {ooSlot[w % 2], static_cast<uint32_t>(Dv * eo), out.dtype}, O,
              inv, Broadcast::Col);
          cb.signal(vector, kODone);

          cb.wait(storer, kODone);
          headRows(cb, storer.index,
                   MemRef::dram(
                       out.addr +
                       (s.b * os.batch + s.h * os.head + s.q0 * os.row) * eo),
                   cb.spm(ooSlot[w % 2]), Dv, eo, s.nq, os.row, true);
          cb.signal(storer, kOFree);
        };
      }
    }
    if (pendingFinish)
      pendingFinish();
    uint32_t lastSteps = static_cast<uint32_t>(std::min<int64_t>(T, kv)),
             lastItems =
                 static_cast<uint32_t>(std::min<int64_t>(itemNo + 1, 2));
    cb.wait(loader, kKVFree, lastSteps);
    if (mask && !fold)
      cb.wait(loader, kMaskFree, lastSteps);
    cb.wait(loader, kQFree,
            static_cast<uint32_t>(std::min<int64_t>(itemCount, 3)));
    cb.wait(vector, kOFree, lastItems);
  }
}

} // namespace gaon::npu_kernels
