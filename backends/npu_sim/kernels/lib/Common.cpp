//===- Common.cpp - Views, tile DMA, pipeline, kernel fences --------------===//

#include "Common.h"

#include "gaon/npu_sim/Simulator.h"

#include <algorithm>
#include <cmath>

namespace gaon::npu_kernels {

using namespace npu_sim;

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}
uint64_t Tensor::bytes() const { return numel() * dtypeBytes(dtype); }

StreamEmitter::StreamEmitter(Stream &stream, const ChipDesc &chip)
    : stream(stream), chipDesc(chip) {
  if (chip.semaphoresPerCore < 16)
    throw KernelError("StreamEmitter: chip " + chip.name + " has " +
                      std::to_string(chip.semaphoresPerCore) +
                      " semaphores per core; the kernels need 16");
  // One program per core, so barriers (participants = stream cores) span
  // the whole chip.
  CoreBuilder(stream, static_cast<uint16_t>(chip.cores - 1));
  // A stream that already holds work is fenced before our first kernel.
  kernelCount = stream.instructionCount() ? 1 : 0;
}

// Every unit of every core reports to dma0 once it has completed all it
// issued (a signal runs after its unit's earlier work), dma0 meets the other
// cores at a barrier, then releases the units: the next kernel's reads see
// all DRAM writes of the previous one, and no unit races ahead into
// scratchpad buffers that are still in use.
void StreamEmitter::closeRecord() {
  if (records.empty() || records.back().closed)
    return;
  KernelRecord &r = records.back();
  r.closed = true;
  r.spm = spmUse;
  // The kernel simulated alone (timing only): how long it takes and what
  // DRAM traffic it makes, before later prefetches add loads to it.
  Stream piece;
  for (unsigned c = 0; c < chipDesc.cores; ++c) {
    piece.cores.emplace_back();
    if (c < stream.cores.size())
      piece.cores.back().assign(stream.cores[c].begin() + r.start[c],
                                stream.cores[c].end());
  }
  try {
    npu_sim::Simulator sim(chipDesc);
    npu_sim::RunOptions options;
    options.functional = false;
    npu_sim::Report report = sim.run(piece, options);
    r.cycles = report.cycles;
    r.dramBytes = double(report.dramReadBytes + report.dramWriteBytes);
    for (const std::vector<npu_sim::Instr> &core : piece.cores)
      for (const npu_sim::Instr &instr : core)
        if (const auto *w = std::get_if<npu_sim::WaitCmd>(&instr.cmd))
          r.dma0Waits |=
              instr.unit == UnitRef::dma(0) && w->sem != detail::kFenceDone;
    std::string storer = npu_sim::unitName(npu_sim::UnitRef::dma(
        static_cast<uint8_t>(std::max<uint32_t>(chipDesc.dma.engines, 1) - 1)));
    for (const npu_sim::UnitReport &u : report.units) {
      if (u.unit == "dma0")
        r.dma0Busy = std::max(r.dma0Busy, u.busyCycles);
      if (u.unit == storer)
        r.storerBusy = std::max(r.storerBusy, u.busyCycles);
    }
  } catch (const std::exception &) {
    // A piece that does not run alone hosts nothing.
    r.cycles = 0;
    r.dramBytes = 0;
  }
}

void StreamEmitter::beginKernel() {
  closeRecord();
  spmUse = SpmUse{};
  KernelRecord record;
  for (unsigned c = 0; c < chipDesc.cores; ++c)
    record.start.push_back(c < stream.cores.size() ? stream.cores[c].size()
                                                   : 0);
  records.push_back(std::move(record));
  if (kernelCount++ == 0)
    return;
  unsigned units = chipDesc.dma.engines + 2;
  for (unsigned c = 0; c < chipDesc.cores; ++c) {
    CoreBuilder b(stream, static_cast<uint16_t>(c));
    std::vector<UnitRef> others;
    for (unsigned e = 1; e < chipDesc.dma.engines; ++e)
      others.push_back(UnitRef::dma(static_cast<uint8_t>(e)));
    others.push_back(UnitRef::tensor());
    others.push_back(UnitRef::vector());
    for (UnitRef u : others)
      b.signal(u, detail::kFenceDone);
    b.wait(UnitRef::dma(0), detail::kFenceDone, units - 1);
    b.barrier(UnitRef::dma(0), 0);
    b.signal(UnitRef::dma(0), detail::kFenceGo, units - 1);
    for (UnitRef u : others)
      b.wait(u, detail::kFenceGo);
  }
}

namespace detail {

void fail(const std::string &kernel, const std::string &why) {
  throw KernelError(kernel + ": " + why);
}

std::string shapeStr(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void Ctx::needVecOp(const std::string &kernel, VecOp op) const {
  std::string name = vecOpName(op);
  // Fused ops cost their components: the chip needs those.
  if (op == VecOp::Gelu)
    name = "erf";
  else if (op == VecOp::GeluTanh)
    name = "tanh";
  else if (op == VecOp::Silu)
    name = "sigmoid";
  static const char *costed[] = {"exp",     "log", "sqrt", "rsqrt",
                                 "recip",   "div", "erf",  "tanh",
                                 "sigmoid", "sin", "cos"};
  for (const char *c : costed)
    if (name == c && !chip.vector.opCycles.count(name))
      fail(kernel, "the vector unit of chip " + chip.name + " has no " + name);
}

std::vector<int64_t> rowMajorStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::vector<int64_t> broadcastStrides(const std::string &kernel,
                                      const Tensor &t,
                                      const std::vector<int64_t> &outShape) {
  if (t.shape.size() > outShape.size())
    fail(kernel, "operand of shape " + shapeStr(t.shape) +
                     " has more dims than the result " + shapeStr(outShape));
  std::vector<int64_t> own = rowMajorStrides(t.shape);
  std::vector<int64_t> strides(outShape.size(), 0);
  size_t lead = outShape.size() - t.shape.size();
  for (size_t i = 0; i < t.shape.size(); ++i) {
    int64_t d = t.shape[i], o = outShape[lead + i];
    if (d == o && d != 1)
      strides[lead + i] = own[i];
    else if (d != 1)
      fail(kernel, "operand of shape " + shapeStr(t.shape) +
                       " does not broadcast to " + shapeStr(outShape));
  }
  return strides;
}

void coalesce(std::vector<int64_t> &shape,
              std::vector<std::vector<int64_t>> &strides) {
  std::vector<int64_t> s;
  std::vector<std::vector<int64_t>> st(strides.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1)
      continue;
    bool merge = !s.empty();
    for (size_t v = 0; merge && v < strides.size(); ++v)
      merge = st[v].back() == strides[v][i] * shape[i];
    if (merge) {
      s.back() *= shape[i];
      for (size_t v = 0; v < strides.size(); ++v)
        st[v].back() = strides[v][i];
    } else {
      s.push_back(shape[i]);
      for (size_t v = 0; v < strides.size(); ++v)
        st[v].push_back(strides[v][i]);
    }
  }
  shape = s;
  strides = st;
}

Side dramSide(uint64_t addr, const std::vector<int64_t> &elemStrides,
              unsigned elemBytes) {
  Side side;
  side.base = static_cast<int64_t>(addr);
  for (int64_t s : elemStrides)
    side.strides.push_back(s * elemBytes);
  return side;
}

Side spmTileSide(uint16_t core, uint64_t addr,
                 const std::vector<int64_t> &shape, int64_t r0, int64_t c0,
                 uint64_t pitch, unsigned elemBytes) {
  Side side;
  side.space = MemSpace::Scratchpad;
  side.core = core;
  size_t n = shape.size();
  side.strides.assign(n, 0);
  side.strides[n - 1] = elemBytes;
  int64_t rowsBelow = 1;
  for (int i = static_cast<int>(n) - 2; i >= 0; --i) {
    side.strides[i] = rowsBelow * static_cast<int64_t>(pitch);
    rowsBelow *= shape[i];
  }
  side.base = static_cast<int64_t>(addr) - r0 * static_cast<int64_t>(pitch) -
              c0 * elemBytes;
  return side;
}

void emitRegionDma(CoreBuilder &b, uint8_t engine,
                   const std::vector<int64_t> &shape, const Side &src,
                   const Side &dst, int64_t r0, int64_t nr, int64_t c0,
                   int64_t nc, unsigned e) {
  int n = static_cast<int>(shape.size());
  int rowDim = n - 2, planeDim = n - 3;
  bool contiguous = nc == 1 || (src.strides[n - 1] == int64_t(e) &&
                                dst.strides[n - 1] == int64_t(e));
  std::vector<int64_t> idx(std::max(n - 1, 0), 0);
  int64_t r = r0;
  while (r < r0 + nr) {
    // Multi-index of flattened row r.
    int64_t rest = r;
    for (int i = n - 2; i >= 0; --i) {
      idx[i] = rest % shape[i];
      rest /= shape[i];
    }
    int64_t srcAddr = src.base + c0 * src.strides[n - 1];
    int64_t dstAddr = dst.base + c0 * dst.strides[n - 1];
    for (int i = 0; i < n - 1; ++i) {
      srcAddr += idx[i] * src.strides[i];
      dstAddr += idx[i] * dst.strides[i];
    }
    int64_t remaining = r0 + nr - r;
    int64_t rowSize = rowDim >= 0 ? shape[rowDim] : 1;
    int64_t run = rowDim >= 0 ? std::min(rowSize - idx[rowDim], remaining) : 1;
    DmaCmd cmd;
    cmd.src = {src.space, src.core, static_cast<uint64_t>(srcAddr)};
    cmd.dst = {dst.space, dst.core, static_cast<uint64_t>(dstAddr)};
    int64_t srcRow = rowDim >= 0 ? src.strides[rowDim] : 0;
    int64_t dstRow = rowDim >= 0 ? dst.strides[rowDim] : 0;
    if (contiguous) {
      cmd.rowBytes = static_cast<uint32_t>(nc * e);
      cmd.rows = static_cast<uint32_t>(run);
      cmd.srcRowStride = srcRow;
      cmd.dstRowStride = dstRow;
      // Whole runs along the row dim batch into planes.
      if (planeDim >= 0 && idx[rowDim] == 0 && remaining >= 2 * rowSize) {
        int64_t planes =
            std::min(remaining / rowSize, shape[planeDim] - idx[planeDim]);
        cmd.planes = static_cast<uint32_t>(planes);
        cmd.srcPlaneStride = src.strides[planeDim];
        cmd.dstPlaneStride = dst.strides[planeDim];
        run = planes * rowSize;
      }
    } else {
      // One element per DMA row; the tile rows become planes.
      cmd.rowBytes = e;
      cmd.rows = static_cast<uint32_t>(nc);
      cmd.srcRowStride = src.strides[n - 1];
      cmd.dstRowStride = dst.strides[n - 1];
      cmd.planes = static_cast<uint32_t>(run);
      cmd.srcPlaneStride = srcRow;
      cmd.dstPlaneStride = dstRow;
    }
    b.dma(engine, cmd);
    r += run;
  }
}

uint64_t SpmAlloc::take(uint64_t bytes) {
  uint64_t at = offset;
  offset = (offset + bytes + 63) / 64 * 64;
  if (use)
    use->add(at, offset);
  if (offset > capacity)
    fail(kernel, "needs " + std::to_string(offset) +
                     " scratchpad bytes per core; the chip has " +
                     std::to_string(capacity));
  return at;
}

void vec(CoreBuilder &b, VecOp op, uint32_t rows, uint32_t cols, VecOperand dst,
         VecOperand a, VecOperand bOp, Broadcast bcast, float alpha, float beta,
         Broadcast bcastA) {
  VectorCmd cmd;
  cmd.bcastA = bcastA;
  cmd.op = op;
  cmd.rows = rows;
  cmd.cols = cols;
  cmd.dst = dst;
  cmd.a = a;
  cmd.b = bOp;
  cmd.bcast = bcast;
  cmd.alpha = alpha;
  cmd.beta = beta;
  b.vector(cmd);
}

Pipeline::Pipeline(const Ctx &ctx, CoreBuilder &b, uint16_t semBase)
    : loader(ctx.loader()), storer(ctx.storer()), b(b), inFull(semBase),
      inFree(semBase + 1), outFull(semBase + 2), outFree(semBase + 3) {}

int Pipeline::beginLoad() {
  if (loads >= 2)
    b.wait(loader, inFree);
  return loads % 2;
}
void Pipeline::endLoad() {
  b.signal(loader, inFull);
  ++loads;
}
void Pipeline::beginCompute() { b.wait(UnitRef::vector(), inFull); }
void Pipeline::endCompute() { b.signal(UnitRef::vector(), inFree); }
int Pipeline::beginOutput() {
  if (outputs >= 2)
    b.wait(UnitRef::vector(), outFree);
  return outputs % 2;
}
void Pipeline::endOutput() {
  b.signal(UnitRef::vector(), outFull);
  ++outputs;
}
void Pipeline::beginStore() { b.wait(storer, outFull); }
void Pipeline::endStore() { b.signal(storer, outFree); }
void Pipeline::finish() {
  if (loads)
    b.wait(loader, inFree, std::min(loads, 2));
  if (outputs)
    b.wait(UnitRef::vector(), outFree, std::min(outputs, 2));
}

void emitActivation(const Ctx &ctx, const std::string &kernel, CoreBuilder &b,
                    Activation act, uint32_t rows, uint32_t cols,
                    VecOperand dst, VecOperand x) {
  VecOp op = VecOp::Cast;
  switch (act) {
  case Activation::None:
    break;
  case Activation::Relu:
    op = VecOp::Relu;
    break;
  case Activation::Gelu:
    op = VecOp::Gelu;
    break;
  case Activation::GeluTanh:
    op = VecOp::GeluTanh;
    break;
  case Activation::Silu:
    op = VecOp::Silu;
    break;
  }
  ctx.needVecOp(kernel, op);
  if (op != VecOp::Cast || !(dst == x))
    vec(b, op, rows, cols, dst, x);
}

} // namespace detail
} // namespace gaon::npu_kernels
