//===- Reduce.cpp - sum/max/min/mean/prod over any axes -------------------===//
//
// The input is viewed as [kept..., reduced...] (a strided view, each part
// coalesced on its own), so every kept index owns a packed row of all its
// reduced elements in the scratchpad; one row reduction per tile gives a
// column that is the output block. Rows are split over cores and pipelined.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

void StreamEmitter::reduce(ReduceOp op, const Tensor &in,
                           const std::vector<int64_t> &axes,
                           const Tensor &out) {
  const std::string kernel = "reduce";
  Ctx ctx{stream, chipDesc, &spmUse};
  int64_t n = static_cast<int64_t>(in.shape.size());
  std::vector<bool> reduced(n, axes.empty());
  for (int64_t a : axes) {
    int64_t ax = a < 0 ? a + n : a;
    if (ax < 0 || ax >= n)
      fail(kernel, "axis " + std::to_string(a) + " out of range for " +
                       shapeStr(in.shape));
    reduced[ax] = true;
  }
  std::vector<int64_t> strides = rowMajorStrides(in.shape);
  std::vector<int64_t> kShape, kStr, rShape, rStr;
  for (int64_t i = 0; i < n; ++i) {
    (reduced[i] ? rShape : kShape).push_back(in.shape[i]);
    (reduced[i] ? rStr : kStr).push_back(strides[i]);
  }
  int64_t R = 1, L = 1;
  for (int64_t d : kShape)
    R *= d;
  for (int64_t d : rShape)
    L *= d;
  if (out.numel() != R)
    fail(kernel, "result " + shapeStr(out.shape) + " must hold the " +
                     std::to_string(R) + " kept elements");
  // (The graph folds reductions of empty tensors to constants; the kernel
  // would otherwise leave the output unwritten.)
  if (L == 0 && R > 0)
    fail(kernel,
         "a reduction over no elements (shape " + shapeStr(in.shape) + ")");
  beginKernel();
  if (R == 0)
    return;
  std::vector<std::vector<int64_t>> ks = {kStr}, rs = {rStr};
  coalesce(kShape, ks);
  coalesce(rShape, rs);
  if (kShape.empty())
    kShape = {1}, ks = {{0}};
  if (rShape.empty())
    rShape = {1}, rs = {{0}};
  std::vector<int64_t> shape = kShape, vstr = ks[0];
  shape.insert(shape.end(), rShape.begin(), rShape.end());
  vstr.insert(vstr.end(), rs[0].begin(), rs[0].end());
  int64_t lc = rShape.back(), rowsPerKept = L / lc;

  unsigned ei = dtypeBytes(in.dtype), eo = dtypeBytes(out.dtype);
  // Integer rows accumulate in int64: an f32 column would round sums and
  // products past 2^24.
  DType accType = isFloatType(in.dtype) ? DType::F32 : DType::I64;
  unsigned ea = dtypeBytes(accType);
  uint64_t perRow = 2 * L * ei + 2 * ea + 2 * eo + 64;
  if (perRow + 1024 > chipDesc.scratchpad.bytes)
    fail(kernel, "a reduction over " + std::to_string(L) +
                     " elements does not fit the scratchpad of chip " +
                     chipDesc.name);
  int64_t tr = std::min<int64_t>({(chipDesc.scratchpad.bytes - 1024) / perRow,
                                  ceilDiv(R, ctx.cores()),
                                  std::max<int64_t>(1, 32768 / L)});
  SpmAlloc spm{kernel, chipDesc.scratchpad.bytes, 0, ctx.use};
  uint64_t inSlot[2] = {spm.take(tr * L * ei), spm.take(tr * L * ei)};
  uint64_t col = spm.take(tr * ea);
  uint64_t outSlot[2] = {spm.take(tr * eo), spm.take(tr * eo)};
  Side src = dramSide(in.addr, vstr, ei);
  VecOp vop = op == ReduceOp::Max    ? VecOp::ReduceMax
              : op == ReduceOp::Min  ? VecOp::ReduceMin
              : op == ReduceOp::Prod ? VecOp::ReduceProd
                                     : VecOp::ReduceSum;
  int64_t tiles = ceilDiv(R, tr);
  for (unsigned c = 0; c < ctx.cores(); ++c) {
    int64_t first = splitBegin(tiles, ctx.cores(), c),
            last = splitBegin(tiles, ctx.cores(), c + 1);
    if (first == last)
      continue;
    CoreBuilder b = ctx.core(c);
    Pipeline pipe(ctx, b, kKernelSem);
    for (int64_t t = first; t < last; ++t) {
      int64_t r0 = t * tr, nr = std::min(tr, R - r0);
      int s = pipe.beginLoad();
      emitRegionDma(
          b, 0, shape, src,
          spmTileSide(c, inSlot[s], shape, r0 * rowsPerKept, 0, lc * ei, ei),
          r0 * rowsPerKept, nr * rowsPerKept, 0, lc, ei);
      pipe.endLoad();
      pipe.beginCompute();
      int o = pipe.beginOutput();
      uint32_t rows = static_cast<uint32_t>(nr),
               cols = static_cast<uint32_t>(L);
      VecOperand acc{col, ea, accType};
      vec(b, vop, rows, cols, acc, {inSlot[s], cols * ei, in.dtype});
      if (op == ReduceOp::Mean)
        vec(b, VecOp::Scale, rows, 1, acc, acc, {}, Broadcast::None,
            float(1.0 / double(L)), 0);
      vec(b, VecOp::Cast, rows, 1, {outSlot[o], eo, out.dtype}, acc);
      pipe.endCompute();
      pipe.endOutput();
      pipe.beginStore();
      b.dma(pipe.storer.index, MemRef::dram(out.addr + r0 * eo),
            b.spm(outSlot[o]), static_cast<uint32_t>(nr * eo));
      pipe.endStore();
    }
    pipe.finish();
  }
}

} // namespace gaon::npu_kernels
