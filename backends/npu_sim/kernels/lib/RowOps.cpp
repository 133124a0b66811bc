//===- RowOps.cpp - softmax, layer norm, RMS norm over the last axis ------===//
//
// Rows are split over cores; each core streams blocks of whole rows through
// the double-buffered pipeline and does every step on the vector unit in
// fp32 (row statistics are rows x 1 columns broadcast back with bcast col).
// Scale and bias are loaded once per core and broadcast with bcast row.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace {

enum : uint16_t { kParams = kKernelSem + 4 }; // after the pipeline's four

struct RowTile {
  uint32_t rows, cols;
  VecOperand in, out, x, y, colA, colB, scale, bias;
};
using RowBody = std::function<void(CoreBuilder &, const RowTile &)>;

void emitRowKernel(const Ctx &ctx, const std::string &kernel, const Tensor &in,
                   const Tensor &out, const Tensor *scale, const Tensor *bias,
                   int scratchTiles, const RowBody &body) {
  if (in.shape != out.shape)
    fail(kernel, "input " + shapeStr(in.shape) + " and result " +
                     shapeStr(out.shape) + " differ");
  int64_t L = in.shape.empty() ? 1 : in.shape.back();
  int64_t R = L ? in.numel() / L : 0;
  for (const Tensor *p : {scale, bias})
    if (p && p->numel() != L)
      fail(kernel, "scale/bias of shape " + shapeStr(p->shape) + " must hold " +
                       std::to_string(L) + " elements");
  if (R == 0 || L == 0)
    return;
  unsigned ei = dtypeBytes(in.dtype), eo = dtypeBytes(out.dtype);
  uint64_t perRow = L * (2 * ei + 2 * eo + 4 * scratchTiles) + 8 + 64;
  uint64_t fixed = 16 * 64 + (scale ? L * 4 : 0) + (bias ? L * 4 : 0);
  if (fixed + perRow > ctx.chip.scratchpad.bytes)
    fail(kernel, "a row of " + std::to_string(L) +
                     " elements does not fit the scratchpad of chip " +
                     ctx.chip.name);
  int64_t tr = std::min<int64_t>({(ctx.chip.scratchpad.bytes - fixed) / perRow,
                                  ceilDiv(R, ctx.cores()),
                                  std::max<int64_t>(1, 32768 / L)});
  SpmAlloc spm{kernel, ctx.chip.scratchpad.bytes};
  uint64_t inSlot[2] = {spm.take(tr * L * ei), spm.take(tr * L * ei)};
  uint64_t outSlot[2] = {spm.take(tr * L * eo), spm.take(tr * L * eo)};
  uint64_t x = spm.take(tr * L * 4),
           y = scratchTiles > 1 ? spm.take(tr * L * 4) : 0;
  uint64_t colA = spm.take(tr * 4), colB = spm.take(tr * 4);
  uint64_t scaleAt = scale ? spm.take(L * dtypeBytes(scale->dtype)) : 0;
  uint64_t biasAt = bias ? spm.take(L * dtypeBytes(bias->dtype)) : 0;
  uint32_t pitchIn = static_cast<uint32_t>(L * ei),
           pitchOut = static_cast<uint32_t>(L * eo),
           pitch32 = static_cast<uint32_t>(L * 4);

  int64_t tiles = ceilDiv(R, tr);
  for (unsigned c = 0; c < ctx.cores(); ++c) {
    int64_t first = splitBegin(tiles, ctx.cores(), c),
            last = splitBegin(tiles, ctx.cores(), c + 1);
    if (first == last)
      continue;
    CoreBuilder b = ctx.core(c);
    Pipeline pipe(ctx, b, kKernelSem);
    bool params = scale || bias;
    if (scale)
      b.dma(0, b.spm(scaleAt), MemRef::dram(scale->addr),
            static_cast<uint32_t>(L * dtypeBytes(scale->dtype)));
    if (bias)
      b.dma(0, b.spm(biasAt), MemRef::dram(bias->addr),
            static_cast<uint32_t>(L * dtypeBytes(bias->dtype)));
    if (params) {
      b.signal(pipe.loader, kParams);
      b.wait(UnitRef::vector(), kParams);
    }
    for (int64_t t = first; t < last; ++t) {
      int64_t r0 = t * tr;
      uint32_t nr = static_cast<uint32_t>(std::min(tr, R - r0));
      int s = pipe.beginLoad();
      b.dma(0, b.spm(inSlot[s]), MemRef::dram(in.addr + r0 * L * ei),
            static_cast<uint32_t>(nr * L * ei));
      pipe.endLoad();
      pipe.beginCompute();
      int o = pipe.beginOutput();
      RowTile tile;
      tile.rows = nr;
      tile.cols = static_cast<uint32_t>(L);
      tile.in = {inSlot[s], pitchIn, in.dtype};
      tile.out = {outSlot[o], pitchOut, out.dtype};
      tile.x = {x, pitch32, DType::F32};
      tile.y = {y, pitch32, DType::F32};
      tile.colA = {colA, 4, DType::F32};
      tile.colB = {colB, 4, DType::F32};
      if (scale)
        tile.scale = {scaleAt, 0, scale->dtype};
      if (bias)
        tile.bias = {biasAt, 0, bias->dtype};
      body(b, tile);
      pipe.endCompute();
      pipe.endOutput();
      pipe.beginStore();
      b.dma(pipe.storer.index, MemRef::dram(out.addr + r0 * L * eo),
            b.spm(outSlot[o]), static_cast<uint32_t>(nr * L * eo));
      pipe.endStore();
    }
    pipe.finish();
  }
}

} // namespace

void StreamEmitter::softmax(const Tensor &in, const Tensor &out) {
  Ctx ctx{stream, chipDesc};
  ctx.needVecOp("softmax", VecOp::Exp);
  ctx.needVecOp("softmax", VecOp::Recip);
  beginKernel();
  emitRowKernel(ctx, "softmax", in, out, nullptr, nullptr, 1,
                [](CoreBuilder &b, const RowTile &t) {
                  uint32_t r = t.rows, c = t.cols;
                  vec(b, VecOp::ReduceMax, r, c, t.colA, t.in);
                  vec(b, VecOp::Sub, r, c, t.x, t.in, t.colA, Broadcast::Col);
                  vec(b, VecOp::Exp, r, c, t.x, t.x);
                  vec(b, VecOp::ReduceSum, r, c, t.colB, t.x);
                  vec(b, VecOp::Recip, r, 1, t.colB, t.colB);
                  vec(b, VecOp::Mul, r, c, t.out, t.x, t.colB, Broadcast::Col);
                });
}

void StreamEmitter::layerNorm(const Tensor &in, const Tensor &scale,
                              const Tensor *bias, double eps,
                              const Tensor &out) {
  Ctx ctx{stream, chipDesc};
  ctx.needVecOp("layerNorm", VecOp::Rsqrt);
  beginKernel();
  float invL = 1.0f / float(in.shape.empty() ? 1 : in.shape.back());
  bool hasBias = bias != nullptr;
  emitRowKernel(
      ctx, "layerNorm", in, out, &scale, bias, 2,
      [=](CoreBuilder &b, const RowTile &t) {
        uint32_t r = t.rows, c = t.cols;
        Broadcast none = Broadcast::None;
        vec(b, VecOp::ReduceSum, r, c, t.colA, t.in);
        vec(b, VecOp::Scale, r, 1, t.colA, t.colA, {}, none, invL, 0);
        vec(b, VecOp::Sub, r, c, t.x, t.in, t.colA, Broadcast::Col);
        vec(b, VecOp::Mul, r, c, t.y, t.x, t.x);
        vec(b, VecOp::ReduceSum, r, c, t.colB, t.y);
        vec(b, VecOp::Scale, r, 1, t.colB, t.colB, {}, none, invL, float(eps));
        vec(b, VecOp::Rsqrt, r, 1, t.colB, t.colB);
        vec(b, VecOp::Mul, r, c, t.x, t.x, t.colB, Broadcast::Col);
        vec(b, VecOp::Mul, r, c, hasBias ? t.x : t.out, t.x, t.scale,
            Broadcast::Row);
        if (hasBias)
          vec(b, VecOp::Add, r, c, t.out, t.x, t.bias, Broadcast::Row);
      });
}

void StreamEmitter::rmsNorm(const Tensor &in, const Tensor &scale, double eps,
                            const Tensor &out) {
  Ctx ctx{stream, chipDesc};
  ctx.needVecOp("rmsNorm", VecOp::Rsqrt);
  beginKernel();
  float invL = 1.0f / float(in.shape.empty() ? 1 : in.shape.back());
  emitRowKernel(ctx, "rmsNorm", in, out, &scale, nullptr, 1,
                [=](CoreBuilder &b, const RowTile &t) {
                  uint32_t r = t.rows, c = t.cols;
                  vec(b, VecOp::Mul, r, c, t.x, t.in, t.in);
                  vec(b, VecOp::ReduceSum, r, c, t.colB, t.x);
                  vec(b, VecOp::Scale, r, 1, t.colB, t.colB, {},
                      Broadcast::None, invL, float(eps));
                  vec(b, VecOp::Rsqrt, r, 1, t.colB, t.colB);
                  vec(b, VecOp::Mul, r, c, t.x, t.in, t.colB, Broadcast::Col);
                  vec(b, VecOp::Mul, r, c, t.out, t.x, t.scale, Broadcast::Row);
                });
}

} // namespace gaon::npu_kernels
