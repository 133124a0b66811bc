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

/// An op over a rows x 1 statistics column (contiguous, stride 4) issued
/// as one 1 x rows row: the vector unit costs per row and lane group, so
/// this takes rows / lanes groups instead of rows.
void colOp(CoreBuilder &b, VecOp op, uint32_t rows, const VecOperand &dst,
           const VecOperand &a, float alpha = 1, float beta = 0) {
  vec(b, op, 1, rows, {dst.addr, rows * 4, dst.type},
      {a.addr, rows * 4, a.type}, {}, Broadcast::None, alpha, beta);
}

const char *kernelName(RowKind kind) {
  return kind == RowKind::Softmax     ? "softmax"
         : kind == RowKind::LayerNorm ? "layerNorm"
                                      : "rmsNorm";
}
/// fp32 row-sized scratch tiles the kernel's body uses.
int scratchTilesOf(RowKind kind) { return kind == RowKind::LayerNorm ? 2 : 1; }

/// A row problem after checking: R rows of L elements.
struct RowShape {
  int64_t R = 0, L = 0;
  unsigned ei = 0, eo = 0;
  uint64_t perRow = 0, fixed = 0;
};

RowShape analyze(const ChipDesc &chip, const std::string &kernel,
                 const Tensor &in, const Tensor &out, const Tensor *scale,
                 const Tensor *bias, int scratchTiles) {
  if (in.shape != out.shape)
    fail(kernel, "input " + shapeStr(in.shape) + " and result " +
                     shapeStr(out.shape) + " differ");
  RowShape r;
  r.L = in.shape.empty() ? 1 : in.shape.back();
  r.R = r.L ? in.numel() / r.L : 0;
  for (const Tensor *p : {scale, bias})
    if (p && p->numel() != r.L)
      fail(kernel, "scale/bias of shape " + shapeStr(p->shape) + " must hold " +
                       std::to_string(r.L) + " elements");
  r.ei = dtypeBytes(in.dtype);
  r.eo = dtypeBytes(out.dtype);
  // Two input and two output slots, the fp32 scratch, two statistics
  // columns, and up to 64 bytes of alignment per row.
  r.perRow = r.L * (2 * r.ei + 2 * r.eo + 4 * scratchTiles) + 8 + 64;
  r.fixed = 16 * 64 + (scale ? r.L * 4 : 0) + (bias ? r.L * 4 : 0);
  return r;
}

RowShape analyze(const ChipDesc &chip, const RowProblem &p) {
  return analyze(chip, kernelName(p.kind), p.in, p.out,
                 p.scale ? &*p.scale : nullptr, p.bias ? &*p.bias : nullptr,
                 scratchTilesOf(p.kind));
}

} // namespace

namespace detail {

uint64_t rowBytes(const ChipDesc &chip, const RowProblem &p,
                  const Schedule &s) {
  RowShape r = analyze(chip, p);
  if (s.tile.size() != 1)
    fail(kernelName(p.kind), "a schedule needs tile {rows}");
  return r.fixed + s.tile[0] * r.perRow;
}

void planRows(const ChipDesc &chip, const RowProblem &p, PlanStep step,
              Schedule &s) {
  std::string kernel = kernelName(p.kind);
  RowShape r = analyze(chip, p);
  uint64_t capacity = chip.scratchpad.bytes;
  if (step == PlanStep::Tile) {
    // As many whole rows as fit double-buffered, at most an even share per
    // core and ~8k elements: small tiles pipeline load, vector work and
    // store finely, so a core's first load and last store are short (layer
    // norm of 1024 x 768 bf16 on rngd: 3,151 cycles with 8-row tiles,
    // 3,695 with 42, 5,124 with 2).
    if (r.fixed + r.perRow > capacity)
      fail(kernel, "a row of " + std::to_string(r.L) +
                       " elements does not fit the scratchpad of chip " +
                       chip.name + " (" + std::to_string(capacity) +
                       " bytes per core)");
    int64_t share = ceilDiv(std::max<int64_t>(r.R, 1), chip.cores);
    int64_t tr = std::min<int64_t>(
        {int64_t((capacity - r.fixed) / r.perRow), share,
         std::max<int64_t>(1, 8192 / std::max<int64_t>(r.L, 1))});
    // Equal tiles over a core's share (16 rows: 8 + 8, not 10 + 6).
    tr = ceilDiv(share, ceilDiv(share, tr));
    s.tile = {tr};
    return;
  }
  if (s.tile.size() != 1)
    fail(kernel, "tile size {rows} must be chosen first");
  if (step == PlanStep::Partition) {
    s.split = Split::Rows;
    s.cores = static_cast<unsigned>(std::clamp<int64_t>(
        ceilDiv(std::max<int64_t>(r.R, 1), s.tile[0]), 1, chip.cores));
    return;
  }
  uint64_t need = r.fixed + s.tile[0] * r.perRow;
  if (need > capacity)
    fail(kernel, "tiles of " + std::to_string(s.tile[0]) + " rows of " +
                     std::to_string(r.L) + " elements double-buffered need " +
                     std::to_string(need) +
                     " scratchpad bytes per core; chip " + chip.name + " has " +
                     std::to_string(capacity));
  s.buffers = {2, 2};
}

} // namespace detail

namespace {

void emitRowKernel(const Ctx &ctx, RowKind kind, const Tensor &in,
                   const Tensor &out, const Tensor *scale, const Tensor *bias,
                   const Schedule *schedule, const RowBody &body) {
  std::string kernel = kernelName(kind);
  RowShape rs =
      analyze(ctx.chip, kernel, in, out, scale, bias, scratchTilesOf(kind));
  int64_t L = rs.L, R = rs.R;
  if (R == 0 || L == 0)
    return;
  Schedule sched =
      schedule
          ? *schedule
          : defaultSchedule(
                ctx.chip,
                RowProblem{kind, in, out,
                           scale ? std::optional<Tensor>(*scale) : std::nullopt,
                           bias ? std::optional<Tensor>(*bias) : std::nullopt});
  if (sched.tile.size() != 1 || sched.tile[0] < 1 ||
      sched.split != Split::Rows || sched.buffers != std::vector<int64_t>{2, 2})
    fail(kernel, "the schedule needs tile {rows} >= 1, split rows and "
                 "buffers {2, 2}");
  if (rs.fixed + sched.tile[0] * rs.perRow > ctx.chip.scratchpad.bytes)
    fail(kernel,
         "the schedule does not fit the scratchpad of chip " + ctx.chip.name);
  unsigned ei = rs.ei, eo = rs.eo;
  int64_t tr = sched.tile[0];
  unsigned useCores =
      sched.cores ? std::min(sched.cores, ctx.cores()) : ctx.cores();
  int scratchTiles = scratchTilesOf(kind);
  SpmAlloc spm{kernel, ctx.chip.scratchpad.bytes, 0, ctx.use};
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
  for (unsigned c = 0; c < useCores; ++c) {
    int64_t first = splitBegin(tiles, useCores, c),
            last = splitBegin(tiles, useCores, c + 1);
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

void StreamEmitter::softmax(const Tensor &in, const Tensor &out,
                            const Schedule *schedule) {
  Ctx ctx{stream, chipDesc, &spmUse};
  ctx.needVecOp("softmax", VecOp::Exp);
  ctx.needVecOp("softmax", VecOp::Recip);
  beginKernel();
  emitRowKernel(ctx, RowKind::Softmax, in, out, nullptr, nullptr, schedule,
                [](CoreBuilder &b, const RowTile &t) {
                  uint32_t r = t.rows, c = t.cols;
                  vec(b, VecOp::ReduceMax, r, c, t.colA, t.in);
                  vec(b, VecOp::Sub, r, c, t.x, t.in, t.colA, Broadcast::Col);
                  vec(b, VecOp::Exp, r, c, t.x, t.x);
                  vec(b, VecOp::ReduceSum, r, c, t.colB, t.x);
                  colOp(b, VecOp::Recip, r, t.colB, t.colB);
                  vec(b, VecOp::Mul, r, c, t.out, t.x, t.colB, Broadcast::Col);
                });
}

void StreamEmitter::layerNorm(const Tensor &in, const Tensor &scale,
                              const Tensor *bias, double eps, const Tensor &out,
                              const Schedule *schedule) {
  layerNorm(in, &scale, bias, eps, out, schedule);
}

void StreamEmitter::layerNorm(const Tensor &in, const Tensor *scale,
                              const Tensor *bias, double eps, const Tensor &out,
                              const Schedule *schedule) {
  Ctx ctx{stream, chipDesc, &spmUse};
  ctx.needVecOp("layerNorm", VecOp::Rsqrt);
  beginKernel();
  float invL = 1.0f / float(in.shape.empty() ? 1 : in.shape.back());
  bool hasBias = bias != nullptr, hasScale = scale != nullptr;
  emitRowKernel(ctx, RowKind::LayerNorm, in, out, scale, bias, schedule,
                [=](CoreBuilder &b, const RowTile &t) {
                  uint32_t r = t.rows, c = t.cols;
                  vec(b, VecOp::ReduceSum, r, c, t.colA, t.in);
                  colOp(b, VecOp::Scale, r, t.colA, t.colA, invL, 0);
                  vec(b, VecOp::Sub, r, c, t.x, t.in, t.colA, Broadcast::Col);
                  vec(b, VecOp::Mul, r, c, t.y, t.x, t.x);
                  vec(b, VecOp::ReduceSum, r, c, t.colB, t.y);
                  colOp(b, VecOp::Scale, r, t.colB, t.colB, invL, float(eps));
                  colOp(b, VecOp::Rsqrt, r, t.colB, t.colB);
                  // The last op writes the output dtype.
                  vec(b, VecOp::Mul, r, c, hasScale || hasBias ? t.x : t.out,
                      t.x, t.colB, Broadcast::Col);
                  if (hasScale)
                    vec(b, VecOp::Mul, r, c, hasBias ? t.x : t.out, t.x,
                        t.scale, Broadcast::Row);
                  if (hasBias)
                    vec(b, VecOp::Add, r, c, t.out, t.x, t.bias,
                        Broadcast::Row);
                });
}

void StreamEmitter::rmsNorm(const Tensor &in, const Tensor &scale, double eps,
                            const Tensor &out, const Schedule *schedule) {
  Ctx ctx{stream, chipDesc, &spmUse};
  ctx.needVecOp("rmsNorm", VecOp::Rsqrt);
  beginKernel();
  float invL = 1.0f / float(in.shape.empty() ? 1 : in.shape.back());
  emitRowKernel(ctx, RowKind::RmsNorm, in, out, &scale, nullptr, schedule,
                [=](CoreBuilder &b, const RowTile &t) {
                  uint32_t r = t.rows, c = t.cols;
                  vec(b, VecOp::Mul, r, c, t.x, t.in, t.in);
                  vec(b, VecOp::ReduceSum, r, c, t.colB, t.x);
                  colOp(b, VecOp::Scale, r, t.colB, t.colB, invL, float(eps));
                  colOp(b, VecOp::Rsqrt, r, t.colB, t.colB);
                  vec(b, VecOp::Mul, r, c, t.x, t.in, t.colB, Broadcast::Col);
                  vec(b, VecOp::Mul, r, c, t.out, t.x, t.scale, Broadcast::Row);
                });
}

} // namespace gaon::npu_kernels
