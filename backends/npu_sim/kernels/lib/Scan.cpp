//===- Scan.cpp - cumulative sum along any axis ---------------------------===//
//
// The input is viewed as [O, S, I] (S the scan axis). A tile is a chunk of
// scan positions of a block of (o, i) columns, brought in with the scan
// axis outermost by one strided DMA (planes over o, rows over positions,
// runs of i), so that scratchpad row r holds position r of every column of
// the block. The scan is then one vector add per row (row r = row r-1 + in
// row r) over the whole block: exact on integers (the vector unit adds them
// in int64 and wraps on store, as the dtype would), no matmul tricks.
// Float types narrower than fp32 accumulate in an fp32 tile, rounded once.
// A scan longer than a tile runs in chunks on one core, the running sum
// carried in a row between them. Column blocks are split over cores and
// pipelined (dma0 loads, the vector unit scans, the last engine stores).
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

void StreamEmitter::cumsum(const Tensor &in, int64_t axis, bool exclusive,
                           bool reverse, const Tensor &out) {
  const std::string kernel = "cumsum";
  int64_t n = static_cast<int64_t>(in.shape.size());
  if (in.shape != out.shape || in.dtype != out.dtype)
    fail(kernel, "input " + shapeStr(in.shape) + " " + dtypeName(in.dtype) +
                     " and result " + shapeStr(out.shape) + " " +
                     dtypeName(out.dtype) + " differ");
  if (in.dtype == DType::Bool)
    fail(kernel, "bool tensors cannot be summed");
  int64_t ax = axis < 0 ? axis + std::max<int64_t>(n, 1) : axis;
  if (ax < 0 || ax >= std::max<int64_t>(n, 1))
    fail(kernel, "axis " + std::to_string(axis) + " out of range for " +
                     shapeStr(in.shape));
  int64_t O = 1, S = n ? in.shape[ax] : 1, I = 1;
  for (int64_t i = 0; i < n; ++i)
    (i < ax ? O : I) *= i == ax ? 1 : in.shape[i];
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  if (O * S * I == 0)
    return;

  // Narrow floats accumulate in fp32; fp32 and integers in the output slot.
  bool narrow = isFloatType(in.dtype) && in.dtype != DType::F32;
  DType accType = narrow ? DType::F32 : in.dtype;
  unsigned e = dtypeBytes(in.dtype), ea = dtypeBytes(accType);
  uint64_t perElem = 4 * e + (narrow ? 4 : 0);
  uint64_t capacity = chipDesc.scratchpad.bytes;
  if (capacity < 2048 + 2 * (perElem + ea))
    fail(kernel, "the scratchpad of chip " + chipDesc.name + " is too small");
  // Tiles of at most 64k elements (8k lane groups on tiny) keep the first
  // load and the last store short; the carry row takes ea per column.
  int64_t maxElems =
      std::min<int64_t>(65536, int64_t((capacity - 1024) / (perElem + ea)));

  // Block width W: enough columns for every position of the scan in one
  // tile, at least a lane group, at most an even share per core.
  int64_t C = O * I, lanes = chipDesc.vector.lanes;
  int64_t minW = std::min(C, lanes);
  int64_t W = std::max(minW, maxElems / S);
  W = std::min(W, std::max(minW, ceilDiv(C, ctx.cores())));
  W = std::min(W, maxElems);
  int64_t ti, to;
  if (I >= W) {
    ti = ceilDiv(I, ceilDiv(I, W));
    to = 1;
  } else {
    ti = I;
    to = std::max<int64_t>(1, std::min(O, W / I));
    to = ceilDiv(O, ceilDiv(O, to));
  }
  int64_t iBlocks = ceilDiv(I, ti), oBlocks = ceilDiv(O, to);
  int64_t blocks = iBlocks * oBlocks, Wt = to * ti;
  int64_t sc = std::clamp<int64_t>(maxElems / Wt, 1, S);
  sc = ceilDiv(S, ceilDiv(S, sc)); // equal chunks
  int64_t chunks = ceilDiv(S, sc);

  SpmAlloc spm{kernel, capacity, 0, ctx.use};
  uint64_t tileBytes = uint64_t(sc * Wt) * e;
  uint64_t inSlot[2] = {spm.take(tileBytes), spm.take(tileBytes)};
  uint64_t outSlot[2] = {spm.take(tileBytes), spm.take(tileBytes)};
  uint64_t accAt = narrow ? spm.take(uint64_t(sc * Wt) * 4) : 0;
  uint64_t carryAt = chunks > 1 ? spm.take(uint64_t(Wt) * ea) : 0;

  for (unsigned c = 0; c < ctx.cores(); ++c) {
    int64_t first = splitBegin(blocks, ctx.cores(), c),
            last = splitBegin(blocks, ctx.cores(), c + 1);
    if (first == last)
      continue;
    CoreBuilder b = ctx.core(c);
    Pipeline pipe(ctx, b, kKernelSem);
    for (int64_t blk = first; blk < last; ++blk) {
      int64_t o0 = (blk / iBlocks) * to, i0 = (blk % iBlocks) * ti;
      int64_t nto = std::min(to, O - o0), nti = std::min(ti, I - i0);
      uint32_t P = static_cast<uint32_t>(nto * nti); // columns, packed
      for (int64_t k = 0; k < chunks; ++k) {
        // Scan order: a reverse scan takes the last chunk first.
        int64_t chunk = reverse ? chunks - 1 - k : k;
        int64_t j0 = chunk * sc, nj = std::min(sc, S - j0);
        int s = pipe.beginLoad();
        DmaCmd load;
        load.src = MemRef::dram(in.addr + ((o0 * S + j0) * I + i0) * e);
        load.dst = b.spm(inSlot[s]);
        load.rowBytes = static_cast<uint32_t>(nti * e);
        load.rows = static_cast<uint32_t>(nj);
        load.planes = static_cast<uint32_t>(nto);
        load.srcRowStride = uint64_t(I) * e;
        load.dstRowStride = uint64_t(P) * e;
        load.srcPlaneStride = uint64_t(S * I) * e;
        load.dstPlaneStride = uint64_t(nti) * e;
        b.dma(0, load);
        pipe.endLoad();

        pipe.beginCompute();
        int o = pipe.beginOutput();
        uint64_t accBase = narrow ? accAt : outSlot[o];
        auto row = [&](uint64_t base, DType type, int64_t r) {
          unsigned eb = dtypeBytes(type);
          return VecOperand{base + uint64_t(r) * P * eb, P * eb, type};
        };
        auto inRow = [&](int64_t r) { return row(inSlot[s], in.dtype, r); };
        auto accRow = [&](int64_t r) { return row(accBase, accType, r); };
        VecOperand carry{carryAt, P * ea, accType};
        int64_t step = reverse ? -1 : 1;
        int64_t rFirst = reverse ? nj - 1 : 0, rLast = reverse ? 0 : nj - 1;
        bool carried = k > 0;
        if (exclusive) {
          // 0 as x < x (false even for NaN and inf, unlike x * 0 or x - x).
          if (carried)
            vec(b, VecOp::Cast, 1, P, accRow(rFirst), carry);
          else
            vec(b, VecOp::CmpLt, 1, P, accRow(rFirst), inRow(rFirst),
                inRow(rFirst));
        } else if (carried) {
          vec(b, VecOp::Add, 1, P, accRow(rFirst), carry, inRow(rFirst));
        } else {
          vec(b, VecOp::Cast, 1, P, accRow(rFirst), inRow(rFirst));
        }
        for (int64_t r = rFirst + step; r != rLast + step; r += step)
          vec(b, VecOp::Add, 1, P, accRow(r), accRow(r - step),
              inRow(exclusive ? r - step : r));
        if (k + 1 < chunks) {
          if (exclusive)
            vec(b, VecOp::Add, 1, P, carry, accRow(rLast), inRow(rLast));
          else
            vec(b, VecOp::Cast, 1, P, carry, accRow(rLast));
        }
        if (narrow)
          vec(b, VecOp::Cast, static_cast<uint32_t>(nj), P,
              {outSlot[o], P * e, out.dtype}, {accAt, P * 4, DType::F32});
        pipe.endCompute();
        pipe.endOutput();

        pipe.beginStore();
        DmaCmd store = load;
        store.src = b.spm(outSlot[o]);
        store.dst = MemRef::dram(out.addr + ((o0 * S + j0) * I + i0) * e);
        std::swap(store.srcRowStride, store.dstRowStride);
        std::swap(store.srcPlaneStride, store.dstPlaneStride);
        b.dma(pipe.storer.index, store);
        pipe.endStore();
      }
    }
    pipe.finish();
  }
}

} // namespace gaon::npu_kernels
