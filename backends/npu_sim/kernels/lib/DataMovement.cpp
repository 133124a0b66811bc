//===- DataMovement.cpp - copy, transpose, slice, concat, broadcast, gather
//===//
//
// Pure data movement runs DRAM to DRAM on the DMA engines of every core:
// the output is described as a strided view of the input (coalesced), its
// flattened rows are split over cores and over each core's engines. A last
// dim that is strided on either side moves element by element.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace {

/// Copies view `srcStrides` (elements, over `shape`) at srcAddr to the
/// row-major-or-strided view dstStrides at dstAddr.
void emitViewCopy(const Ctx &ctx, std::vector<int64_t> shape, uint64_t srcAddr,
                  std::vector<int64_t> srcStrides, uint64_t dstAddr,
                  std::vector<int64_t> dstStrides, unsigned e) {
  std::vector<std::vector<int64_t>> st = {srcStrides, dstStrides};
  coalesce(shape, st);
  if (shape.empty()) {
    shape = {1};
    st = {{0}, {0}};
  }
  int n = static_cast<int>(shape.size());
  int64_t rows = 1;
  for (int i = 0; i < n - 1; ++i)
    rows *= shape[i];
  int64_t cols = shape[n - 1];
  // Huge contiguous rows are cut so one descriptor stays < 4 GiB and every
  // engine gets work.
  int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(cols, 1 << 20));
  int64_t colChunks = ceilDiv(cols, chunk);
  unsigned engines = ctx.chip.dma.engines;
  int64_t parts = int64_t(ctx.cores()) * engines;
  int64_t work = rows * colChunks;
  Side src = dramSide(srcAddr, st[0], e), dst = dramSide(dstAddr, st[1], e);
  for (int64_t p = 0; p < parts; ++p) {
    int64_t first = splitBegin(work, parts, p),
            last = splitBegin(work, parts, p + 1);
    if (first == last)
      continue;
    CoreBuilder b = ctx.core(static_cast<unsigned>(p / engines));
    uint8_t engine = static_cast<uint8_t>(p % engines);
    if (colChunks == 1) {
      emitRegionDma(b, engine, shape, src, dst, first, last - first, 0, cols,
                    e);
      continue;
    }
    for (int64_t w = first; w < last; ++w) {
      int64_t c0 = (w % colChunks) * chunk;
      emitRegionDma(b, engine, shape, src, dst, w / colChunks, 1, c0,
                    std::min(chunk, cols - c0), e);
    }
  }
}

} // namespace

void StreamEmitter::copy(const Tensor &in, const Tensor &out) {
  if (in.numel() != out.numel() || in.dtype != out.dtype)
    fail("copy", "needs equal element counts and dtypes, got " +
                     shapeStr(in.shape) + " " + dtypeName(in.dtype) + " and " +
                     shapeStr(out.shape) + " " + dtypeName(out.dtype));
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  if (in.numel())
    emitViewCopy(ctx, {in.numel()}, in.addr, {1}, out.addr, {1},
                 dtypeBytes(in.dtype));
}

void StreamEmitter::transpose(const Tensor &in,
                              const std::vector<int64_t> &perm,
                              const Tensor &out) {
  const std::string kernel = "transpose";
  if (perm.size() != in.shape.size() || out.shape.size() != in.shape.size() ||
      in.dtype != out.dtype)
    fail(kernel, "perm, input and result ranks/dtypes must agree");
  std::vector<int64_t> inStr = rowMajorStrides(in.shape), srcStr(perm.size());
  std::vector<bool> seen(perm.size(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    int64_t p = perm[i];
    if (p < 0 || p >= int64_t(perm.size()) || seen[p])
      fail(kernel, "invalid permutation");
    seen[p] = true;
    if (out.shape[i] != in.shape[p])
      fail(kernel, "result shape " + shapeStr(out.shape) +
                       " does not match the permuted input");
    srcStr[i] = inStr[p];
  }
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  if (out.numel())
    emitViewCopy(ctx, out.shape, in.addr, srcStr, out.addr,
                 rowMajorStrides(out.shape), dtypeBytes(in.dtype));
}

void StreamEmitter::slice(const Tensor &in, const std::vector<int64_t> &starts,
                          const std::vector<int64_t> &steps,
                          const Tensor &out) {
  const std::string kernel = "slice";
  size_t n = in.shape.size();
  if (starts.size() != n || steps.size() != n || out.shape.size() != n ||
      in.dtype != out.dtype)
    fail(kernel, "starts, steps, input and result ranks/dtypes must agree");
  std::vector<int64_t> inStr = rowMajorStrides(in.shape), srcStr(n);
  int64_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    if (steps[i] <= 0)
      fail(kernel, "steps must be positive");
    int64_t lastIdx = starts[i] + (out.shape[i] - 1) * steps[i];
    if (out.shape[i] > 0 &&
        (starts[i] < 0 || starts[i] >= in.shape[i] || lastIdx >= in.shape[i]))
      fail(kernel, "dim " + std::to_string(i) + " reads outside the input");
    offset += starts[i] * inStr[i];
    srcStr[i] = steps[i] * inStr[i];
  }
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  unsigned e = dtypeBytes(in.dtype);
  if (out.numel())
    emitViewCopy(ctx, out.shape, in.addr + offset * e, srcStr, out.addr,
                 rowMajorStrides(out.shape), e);
}

void StreamEmitter::concat(const std::vector<Tensor> &ins, int64_t axis,
                           const Tensor &out) {
  const std::string kernel = "concat";
  int64_t n = static_cast<int64_t>(out.shape.size());
  if (axis < 0)
    axis += n;
  if (axis < 0 || axis >= n)
    fail(kernel, "axis out of range");
  int64_t total = 0;
  for (const Tensor &t : ins) {
    if (t.shape.size() != out.shape.size() || t.dtype != out.dtype)
      fail(kernel, "inputs must match the result's rank and dtype");
    for (int64_t i = 0; i < n; ++i)
      if (i != axis && t.shape[i] != out.shape[i])
        fail(kernel, "input " + shapeStr(t.shape) + " does not match " +
                         shapeStr(out.shape) + " off the axis");
    total += t.shape[axis];
  }
  if (total != out.shape[axis])
    fail(kernel, "inputs add up to " + std::to_string(total) +
                     " along the axis, result has " +
                     std::to_string(out.shape[axis]));
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  unsigned e = dtypeBytes(out.dtype);
  std::vector<int64_t> outStr = rowMajorStrides(out.shape);
  int64_t at = 0;
  for (const Tensor &t : ins) {
    if (t.numel())
      emitViewCopy(ctx, t.shape, t.addr, rowMajorStrides(t.shape),
                   out.addr + at * outStr[axis] * e, outStr, e);
    at += t.shape[axis];
  }
}

void StreamEmitter::broadcastTo(const Tensor &in, const Tensor &out) {
  if (in.dtype != out.dtype)
    fail("broadcastTo", "dtypes differ");
  Ctx ctx{stream, chipDesc, &spmUse};
  std::vector<int64_t> srcStr = broadcastStrides("broadcastTo", in, out.shape);
  beginKernel();
  if (out.numel())
    emitViewCopy(ctx, out.shape, in.addr, srcStr, out.addr,
                 rowMajorStrides(out.shape), dtypeBytes(in.dtype));
}

// Indices go to each core's scratchpad, then one GatherCmd per block of
// rows copies table rows straight from DRAM to DRAM (the engine bounds-
// checks every index against the table).
void StreamEmitter::gatherRows(const Tensor &table, const Tensor &indices,
                               const Tensor &out) {
  const std::string kernel = "gatherRows";
  if (table.shape.empty())
    fail(kernel, "table must have rank >= 1");
  if (indices.dtype != DType::I32 && indices.dtype != DType::I64)
    fail(kernel, std::string("indices must be int32 or int64, got ") +
                     dtypeName(indices.dtype));
  std::vector<int64_t> expect = indices.shape;
  expect.insert(expect.end(), table.shape.begin() + 1, table.shape.end());
  if (out.shape != expect || out.dtype != table.dtype)
    fail(kernel, "result must be " + shapeStr(expect) + " of the table dtype");
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  int64_t count = indices.numel(),
          rowElems = table.numel() / std::max<int64_t>(table.shape[0], 1);
  if (count == 0 || rowElems == 0)
    return;
  if (table.shape[0] == 0)
    fail(kernel, "table has no rows");
  unsigned e = dtypeBytes(table.dtype), ei = dtypeBytes(indices.dtype);
  uint64_t rowBytes = rowElems * e;
  int64_t block =
      std::min<int64_t>(count, (chipDesc.scratchpad.bytes - 4096) / ei);
  int64_t blocks = ceilDiv(count, block);
  spmUse.add(0, uint64_t(block) * ei);
  for (unsigned c = 0; c < chipDesc.cores; ++c) {
    int64_t first = splitBegin(count, chipDesc.cores, c),
            last = splitBegin(count, chipDesc.cores, c + 1);
    (void)blocks;
    CoreBuilder b = ctx.core(c);
    // Index loads and gathers on dma0, in order, so one buffer suffices.
    for (int64_t i0 = first; i0 < last; i0 += block) {
      int64_t n = std::min(block, last - i0);
      b.dma(0, b.spm(0), MemRef::dram(indices.addr + i0 * ei),
            static_cast<uint32_t>(n * ei));
      // The gather reads the indices only once their load has landed.
      b.signal(UnitRef::dma(0), kKernelSem);
      b.wait(UnitRef::dma(0), kKernelSem);
      GatherCmd g;
      g.table = MemRef::dram(table.addr);
      g.rowBytes = static_cast<uint32_t>(rowBytes);
      g.tableRowStride = rowBytes;
      g.numRows = static_cast<uint32_t>(table.shape[0]);
      g.indices = b.spm(0);
      g.indexType = indices.dtype;
      g.count = static_cast<uint32_t>(n);
      g.dst = MemRef::dram(out.addr + i0 * rowBytes);
      g.dstRowStride = rowBytes;
      b.gather(0, g);
      // ... and the next block's indices overwrite them only after it.
      b.signal(UnitRef::dma(0), kKernelSem);
      b.wait(UnitRef::dma(0), kKernelSem);
    }
  }
}

// One GatherCmd per line along the axis: the line's indices come to the
// scratchpad (strided DMA), then the engine copies data[.., idx, ..] with
// the data's axis stride as the table's row stride into the output line
// at its axis stride (RoBERTa's token-type ids gathered by position ids).
void StreamEmitter::gatherElements(const Tensor &data, const Tensor &indices,
                                   int64_t axis, const Tensor &out) {
  const std::string kernel = "gatherElements";
  int64_t n = static_cast<int64_t>(data.shape.size());
  if (n == 0 || indices.shape.size() != data.shape.size() ||
      out.shape != indices.shape || out.dtype != data.dtype)
    fail(kernel, "data " + shapeStr(data.shape) + ", indices " +
                     shapeStr(indices.shape) + " and result " +
                     shapeStr(out.shape) +
                     " need one rank >= 1, the indices' shape and the "
                     "data's dtype");
  if (indices.dtype != DType::I32 && indices.dtype != DType::I64)
    fail(kernel, std::string("indices must be int32 or int64, got ") +
                     dtypeName(indices.dtype));
  int64_t ax = axis < 0 ? axis + n : axis;
  if (ax < 0 || ax >= n)
    fail(kernel, "axis " + std::to_string(axis) + " out of range for " +
                     shapeStr(data.shape));
  for (int64_t d = 0; d < n; ++d)
    if (d != ax && indices.shape[d] > data.shape[d])
      fail(kernel, "indices " + shapeStr(indices.shape) + " exceed the data " +
                       shapeStr(data.shape) + " off the axis");
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  int64_t S = indices.shape[ax], count = indices.numel();
  if (count == 0)
    return;
  if (data.shape[ax] == 0)
    fail(kernel, "the data has no elements along the axis");
  unsigned e = dtypeBytes(data.dtype), ei = dtypeBytes(indices.dtype);
  std::vector<int64_t> dStr = rowMajorStrides(data.shape),
                       iStr = rowMajorStrides(indices.shape);
  // The other dims, outermost first: every index over them is one line.
  std::vector<int64_t> lineShape;
  for (int64_t d = 0; d < n; ++d)
    if (d != ax)
      lineShape.push_back(indices.shape[d]);
  int64_t lines = count / S;
  int64_t block = std::min<int64_t>(S, (chipDesc.scratchpad.bytes - 4096) / ei);
  spmUse.add(0, uint64_t(block) * ei);
  for (unsigned c = 0; c < chipDesc.cores; ++c) {
    int64_t first = splitBegin(lines, chipDesc.cores, c),
            last = splitBegin(lines, chipDesc.cores, c + 1);
    CoreBuilder b = ctx.core(c);
    for (int64_t line = first; line < last; ++line) {
      int64_t rest = line, dBase = 0, iBase = 0;
      for (int64_t d = n - 1, k = int64_t(lineShape.size()) - 1; d >= 0; --d) {
        if (d == ax)
          continue;
        int64_t idx = rest % lineShape[k];
        rest /= lineShape[k--];
        dBase += idx * dStr[d];
        iBase += idx * iStr[d];
      }
      for (int64_t j0 = 0; j0 < S; j0 += block) {
        int64_t nj = std::min(block, S - j0);
        int64_t at = iBase + j0 * iStr[ax];
        DmaCmd load;
        load.src = MemRef::dram(indices.addr + at * ei);
        load.dst = b.spm(0);
        load.rowBytes = ei;
        load.rows = static_cast<uint32_t>(nj);
        load.srcRowStride = uint64_t(iStr[ax]) * ei;
        load.dstRowStride = ei;
        b.dma(0, load);
        // The gather reads the indices only once their load has landed,
        // and the next load overwrites them only after the gather.
        b.signal(UnitRef::dma(0), kKernelSem);
        b.wait(UnitRef::dma(0), kKernelSem);
        GatherCmd g;
        g.table = MemRef::dram(data.addr + dBase * e);
        g.rowBytes = e;
        g.tableRowStride = uint64_t(dStr[ax]) * e;
        g.numRows = static_cast<uint32_t>(data.shape[ax]);
        g.indices = b.spm(0);
        g.indexType = indices.dtype;
        g.count = static_cast<uint32_t>(nj);
        g.dst = MemRef::dram(out.addr + at * e);
        g.dstRowStride = uint64_t(iStr[ax]) * e;
        b.gather(0, g);
        b.signal(UnitRef::dma(0), kKernelSem);
        b.wait(UnitRef::dma(0), kKernelSem);
      }
    }
  }
}

} // namespace gaon::npu_kernels
