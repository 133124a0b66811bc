//===- Workloads.cpp - Tiled GEMM and BERT-layer stream synthesis ---------===//

#include "gaon/npu_sim/Workloads.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace gaon::npu_sim {

namespace {

// Semaphore ids used by the synthesized programs.
enum : uint16_t {
  kFull = 0,       // +slot: A/B tile loaded (dma0 -> tensor)
  kEmpty = 2,      // +slot: A/B tile consumed (tensor -> dma0)
  kCDone = 4,      // +slot: C tile complete (tensor -> epilogue or store)
  kCFree = 6,      // +slot: C tile buffer reusable (-> tensor)
  kODone = 8,      // +slot: epilogue output ready (vector -> store)
  kOFree = 10,     // +slot: epilogue output stored (store -> vector)
  kEpIn = 12,      // +slot: bias/residual loaded (dma0 -> vector)
  kEpFree = 14,    // +slot: bias/residual consumed (vector -> dma0)
  kPhaseDone = 16, // units -> dma0 before a barrier
  kPhaseGo = 17,   // dma0 -> units after it
  kChainBase = 18, // + from * units + to: program-order hand-offs
};

uint64_t alignUp(uint64_t value, uint64_t align) {
  return (value + align - 1) / align * align;
}

uint32_t unitSlot(const ChipDesc &chip, UnitRef unit) {
  return unit.kind == UnitKind::Dma      ? unit.index
         : unit.kind == UnitKind::Tensor ? chip.dma.engines
                                         : chip.dma.engines + 1;
}

UnitRef slotUnit(const ChipDesc &chip, uint32_t slot) {
  if (slot < chip.dma.engines)
    return UnitRef::dma(static_cast<uint8_t>(slot));
  return slot == chip.dma.engines ? UnitRef::tensor() : UnitRef::vector();
}

// Keeps instructions on different units in program order by a signal/wait
// pair at each hand-off (one counting semaphore per ordered unit pair).
class Chain {
public:
  Chain(const ChipDesc &chip, CoreBuilder &builder)
      : chip(chip), builder(builder) {
    uint32_t units = chip.dma.engines + 2;
    if (kChainBase + units * units > chip.semaphoresPerCore)
      throw SimError("synthesized streams need " +
                     std::to_string(kChainBase + units * units) +
                     " semaphores per core; chip " + chip.name + " has " +
                     std::to_string(chip.semaphoresPerCore));
  }
  CoreBuilder &on(UnitRef unit) {
    uint32_t slot = unitSlot(chip, unit);
    if (last >= 0 && static_cast<uint32_t>(last) != slot) {
      uint16_t sem = static_cast<uint16_t>(
          kChainBase + last * (chip.dma.engines + 2) + slot);
      builder.signal(slotUnit(chip, last), sem);
      builder.wait(unit, sem);
    }
    last = static_cast<int>(slot);
    return builder;
  }
  void reset() { last = -1; }

private:
  const ChipDesc &chip;
  CoreBuilder &builder;
  int last = -1;
};

// Fences every unit of the core, then all cores meet at a barrier.
void phaseBoundary(const ChipDesc &chip, CoreBuilder &builder) {
  uint32_t units = chip.dma.engines + 2;
  for (uint32_t slot = 1; slot < units; ++slot)
    builder.signal(slotUnit(chip, slot), kPhaseDone);
  builder.wait(UnitRef::dma(0), kPhaseDone, units - 1);
  builder.barrier(UnitRef::dma(0), 0);
  builder.signal(UnitRef::dma(0), kPhaseGo, units - 1);
  for (uint32_t slot = 1; slot < units; ++slot)
    builder.wait(slotUnit(chip, slot), kPhaseGo);
}

struct Epilogue {
  uint64_t bias = 0; // DRAM address of a [N] vector, 0: none
  bool gelu = false;
  uint64_t residual = 0; // DRAM address of an [M, N] matrix, 0: none
  uint64_t residualStride = 0;
  DType outType = DType::F32;
  bool any() const { return bias || gelu || residual || outType != DType::F32; }
};

// One core's share of a tiled GEMM: double-buffered A/B tiles on dma0,
// accumulation over K on the tensor unit, an optional vector epilogue, and
// stores on the last DMA engine. Works from scratchpad offset 0.
struct GemmEmitter {
  const ChipDesc &chip;
  CoreBuilder &b;
  uint32_t m, n, k, tm, tn, tk;
  DType type;
  uint64_t aDram, lda, bDram, ldb, cDram, ldc; // DRAM byte strides
  Epilogue epilogue;

  void emit(const std::vector<std::pair<uint32_t, uint32_t>> &tiles) {
    unsigned e = dtypeBytes(type), eo = dtypeBytes(epilogue.outType);
    uint64_t aBytes = uint64_t(tm) * tk * e, bBytes = uint64_t(tk) * tn * e;
    uint64_t cBytes = uint64_t(tm) * tn * 4;
    uint64_t offset = 0;
    auto take = [&](uint64_t bytes) {
      uint64_t at = offset;
      offset = alignUp(offset + bytes, 64);
      return at;
    };
    uint64_t aSlot[2] = {take(aBytes), take(aBytes)};
    uint64_t bSlot[2] = {take(bBytes), take(bBytes)};
    uint64_t cSlot[2] = {take(cBytes), take(cBytes)};
    uint64_t oSlot[2] = {0, 0}, biasSlot[2] = {0, 0}, resSlot[2] = {0, 0},
             gTmp = 0;
    if (epilogue.any()) {
      oSlot[0] = take(uint64_t(tm) * tn * eo);
      oSlot[1] = take(uint64_t(tm) * tn * eo);
      if (epilogue.bias) {
        biasSlot[0] = take(uint64_t(tn) * e);
        biasSlot[1] = take(uint64_t(tn) * e);
      }
      if (epilogue.residual) {
        resSlot[0] = take(uint64_t(tm) * tn * e);
        resSlot[1] = take(uint64_t(tm) * tn * e);
      }
      if (epilogue.gelu)
        gTmp = take(cBytes);
    }
    if (offset > chip.scratchpad.bytes)
      throw SimError("GEMM tiles " + std::to_string(tm) + "x" +
                     std::to_string(tn) + "x" + std::to_string(tk) + " need " +
                     std::to_string(offset) + " scratchpad bytes; chip " +
                     chip.name + " has " +
                     std::to_string(chip.scratchpad.bytes));

    UnitRef loader = UnitRef::dma(0);
    UnitRef storer = UnitRef::dma(static_cast<uint8_t>(chip.dma.engines - 1));
    uint64_t step = 0;
    int64_t aTag[2] = {-1, -1};
    for (size_t t = 0; t < tiles.size(); ++t) {
      uint32_t m0 = tiles[t].first, n0 = tiles[t].second;
      uint32_t rows = std::min(tm, m - m0), cols = std::min(tn, n - n0);
      int cs = static_cast<int>(t % 2);
      bool reuse = t >= 2;
      if (epilogue.bias || epilogue.residual) {
        if (reuse)
          b.wait(loader, kEpFree + cs);
        if (epilogue.bias)
          b.dma(0, b.spm(biasSlot[cs]),
                MemRef::dram(epilogue.bias + uint64_t(n0) * e), cols * e);
        if (epilogue.residual)
          b.dma(0, b.spm(resSlot[cs]),
                MemRef::dram(epilogue.residual + m0 * epilogue.residualStride +
                             uint64_t(n0) * e),
                cols * e, rows, uint64_t(tn) * e, epilogue.residualStride);
        b.signal(loader, kEpIn + cs);
      }
      for (uint32_t k0 = 0; k0 < k; k0 += tk, ++step) {
        uint32_t depth = std::min(tk, k - k0);
        int s = static_cast<int>(step % 2);
        if (step >= 2)
          b.wait(loader, kEmpty + s);
        // A is reused across N tiles of a row block: skip reloading it.
        int64_t tag = int64_t(m0) * k + k0;
        if (aTag[s] != tag) {
          b.dma(0, b.spm(aSlot[s]),
                MemRef::dram(aDram + m0 * lda + uint64_t(k0) * e), depth * e,
                rows, uint64_t(tk) * e, lda);
          aTag[s] = tag;
        }
        b.dma(0, b.spm(bSlot[s]),
              MemRef::dram(bDram + k0 * ldb + uint64_t(n0) * e), cols * e,
              depth, uint64_t(tn) * e, ldb);
        b.signal(loader, kFull + s);

        b.wait(UnitRef::tensor(), kFull + s);
        if (k0 == 0 && reuse)
          b.wait(UnitRef::tensor(), kCFree + cs);
        MatmulCmd mm;
        mm.m = rows;
        mm.n = cols;
        mm.k = depth;
        mm.inType = type;
        mm.outType = DType::F32;
        mm.accumulate = k0 > 0;
        mm.a = aSlot[s];
        mm.lda = tk * e;
        mm.b = bSlot[s];
        mm.ldb = tn * e;
        mm.c = cSlot[cs];
        mm.ldc = tn * 4;
        b.matmul(mm);
        b.signal(UnitRef::tensor(), kEmpty + s);
      }
      b.signal(UnitRef::tensor(), kCDone + cs);

      uint64_t storeFrom = cSlot[cs];
      uint32_t storeStride = tn * 4;
      DType storeType = DType::F32;
      if (epilogue.any()) {
        UnitRef vec = UnitRef::vector();
        b.wait(vec, kCDone + cs);
        if (epilogue.bias || epilogue.residual)
          b.wait(vec, kEpIn + cs);
        VecOperand c{cSlot[cs], tn * 4, DType::F32};
        if (epilogue.bias)
          b.binary(VecOp::Add, rows, cols, c, c, {biasSlot[cs], tn * e, type},
                   Broadcast::Row);
        if (epilogue.gelu) {
          // gelu(x) = x * (0.5 + 0.5 * erf(x / sqrt(2)))
          VecOperand g{gTmp, tn * 4, DType::F32};
          b.unary(VecOp::Scale, rows, cols, g, c, float(M_SQRT1_2), 0.0f);
          b.unary(VecOp::Erf, rows, cols, g, g);
          b.unary(VecOp::Scale, rows, cols, g, g, 0.5f, 0.5f);
          b.binary(VecOp::Mul, rows, cols, c, c, g);
        }
        if (epilogue.residual)
          b.binary(VecOp::Add, rows, cols, c, c, {resSlot[cs], tn * e, type});
        if (reuse)
          b.wait(vec, kOFree + cs);
        b.unary(VecOp::Cast, rows, cols, {oSlot[cs], tn * eo, epilogue.outType},
                c);
        b.signal(vec, kCFree + cs);
        if (epilogue.bias || epilogue.residual)
          b.signal(vec, kEpFree + cs);
        b.signal(vec, kODone + cs);
        b.wait(storer, kODone + cs);
        storeFrom = oSlot[cs];
        storeStride = tn * eo;
        storeType = epilogue.outType;
      } else {
        b.wait(storer, kCDone + cs);
      }
      unsigned es = dtypeBytes(storeType);
      b.dma(storer.index, MemRef::dram(cDram + m0 * ldc + uint64_t(n0) * es),
            b.spm(storeFrom), cols * es, rows, ldc, storeStride);
      b.signal(storer, epilogue.any() ? kOFree + cs : kCFree + cs);
    }
    // Take the hand-backs nobody waited for, so that counts do not leak
    // into the next GEMM on this core.
    for (uint64_t st = step >= 2 ? step - 2 : 0; st < step; ++st)
      b.wait(loader, static_cast<uint16_t>(kEmpty + st % 2));
    for (size_t t = tiles.size() >= 2 ? tiles.size() - 2 : 0; t < tiles.size();
         ++t) {
      uint16_t cs = static_cast<uint16_t>(t % 2);
      b.wait(UnitRef::tensor(), kCFree + cs);
      if (epilogue.any())
        b.wait(UnitRef::vector(), kOFree + cs);
      if (epilogue.bias || epilogue.residual)
        b.wait(loader, kEpFree + cs);
    }
  }
};

std::vector<std::pair<uint32_t, uint32_t>>
tilesForCore(uint32_t m, uint32_t n, uint32_t tm, uint32_t tn, uint32_t core,
             uint32_t cores) {
  std::vector<std::pair<uint32_t, uint32_t>> tiles;
  uint32_t index = 0;
  for (uint32_t m0 = 0; m0 < m; m0 += tm)
    for (uint32_t n0 = 0; n0 < n; n0 += tn, ++index)
      if (index % cores == core)
        tiles.push_back({m0, n0});
  return tiles;
}

} // namespace

GemmSpec resolveGemmTiles(const ChipDesc &chip, GemmSpec spec) {
  double pack =
      std::max(1.0, std::floor(chip.peakMacsPerCycle(spec.type) /
                               (double(chip.tensor.rows) * chip.tensor.cols)));
  unsigned e = dtypeBytes(spec.type);
  if (!spec.tileK)
    spec.tileK = std::min<uint32_t>(
        spec.k, static_cast<uint32_t>(chip.tensor.rows * pack * 2));
  if (!spec.tileN)
    spec.tileN = std::min<uint32_t>(spec.n, chip.tensor.cols * 4);
  if (!spec.tileM)
    spec.tileM = std::min<uint32_t>(spec.m, 512);
  auto bytes = [&] {
    return 2 * (uint64_t(spec.tileM) * spec.tileK * e +
                uint64_t(spec.tileK) * spec.tileN * e +
                uint64_t(spec.tileM) * spec.tileN * 4) +
           6 * 64;
  };
  while (bytes() > chip.scratchpad.bytes) {
    uint32_t *largest = &spec.tileM;
    if (spec.tileN > *largest)
      largest = &spec.tileN;
    if (spec.tileK > *largest)
      largest = &spec.tileK;
    if (*largest <= 1)
      throw SimError("GEMM tiles cannot fit the scratchpad of chip " +
                     chip.name);
    *largest = (*largest + 1) / 2;
  }
  return spec;
}

Stream makeGemmStream(const ChipDesc &chip, const GemmSpec &input) {
  GemmSpec spec = resolveGemmTiles(chip, input);
  unsigned e = dtypeBytes(spec.type);
  if (!spec.aAddr && !spec.bAddr && !spec.cAddr) {
    spec.bAddr = alignUp(uint64_t(spec.m) * spec.k * e, 4096);
    spec.cAddr = alignUp(spec.bAddr + uint64_t(spec.k) * spec.n * e, 4096);
  }
  uint16_t cores =
      std::max<uint16_t>(1, std::min<uint16_t>(spec.cores, chip.cores));
  Stream stream;
  for (uint16_t core = 0; core < cores; ++core) {
    CoreBuilder builder(stream, core);
    GemmEmitter emitter{chip,
                        builder,
                        spec.m,
                        spec.n,
                        spec.k,
                        spec.tileM,
                        spec.tileN,
                        spec.tileK,
                        spec.type,
                        spec.aAddr,
                        uint64_t(spec.k) * e,
                        spec.bAddr,
                        uint64_t(spec.n) * e,
                        spec.cAddr,
                        uint64_t(spec.n) * 4,
                        Epilogue{}};
    emitter.emit(
        tilesForCore(spec.m, spec.n, spec.tileM, spec.tileN, core, cores));
  }
  return stream;
}

Stream makeBertStream(const ChipDesc &chip, const BertSpec &spec) {
  const uint32_t s = spec.seq, h = spec.hidden, f = spec.ffn,
                 heads = spec.heads;
  const uint32_t dh = h / heads;
  const DType t = spec.type;
  const unsigned e = dtypeBytes(t);
  uint16_t cores = spec.cores ? std::min<uint16_t>(spec.cores, chip.cores)
                              : static_cast<uint16_t>(chip.cores);

  // DRAM layout: activations, then each layer's weights.
  uint64_t next = 0;
  auto alloc = [&](uint64_t bytes) {
    uint64_t at = next;
    next = alignUp(next + bytes, 4096);
    return at;
  };
  uint64_t x = alloc(uint64_t(s) * h * e), qkv = alloc(uint64_t(s) * 3 * h * e);
  uint64_t att = alloc(uint64_t(s) * h * e), y1 = alloc(uint64_t(s) * h * e);
  uint64_t x1 = alloc(uint64_t(s) * h * e), hid = alloc(uint64_t(s) * f * e);
  uint64_t y2 = alloc(uint64_t(s) * h * e);
  struct LayerWeights {
    uint64_t wqkv, bqkv, wo, bo, g1, be1, w1, b1, w2, b2, g2, be2;
  };
  std::vector<LayerWeights> weights(spec.layers);
  for (LayerWeights &w : weights) {
    w = {alloc(uint64_t(h) * 3 * h * e), alloc(3ull * h * e),
         alloc(uint64_t(h) * h * e),     alloc(uint64_t(h) * e),
         alloc(uint64_t(h) * e),         alloc(uint64_t(h) * e),
         alloc(uint64_t(h) * f * e),     alloc(uint64_t(f) * e),
         alloc(uint64_t(f) * h * e),     alloc(uint64_t(h) * e),
         alloc(uint64_t(h) * e),         alloc(uint64_t(h) * e)};
  }
  if (next > chip.dram.bytes)
    throw SimError("BERT needs " + std::to_string(next) +
                   " DRAM bytes; chip has " + std::to_string(chip.dram.bytes));

  Stream stream;
  std::vector<CoreBuilder> builders;
  for (uint16_t core = 0; core < cores; ++core)
    builders.emplace_back(stream, core);

  auto gemmPhase = [&](uint64_t a, uint32_t kDim, uint64_t w, uint32_t nDim,
                       uint64_t out, Epilogue epilogue) {
    uint32_t tn = std::min<uint32_t>(nDim, chip.tensor.cols);
    uint32_t tk = std::min<uint32_t>(kDim, 768);
    for (uint16_t core = 0; core < cores; ++core) {
      GemmEmitter emitter{chip,
                          builders[core],
                          s,
                          nDim,
                          kDim,
                          s,
                          tn,
                          tk,
                          t,
                          a,
                          uint64_t(kDim) * e,
                          w,
                          uint64_t(nDim) * e,
                          out,
                          uint64_t(nDim) * e,
                          epilogue};
      emitter.emit(tilesForCore(s, nDim, s, tn, core, cores));
      phaseBoundary(chip, builders[core]);
    }
  };

  auto attentionPhase = [&]() {
    float scale = 1.0f / std::sqrt(float(dh));
    for (uint16_t core = 0; core < cores; ++core) {
      CoreBuilder &b = builders[core];
      Chain chain(chip, b);
      uint64_t q = 0, kk = alignUp(q + uint64_t(s) * dh * e, 64);
      uint64_t v = alignUp(kk + uint64_t(s) * dh * e, 64);
      uint64_t sc = alignUp(v + uint64_t(s) * dh * e, 64);
      uint64_t p = alignUp(sc + uint64_t(s) * s * 4, 64);
      uint64_t red = alignUp(p + uint64_t(s) * s * e, 64);
      uint64_t o = alignUp(red + uint64_t(s) * 4, 64);
      uint64_t ob = alignUp(o + uint64_t(s) * dh * 4, 64);
      VecOperand scores{sc, s * 4, DType::F32}, column{red, 4, DType::F32};
      for (uint32_t head = core; head < heads; head += cores) {
        uint64_t col = uint64_t(head) * dh * e, row = 3ull * h * e;
        chain.on(UnitRef::dma(0))
            .dma(0, b.spm(q), MemRef::dram(qkv + col), dh * e, s, 0, row);
        b.dma(0, b.spm(kk), MemRef::dram(qkv + uint64_t(h) * e + col), dh * e,
              s, 0, row);
        b.dma(0, b.spm(v), MemRef::dram(qkv + 2ull * h * e + col), dh * e, s, 0,
              row);
        MatmulCmd qk;
        qk.m = s, qk.n = s, qk.k = dh, qk.inType = t, qk.outType = DType::F32;
        qk.transposeB = true, qk.a = q, qk.lda = dh * e, qk.b = kk,
        qk.ldb = dh * e;
        qk.c = sc, qk.ldc = s * 4;
        chain.on(UnitRef::tensor()).matmul(qk);
        chain.on(UnitRef::vector())
            .unary(VecOp::Scale, s, s, scores, scores, scale, 0.0f);
        b.unary(VecOp::ReduceMax, s, s, column, scores);
        b.binary(VecOp::Sub, s, s, scores, scores, column, Broadcast::Col);
        b.unary(VecOp::Exp, s, s, scores, scores);
        b.unary(VecOp::ReduceSum, s, s, column, scores);
        b.unary(VecOp::Recip, s, 1, column, column);
        b.binary(VecOp::Mul, s, s, {p, s * e, t}, scores, column,
                 Broadcast::Col);
        MatmulCmd pv;
        pv.m = s, pv.n = dh, pv.k = s, pv.inType = t, pv.outType = DType::F32;
        pv.a = p, pv.lda = s * e, pv.b = v, pv.ldb = dh * e, pv.c = o,
        pv.ldc = dh * 4;
        chain.on(UnitRef::tensor()).matmul(pv);
        chain.on(UnitRef::vector())
            .unary(VecOp::Cast, s, dh, {ob, dh * e, t},
                   {o, dh * 4, DType::F32});
        chain.on(UnitRef::dma(0))
            .dma(0, MemRef::dram(att + col), b.spm(ob), dh * e, s,
                 uint64_t(h) * e, 0);
      }
      chain.on(UnitRef::dma(0));
      phaseBoundary(chip, b);
    }
  };

  auto layerNormPhase = [&](uint64_t in, uint64_t gamma, uint64_t beta,
                            uint64_t out) {
    uint32_t rowsPerCore = (s + cores - 1) / cores;
    for (uint16_t core = 0; core < cores; ++core) {
      CoreBuilder &b = builders[core];
      Chain chain(chip, b);
      uint32_t r0 = core * rowsPerCore;
      if (r0 < s) {
        uint32_t rows = std::min(rowsPerCore, s - r0);
        uint64_t yb = 0, yf = alignUp(yb + uint64_t(rows) * h * e, 64);
        uint64_t sq = alignUp(yf + uint64_t(rows) * h * 4, 64);
        uint64_t g = alignUp(sq + uint64_t(rows) * h * 4, 64),
                 be = alignUp(g + h * e, 64);
        uint64_t mean = alignUp(be + h * e, 64),
                 var = alignUp(mean + rows * 4, 64);
        uint64_t ob = alignUp(var + rows * 4, 64);
        VecOperand yF{yf, h * 4, DType::F32}, sQ{sq, h * 4, DType::F32};
        VecOperand mu{mean, 4, DType::F32}, va{var, 4, DType::F32};
        chain.on(UnitRef::dma(0))
            .dma(0, b.spm(yb), MemRef::dram(in + uint64_t(r0) * h * e), h * e,
                 rows);
        b.dma(0, b.spm(g), MemRef::dram(gamma), h * e);
        b.dma(0, b.spm(be), MemRef::dram(beta), h * e);
        chain.on(UnitRef::vector())
            .unary(VecOp::Cast, rows, h, yF, {yb, h * e, t});
        b.unary(VecOp::ReduceSum, rows, h, mu, yF);
        b.unary(VecOp::Scale, rows, 1, mu, mu, 1.0f / h, 0.0f);
        b.binary(VecOp::Sub, rows, h, yF, yF, mu, Broadcast::Col);
        b.binary(VecOp::Mul, rows, h, sQ, yF, yF);
        b.unary(VecOp::ReduceSum, rows, h, va, sQ);
        b.unary(VecOp::Scale, rows, 1, va, va, 1.0f / h, 1e-12f);
        b.unary(VecOp::Rsqrt, rows, 1, va, va);
        b.binary(VecOp::Mul, rows, h, yF, yF, va, Broadcast::Col);
        b.binary(VecOp::Mul, rows, h, yF, yF, {g, h * e, t}, Broadcast::Row);
        b.binary(VecOp::Add, rows, h, {ob, h * e, t}, yF, {be, h * e, t},
                 Broadcast::Row);
        chain.on(UnitRef::dma(0))
            .dma(0, MemRef::dram(out + uint64_t(r0) * h * e), b.spm(ob), h * e,
                 rows);
      }
      phaseBoundary(chip, b);
    }
  };

  for (const LayerWeights &w : weights) {
    Epilogue qkvEpi{w.bqkv, false, 0, 0, t};
    gemmPhase(x, h, w.wqkv, 3 * h, qkv, qkvEpi);
    attentionPhase();
    gemmPhase(att, h, w.wo, h, y1,
              Epilogue{w.bo, false, x, uint64_t(h) * e, t});
    layerNormPhase(y1, w.g1, w.be1, x1);
    gemmPhase(x1, h, w.w1, f, hid, Epilogue{w.b1, true, 0, 0, t});
    gemmPhase(hid, f, w.w2, h, y2,
              Epilogue{w.b2, false, x1, uint64_t(h) * e, t});
    layerNormPhase(y2, w.g2, w.be2, x);
  }
  return stream;
}

} // namespace gaon::npu_sim
