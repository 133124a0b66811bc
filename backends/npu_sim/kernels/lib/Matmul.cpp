//===- Matmul.cpp - Batched, tiled, double-buffered GEMM with epilogue ----===//
//
// Output tiles (batch, m-block, n-block) are split into contiguous ranges,
// one per core, so a core walks the n-blocks of one m-block and reuses its A
// tile. Per core: dma0 streams A/B k-slices into two slots, the tensor unit
// accumulates each C tile in fp32 (two C slots), the vector unit applies
// the fused epilogue to one C tile while the tensor unit fills the other,
// and the last DMA engine stores. Every hand-off is a counting semaphore
// whose consumer waits in the producer's order.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace {

enum : uint16_t {
  kFull = kKernelSem, // A/B slice in slot 0 loaded (loader 0 -> tensor)
  kEmpty,             // A/B slot 0 consumed (tensor -> loader 0)
  kCDone,             // C tile complete (tensor -> vector or storer)
  kCFree,             // C slot reusable (-> tensor)
  kEpIn,              // bias/residual tile loaded (dma0 -> vector)
  kEpFree,            // bias/residual slot reusable (vector -> dma0)
  kODone,             // epilogue output ready (vector -> storer)
  kOFree,             // output slot stored (storer -> vector)
  kFull1,             // slot 1 loaded (loader 1 -> tensor)
  kEmpty1,            // slot 1 consumed (tensor -> loader 1)
};

struct Tiles {
  int64_t tm, tn, tk;
};

} // namespace

void StreamEmitter::matmul(const Tensor &a, const Tensor &b, const Tensor &out,
                           const Epilogue &ep) {
  const std::string kernel = "matmul";
  Ctx ctx{stream, chipDesc};
  if (a.shape.empty() || b.shape.empty())
    fail(kernel, "operands must have rank >= 1");
  bool aVec = a.shape.size() == 1, bVec = b.shape.size() == 1;
  std::vector<int64_t> as =
      aVec ? std::vector<int64_t>{1, a.shape[0]} : a.shape;
  std::vector<int64_t> bs =
      bVec ? std::vector<int64_t>{b.shape[0], 1} : b.shape;
  int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    fail(kernel, "contraction dims differ: " + shapeStr(a.shape) + " x " +
                     shapeStr(b.shape));
  std::vector<int64_t> aBatch(as.begin(), as.end() - 2),
      bBatch(bs.begin(), bs.end() - 2);
  std::vector<int64_t> batch = aBatch.size() >= bBatch.size() ? aBatch : bBatch;
  {
    const auto &small = aBatch.size() >= bBatch.size() ? bBatch : aBatch;
    size_t lead = batch.size() - small.size();
    for (size_t i = 0; i < small.size(); ++i) {
      int64_t &d = batch[lead + i];
      if (d == 1)
        d = small[i];
      else if (small[i] != 1 && small[i] != d)
        fail(kernel, "batch dims do not broadcast: " + shapeStr(a.shape) +
                         " x " + shapeStr(b.shape));
    }
  }
  std::vector<int64_t> expect = batch;
  if (!aVec)
    expect.push_back(M);
  if (!bVec)
    expect.push_back(N);
  if (out.shape != expect)
    fail(kernel, "result shape " + shapeStr(out.shape) + " should be " +
                     shapeStr(expect));
  DType type = a.dtype;
  if (b.dtype != type)
    fail(kernel, std::string("A is ") + dtypeName(a.dtype) + " but B is " +
                     dtypeName(b.dtype) + " (cast one first)");
  if (!isFloatType(type) || chipDesc.peakMacsPerCycle(type) <= 0)
    fail(kernel, std::string("the tensor unit of chip ") + chipDesc.name +
                     " cannot multiply " + dtypeName(type));
  if (!isFloatType(out.dtype))
    fail(kernel, std::string("result dtype ") + dtypeName(out.dtype) +
                     " is not a float type");
  if (ep.bias && ep.bias->numel() != N)
    fail(kernel, "bias of shape " + shapeStr(ep.bias->shape) + " must hold " +
                     std::to_string(N) + " elements");
  if (ep.residual && ep.residual->shape != out.shape)
    fail(kernel, "residual of shape " + shapeStr(ep.residual->shape) +
                     " must match the result " + shapeStr(out.shape));
  if (ep.activation != Activation::None) {
    VecOp actOp = ep.activation == Activation::Gelu       ? VecOp::Gelu
                  : ep.activation == Activation::GeluTanh ? VecOp::GeluTanh
                  : ep.activation == Activation::Silu     ? VecOp::Silu
                                                          : VecOp::Relu;
    ctx.needVecOp(kernel, actOp);
  }
  beginKernel();
  if (out.numel() == 0)
    return;

  // Per output batch: element offsets of A and B.
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  Tensor aView{a.addr, type, aBatch}, bView{b.addr, type, bBatch};
  std::vector<int64_t> aStr = broadcastStrides(kernel, aView, batch),
                       bStr = broadcastStrides(kernel, bView, batch);
  std::vector<int64_t> aOff(batches), bOff(batches);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t rest = i, ao = 0, bo = 0;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      int64_t idx = rest % batch[d];
      rest /= batch[d];
      ao += idx * aStr[d];
      bo += idx * bStr[d];
    }
    aOff[i] = ao * M * K;
    bOff[i] = bo * K * N;
  }
  // A shared B and an unbroadcast A fold the batch into M (one big GEMM).
  bool bShared = std::all_of(bOff.begin(), bOff.end(),
                             [&](int64_t o) { return o == bOff[0]; });
  bool aDense = true;
  for (int64_t i = 0; i < batches; ++i)
    aDense = aDense && aOff[i] == i * M * K;
  if (batches > 1 && bShared && aDense) {
    M *= batches;
    batches = 1;
    aOff = {0};
    bOff = {bOff[0]};
  }

  // Tiles: k deep enough to fill the array twice, n four folds wide, m long
  // enough to amortise each fold's weight load; halved until the buffers fit.
  const TensorUnitDesc &tu = chipDesc.tensor;
  double pack = std::max(1.0, std::floor(chipDesc.peakMacsPerCycle(type) /
                                         (double(tu.rows) * tu.cols)));
  unsigned e = dtypeBytes(type), eo = dtypeBytes(out.dtype);
  unsigned eb = ep.bias ? dtypeBytes(ep.bias->dtype) : 0;
  unsigned er = ep.residual ? dtypeBytes(ep.residual->dtype) : 0;
  bool epilogue = ep.bias || ep.residual || ep.activation != Activation::None ||
                  ep.alpha != 1.0f || out.dtype != DType::F32;
  Tiles t{std::min<int64_t>(M, 1024),
          std::min<int64_t>(N, int64_t(tu.cols) * 4),
          std::min<int64_t>(K, int64_t(tu.rows * pack) * 2)};
  // One m-block (small M: weight streaming, memory bound): A stays resident
  // in the scratchpad, loaded once per core, and B streams in deep k-slices.
  auto items = [&] { return batches * ceilDiv(M, t.tm) * ceilDiv(N, t.tn); };
  // Spread small problems over every core.
  while (items() < ctx.cores() && t.tm > int64_t(tu.rows))
    t.tm = ceilDiv(t.tm, 2);
  while (items() < ctx.cores() && t.tn > int64_t(tu.cols))
    t.tn = ceilDiv(t.tn, 2);
  bool aResident = batches == 1 && M <= t.tm &&
                   uint64_t(M * K * e) <= chipDesc.scratchpad.bytes / 4;
  // Weight streaming: more, narrower tiles per core so the epilogue of one
  // tile overlaps the next tile's loads and matmuls.
  while (aResident && items() < 2 * int64_t(ctx.cores()) &&
         t.tn > int64_t(tu.cols))
    t.tn = std::max<int64_t>(ceilDiv(t.tn, 2), tu.cols);
  // B slots: two per DMA engine when A is resident (a slot is refilled only
  // once the matmul reading it completed, so deeper buffering hides that).
  unsigned engines = chipDesc.dma.engines;
  unsigned slotsPerEngine = aResident ? 2 : 1;
  int64_t nSlots = aResident && engines >= 2 ? int64_t(2 * slotsPerEngine) : 2;
  auto bytes = [&] {
    uint64_t total = (aResident ? M * K * e : 2 * t.tm * t.tk * e) +
                     nSlots * t.tk * t.tn * e + 2 * t.tm * t.tn * 4;
    if (epilogue)
      total += 2 * (t.tm * t.tn * eo +
                    std::max<int64_t>(t.tn, chipDesc.vector.lanes) * eb +
                    t.tm * t.tn * er);
    return total + 16 * 64;
  };
  while (bytes() > chipDesc.scratchpad.bytes) {
    int64_t *largest = aResident ? &t.tk : &t.tm;
    if (t.tn > *largest)
      largest = &t.tn;
    if (t.tk > *largest)
      largest = &t.tk;
    if (*largest <= 1)
      fail(kernel, "tiles cannot fit the scratchpad");
    *largest = ceilDiv(*largest, 2);
  }
  SpmAlloc spm{kernel, chipDesc.scratchpad.bytes};
  uint64_t aSlot[2] = {0, 0};
  if (aResident) {
    aSlot[0] = spm.take(M * K * e);
  } else {
    aSlot[0] = spm.take(t.tm * t.tk * e);
    aSlot[1] = spm.take(t.tm * t.tk * e);
  }
  std::vector<uint64_t> bSlot;
  for (int64_t i = 0; i < nSlots; ++i)
    bSlot.push_back(spm.take(t.tk * t.tn * e));
  uint64_t cSlot[2] = {spm.take(t.tm * t.tn * 4), spm.take(t.tm * t.tn * 4)};
  uint64_t oSlot[2] = {0, 0}, biasSlot[2] = {0, 0}, resSlot[2] = {0, 0};
  if (epilogue) {
    oSlot[0] = spm.take(t.tm * t.tn * eo);
    oSlot[1] = spm.take(t.tm * t.tn * eo);
    if (ep.bias) {
      uint64_t biasBytes = std::max<uint64_t>(t.tn, chipDesc.vector.lanes) * eb;
      biasSlot[0] = spm.take(biasBytes);
      biasSlot[1] = spm.take(biasBytes);
    }
    if (ep.residual) {
      resSlot[0] = spm.take(t.tm * t.tn * er);
      resSlot[1] = spm.take(t.tm * t.tn * er);
    }
  }
  bool epLoads = ep.bias || ep.residual;
  // Tiles are packed at pitch tn: when cols == tn divides the lanes, `fold`
  // consecutive rows form one vector row.
  uint32_t lanes = chipDesc.vector.lanes;
  auto foldFor = [&](uint32_t rows, uint32_t cols) -> uint32_t {
    if (int64_t(cols) != t.tn || cols >= lanes || lanes % cols)
      return 1;
    uint32_t f = lanes / cols;
    while (f > 1 && rows % f)
      f /= 2;
    return f;
  };

  int64_t mTiles = ceilDiv(M, t.tm), nTiles = ceilDiv(N, t.tn);
  int64_t total = batches * mTiles * nTiles;
  UnitRef loader = ctx.loader(), storer = ctx.storer();
  // Slot s of A/B is loaded by engine s (two engines stream in parallel),
  // with its own full/empty semaphores so hand-offs stay in order.
  // Engine j loads slots j, j + 2, ... (per-engine semaphores keep order).
  unsigned ldEngines = aResident && engines >= 2 ? 2 : 1;
  auto slotLoader = [&](int s) {
    return UnitRef::dma(static_cast<uint8_t>(s % ldEngines));
  };
  const uint16_t fullSem[2] = {kFull, kFull1}, emptySem[2] = {kEmpty, kEmpty1};
  UnitRef tensor = UnitRef::tensor(), vector = UnitRef::vector();
  for (unsigned core = 0; core < ctx.cores(); ++core) {
    int64_t first = splitBegin(total, ctx.cores(), core),
            last = splitBegin(total, ctx.cores(), core + 1);
    if (first == last)
      continue;
    CoreBuilder cb = ctx.core(core);
    int64_t step = 0, tileNo = 0;
    int64_t aTag[2] = {-1, -1};
    std::vector<bool> aLoaded(aResident ? ceilDiv(K, t.tk) : 0, false);
    // A tile's store is emitted after the next tile's first loads, so the
    // engine shared by loads and stores does not idle behind the epilogue.
    std::function<void()> pendingStore;
    auto flushStore = [&] {
      if (pendingStore)
        pendingStore();
      pendingStore = nullptr;
    };
    for (int64_t item = first; item < last; ++item, ++tileNo) {
      int64_t bi = item / (mTiles * nTiles);
      int64_t m0 = (item / nTiles % mTiles) * t.tm, n0 = item % nTiles * t.tn;
      uint32_t rows = static_cast<uint32_t>(std::min(t.tm, M - m0));
      uint32_t cols = static_cast<uint32_t>(std::min(t.tn, N - n0));
      int cs = static_cast<int>(tileNo % 2);
      bool reuse = tileNo >= 2;
      // Row index of this tile's first output row in the flattened result.
      int64_t outRow = bi * M + m0;
      // Bias/residual loads follow the tile's first B slices: they are
      // needed only by the epilogue, and their slot waits for it.
      auto epLoad = [&] {
      if (epLoads) {
        if (reuse)
          cb.wait(loader, kEpFree);
        if (ep.bias) {
          DmaCmd bc;
          bc.src = MemRef::dram(ep.bias->addr + n0 * eb);
          bc.dst = cb.spm(biasSlot[cs]);
          bc.rowBytes = cols * eb;
          bc.rows = foldFor(rows, cols);
          bc.srcRowStride = 0; // repeated once per folded row
          bc.dstRowStride = cols * eb;
          cb.dma(0, bc);
        }
        if (ep.residual)
          cb.dma(0, cb.spm(resSlot[cs]),
                 MemRef::dram(ep.residual->addr + (outRow * N + n0) * er),
                 cols * er, rows, t.tn * er, N * er);
        cb.signal(loader, kEpIn);
      }
      };
      for (int64_t k0 = 0, ks = 0; k0 < K; k0 += t.tk, ++step, ++ks) {
        uint32_t depth = static_cast<uint32_t>(std::min(t.tk, K - k0));
        int bs = static_cast<int>(step % nSlots);
        int s = static_cast<int>(step % 2);
        int en = static_cast<int>(step % ldEngines);
        UnitRef ld = slotLoader(s);
        if (step >= nSlots)
          cb.wait(ld, emptySem[en]);
        uint64_t aAddr = aSlot[s];
        uint32_t lda = static_cast<uint32_t>(t.tk * e);
        if (aResident) {
          aAddr = aSlot[0] + k0 * e;
          lda = static_cast<uint32_t>(K * e);
          if (!aLoaded[ks]) {
            cb.dma(ld.index, cb.spm(aAddr),
                   MemRef::dram(a.addr + (aOff[bi] + k0) * e), depth * e, rows,
                   K * e, K * e);
            aLoaded[ks] = true;
          }
        } else {
          // A is reused across the n-blocks of an m-block: skip reloading.
          int64_t tag = (bi * M + m0) * K + k0;
          if (aTag[s] != tag) {
            cb.dma(ld.index, cb.spm(aSlot[s]),
                   MemRef::dram(a.addr + (aOff[bi] + m0 * K + k0) * e),
                   depth * e, rows, t.tk * e, K * e);
            aTag[s] = tag;
          }
        }
        cb.dma(ld.index, cb.spm(bSlot[bs]),
               MemRef::dram(b.addr + (bOff[bi] + k0 * N + n0) * e), cols * e,
               depth, t.tn * e, N * e);
        cb.signal(ld, fullSem[en]);
        if (ks == 1 || k0 + t.tk >= K) {
          flushStore();
          if (epLoads && (ks == 1 || K <= t.tk))
            epLoad();
        }

        cb.wait(tensor, fullSem[en]);
        if (k0 == 0 && reuse)
          cb.wait(tensor, kCFree);
        MatmulCmd mm;
        mm.m = rows;
        mm.n = cols;
        mm.k = depth;
        mm.inType = type;
        mm.outType = DType::F32;
        mm.accumulate = k0 > 0;
        mm.a = aAddr;
        mm.lda = lda;
        mm.b = bSlot[bs];
        mm.ldb = static_cast<uint32_t>(t.tn * e);
        mm.c = cSlot[cs];
        mm.ldc = static_cast<uint32_t>(t.tn * 4);
        cb.matmul(mm);
        cb.signal(tensor, emptySem[en]);
      }
      cb.signal(tensor, kCDone);

      uint64_t storeFrom = cSlot[cs];
      uint32_t pitch = static_cast<uint32_t>(t.tn * 4);
      unsigned es = 4;
      if (epilogue) {
        // out = act(alpha * C + bias) + residual, in fp32, rounded once.
        cb.wait(vector, kCDone);
        if (epLoads)
          cb.wait(vector, kEpIn);
        // A packed tile narrower than the vector unit runs as `fold` rows
        // side by side (the bias slot holds `fold` copies).
        uint32_t vr = rows, vc = cols, vfold = foldFor(rows, cols);
        vr /= vfold;
        vc *= vfold;
        VecOperand c{cSlot[cs], pitch * vfold, DType::F32};
        if (ep.alpha != 1.0f)
          vec(cb, VecOp::Scale, vr, vc, c, c, {}, Broadcast::None, ep.alpha,
              0.0f);
        if (ep.bias)
          vec(cb, VecOp::Add, vr, vc, c, c,
              {biasSlot[cs], vc * eb, ep.bias->dtype}, Broadcast::Row);
        emitActivation(ctx, kernel, cb, ep.activation, vr, vc, c, c);
        if (ep.residual)
          vec(cb, VecOp::Add, vr, vc, c, c,
              {resSlot[cs], static_cast<uint32_t>(t.tn * er * vfold),
               ep.residual->dtype});
        if (reuse)
          cb.wait(vector, kOFree);
        vec(cb, VecOp::Cast, vr, vc,
            {oSlot[cs], static_cast<uint32_t>(t.tn * eo * vfold), out.dtype},
            c);
        cb.signal(vector, kCFree);
        if (epLoads)
          cb.signal(vector, kEpFree);
        cb.signal(vector, kODone);
        storeFrom = oSlot[cs];
        pitch = static_cast<uint32_t>(t.tn * eo);
        es = eo;
      }
      pendingStore = [&cb, &out, storer, epilogue, outRow, N, n0, es,
                      storeFrom, cols, rows, pitch] {
        cb.wait(storer, epilogue ? kODone : kCDone);
        cb.dma(storer.index, MemRef::dram(out.addr + (outRow * N + n0) * es),
               cb.spm(storeFrom), cols * es, rows, N * es, pitch);
        cb.signal(storer, epilogue ? kOFree : kCFree);
      };
    }
    flushStore();
    // Take the hand-backs nobody waited for: semaphores end at zero.
    uint32_t lastTwo = static_cast<uint32_t>(std::min<int64_t>(tileNo, 2));
    for (unsigned en = 0; en < ldEngines; ++en) {
      int64_t loadsOn = step / ldEngines + (int64_t(en) < step % ldEngines);
      int64_t left = std::min<int64_t>(loadsOn, nSlots / ldEngines);
      if (left)
        cb.wait(slotLoader(en), emptySem[en], static_cast<uint32_t>(left));
    }
    cb.wait(tensor, kCFree, lastTwo);
    if (epLoads)
      cb.wait(loader, kEpFree, lastTwo);
    if (epilogue)
      cb.wait(vector, kOFree, lastTwo);
  }
}

} // namespace gaon::npu_kernels
