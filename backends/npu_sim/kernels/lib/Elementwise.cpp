//===- Elementwise.cpp - binary, unary, cast, select, activation ----------===//
//
// All elementwise kernels share one engine: operands are strided views of
// the output shape (stride 0 on broadcast dims), dims are coalesced, and
// each core streams tiles of rows through a double-buffered pipeline
// (dma0 loads, the vector unit computes, the last engine stores).
//
//===----------------------------------------------------------------------===//

#include "Elementwise.h"

#include <algorithm>
#include <array>

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace detail {

namespace {

enum class Mode { Full, RowConst, Col, Scalar };

// A 2-D (or wider) region of the output with every operand's strides.
struct Region {
  std::vector<int64_t> shape;
  std::vector<std::vector<int64_t>> strides; // per input, then out (elements)
  std::vector<int64_t> offsets;              // element offset per view
};

} // namespace

void emitElementwise(const Ctx &ctx, const std::string &kernel,
                     const std::vector<EwInput> &ins, const Tensor &out,
                     int scratchTiles, const EwBody &body) {
  size_t nIn = ins.size();
  std::vector<int64_t> shape = out.shape;
  std::vector<std::vector<int64_t>> strides;
  for (const EwInput &in : ins)
    strides.push_back(broadcastStrides(kernel, in.tensor, out.shape));
  strides.push_back(rowMajorStrides(out.shape));
  for (int64_t d : out.shape)
    if (d < 0)
      fail(kernel, "negative dim in " + shapeStr(out.shape));
  if (out.numel() == 0)
    return;
  coalesce(shape, strides);
  if (shape.empty()) {
    shape = {1};
    for (auto &s : strides)
      s = {0};
  }

  // A fully contiguous 1-D problem is folded to [T / W, W] plus a tail row
  // so tiles hold many lanes-wide rows and cores split the rows.
  std::vector<Region> regions;
  int64_t width = std::max<int64_t>(1024, ctx.chip.vector.lanes);
  if (shape.size() == 1 && shape[0] > width) {
    int64_t total = shape[0], rows = total / width;
    Region main;
    main.shape = {rows, width};
    main.offsets.assign(nIn + 1, 0);
    Region tail;
    tail.shape = {1, total - rows * width};
    for (auto &s : strides) {
      main.strides.push_back({s[0] * width, s[0]});
      tail.strides.push_back({0, s[0]});
      tail.offsets.push_back(s[0] * rows * width);
    }
    regions.push_back(main);
    if (tail.shape[1] > 0)
      regions.push_back(tail);
  } else {
    Region r;
    r.shape = shape;
    r.strides = strides;
    r.offsets.assign(nIn + 1, 0);
    regions.push_back(r);
  }

  // Plan every region first: all regions of a core share one scratchpad
  // layout (sized for the largest), because the pipeline's slot hand-offs
  // do not know about regions.
  unsigned eo = dtypeBytes(out.dtype);
  uint64_t capacity = ctx.chip.scratchpad.bytes;
  struct Plan {
    std::vector<Mode> modes;
    int64_t rows, cols, tr, tc, colTiles, tiles;
  };
  std::vector<Plan> plans;
  std::vector<uint64_t> inBytes(nIn, 0);
  uint64_t outBytes = 0, scratchBytes = 0;
  for (const Region &region : regions) {
    Plan p;
    int n = static_cast<int>(region.shape.size());
    p.cols = region.shape[n - 1];
    p.rows = 1;
    for (int i = 0; i < n - 1; ++i)
      p.rows *= region.shape[i];
    p.modes.resize(nIn);
    uint64_t bytesPerElem = 2 * eo + 4 * scratchTiles, bytesPerRow = 0;
    for (size_t i = 0; i < nIn; ++i) {
      const auto &st = region.strides[i];
      bool outerZero = true;
      for (int d = 0; d < n - 1; ++d)
        outerZero = outerZero && st[d] == 0;
      bool constAlongCols = p.cols > 1 && st[n - 1] == 0;
      unsigned e = dtypeBytes(ins[i].tensor.dtype);
      if (constAlongCols && ins[i].allowCol)
        p.modes[i] = outerZero && p.rows > 1 ? Mode::Scalar : Mode::Col;
      else if (outerZero && p.rows > 1 && !constAlongCols)
        p.modes[i] = Mode::RowConst;
      else
        p.modes[i] = Mode::Full;
      if (p.modes[i] == Mode::Full)
        bytesPerElem += 2 * e;
      else if (p.modes[i] == Mode::Col)
        bytesPerRow += 2 * e;
    }
    // Tile: whole rows when they fit, at most ~32K elements so loads,
    // compute and stores of neighbouring tiles overlap.
    uint64_t budget = capacity - 64 * (4 * nIn + 8 + scratchTiles) -
                      2 * 64 * nIn - 4 * nIn * 64;
    int64_t maxElems =
        std::min<int64_t>(32768, budget / (bytesPerElem + bytesPerRow));
    if (maxElems < 1)
      fail(kernel, "a tile does not fit the scratchpad");
    p.tc = std::min<int64_t>(p.cols, maxElems);
    p.tr =
        std::max<int64_t>(1, std::min<int64_t>({p.rows, maxElems / p.tc,
                                                ceilDiv(p.rows, ctx.cores())}));
    p.colTiles = ceilDiv(p.cols, p.tc);
    p.tiles = ceilDiv(p.rows, p.tr) * p.colTiles;
    for (size_t i = 0; i < nIn; ++i) {
      unsigned e = dtypeBytes(ins[i].tensor.dtype);
      uint64_t bytes = p.modes[i] == Mode::Full       ? p.tr * p.tc * e
                       : p.modes[i] == Mode::RowConst ? p.tc * e
                       : p.modes[i] == Mode::Col      ? p.tr * e
                                                      : e;
      inBytes[i] = std::max(inBytes[i], bytes);
    }
    outBytes = std::max<uint64_t>(outBytes, p.tr * p.tc * eo);
    scratchBytes = std::max<uint64_t>(scratchBytes, p.tr * p.tc * 4);
    plans.push_back(p);
  }
  SpmAlloc spm{kernel, capacity, 0, ctx.use};
  std::vector<std::array<uint64_t, 2>> inSlot(nIn);
  for (size_t i = 0; i < nIn; ++i)
    inSlot[i] = {spm.take(inBytes[i]), spm.take(inBytes[i])};
  uint64_t outSlot[2] = {spm.take(outBytes), spm.take(outBytes)};
  std::vector<uint64_t> scratch;
  for (int i = 0; i < scratchTiles; ++i)
    scratch.push_back(spm.take(scratchBytes));

  for (unsigned c = 0; c < ctx.cores(); ++c) {
    CoreBuilder b = ctx.core(c);
    Pipeline pipe(ctx, b, kKernelSem);
    for (size_t ri = 0; ri < regions.size(); ++ri) {
      const Region &region = regions[ri];
      const Plan &p = plans[ri];
      int64_t first = splitBegin(p.tiles, ctx.cores(), c),
              last = splitBegin(p.tiles, ctx.cores(), c + 1);
      for (int64_t t = first; t < last; ++t) {
        int64_t r0 = (t / p.colTiles) * p.tr, c0 = (t % p.colTiles) * p.tc;
        int64_t nr = std::min(p.tr, p.rows - r0),
                nc = std::min(p.tc, p.cols - c0);
        int s = pipe.beginLoad();
        EwTile tile;
        tile.rows = static_cast<uint32_t>(nr);
        tile.cols = static_cast<uint32_t>(nc);
        for (size_t i = 0; i < nIn; ++i) {
          const Tensor &tensor = ins[i].tensor;
          unsigned e = dtypeBytes(tensor.dtype);
          Side src = dramSide(tensor.addr + region.offsets[i] * e,
                              region.strides[i], e);
          uint64_t at = inSlot[i][s];
          VecOperand op{at, 0, tensor.dtype};
          switch (p.modes[i]) {
          case Mode::Full:
            emitRegionDma(b, 0, region.shape, src,
                          spmTileSide(c, at, region.shape, r0, c0, nc * e, e),
                          r0, nr, c0, nc, e);
            op.stride = static_cast<uint32_t>(nc * e);
            break;
          case Mode::RowConst:
            emitRegionDma(b, 0, region.shape, src,
                          spmTileSide(c, at, region.shape, 0, c0, nc * e, e), 0,
                          1, c0, nc, e);
            break;
          case Mode::Col:
            emitRegionDma(b, 0, region.shape, src,
                          spmTileSide(c, at, region.shape, r0, 0, e, e), r0, nr,
                          0, 1, e);
            op.stride = e;
            break;
          case Mode::Scalar:
            emitRegionDma(b, 0, region.shape, src,
                          spmTileSide(c, at, region.shape, 0, 0, e, e), 0, 1, 0,
                          1, e);
            break;
          }
          tile.in.push_back(op);
          tile.isCol.push_back(p.modes[i] == Mode::Col ||
                               p.modes[i] == Mode::Scalar);
        }
        pipe.endLoad();

        pipe.beginCompute();
        int o = pipe.beginOutput();
        tile.out = {outSlot[o], static_cast<uint32_t>(nc * eo), out.dtype};
        for (uint64_t at : scratch)
          tile.scratch.push_back(
              {at, static_cast<uint32_t>(nc * 4), DType::F32});
        body(b, tile);
        pipe.endCompute();
        pipe.endOutput();

        pipe.beginStore();
        Side dst = dramSide(out.addr + region.offsets[nIn] * eo,
                            region.strides[nIn], eo);
        emitRegionDma(
            b, pipe.storer.index, region.shape,
            spmTileSide(c, outSlot[o], region.shape, r0, c0, nc * eo, eo), dst,
            r0, nr, c0, nc, eo);
        pipe.endStore();
      }
    }
    pipe.finish();
  }
}

} // namespace detail

Broadcast colOr(bool isCol) { return isCol ? Broadcast::Col : Broadcast::None; }

void StreamEmitter::binary(VecOp op, const Tensor &a, const Tensor &b,
                           const Tensor &out) {
  std::string kernel = std::string("binary ") + vecOpName(op);
  if (vecOpArity(op) != 2 || isReductionVecOp(op))
    fail(kernel, std::string(vecOpName(op)) + " is not a binary op");
  Ctx ctx{stream, chipDesc, &spmUse};
  ctx.needVecOp(kernel, op);
  beginKernel();
  // Operands constant along the last dim stay columns (bcast col).
  emitElementwise(ctx, kernel, {{a, true}, {b, true}}, out, 0,
                  [&](CoreBuilder &cb, const EwTile &t) {
                    vec(cb, op, t.rows, t.cols, t.out, t.in[0], t.in[1],
                        colOr(t.isCol[1]), 1, 0, colOr(t.isCol[0]));
                  });
}

void StreamEmitter::unary(VecOp op, const Tensor &in, const Tensor &out,
                          float alpha, float beta) {
  std::string kernel = std::string("unary ") + vecOpName(op);
  if (isBinaryVecOp(op) || isReductionVecOp(op))
    fail(kernel, std::string(vecOpName(op)) + " is not a unary op");
  Ctx ctx{stream, chipDesc, &spmUse};
  ctx.needVecOp(kernel, op);
  beginKernel();
  emitElementwise(ctx, kernel, {{in, false}}, out, 0,
                  [&](CoreBuilder &cb, const EwTile &t) {
                    vec(cb, op, t.rows, t.cols, t.out, t.in[0], {},
                        Broadcast::None, alpha, beta);
                  });
}

void StreamEmitter::cast(const Tensor &in, const Tensor &out) {
  if (in.shape != out.shape)
    fail("cast",
         "shapes differ: " + shapeStr(in.shape) + " vs " + shapeStr(out.shape));
  unary(VecOp::Cast, in, out);
}

void StreamEmitter::activation(Activation act, const Tensor &in,
                               const Tensor &out) {
  std::string kernel = "activation";
  Ctx ctx{stream, chipDesc, &spmUse};
  if (in.shape != out.shape)
    fail(kernel,
         "shapes differ: " + shapeStr(in.shape) + " vs " + shapeStr(out.shape));
  beginKernel();
  emitElementwise(ctx, kernel, {{in, false}}, out, 0,
                  [&](CoreBuilder &cb, const EwTile &t) {
                    emitActivation(ctx, kernel, cb, act, t.rows, t.cols, t.out,
                                   t.in[0]);
                  });
}

void StreamEmitter::select(const Tensor &cond, const Tensor &a, const Tensor &b,
                           const Tensor &out) {
  std::string kernel = "select";
  Ctx ctx{stream, chipDesc, &spmUse};
  beginKernel();
  emitElementwise(ctx, kernel, {{a, true}, {b, true}, {cond, true}}, out, 0,
                  [&](CoreBuilder &cb, const EwTile &t) {
                    VectorCmd cmd;
                    cmd.op = VecOp::Select;
                    cmd.rows = t.rows;
                    cmd.cols = t.cols;
                    cmd.dst = t.out;
                    cmd.a = t.in[0];
                    cmd.b = t.in[1];
                    cmd.c = t.in[2];
                    cmd.bcastA = colOr(t.isCol[0]);
                    cmd.bcast = colOr(t.isCol[1]);
                    cmd.bcastC = colOr(t.isCol[2]);
                    cb.vector(cmd);
                  });
}

} // namespace gaon::npu_kernels
