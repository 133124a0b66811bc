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
#include <optional>

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
  kAFree0,            // an m-block's last matmul done (tensor -> loader 0)
  kAFree1,            // the same for loader 1
  kAChunk,            // a row chunk of a new A block loaded (-> tensor)
  kBiasF32,           // fp32 copy of the bias ready (vector -> storer)
  kCInit,             // C slot holds the bias (storer -> tensor)
  kAIn,               // all of a resident A block loaded (loader -> storer)
  kDequant,           // int8: the dequant scale loaded (loader -> vector)
  kCast0,             // A slices multicast by leader core j: kCast0 + j
};

/// Leaders that multicast a shared A (at most this many semaphores).
constexpr unsigned kMaxCastLeaders = 8;

/// Multicasting one resident A to every core of a kernel: which cores lead
/// (slice ks is core ks % leaders's) and how many cores receive.
struct ACast {
  unsigned leaders = 0, group = 0;
  explicit operator bool() const { return leaders > 0; }
  uint16_t sem(int64_t slice) const {
    return static_cast<uint16_t>(kCast0 + slice % leaders);
  }
};

/// Cores [0, group) all need the same A rows (one m-block, all of K): on a
/// chip with multicast DMA, each A slice is read from DRAM once and written
/// into every core's scratchpad, instead of once per core (at 128 tokens,
/// 8 cores re-read BERT's 196 KB activation per projection: 1.4 MB of 3.5
/// MB for the QKV projection). Slices are dealt to leader cores so that
/// several engines stream them; each leader signals every core on its own
/// semaphore, so a core's waits meet its slices in order.
ACast planACast(const ChipDesc &chip, int64_t kSlices, unsigned group) {
  ACast cast;
  if (!chip.dma.multicast || group < 2 || kSlices < 1)
    return cast;
  unsigned leaders = static_cast<unsigned>(
      std::min<int64_t>({kSlices, int64_t(group), int64_t(kMaxCastLeaders)}));
  if (kCast0 + leaders > chip.semaphoresPerCore)
    return cast;
  cast.leaders = leaders;
  cast.group = group;
  return cast;
}

/// Leader `core`'s multicasts of its A slices ([rows, depth] at column k0
/// of a [rows, K] block, the same scratchpad address on every core), each
/// followed by a signal to every core of the group.
void emitACast(CoreBuilder &cb, const ACast &cast, MemRef aDram, uint64_t aSpm,
               int64_t K, int64_t tk, uint32_t rows, unsigned e) {
  if (cb.core() >= cast.leaders)
    return;
  UnitRef ld = UnitRef::dma(0);
  for (int64_t k0 = int64_t(cb.core()) * tk, ks = cb.core(); k0 < K;
       k0 += int64_t(cast.leaders) * tk, ks += cast.leaders) {
    uint32_t depth = static_cast<uint32_t>(std::min(tk, K - k0));
    DmaCmd d;
    d.src = MemRef::dram(aDram.addr + k0 * e);
    d.dst = MemRef::spm(0, aSpm + k0 * e);
    d.rowBytes = depth * e;
    d.rows = rows;
    d.srcRowStride = d.dstRowStride = uint64_t(K) * e;
    d.multicast = static_cast<uint16_t>(cast.group);
    cb.dma(ld.index, d);
    for (unsigned to = 0; to < cast.group; ++to)
      cb.signal(ld, cast.sem(ks), 1, static_cast<int>(to));
  }
}

/// A matmul's problem after checking and batch folding.
struct MatmulShape {
  int64_t M = 0, N = 0, K = 0, batches = 1;
  /// Per output batch: element offsets of A and B.
  std::vector<int64_t> aOff, bOff;
  DType type = DType::F32;
  /// What the tensor unit accumulates in: int32 for int8, else fp32.
  DType acc = DType::F32;
  unsigned e = 0, eo = 0, eb = 0, er = 0;
  unsigned es = 0; ///< Bytes per element of the residual's scale (or 0).
  bool epilogue = false;
};

/// Checks the operands (KernelError naming what is wrong) and folds a
/// batch that shares B into M.
MatmulShape analyze(const ChipDesc &chip, const Tensor &a, const Tensor &b,
                    const Tensor &out, const Epilogue &ep) {
  const std::string kernel = "matmul";
  Stream scratch;
  Ctx ctx{scratch, chip};
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
  if (type == DType::I8 && !ep.dequant)
    fail(kernel, "int8 operands need the epilogue's dequant scale");
  if (ep.dequant && (type != DType::I8 || ep.dequant->numel() != 1 ||
                     ep.dequant->dtype != DType::F32))
    fail(kernel, "a dequant scale (one f32) needs int8 operands");
  if ((!isFloatType(type) && type != DType::I8) ||
      chip.peakMacsPerCycle(type) <= 0)
    fail(kernel, std::string("the tensor unit of chip ") + chip.name +
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
  if (ep.residualScale && !ep.residual)
    fail(kernel, "a residual scale needs a residual");
  if (ep.residualScale &&
      (ep.residualScale->numel() != N || !isFloatType(ep.residualScale->dtype)))
    fail(kernel, "residual scale of shape " +
                     shapeStr(ep.residualScale->shape) + " must hold " +
                     std::to_string(N) + " float elements");
  if (ep.activation != Activation::None) {
    VecOp actOp = ep.activation == Activation::Gelu       ? VecOp::Gelu
                  : ep.activation == Activation::GeluTanh ? VecOp::GeluTanh
                  : ep.activation == Activation::Silu     ? VecOp::Silu
                                                          : VecOp::Relu;
    ctx.needVecOp(kernel, actOp);
  }

  MatmulShape sh;
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  Tensor aView{a.addr, type, aBatch}, bView{b.addr, type, bBatch};
  std::vector<int64_t> aStr = broadcastStrides(kernel, aView, batch),
                       bStr = broadcastStrides(kernel, bView, batch);
  sh.aOff.resize(batches);
  sh.bOff.resize(batches);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t rest = i, ao = 0, bo = 0;
    for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
      int64_t idx = rest % batch[d];
      rest /= batch[d];
      ao += idx * aStr[d];
      bo += idx * bStr[d];
    }
    sh.aOff[i] = ao * M * K;
    sh.bOff[i] = bo * K * N;
  }
  // A shared B and an unbroadcast A fold the batch into M (one big GEMM).
  bool bShared = std::all_of(sh.bOff.begin(), sh.bOff.end(),
                             [&](int64_t o) { return o == sh.bOff[0]; });
  bool aDense = true;
  for (int64_t i = 0; i < batches; ++i)
    aDense = aDense && sh.aOff[i] == i * M * K;
  if (batches > 1 && bShared && aDense) {
    M *= batches;
    batches = 1;
    sh.aOff = {0};
    sh.bOff = {sh.bOff[0]};
  }
  sh.M = M;
  sh.N = N;
  sh.K = K;
  sh.batches = batches;
  sh.type = type;
  sh.acc = type == DType::I8 ? DType::I32 : DType::F32;
  sh.e = dtypeBytes(type);
  sh.eo = dtypeBytes(out.dtype);
  sh.eb = ep.bias ? dtypeBytes(ep.bias->dtype) : 0;
  sh.er = ep.residual ? dtypeBytes(ep.residual->dtype) : 0;
  sh.es = ep.residualScale ? dtypeBytes(ep.residualScale->dtype) : 0;
  sh.epilogue = ep.bias || ep.residual || ep.activation != Activation::None ||
                ep.alpha != 1.0f || out.dtype != DType::F32 || ep.dequant;
  return sh;
}

struct Tiles {
  int64_t tm, tn, tk;
};

/// A stays resident (loaded once per core, B streams past it) when there
/// is one m-block and A takes at most a quarter of the scratchpad.
bool residentA(const ChipDesc &chip, const MatmulShape &sh, const Tiles &t) {
  return sh.batches == 1 && sh.M <= t.tm &&
         uint64_t(sh.M * sh.K * sh.e) <= chip.scratchpad.bytes / 4;
}

/// Several m-blocks: each core keeps the m-block it works on resident (all
/// of K, two blocks so the next one loads while the last tiles of the
/// current one compute) when two blocks take at most a quarter of the
/// scratchpad, instead of reloading A's k-slices for every output tile.
bool residentBlocks(const ChipDesc &chip, const MatmulShape &sh,
                    const Tiles &t) {
  return sh.batches == 1 && sh.M > t.tm &&
         uint64_t(2 * t.tm * sh.K * sh.e) <= chip.scratchpad.bytes / 4;
}

/// Scratchpad bytes of A with `aBuf` slots (1: resident blocks).
uint64_t aBytes(const MatmulShape &sh, const Tiles &t, int64_t aBuf) {
  if (aBuf != 1)
    return aBuf * t.tm * t.tk * sh.e;
  return (sh.M > t.tm ? 2 * t.tm : sh.M) * sh.K * sh.e;
}

/// Scratchpad bytes per core for tiles `t` with `aBuf` A slots (1:
/// resident), `bBuf` B slots and `cBuf` fp32 C slots.
uint64_t footprint(const ChipDesc &chip, const MatmulShape &sh, const Tiles &t,
                   int64_t aBuf, int64_t bBuf, int64_t cBuf) {
  uint64_t total =
      aBytes(sh, t, aBuf) + bBuf * t.tk * t.tn * sh.e + cBuf * t.tm * t.tn * 4;
  if (sh.epilogue)
    total += 2 * (t.tm * t.tn * sh.eo +
                  std::max<int64_t>(t.tn, chip.vector.lanes) * (sh.eb + sh.es) +
                  t.tm * t.tn * sh.er) +
             (sh.es ? t.tm * t.tn * 4 : 0);
  return total + 16 * 64;
}

/// The default buffering: A resident when it can be; B in two slots per
/// DMA engine when A is resident (a slot is refilled only once the matmul
/// reading it completed, so deeper buffering hides that), else two.
void defaultBuffers(const ChipDesc &chip, const MatmulShape &sh, const Tiles &t,
                    int64_t &aBuf, int64_t &bBuf) {
  bool resident = residentA(chip, sh, t) || residentBlocks(chip, sh, t);
  aBuf = resident ? 1 : 2;
  bBuf = residentA(chip, sh, t) && chip.dma.engines >= 2 ? 4 : 2;
}

Tiles tilesOf(const Schedule &s) { return {s.tile[0], s.tile[1], s.tile[2]}; }

/// Output tiles are packed at pitch `tn`: when a tile's `cols == tn`
/// divides the vector lanes, this many consecutive rows (dividing `rows`)
/// form one vector row.
uint32_t foldedRows(uint32_t rows, uint32_t cols, int64_t tn, uint32_t lanes) {
  if (int64_t(cols) != tn || cols >= lanes || lanes % cols)
    return 1;
  uint32_t f = lanes / cols;
  while (f > 1 && rows % f)
    f /= 2;
  return f;
}

/// DMAs on `unit` for an output tile's epilogue inputs: the bias row at
/// column n0, repeated once per folded row into `biasSlot` (when
/// `loadBias`), and the residual's rows x cols block at (outRow, n0) into
/// `resSlot` at pitch tn.
void loadEpilogueInputs(CoreBuilder &cb, UnitRef unit, const Epilogue &ep,
                        bool loadBias, uint64_t biasSlot, uint64_t resSlot,
                        int64_t outRow, int64_t n0, uint32_t rows,
                        uint32_t cols, uint32_t fold, int64_t tn, int64_t N,
                        unsigned eb, unsigned er, uint64_t scaleSlot = 0) {
  // A per-column vector, repeated once per folded row.
  auto loadRow = [&](const Tensor &v, uint64_t slot) {
    unsigned ev = dtypeBytes(v.dtype);
    DmaCmd bc;
    bc.src = MemRef::dram(v.addr + n0 * ev);
    bc.dst = cb.spm(slot);
    bc.rowBytes = cols * ev;
    bc.rows = fold;
    bc.srcRowStride = 0;
    bc.dstRowStride = cols * ev;
    cb.dma(unit.index, bc);
  };
  if (ep.bias && loadBias)
    loadRow(*ep.bias, biasSlot);
  if (ep.residualScale)
    loadRow(*ep.residualScale, scaleSlot);
  if (ep.residual)
    cb.dma(unit.index, cb.spm(resSlot),
           MemRef::dram(ep.residual->addr + (outRow * N + n0) * er), cols * er,
           rows, tn * er, N * er);
}

/// out = act(alpha * dequant * C + bias) + residual in fp32 over C (C is
/// int32 for int8 products until the dequant step); the last op
/// writes the output slot in its dtype (rounded once, no separate cast
/// unless there is no op). Waits for the output slot (kOFree) just before
/// writing it when `reuse`. The bias is one row broadcast over the tile, or
/// (`biasBcast` None) a whole tile of repeated rows.
void emitEpilogueOps(const Ctx &ctx, const std::string &kernel, CoreBuilder &cb,
                     const Epilogue &ep, uint32_t vr, uint32_t vc, VecOperand c,
                     VecOperand bias, VecOperand res, VecOperand o, bool reuse,
                     Broadcast biasBcast = Broadcast::Row,
                     VecOperand scale = {}, VecOperand scaled = {}) {
  UnitRef vector = UnitRef::vector();
  enum class Step { Dequant, Scale, Bias, Act, Residual };
  std::vector<Step> steps;
  if (ep.dequant)
    steps.push_back(Step::Dequant);
  if (ep.alpha != 1.0f)
    steps.push_back(Step::Scale);
  if (ep.bias)
    steps.push_back(Step::Bias);
  if (ep.activation != Activation::None)
    steps.push_back(Step::Act);
  if (ep.residual)
    steps.push_back(Step::Residual);
  if (steps.empty()) {
    if (reuse)
      cb.wait(vector, kOFree);
    vec(cb, VecOp::Cast, vr, vc, o, c);
    return;
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    bool lastStep = i + 1 == steps.size();
    if (lastStep && reuse)
      cb.wait(vector, kOFree);
    VecOperand dst = lastStep ? o : VecOperand{c.addr, c.stride, DType::F32};
    switch (steps[i]) {
    case Step::Dequant:
      // int32 (or, after a K split's exchange, fp32) products times the
      // scalar scale of A and B, into fp32 in place.
      vec(cb, VecOp::Mul, vr, vc, dst, c, {ep.dequantSpm, 0, DType::F32},
          Broadcast::Scalar);
      break;
    case Step::Scale:
      vec(cb, VecOp::Scale, vr, vc, dst, c, {}, Broadcast::None, ep.alpha,
          0.0f);
      break;
    case Step::Bias:
      vec(cb, VecOp::Add, vr, vc, dst, c, bias, biasBcast);
      break;
    case Step::Act:
      emitActivation(ctx, kernel, cb, ep.activation, vr, vc, dst, c);
      break;
    case Step::Residual:
      // A scaled residual goes through an f32 buffer (`scaled`, at C's
      // shape): scaled in place in its bf16 slot, BERT-base's output
      // moved by another 1e-3 rel-L2.
      if (ep.residualScale) {
        vec(cb, VecOp::Mul, vr, vc, scaled, res, scale, biasBcast);
        vec(cb, VecOp::Add, vr, vc, dst, c, scaled);
      } else {
        vec(cb, VecOp::Add, vr, vc, dst, c, res);
      }
      break;
    }
    c.type = DType::F32;
  }
}

/// int8 products: loads the dequant scale (one f32) into every working
/// core's scratchpad before anything else of the kernel, and records in the
/// epilogue where it is (`dequantSpm`). The vector unit waits for it once, at
/// its start (its first epilogue is a whole tile's matmuls away).
void loadDequantScale(const Ctx &ctx, Epilogue &ep, SpmAlloc &spm,
                      unsigned useCores) {
  if (!ep.dequant)
    return;
  ep.dequantSpm = spm.take(64);
  for (unsigned core = 0; core < useCores; ++core) {
    CoreBuilder cb = ctx.core(core);
    cb.dma(ctx.loader().index, cb.spm(ep.dequantSpm),
           MemRef::dram(ep.dequant->addr), 4);
    cb.signal(ctx.loader(), kDequant);
    cb.wait(UnitRef::vector(), kDequant);
  }
}

/// Scratchpad bytes per core of the k-outer form (see emitKOuter): one A
/// row block, and C, output and epilogue inputs for each of `tiles` tiles.
uint64_t kOuterFootprint(const ChipDesc &chip, const MatmulShape &sh,
                         const Tiles &t, int64_t tiles) {
  uint64_t perTile = t.tm * t.tn * 4;
  if (sh.epilogue)
    perTile += t.tm * t.tn * (sh.eo + sh.er) +
               std::max<int64_t>(t.tn, chip.vector.lanes) * (sh.eb + sh.es);
  return t.tm * sh.K * sh.e + tiles * perTile + (sh.es ? t.tm * t.tn * 4 : 0) +
         (2 + 5 * tiles) * 64;
}

/// Several row blocks where each core's tiles are column blocks of one row
/// block and all their B blocks were prefetched. Tile by tile, the first
/// tile needs all of its A row block before it finishes (BERT's attention
/// output projection at 1024 tokens: 393 KB per core, ~2.5k cycles of DRAM
/// with every core loading, for 1.5k cycles of tensor work), and the array
/// waited for each k-slice. Here A arrives in slices one array fold deep,
/// and the first half of K runs over every tile of the core (three times
/// the tensor work per slice) while the rest arrives; then the tiles finish
/// one by one, each epilogue under the next tile's matmuls, the last tile
/// in row chunks of one array height so that only the last chunk's
/// epilogue and store are exposed. Epilogue inputs load after A on the
/// storing engine (needed only once the tiles finish), each tile in its own
/// slots, so nothing waits for a slot to be freed.
void emitKOuter(const Ctx &ctx, const std::string &kernel,
                const MatmulShape &sh, const Tiles &t, unsigned useCores,
                const Tensor &a, const Tensor &out, const Epilogue &ep,
                SpmAlloc &spm, uint64_t regionAt, uint64_t blockBytes) {
  const ChipDesc &chip = ctx.chip;
  const int64_t M = sh.M, N = sh.N, K = sh.K;
  const int64_t nTiles = ceilDiv(N, t.tn), total = ceilDiv(M, t.tm) * nTiles;
  const unsigned e = sh.e, eo = sh.eo, eb = sh.eb, er = sh.er;
  const bool epilogue = sh.epilogue, epLoads = ep.bias || ep.residual;
  const uint32_t lanes = chip.vector.lanes;
  const int64_t cr = chip.tensor.rows;
  const double pack =
      std::max(1.0, std::floor(chip.peakMacsPerCycle(sh.type) /
                               (double(chip.tensor.rows) * chip.tensor.cols)));
  const int64_t depth = int64_t(cr * pack);
  const int64_t slices = ceilDiv(K, depth), firstHalf = slices / 2;
  const int64_t perCore = ceilDiv(total, int64_t(useCores));

  uint64_t aSlot = spm.take(t.tm * K * e);
  std::vector<uint64_t> cSlot, oSlot, biasSlot, resSlot, scaleSlot;
  for (int64_t j = 0; j < perCore; ++j) {
    cSlot.push_back(spm.take(t.tm * t.tn * 4));
    if (!epilogue)
      continue;
    oSlot.push_back(spm.take(t.tm * t.tn * eo));
    uint64_t rowBytes = std::max<int64_t>(t.tn, lanes);
    biasSlot.push_back(ep.bias ? spm.take(rowBytes * eb) : 0);
    resSlot.push_back(ep.residual ? spm.take(t.tm * t.tn * er) : 0);
    scaleSlot.push_back(ep.residualScale ? spm.take(rowBytes * sh.es) : 0);
  }
  uint64_t scaled = ep.residualScale ? spm.take(t.tm * t.tn * 4) : 0;

  UnitRef loader = ctx.loader(), storer = ctx.storer();
  UnitRef tensor = UnitRef::tensor(), vector = UnitRef::vector();
  for (unsigned core = 0; core < useCores; ++core) {
    int64_t first = splitBegin(total, useCores, core),
            last = splitBegin(total, useCores, core + 1);
    if (first == last)
      continue;
    CoreBuilder cb = ctx.core(core);
    const int64_t n = last - first, m0 = first / nTiles * t.tm;
    const uint32_t rows = static_cast<uint32_t>(std::min(t.tm, M - m0));
    auto colsOf = [&](int64_t j) {
      return static_cast<uint32_t>(
          std::min(t.tn, N - (first + j) % nTiles * t.tn));
    };
    auto foldOf = [&](uint32_t r, int64_t j) {
      return foldedRows(r, colsOf(j), t.tn, lanes);
    };
    // The last tile in row chunks where they fold like the whole tile.
    auto chunkOf = [&](int64_t j) {
      return j + 1 == n && rows > cr &&
                     foldOf(static_cast<uint32_t>(cr), j) == foldOf(rows, j)
                 ? static_cast<uint32_t>(cr)
                 : rows;
    };

    for (int64_t s = 0; s < slices; ++s) {
      int64_t k0 = s * depth;
      cb.dma(loader.index, cb.spm(aSlot + k0 * e),
             MemRef::dram(a.addr + (sh.aOff[0] + m0 * K + k0) * e),
             static_cast<uint32_t>(std::min(depth, K - k0) * e), rows, K * e,
             K * e);
      cb.signal(loader, kFull);
    }
    if (epLoads) {
      cb.signal(loader, kAIn);
      cb.wait(storer, kAIn);
      for (int64_t j = 0; j < n; ++j) {
        loadEpilogueInputs(cb, storer, ep, true, biasSlot[j], resSlot[j], m0,
                           (first + j) % nTiles * t.tn, rows, colsOf(j),
                           foldOf(rows, j), t.tn, N, eb, er, scaleSlot[j]);
        cb.signal(storer, kEpIn);
      }
    }

    int64_t waited = 0;
    auto matmul = [&](int64_t j, int64_t s, uint32_t r0, uint32_t nr) {
      for (; waited <= s; ++waited)
        cb.wait(tensor, kFull);
      int64_t k0 = s * depth;
      MatmulCmd mm;
      mm.m = nr;
      mm.n = colsOf(j);
      mm.k = static_cast<uint32_t>(std::min(depth, K - k0));
      mm.inType = sh.type;
      mm.outType = sh.acc;
      mm.accumulate = s > 0;
      mm.a = aSlot + (uint64_t(r0) * K + k0) * e;
      mm.lda = static_cast<uint32_t>(K * e);
      mm.b = regionAt + uint64_t(j) * blockBytes + k0 * t.tn * e;
      mm.ldb = static_cast<uint32_t>(t.tn * e);
      mm.c = cSlot[j] + uint64_t(r0) * t.tn * 4;
      mm.ldc = static_cast<uint32_t>(t.tn * 4);
      cb.matmul(mm);
    };
    for (int64_t s = 0; s < firstHalf; ++s)
      for (int64_t j = 0; j < n; ++j)
        matmul(j, s, 0, rows);
    for (int64_t j = 0; j < n; ++j)
      for (uint32_t r0 = 0; r0 < rows; r0 += chunkOf(j)) {
        uint32_t nr = std::min(chunkOf(j), rows - r0);
        for (int64_t s = firstHalf; s < slices; ++s)
          matmul(j, s, r0, nr);
        cb.signal(tensor, kCDone);
      }

    for (int64_t j = 0; j < n && epilogue; ++j) {
      if (epLoads)
        cb.wait(vector, kEpIn);
      const uint32_t cols = colsOf(j), fold = foldOf(rows, j);
      const uint32_t pitch = static_cast<uint32_t>(t.tn * 4);
      for (uint32_t r0 = 0; r0 < rows; r0 += chunkOf(j)) {
        uint32_t nr = std::min(chunkOf(j), rows - r0);
        cb.wait(vector, kCDone);
        uint32_t vr = nr / fold, vc = cols * fold;
        uint64_t at = uint64_t(r0) * t.tn;
        emitEpilogueOps(
            ctx, kernel, cb, ep, vr, vc,
            {cSlot[j] + at * 4, pitch * fold, sh.acc},
            {biasSlot[j], vc * eb, ep.bias ? ep.bias->dtype : DType::F32},
            {resSlot[j] + at * er, static_cast<uint32_t>(t.tn * er * fold),
             ep.residual ? ep.residual->dtype : DType::F32},
            {oSlot[j] + at * eo, static_cast<uint32_t>(t.tn * eo * fold),
             out.dtype},
            /*reuse=*/false, Broadcast::Row,
            {scaleSlot[j], vc * sh.es,
             sh.es ? ep.residualScale->dtype : DType::F32},
            {scaled + at * 4, pitch * fold, DType::F32});
        cb.signal(vector, kODone);
      }
    }

    const unsigned es = epilogue ? eo : 4;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t n0 = (first + j) % nTiles * t.tn;
      const uint64_t from = epilogue ? oSlot[j] : cSlot[j];
      for (uint32_t r0 = 0; r0 < rows; r0 += chunkOf(j)) {
        uint32_t nr = std::min(chunkOf(j), rows - r0);
        cb.wait(storer, epilogue ? kODone : kCDone);
        cb.dma(storer.index, MemRef::dram(out.addr + ((m0 + r0) * N + n0) * es),
               cb.spm(from + uint64_t(r0) * t.tn * es), colsOf(j) * es, nr,
               N * es, t.tn * es);
      }
    }
  }
}

/// Whether the row-chunked form starts each chunk's C from the bias (see
/// emitRowChunked): a resident bias (tiles at least as wide as the vector
/// unit), no alpha (it would scale the bias too) and a storing engine of
/// its own to broadcast it.
bool chunkedBiasInit(const ChipDesc &chip, const Tiles &t, const Epilogue &ep) {
  return ep.bias && t.tn >= int64_t(chip.vector.lanes) && ep.alpha == 1.0f &&
         chip.dma.engines >= 2 && !ep.dequant;
}

/// Scratchpad bytes of the row-chunked form (emitRowChunked): two resident
/// A blocks, two whole B blocks (K x tn), three chunk-sized C, output,
/// residual and bias slots (and the whole bias in fp32 where it starts C).
uint64_t chunkedFootprint(const ChipDesc &chip, const MatmulShape &sh,
                          const Tiles &t, int64_t cr) {
  uint64_t total = 2 * uint64_t(t.tm) * sh.K * sh.e +
                   2 * uint64_t(sh.K) * t.tn * sh.e +
                   3 * uint64_t(cr) * t.tn * 4;
  if (sh.epilogue)
    total += 2 * (uint64_t(cr) * t.tn * (sh.eo + sh.er) +
                  std::max<uint64_t>(t.tn, chip.vector.lanes) * sh.eb) +
             uint64_t(sh.N) * (sh.eb + 4); // or the whole bias, resident
  return total + 16 * 64;
}

/// Several row blocks with resident A blocks: each output tile is computed
/// in chunks of one array height of rows, each over all of K, so the
/// epilogue and store of one chunk overlap the next chunk's matmuls and
/// only the last chunk's epilogue is exposed at the end (a 512-row tile's
/// GELU is as long as its matmuls). The tile's B block stays in scratchpad
/// for all its chunks (two blocks: the next tile's loads during this one);
/// dma0 loads A and B, the last engine loads bias/residual and stores.
void emitRowChunked(const Ctx &ctx, const std::string &kernel,
                    const MatmulShape &sh, const Tiles &t, unsigned useCores,
                    const Tensor &a, const Tensor &b, const Tensor &out,
                    const Epilogue &ep, SpmAlloc &spm,
                    std::optional<uint64_t> firstB) {
  const ChipDesc &chip = ctx.chip;
  const int64_t M = sh.M, N = sh.N, K = sh.K;
  const int64_t cr = chip.tensor.rows;
  const unsigned e = sh.e, eo = sh.eo, eb = sh.eb, er = sh.er;
  const bool epilogue = sh.epilogue;
  const uint32_t lanes = chip.vector.lanes;
  // A bias for tiles at least as wide as the vector unit (no folded rows)
  // is loaded whole, once, by the loading engine: per chunk it queued on
  // the storing engine behind prefetches hosted there, and the epilogue
  // waited for it (BERT's FFN up-projection at 1024 tokens: 2k cycles per
  // tile).
  const bool biasResident = ep.bias && t.tn >= int64_t(lanes);
  const bool epLoads = ep.residual || (ep.bias && !biasResident);
  // The resident bias, cast once to fp32, is broadcast into each chunk's C
  // by the storing engine before its matmuls (which then accumulate onto
  // it), so the epilogue drops its bias pass: GELU's is 11 cycles per lane
  // group, so with the bias add the vector unit took as long as the tensor
  // unit. Three C slots: a slot is filled one chunk ahead, while the
  // previous two are multiplied into and through the epilogue.
  const bool biasInit = chunkedBiasInit(chip, t, ep);
  Epilogue epOps = ep;
  if (biasInit)
    epOps.bias.reset();
  const int cSlots = biasInit ? 3 : 2;
  const int64_t mTiles = ceilDiv(M, t.tm), nTiles = ceilDiv(N, t.tn);
  const int64_t total = mTiles * nTiles;
  uint64_t aSlot[2] = {spm.take(t.tm * K * e), spm.take(t.tm * K * e)};
  uint64_t bBlock[2] = {spm.take(K * t.tn * e), spm.take(K * t.tn * e)};
  uint64_t cSlot[3] = {spm.take(cr * t.tn * 4), spm.take(cr * t.tn * 4), 0};
  if (biasInit)
    cSlot[2] = spm.take(cr * t.tn * 4);
  uint64_t oSlot[2] = {0, 0}, biasSlot[2] = {0, 0}, resSlot[2] = {0, 0};
  if (epilogue) {
    oSlot[0] = spm.take(cr * t.tn * eo);
    oSlot[1] = spm.take(cr * t.tn * eo);
    if (ep.bias && !biasResident) {
      uint64_t biasBytes = std::max<uint64_t>(t.tn, chip.vector.lanes) * eb;
      biasSlot[0] = spm.take(biasBytes);
      biasSlot[1] = spm.take(biasBytes);
    }
    if (ep.residual) {
      resSlot[0] = spm.take(cr * t.tn * er);
      resSlot[1] = spm.take(cr * t.tn * er);
    }
  }
  uint64_t biasAll = biasResident ? spm.take(N * eb) : 0;
  uint64_t biasF32 = biasInit ? spm.take(N * 4) : 0;
  auto foldFor = [&](uint32_t rows, uint32_t cols) {
    return foldedRows(rows, cols, t.tn, lanes);
  };
  UnitRef loader = ctx.loader(), storer = ctx.storer();
  UnitRef tensor = UnitRef::tensor(), vector = UnitRef::vector();
  for (unsigned core = 0; core < useCores; ++core) {
    int64_t first = splitBegin(total, useCores, core),
            last = splitBegin(total, useCores, core + 1);
    if (first == last)
      continue;
    CoreBuilder cb = ctx.core(core);
    int64_t curBlock = -1, blocks = 0, consumed = 0, chunkNo = 0;
    if (biasResident) {
      cb.dma(loader.index, cb.spm(biasAll), MemRef::dram(ep.bias->addr),
             static_cast<uint32_t>(N * eb));
      cb.signal(loader, kFull1);
      cb.wait(vector, kFull1);
      if (biasInit) {
        vec(cb, VecOp::Cast, 1, static_cast<uint32_t>(N),
            {biasF32, static_cast<uint32_t>(N * 4), DType::F32},
            {biasAll, static_cast<uint32_t>(N * eb), ep.bias->dtype});
        cb.signal(vector, kBiasF32);
        cb.wait(storer, kBiasF32);
      }
    }
    // Chunks of this core in order, (column, rows, cols), for the fills
    // of C one chunk ahead.
    struct Fill {
      int64_t n0;
      uint32_t rows, cols;
    };
    std::vector<Fill> fills;
    if (biasInit)
      for (int64_t item = first; item < last; ++item) {
        int64_t m0 = item / nTiles * t.tm, n0 = item % nTiles * t.tn;
        int64_t rows = std::min(t.tm, M - m0);
        for (int64_t r0 = 0; r0 < rows; r0 += cr)
          fills.push_back({n0, static_cast<uint32_t>(std::min(cr, rows - r0)),
                           static_cast<uint32_t>(std::min(t.tn, N - n0))});
      }
    auto fillC = [&](int64_t j) {
      if (j >= cSlots)
        cb.wait(storer, kCFree);
      const Fill &f = fills[j];
      cb.broadcastDma(storer.index, cb.spm(cSlot[j % cSlots]),
                      cb.spm(biasF32 + f.n0 * 4), f.cols * 4, f.rows, t.tn * 4);
      cb.signal(storer, kCInit);
    };
    if (biasInit)
      fillC(0);
    std::function<void()> pendingStore;
    for (int64_t item = first; item < last; ++item) {
      int64_t li = item - first;
      int64_t mi = item / nTiles, ni = item % nTiles;
      int64_t m0 = mi * t.tm, n0 = ni * t.tn;
      bool newBlock = mi != curBlock;
      if (newBlock) {
        curBlock = mi;
        ++blocks;
      }
      bool blockEnds = item + 1 == last || (item + 1) / nTiles != curBlock;
      uint64_t aBase = aSlot[(blocks - 1) % 2];
      // The first tile's B block may have been prefetched.
      bool preloaded = li == 0 && firstB;
      uint64_t bBase = preloaded ? *firstB : bBlock[li % 2];
      int64_t rows = std::min(t.tm, M - m0);
      uint32_t cols = static_cast<uint32_t>(std::min(t.tn, N - n0));
      // Loads: the tile's B block (its slot free once tile li - 2 is done)
      // and, for a new row block, A (its buffer free once block - 2 is).
      if (li >= 2)
        cb.wait(loader, kEmpty);
      // A new block's first chunk of rows comes with B's k-slices, its
      // other chunks after them (in the order the tensor unit needs them).
      if (newBlock) {
        int64_t need = blocks - 2 - consumed;
        if (blocks > 2 && need > 0) {
          cb.wait(loader, kAFree0, static_cast<uint32_t>(need));
          consumed += need;
        }
      }
      uint32_t firstRows = static_cast<uint32_t>(std::min(cr, rows));
      for (int64_t k0 = 0; k0 < K; k0 += t.tk) {
        uint32_t depth = static_cast<uint32_t>(std::min(t.tk, K - k0));
        if (newBlock)
          cb.dma(loader.index, cb.spm(aBase + k0 * e),
                 MemRef::dram(a.addr + (sh.aOff[0] + m0 * K + k0) * e),
                 depth * e, firstRows, K * e, K * e);
        if (!preloaded)
          cb.dma(loader.index, cb.spm(bBase + k0 * t.tn * e),
                 MemRef::dram(b.addr + (sh.bOff[0] + k0 * N + n0) * e),
                 cols * e, depth, t.tn * e, N * e);
        cb.signal(loader, kFull);
      }
      if (newBlock)
        for (int64_t r0 = cr; r0 < rows; r0 += cr) {
          cb.dma(loader.index, cb.spm(aBase + r0 * K * e),
                 MemRef::dram(a.addr + (sh.aOff[0] + (m0 + r0) * K) * e),
                 static_cast<uint32_t>(std::min(cr, rows - r0) * K * e));
          cb.signal(loader, kAChunk);
        }
      for (int64_t r0 = 0; r0 < rows; r0 += cr, ++chunkNo) {
        uint32_t nr = static_cast<uint32_t>(std::min(cr, rows - r0));
        int cs = static_cast<int>(chunkNo % 2);
        int ccs = static_cast<int>(chunkNo % cSlots);
        bool reuse = chunkNo >= 2;
        int64_t outRow = m0 + r0;
        // The bias into the next chunk's C (its slot free once the
        // epilogue of chunk chunkNo - 2 is done), ahead of this chunk's
        // loads and the previous chunk's store: behind that store, which
        // waits for the previous epilogue, it held the tensor unit back.
        if (biasInit && chunkNo + 1 < int64_t(fills.size()))
          fillC(chunkNo + 1);
        // Bias/residual of this chunk, on the storing engine.
        if (epLoads) {
          if (reuse)
            cb.wait(storer, kEpFree);
          loadEpilogueInputs(cb, storer, ep, !biasResident, biasSlot[cs],
                             resSlot[cs], outRow, n0, nr, cols,
                             foldFor(nr, cols), t.tn, N, eb, er);
          cb.signal(storer, kEpIn);
        }
        if (pendingStore)
          pendingStore();
        pendingStore = nullptr;
        // The chunk over all of K (the first chunk waits for the loads).
        if (biasInit)
          cb.wait(tensor, kCInit);
        else if (reuse)
          cb.wait(tensor, kCFree);
        if (newBlock && r0 > 0)
          cb.wait(tensor, kAChunk);
        for (int64_t k0 = 0; k0 < K; k0 += t.tk) {
          if (r0 == 0)
            cb.wait(tensor, kFull);
          MatmulCmd mm;
          mm.m = nr;
          mm.n = cols;
          mm.k = static_cast<uint32_t>(std::min(t.tk, K - k0));
          mm.inType = sh.type;
          mm.outType = sh.acc;
          mm.accumulate = biasInit || k0 > 0;
          mm.a = aBase + (r0 * K + k0) * e;
          mm.lda = static_cast<uint32_t>(K * e);
          mm.b = bBase + k0 * t.tn * e;
          mm.ldb = static_cast<uint32_t>(t.tn * e);
          mm.c = cSlot[ccs];
          mm.ldc = static_cast<uint32_t>(t.tn * 4);
          cb.matmul(mm);
        }
        cb.signal(tensor, kCDone);
        uint64_t storeFrom = cSlot[ccs];
        uint32_t pitch = static_cast<uint32_t>(t.tn * 4);
        unsigned es = 4;
        if (epilogue) {
          cb.wait(vector, kCDone);
          if (epLoads)
            cb.wait(vector, kEpIn);
          uint32_t vr = nr, vc = cols, vfold = foldFor(nr, cols);
          vr /= vfold;
          vc *= vfold;
          VecOperand c{cSlot[ccs], pitch * vfold, sh.acc};
          emitEpilogueOps(
              ctx, kernel, cb, epOps, vr, vc, c,
              {biasResident ? biasAll + n0 * eb : biasSlot[cs], vc * eb,
               ep.bias ? ep.bias->dtype : DType::F32},
              {resSlot[cs], static_cast<uint32_t>(t.tn * er * vfold),
               ep.residual ? ep.residual->dtype : DType::F32},
              {oSlot[cs], static_cast<uint32_t>(t.tn * eo * vfold), out.dtype},
              reuse);
          cb.signal(vector, kCFree);
          if (epLoads)
            cb.signal(vector, kEpFree);
          cb.signal(vector, kODone);
          storeFrom = oSlot[cs];
          pitch = static_cast<uint32_t>(t.tn * eo);
          es = eo;
        }
        pendingStore = [&cb, &out, storer, epilogue, outRow, N, n0, es,
                        storeFrom, cols, nr, pitch] {
          cb.wait(storer, epilogue ? kODone : kCDone);
          cb.dma(storer.index, MemRef::dram(out.addr + (outRow * N + n0) * es),
                 cb.spm(storeFrom), cols * es, nr, N * es, pitch);
          cb.signal(storer, epilogue ? kOFree : kCFree);
        };
      }
      // The tile's B block, and at a block's end its A, may be refilled.
      cb.signal(tensor, kEmpty);
      if (blockEnds)
        cb.signal(tensor, kAFree0);
    }
    if (pendingStore)
      pendingStore();
    // Take the hand-backs nobody waited for: semaphores end at zero.
    int64_t items = last - first;
    cb.wait(loader, kEmpty, static_cast<uint32_t>(std::min<int64_t>(items, 2)));
    if (blocks > consumed)
      cb.wait(loader, kAFree0, static_cast<uint32_t>(blocks - consumed));
    uint32_t lastTwo = static_cast<uint32_t>(std::min<int64_t>(chunkNo, 2));
    if (biasInit)
      cb.wait(storer, kCFree,
              static_cast<uint32_t>(std::min<int64_t>(chunkNo, cSlots)));
    else
      cb.wait(tensor, kCFree, lastTwo);
    if (epLoads)
      cb.wait(storer, kEpFree, lastTwo);
    if (epilogue)
      cb.wait(vector, kOFree, lastTwo);
  }
}

/// K split over pairs of cores (schedule tile {m, n, k, 2}): where every
/// core reading all of A (weight streaming) or its row block of A and a
/// column block of B (several row blocks) would cost more DRAM time than
/// exchanging partial sums over the network (the FFN down-projection, K =
/// 3072 against N = 768). Core 2p + q of pair p multiplies A's K part q
/// (k-slices up to `kAt`, the rest) by the same rows of B for the pair's
/// tiles. Tiles of one array height of rows (one row block) exchange
/// column halves; taller tiles exchange whole row chunks of one array
/// height, owned alternately by the two partners.
struct KSplit {
  int64_t kAt = 0;      ///< First K index of part 1.
  int64_t kMax = 0;     ///< Longer part.
  int64_t pairs = 0;    ///< Core pairs that get work.
  int64_t mTiles = 0;   ///< Row blocks.
  int64_t nTiles = 0;   ///< Column blocks.
  int64_t items = 0;    ///< Tiles (row-major), dealt to pairs.
  int64_t maxItems = 0; ///< Most tiles a pair gets.
  int64_t half = 0;     ///< Widest half of a tile (ceil(tn / 2)).
  int64_t chunk = 0;    ///< Rows per chunk (the array height).
  int64_t chunks = 0;   ///< Chunks of a full tile; 1: column halves.
  bool byRows() const { return chunks > 1; }

  /// What core `core` computes: pair `pair`'s tiles [first, last), part q
  /// of K (kLen k-slices from k0), exchanging partial sums with `partner`.
  struct CoreShare {
    int64_t pair, q;
    unsigned partner;
    int64_t first, last, k0, kLen;
  };
  CoreShare share(unsigned core, int64_t K) const {
    const int64_t pair = core / 2, q = core % 2;
    return {pair,
            q,
            core ^ 1u,
            splitBegin(items, pairs, pair),
            splitBegin(items, pairs, pair + 1),
            q ? kAt : 0,
            q ? K - kAt : kAt};
  }
};

KSplit kSplitOf(const ChipDesc &chip, const MatmulShape &sh, const Tiles &t,
                unsigned useCores) {
  KSplit k;
  k.kAt = std::min(sh.K, ceilDiv(ceilDiv(sh.K, 2), t.tk) * t.tk);
  k.kMax = std::max(k.kAt, sh.K - k.kAt);
  k.mTiles = ceilDiv(sh.M, t.tm);
  k.nTiles = ceilDiv(sh.N, t.tn);
  k.items = k.mTiles * k.nTiles;
  k.pairs = std::min<int64_t>(useCores / 2, k.items);
  k.maxItems = k.pairs ? ceilDiv(k.items, k.pairs) : 0;
  k.half = ceilDiv(t.tn, 2);
  k.chunk = chip.tensor.rows;
  k.chunks = ceilDiv(std::min(t.tm, sh.M), k.chunk);
  return k;
}

/// Scratchpad bytes per core of the K split without the B blocks that can
/// be prefetched. Column halves: A's part, per tile three fp32 half tiles
/// (the partner's half, the own half, the partner's partial sums of it)
/// and the epilogue slots. Row chunks, per tile: A's part of the row
/// block, B's part of the column block, every chunk in fp32, the
/// partner's partial sums and the epilogue slots of the own chunks.
uint64_t kSplitOwnBytes(const ChipDesc &chip, const MatmulShape &sh,
                        const Tiles &t, const KSplit &k) {
  if (k.byRows()) {
    uint64_t own = ceilDiv(k.chunks, 2), cr = k.chunk;
    uint64_t perItem = uint64_t(t.tm) * k.kMax * sh.e +
                       uint64_t(k.kMax) * t.tn * sh.e +
                       (k.chunks + own) * cr * t.tn * 4;
    if (sh.epilogue)
      perItem += own * cr * t.tn * (sh.eo + sh.er) +
                 std::max<uint64_t>(t.tn, chip.vector.lanes) * (sh.eb + sh.es);
    return k.maxItems * perItem + (sh.es ? cr * t.tn * 4 : 0) + 16 * 64;
  }
  uint64_t perItem = 3 * uint64_t(sh.M) * k.half * 4;
  if (sh.epilogue)
    perItem += uint64_t(sh.M) * k.half * (sh.eo + sh.eb + sh.er + sh.es) +
               std::max<uint64_t>(k.half, chip.vector.lanes) * (sh.eb + sh.es);
  return uint64_t(sh.M) * k.kMax * sh.e + k.maxItems * perItem +
         (sh.es ? uint64_t(sh.M) * k.half * 4 : 0) + 16 * 64;
}

/// The B blocks that can be prefetched (its K part x tn each): column
/// halves every tile's, row chunks the first tile's.
uint64_t kSplitBBytes(const MatmulShape &sh, const Tiles &t, const KSplit &k) {
  return uint64_t(k.byRows() ? 1 : k.maxItems) * k.kMax * t.tn * sh.e;
}

/// Per core: its K part of A stays resident (k-slices on both loading
/// engines, B's k-slices with them unless prefetched); per tile the
/// tensor unit first computes the half of the columns the partner owns
/// (part 0 owns the first half, part 1 the second) and the storing engine
/// sends those partial sums into the partner's scratchpad while the
/// tensor unit computes the own half; the vector unit adds the partner's
/// partial sums to it, applies the epilogue (packed rows as wide as the
/// vector unit; bias and residual loaded as whole tiles) and the storing
/// engine writes the own half. Every slot is used once: no hand-backs.
void emitKPairs(const Ctx &ctx, const std::string &kernel,
                const MatmulShape &sh, const Tiles &t, const KSplit &k,
                const Tensor &a, const Tensor &b, const Tensor &out,
                const Epilogue &ep, SpmAlloc &spm,
                std::optional<uint64_t> bRegion) {
  // Semaphores this form does not otherwise use.
  const uint16_t kSendReady = static_cast<uint16_t>(kEmpty),
                 kRecv = static_cast<uint16_t>(kCFree);
  const ChipDesc &chip = ctx.chip;
  const int64_t M = sh.M, N = sh.N, K = sh.K;
  const unsigned e = sh.e, eo = sh.eo, eb = sh.eb, er = sh.er;
  const bool epilogue = sh.epilogue, epLoads = ep.bias || ep.residual;
  const uint32_t lanes = chip.vector.lanes;
  const uint64_t blockBytes = uint64_t(k.kMax) * t.tn * e;
  const uint64_t aBuf = spm.take(M * k.kMax * e);
  const uint64_t bBase = bRegion ? *bRegion : spm.take(k.maxItems * blockBytes);
  const uint64_t halfBytes = uint64_t(M) * k.half;
  const unsigned esc = sh.es;
  const uint64_t scaled = esc ? spm.take(halfBytes * 4) : 0;
  std::vector<uint64_t> cSend, cOwn, recv, oSlot, biasSlot, resSlot, scaleSlot;
  for (int64_t i = 0; i < k.maxItems; ++i) {
    cSend.push_back(spm.take(halfBytes * 4));
    cOwn.push_back(spm.take(halfBytes * 4));
    recv.push_back(spm.take(halfBytes * 4));
    if (epilogue) {
      oSlot.push_back(spm.take(halfBytes * eo));
      biasSlot.push_back(
          ep.bias ? spm.take(std::max<uint64_t>(halfBytes, lanes) * eb) : 0);
      resSlot.push_back(ep.residual ? spm.take(halfBytes * er) : 0);
      scaleSlot.push_back(
          esc ? spm.take(std::max<uint64_t>(halfBytes, lanes) * esc) : 0);
    }
  }
  const unsigned engines = chip.dma.engines;
  const unsigned ldEngines = engines >= 2 ? 2 : 1;
  const uint16_t fullSem[2] = {kFull, kFull1};
  UnitRef storer = ctx.storer(), tensor = UnitRef::tensor(),
          vector = UnitRef::vector();
  for (unsigned core = 0; core < 2 * k.pairs; ++core) {
    auto [pair, q, partner, first, last, kq0, kLen] = k.share(core, K);
    if (first == last)
      continue;
    CoreBuilder cb = ctx.core(core);
    // Per tile: its columns and the halves (offsets within the tile).
    struct Half {
      int64_t n0;
      uint32_t cols, ownOff, own, sendOff, send;
    };
    std::vector<Half> halves;
    for (int64_t item = first; item < last; ++item) {
      Half hv;
      hv.n0 = item * t.tn;
      hv.cols = static_cast<uint32_t>(std::min(t.tn, N - hv.n0));
      if (hv.cols < 2)
        fail(kernel, "a K split needs column tiles of at least 2 columns");
      uint32_t h = hv.cols / 2;
      hv.ownOff = q ? h : 0;
      hv.own = q ? hv.cols - h : h;
      hv.sendOff = q ? 0 : h;
      hv.send = hv.cols - hv.own;
      halves.push_back(hv);
    }
    // The own half's elementwise ops run over packed rows as wide as the
    // vector unit where the tile divides into them.
    auto vecShape = [&](uint32_t own, uint32_t &vr, uint32_t &vc) {
      uint64_t n = uint64_t(M) * own;
      if (n % lanes == 0 && own < lanes) {
        vr = static_cast<uint32_t>(n / lanes);
        vc = lanes;
      } else {
        vr = static_cast<uint32_t>(M);
        vc = own;
      }
    };
    // Bias (as a whole tile of repeated rows) and residual of the own
    // halves, first on the storing engine.
    if (epLoads)
      for (size_t li = 0; li < halves.size(); ++li) {
        const Half &hv = halves[li];
        // A per-column vector as M repeated rows: one row from DRAM, then
        // copied within the scratchpad (the same DRAM row read M times
        // queued M reads on the one or two channels that hold it: 0.5k
        // cycles for BERT's FFN down-projection at 128 tokens).
        auto loadRows = [&](const Tensor &v, uint64_t slot) {
          unsigned ev = dtypeBytes(v.dtype);
          uint32_t rowBytes = hv.own * ev;
          cb.dma(storer.index, cb.spm(slot),
                 MemRef::dram(v.addr + (hv.n0 + hv.ownOff) * ev), rowBytes);
          if (M > 1)
            cb.broadcastDma(storer.index, cb.spm(slot + rowBytes), cb.spm(slot),
                            rowBytes, static_cast<uint32_t>(M - 1), rowBytes);
        };
        if (ep.bias)
          loadRows(*ep.bias, biasSlot[li]);
        if (ep.residualScale)
          loadRows(*ep.residualScale, scaleSlot[li]);
        if (ep.residual)
          cb.dma(storer.index, cb.spm(resSlot[li]),
                 MemRef::dram(ep.residual->addr + (hv.n0 + hv.ownOff) * er),
                 hv.own * er, static_cast<uint32_t>(M), hv.own * er, N * er);
        cb.signal(storer, kEpIn);
      }
    // Loads: A's part with the first tile's B k-slices, then (without a
    // prefetch) the other tiles' B blocks; engines alternate by k-slice.
    int64_t step = 0;
    for (size_t li = 0; li < halves.size(); ++li) {
      if (li > 0 && bRegion)
        break;
      const Half &hv = halves[li];
      for (int64_t kk = 0; kk < kLen; kk += t.tk, ++step) {
        uint32_t depth = static_cast<uint32_t>(std::min(t.tk, kLen - kk));
        uint8_t en = static_cast<uint8_t>(step % ldEngines);
        if (li == 0)
          cb.dma(en, cb.spm(aBuf + kk * e),
                 MemRef::dram(a.addr + (sh.aOff[0] + kq0 + kk) * e), depth * e,
                 static_cast<uint32_t>(M), kLen * e, K * e);
        if (!bRegion)
          cb.dma(
              en, cb.spm(bBase + li * blockBytes + kk * t.tn * e),
              MemRef::dram(b.addr + (sh.bOff[0] + (kq0 + kk) * N + hv.n0) * e),
              hv.cols * e, depth, t.tn * e, N * e);
        cb.signal(UnitRef::dma(en), fullSem[en]);
      }
    }
    // Tensor: per tile the partner's half (taking the loads), then the
    // own half.
    int64_t tstep = 0;
    for (size_t li = 0; li < halves.size(); ++li) {
      const Half &hv = halves[li];
      bool handshake = li == 0 || !bRegion;
      for (int pass = 0; pass < 2; ++pass) {
        uint32_t off = pass == 0 ? hv.sendOff : hv.ownOff;
        uint32_t cols = pass == 0 ? hv.send : hv.own;
        uint64_t c = pass == 0 ? cSend[li] : cOwn[li];
        for (int64_t kk = 0; kk < kLen; kk += t.tk) {
          if (pass == 0 && handshake) {
            cb.wait(tensor, fullSem[tstep % ldEngines]);
            ++tstep;
          }
          MatmulCmd mm;
          mm.m = static_cast<uint32_t>(M);
          mm.n = cols;
          mm.k = static_cast<uint32_t>(std::min(t.tk, kLen - kk));
          mm.inType = sh.type;
          mm.outType = sh.acc;
          mm.accumulate = kk > 0;
          mm.a = aBuf + kk * e;
          mm.lda = static_cast<uint32_t>(kLen * e);
          mm.b = bBase + li * blockBytes + (kk * t.tn + off) * e;
          mm.ldb = static_cast<uint32_t>(t.tn * e);
          mm.c = c;
          mm.ldc = cols * 4;
          cb.matmul(mm);
        }
        cb.signal(tensor, pass == 0 ? kSendReady : uint16_t(kCDone));
      }
    }
    // Storer: the partner's halves into its scratchpad (same offsets on
    // every core), then the own halves to DRAM.
    for (size_t li = 0; li < halves.size(); ++li) {
      const Half &hv = halves[li];
      cb.wait(storer, kSendReady);
      cb.dma(storer.index,
             MemRef::spm(static_cast<uint16_t>(partner), recv[li]),
             cb.spm(cSend[li]), hv.send * 4 * static_cast<uint32_t>(M));
      cb.signal(storer, kRecv, 1, static_cast<int>(partner));
    }
    // Vector: own half + the partner's partial sums, then the epilogue.
    std::vector<std::pair<uint64_t, unsigned>> stores;
    for (size_t li = 0; li < halves.size(); ++li) {
      const Half &hv = halves[li];
      uint32_t vr, vc;
      vecShape(hv.own, vr, vc);
      cb.wait(vector, kCDone);
      cb.wait(vector, kRecv);
      VecOperand c{cOwn[li], vc * 4, DType::F32};
      vec(cb, VecOp::Add, vr, vc, c, {cOwn[li], vc * 4, sh.acc},
          {recv[li], vc * 4, sh.acc});
      uint64_t from = cOwn[li];
      unsigned es = 4;
      if (epilogue) {
        if (epLoads)
          cb.wait(vector, kEpIn);
        emitEpilogueOps(ctx, kernel, cb, ep, vr, vc, c,
                        {ep.bias ? biasSlot[li] : 0, vc * eb,
                         ep.bias ? ep.bias->dtype : DType::F32},
                        {ep.residual ? resSlot[li] : 0, vc * er,
                         ep.residual ? ep.residual->dtype : DType::F32},
                        {oSlot[li], vc * eo, out.dtype}, false, Broadcast::None,
                        {esc ? scaleSlot[li] : 0, vc * esc,
                         esc ? ep.residualScale->dtype : DType::F32},
                        {scaled, vc * 4, DType::F32});
        from = oSlot[li];
        es = eo;
      }
      cb.signal(vector, kODone);
      stores.push_back({from, es});
    }
    for (size_t li = 0; li < halves.size(); ++li) {
      const Half &hv = halves[li];
      cb.wait(storer, kODone);
      cb.dma(storer.index,
             MemRef::dram(out.addr + (hv.n0 + hv.ownOff) * stores[li].second),
             cb.spm(stores[li].first), hv.own * stores[li].second,
             static_cast<uint32_t>(M), N * stores[li].second,
             hv.own * stores[li].second);
    }
  }
}

/// Row chunks (tiles taller than the array), per core and tile: the
/// first chunk's rows of A's K part come in k-slices with B's (unless
/// the first B block was prefetched), the other chunks' rows after them;
/// the tensor unit computes the chunks the partner owns first (the
/// storing engine sends each into the partner's scratchpad as it
/// completes), then its own, each over all of its K part; the vector unit
/// adds the partner's partial sums to each own chunk and applies the
/// epilogue, the storing engine writes it. Every slot is used once.
void emitKPairsRows(const Ctx &ctx, const std::string &kernel,
                    const MatmulShape &sh, const Tiles &t, const KSplit &k,
                    const Tensor &a, const Tensor &b, const Tensor &out,
                    const Epilogue &ep, SpmAlloc &spm,
                    std::optional<uint64_t> firstB) {
  // Semaphores this form does not otherwise use.
  const uint16_t kSendReady = static_cast<uint16_t>(kEmpty),
                 kRecv = static_cast<uint16_t>(kCFree);
  const ChipDesc &chip = ctx.chip;
  const int64_t M = sh.M, N = sh.N, K = sh.K, cr = k.chunk;
  const unsigned e = sh.e, eo = sh.eo, eb = sh.eb, er = sh.er;
  const bool epilogue = sh.epilogue, epLoads = ep.bias || ep.residual;
  const int64_t ownMax = ceilDiv(k.chunks, 2);
  struct Slots {
    uint64_t a = 0, b = 0, bias = 0, scale = 0;
    std::vector<uint64_t> c, recv, o, res;
  };
  std::vector<Slots> slots(k.maxItems);
  const uint64_t scaled = sh.es ? spm.take(cr * t.tn * 4) : 0;
  for (Slots &sl : slots) {
    sl.a = spm.take(t.tm * k.kMax * e);
    sl.b = spm.take(k.kMax * t.tn * e);
    for (int64_t c = 0; c < k.chunks; ++c)
      sl.c.push_back(spm.take(cr * t.tn * 4));
    for (int64_t j = 0; j < ownMax; ++j) {
      sl.recv.push_back(spm.take(cr * t.tn * 4));
      if (epilogue) {
        sl.o.push_back(spm.take(cr * t.tn * eo));
        sl.res.push_back(ep.residual ? spm.take(cr * t.tn * er) : 0);
      }
    }
    if (ep.bias)
      sl.bias = spm.take(std::max<uint64_t>(t.tn, chip.vector.lanes) * eb);
    if (sh.es)
      sl.scale = spm.take(std::max<uint64_t>(t.tn, chip.vector.lanes) * sh.es);
  }
  UnitRef loader = ctx.loader(), storer = ctx.storer(),
          tensor = UnitRef::tensor(), vector = UnitRef::vector();
  for (unsigned core = 0; core < 2 * k.pairs; ++core) {
    auto [pair, q, partner, first, last, kq0, kLen] = k.share(core, K);
    if (first == last)
      continue;
    CoreBuilder cb = ctx.core(core);
    // Per tile: origin, extent, its chunks (partner's first, then own).
    struct Item {
      int64_t m0, n0, rows;
      uint32_t cols;
      std::vector<int64_t> order, own, sent;
    };
    std::vector<Item> items;
    for (int64_t item = first; item < last; ++item) {
      Item it;
      it.m0 = item / k.nTiles * t.tm;
      it.n0 = item % k.nTiles * t.tn;
      it.rows = std::min(t.tm, M - it.m0);
      it.cols = static_cast<uint32_t>(std::min(t.tn, N - it.n0));
      int64_t nc = ceilDiv(it.rows, cr);
      for (int64_t c = 0; c < nc; ++c)
        (c % 2 == q ? it.own : it.sent).push_back(c);
      it.order = it.sent;
      it.order.insert(it.order.end(), it.own.begin(), it.own.end());
      items.push_back(it);
    }
    auto chunkRows = [&](const Item &it, int64_t c) {
      return static_cast<uint32_t>(std::min(cr, it.rows - c * cr));
    };
    // Storer: bias and residual of the own chunks first.
    if (epLoads)
      for (size_t li = 0; li < items.size(); ++li) {
        const Item &it = items[li];
        for (size_t j = 0; j < it.own.size(); ++j) {
          int64_t c = it.own[j];
          if (ep.bias && j == 0)
            cb.dma(storer.index, cb.spm(slots[li].bias),
                   MemRef::dram(ep.bias->addr + it.n0 * eb), it.cols * eb);
          if (ep.residualScale && j == 0)
            cb.dma(storer.index, cb.spm(slots[li].scale),
                   MemRef::dram(ep.residualScale->addr + it.n0 * sh.es),
                   it.cols * sh.es);
          if (ep.residual)
            cb.dma(storer.index, cb.spm(slots[li].res[c / 2]),
                   MemRef::dram(ep.residual->addr +
                                ((it.m0 + c * cr) * N + it.n0) * er),
                   it.cols * er, chunkRows(it, c), t.tn * er, N * er);
          cb.signal(storer, kEpIn);
        }
      }
    // Loader: per tile the first chunk's rows with B in k-slices, then
    // the other chunks' rows in the order they are computed.
    for (size_t li = 0; li < items.size(); ++li) {
      const Item &it = items[li];
      const Slots &sl = slots[li];
      bool fromRegion = li == 0 && firstB;
      uint64_t bAddr = fromRegion ? *firstB : sl.b;
      int64_t r0 = it.order[0] * cr;
      for (int64_t kk = 0; kk < kLen; kk += t.tk) {
        uint32_t depth = static_cast<uint32_t>(std::min(t.tk, kLen - kk));
        cb.dma(loader.index, cb.spm(sl.a + (r0 * kLen + kk) * e),
               MemRef::dram(a.addr +
                            (sh.aOff[0] + (it.m0 + r0) * K + kq0 + kk) * e),
               depth * e, chunkRows(it, it.order[0]), kLen * e, K * e);
        if (!fromRegion)
          cb.dma(
              loader.index, cb.spm(bAddr + kk * t.tn * e),
              MemRef::dram(b.addr + (sh.bOff[0] + (kq0 + kk) * N + it.n0) * e),
              it.cols * e, depth, t.tn * e, N * e);
        cb.signal(loader, kFull);
      }
      for (size_t j = 1; j < it.order.size(); ++j) {
        int64_t r = it.order[j] * cr;
        cb.dma(loader.index, cb.spm(sl.a + r * kLen * e),
               MemRef::dram(a.addr + (sh.aOff[0] + (it.m0 + r) * K + kq0) * e),
               kLen * e, chunkRows(it, it.order[j]), kLen * e, K * e);
        cb.signal(loader, kAChunk);
      }
    }
    // Tensor: every chunk over the K part, the partner's first.
    for (size_t li = 0; li < items.size(); ++li) {
      const Item &it = items[li];
      const Slots &sl = slots[li];
      uint64_t bAddr = li == 0 && firstB ? *firstB : sl.b;
      for (size_t j = 0; j < it.order.size(); ++j) {
        int64_t c = it.order[j], r = c * cr;
        if (j > 0)
          cb.wait(tensor, kAChunk);
        for (int64_t kk = 0; kk < kLen; kk += t.tk) {
          if (j == 0)
            cb.wait(tensor, kFull);
          MatmulCmd mm;
          mm.m = chunkRows(it, c);
          mm.n = it.cols;
          mm.k = static_cast<uint32_t>(std::min(t.tk, kLen - kk));
          mm.inType = sh.type;
          mm.outType = sh.acc;
          mm.accumulate = kk > 0;
          mm.a = sl.a + (r * kLen + kk) * e;
          mm.lda = static_cast<uint32_t>(kLen * e);
          mm.b = bAddr + kk * t.tn * e;
          mm.ldb = static_cast<uint32_t>(t.tn * e);
          mm.c = sl.c[c];
          mm.ldc = static_cast<uint32_t>(t.tn * 4);
          cb.matmul(mm);
        }
        cb.signal(tensor, c % 2 == q ? uint16_t(kCDone) : kSendReady);
      }
    }
    // Storer: the partner's chunks into its scratchpad (same offsets on
    // every core).
    for (size_t li = 0; li < items.size(); ++li)
      for (int64_t c : items[li].sent) {
        cb.wait(storer, kSendReady);
        cb.dma(
            storer.index,
            MemRef::spm(static_cast<uint16_t>(partner), slots[li].recv[c / 2]),
            cb.spm(slots[li].c[c]),
            static_cast<uint32_t>(chunkRows(items[li], c) * t.tn * 4));
        cb.signal(storer, kRecv, 1, static_cast<int>(partner));
      }
    // Vector: own chunk + the partner's partial sums, then the epilogue;
    // the storer writes it.
    for (size_t li = 0; li < items.size(); ++li) {
      const Item &it = items[li];
      const Slots &sl = slots[li];
      for (int64_t c : it.own) {
        uint32_t nr = chunkRows(it, c);
        VecOperand acc{sl.c[c], static_cast<uint32_t>(t.tn * 4), DType::F32};
        cb.wait(vector, kCDone);
        cb.wait(vector, kRecv);
        vec(cb, VecOp::Add, nr, it.cols, acc,
            {sl.c[c], static_cast<uint32_t>(t.tn * 4), sh.acc},
            {sl.recv[c / 2], static_cast<uint32_t>(t.tn * 4), sh.acc});
        if (epilogue) {
          if (epLoads)
            cb.wait(vector, kEpIn);
          emitEpilogueOps(
              ctx, kernel, cb, ep, nr, it.cols, acc,
              {sl.bias, it.cols * eb, ep.bias ? ep.bias->dtype : DType::F32},
              {ep.residual ? sl.res[c / 2] : 0,
               static_cast<uint32_t>(t.tn * er),
               ep.residual ? ep.residual->dtype : DType::F32},
              {sl.o[c / 2], static_cast<uint32_t>(t.tn * eo), out.dtype}, false,
              Broadcast::Row,
              {sl.scale, it.cols * sh.es,
               sh.es ? ep.residualScale->dtype : DType::F32},
              {scaled, static_cast<uint32_t>(t.tn * 4), DType::F32});
        }
        cb.signal(vector, kODone);
      }
    }
    for (size_t li = 0; li < items.size(); ++li) {
      const Item &it = items[li];
      for (int64_t c : it.own) {
        unsigned es = epilogue ? eo : 4;
        uint64_t from = epilogue ? slots[li].o[c / 2] : slots[li].c[c];
        cb.wait(storer, kODone);
        cb.dma(storer.index,
               MemRef::dram(out.addr + ((it.m0 + c * cr) * N + it.n0) * es),
               cb.spm(from), it.cols * es, chunkRows(it, c), N * es, t.tn * es);
      }
    }
  }
}

} // namespace

namespace detail {

uint64_t matmulBytes(const ChipDesc &chip, const MatmulProblem &p,
                     const Schedule &s) {
  MatmulShape sh = analyze(chip, p.a, p.b, p.out, p.epilogue);
  if (s.tile.size() == 4 && s.buffers.size() == 3) {
    Tiles t = tilesOf(s);
    KSplit k = kSplitOf(chip, sh, t, std::max<unsigned>(s.cores, 2));
    return kSplitOwnBytes(chip, sh, t, k) + kSplitBBytes(sh, t, k);
  }
  if (s.tile.size() != 3 || s.buffers.size() != 3)
    fail("matmul", "a schedule needs tile {m, n, k} and buffers {A, B, C}");
  return footprint(chip, sh, tilesOf(s), s.buffers[0], s.buffers[1],
                   s.buffers[2]);
}

void planMatmul(const ChipDesc &chip, const MatmulProblem &p, PlanStep step,
                Schedule &s) {
  const std::string kernel = "matmul";
  MatmulShape sh = analyze(chip, p.a, p.b, p.out, p.epilogue);
  int64_t M = std::max<int64_t>(sh.M, 1), N = std::max<int64_t>(sh.N, 1),
          K = std::max<int64_t>(sh.K, 1);
  unsigned cores = chip.cores;
  if (step == PlanStep::Tile) {
    // Tiles: k deep enough to fill the array twice, n four folds wide, m
    // long enough to amortise each fold's weight load; halved until the
    // buffers fit.
    const TensorUnitDesc &tu = chip.tensor;
    double pack = std::max(1.0, std::floor(chip.peakMacsPerCycle(sh.type) /
                                           (double(tu.rows) * tu.cols)));
    Tiles t{std::min<int64_t>(M, 1024),
            std::min<int64_t>(N, int64_t(tu.cols) * 4),
            std::min<int64_t>(K, int64_t(tu.rows * pack) * 2)};
    auto items = [&] {
      return sh.batches * ceilDiv(M, t.tm) * ceilDiv(N, t.tn);
    };
    // Spread small problems over every core.
    while (items() < cores && t.tm > int64_t(tu.rows))
      t.tm = ceilDiv(t.tm, 2);
    while (items() < cores && t.tn > int64_t(tu.cols))
      t.tn = ceilDiv(t.tn, 2);
    auto finish = [&](Tiles c) {
      // One m-block (small M: weight streaming, memory bound): A stays
      // resident and B streams in deep k-slices; more, narrower tiles per
      // core so the epilogue of one tile overlaps the next tile's loads.
      bool aResident = residentA(chip, sh, c);
      auto count = [&] {
        return sh.batches * ceilDiv(M, c.tm) * ceilDiv(N, c.tn);
      };
      while (aResident && count() < 2 * int64_t(cores) &&
             c.tn > int64_t(tu.cols))
        c.tn = std::max<int64_t>(ceilDiv(c.tn, 2), tu.cols);
      // Many column tiles: the width (in whole array folds, up to the
      // one chosen) whose busiest core has the fewest folds, widest on
      // ties. GPT-2's LM head (N = 50257): 512-wide tiles leave 13 of 99
      // (52 folds) on some cores, 256-wide ones 25 of 197 (50 folds).
      if (aResident && c.tn > int64_t(tu.cols)) {
        auto busiest = [&](int64_t tn) {
          return ceilDiv(ceilDiv(N, tn), int64_t(cores)) *
                 ceilDiv(tn, int64_t(tu.cols));
        };
        int64_t bestTn = c.tn;
        for (int64_t tn = c.tn / int64_t(tu.cols) * tu.cols;
             tn >= int64_t(tu.cols); tn -= tu.cols)
          if (busiest(tn) < busiest(bestTn))
            bestTn = tn;
        c.tn = bestTn;
      }
      // Sized for the buffering gaon-npu-double-buffer will choose.
      int64_t aBuf, bBuf;
      defaultBuffers(chip, sh, c, aBuf, bBuf);
      while (footprint(chip, sh, c, aBuf, bBuf, 2) > chip.scratchpad.bytes) {
        int64_t *largest = aResident ? &c.tk : &c.tm;
        if (c.tn > *largest)
          largest = &c.tn;
        if (c.tk > *largest)
          largest = &c.tk;
        if (*largest <= 1)
          fail(kernel, "tiles cannot fit the scratchpad of chip " + chip.name +
                           " (" + std::to_string(chip.scratchpad.bytes) +
                           " bytes per core)");
        *largest = ceilDiv(*largest, 2);
      }
      return c;
    };
    Tiles best = finish(t);
    bool kSplit = false;
    // Weight streaming (one row block, A resident): k-slices one array fold
    // deep, so the first matmul starts after a smaller first A and B slice
    // and prefetches move in smaller transfers (GPT-2 small at 1 x 128 on
    // rngd: 2% faster; compute-bound tiles keep two folds, where 128-deep
    // slices were 1% slower).
    if (residentA(chip, sh, best))
      best.tk = std::min<int64_t>(K, int64_t(tu.rows * pack));
    if (!residentA(chip, sh, best)) {
      // Several row blocks (compute bound): smaller tiles balance the
      // cores and shorten the last tile's exposed epilogue, but reload A
      // and B more often; the candidate with the fewest estimated cycles
      // wins.
      double macs = chip.peakMacsPerCycle(sh.type);
      double epGroup = 0;
      if (sh.epilogue) {
        epGroup = 1; // the final cast
        if (p.epilogue.bias)
          epGroup += 1;
        if (p.epilogue.residual)
          epGroup += 1;
        if (p.epilogue.alpha != 1.0f)
          epGroup += 1;
        VecOp act = p.epilogue.activation == Activation::Gelu ? VecOp::Gelu
                    : p.epilogue.activation == Activation::GeluTanh
                        ? VecOp::GeluTanh
                    : p.epilogue.activation == Activation::Silu ? VecOp::Silu
                                                                : VecOp::Relu;
        if (p.epilogue.activation != Activation::None)
          epGroup += std::max(0.0, vectorOpCycles(chip, act));
      }
      // Per candidate: the busiest core's tensor work (array folds: a
      // 384-wide tile costs three, a 320-wide one three too), its epilogue
      // work, the DRAM traffic (A once per row block a core meets, B once
      // per tile, C and the residual once), whichever is largest, plus the
      // first loads and the last chunk's epilogue.
      double pack =
          std::max(1.0, std::floor(macs / (double(tu.rows) * tu.cols)));
      double rate = chip.dramBytesPerCycle();
      auto cost = [&](const Tiles &c) {
        int64_t mB = sh.batches * ceilDiv(M, c.tm), nB = ceilDiv(N, c.tn);
        int64_t n = mB * nB;
        double perCore = std::ceil(double(n) / cores);
        double folds = std::ceil(double(c.tn) / tu.cols) *
                       std::ceil(double(K) / (tu.rows * pack));
        double tensor = double(std::max<int64_t>(c.tm, tu.rows)) * folds;
        double vec = double(c.tm) *
                     std::ceil(double(c.tn) / chip.vector.lanes) * epGroup;
        double aLoads = 0;
        for (unsigned core = 0; core < cores; ++core) {
          int64_t first = splitBegin(n, cores, core),
                  last = splitBegin(n, cores, core + 1);
          if (first < last)
            aLoads += double((last - 1) / nB - first / nB + 1);
        }
        double bytes = aLoads * c.tm * K * sh.e + double(n) * K * c.tn * sh.e +
                       double(M) * N * (sh.eo + sh.er) * sh.batches;
        double startup = double(c.tm + c.tn) * c.tk * sh.e *
                         std::min<double>(n, cores) / rate;
        // With an activation, tiles over resident A blocks run in row
        // chunks of one array height: only the last chunk's epilogue is
        // exposed.
        double tail = double(p.epilogue.activation != Activation::None
                                 ? std::min<int64_t>(c.tm, tu.rows)
                                 : c.tm) *
                      std::ceil(double(c.tn) / chip.vector.lanes) * epGroup;
        return std::max({perCore * tensor, perCore * vec, bytes / rate}) +
               tail + startup;
      };
      double bestCost = cost(best);
      // Candidates: tiles that split M and N into near-equal parts, in
      // whole array folds (balanced items per core, e.g. 1024 x 768 as
      // eight 256 x 384 tiles), up to 1024 x 1024.
      std::vector<int64_t> tms, tns;
      for (int64_t d = 1; d <= 16; ++d) {
        int64_t tm = std::min<int64_t>(
            M, ceilDiv(ceilDiv(M, d), int64_t(tu.rows)) * tu.rows);
        int64_t tn = std::min<int64_t>(
            N, ceilDiv(ceilDiv(N, d), int64_t(tu.cols)) * tu.cols);
        if (tm <= 1024 && std::find(tms.begin(), tms.end(), tm) == tms.end())
          tms.push_back(tm);
        if (tn <= 1024 && std::find(tns.begin(), tns.end(), tn) == tns.end())
          tns.push_back(tn);
      }
      for (int64_t tm : tms)
        for (int64_t tn : tns) {
          Tiles c = finish({tm, tn, t.tk});
          if (residentA(chip, sh, c))
            continue;
          double k = cost(c);
          if (k < 0.95 * bestCost) {
            best = c;
            bestCost = k;
          }
        }
      // K split over pairs of cores (row chunks of one array height owned
      // alternately, exchanged over the network): each core reads half of
      // its tile's A and B rows. Per candidate: the busiest core's tensor
      // work over its K part, the own chunks' epilogue (plus the partial
      // sums' add), DRAM traffic, and each link carrying the chunks sent
      // and received. GPT-2's FFN down-projection at 1024 tokens (K = 3072,
      // N = 768): 512 x 384 tiles, one per pair, 25 MB of DRAM traffic
      // instead of 31 MB.
      if (sh.batches == 1 && cores >= 2 && chip.network.bytesPerCycle > 0) {
        double net = chip.network.bytesPerCycle;
        for (int64_t tm : tms)
          for (int64_t tn : tns) {
            Tiles c{tm, tn, t.tk};
            KSplit k = kSplitOf(chip, sh, c, cores);
            if (!k.byRows() || k.kAt >= K ||
                kSplitOwnBytes(chip, sh, c, k) + kSplitBBytes(sh, c, k) >
                    chip.scratchpad.bytes)
              continue;
            double folds = std::ceil(double(tn) / tu.cols) *
                           std::ceil(double(k.kMax) / (tu.rows * pack));
            double perCore = double(k.maxItems);
            double tensor = perCore * k.chunks * k.chunk * folds;
            double own = std::ceil(k.chunks / 2.0);
            double lanes = std::ceil(double(tn) / chip.vector.lanes);
            double vec = perCore * own * k.chunk * lanes * (epGroup + 1);
            double bytes = 2.0 * k.items * (tm + tn) * k.kMax * sh.e +
                           double(M) * N * (sh.eo + sh.er);
            double link = perCore * k.chunks * k.chunk * tn * 4 / net;
            double startup = double(k.chunk + tn) * c.tk * sh.e *
                             std::min<double>(2 * k.items, cores) / rate;
            double tail = k.chunk * lanes * (epGroup + 1);
            double kc =
                std::max({tensor, vec, bytes / rate, link}) + tail + startup;
            if (kc < 0.95 * bestCost) {
              best = c;
              bestCost = kc;
              kSplit = true;
            }
          }
      }
    }
    t = best;
    s.tile = {t.tm, t.tn, t.tk};
    if (kSplit) {
      s.tile.push_back(2);
      return;
    }
    // Weight streaming reads all of A on every core. Where that costs more
    // DRAM time than pairs of cores each reading half of K and exchanging
    // partial sums of half their columns over the network (each link
    // carries one half tile each way), split K in pairs: GPT-2's FFN
    // down-projection at 128 tokens (K = 3072, N = 768) reads 3.1 MB of A
    // instead of 4.7 MB for 768 cycles of exchange per link.
    if (residentA(chip, sh, t) && sh.batches == 1 && cores >= 2 &&
        chip.network.bytesPerCycle > 0) {
      int64_t pairs = cores / 2;
      Tiles c{t.tm, ceilDiv(N, pairs), t.tk};
      c.tn += c.tn % 2;
      KSplit k = kSplitOf(chip, sh, c, cores);
      double aBytes = double(M) * K * sh.e;
      // A multicast chip reads the shared A once (see planACast).
      double now = chip.dma.multicast
                       ? aBytes
                       : std::min<int64_t>(cores, ceilDiv(N, t.tn)) * aBytes;
      double split = double(k.pairs) * aBytes;
      double saved = (now - split) / chip.dramBytesPerCycle();
      double exchange =
          2.0 * M * k.half * 4 / double(chip.network.bytesPerCycle);
      int64_t lastCols = N - (k.nTiles - 1) * c.tn;
      if (k.kAt < K && lastCols >= 2 && saved > exchange &&
          kSplitOwnBytes(chip, sh, c, k) + kSplitBBytes(sh, c, k) <=
              chip.scratchpad.bytes)
        s.tile = {c.tm, c.tn, c.tk, 2};
    }
    return;
  }
  if (s.tile.size() != 3 && s.tile.size() != 4)
    fail(kernel, "tile sizes {m, n, k} must be chosen first");
  Tiles t = tilesOf(s);
  int64_t mBlocks = sh.batches * ceilDiv(M, t.tm), nBlocks = ceilDiv(N, t.tn);
  if (s.tile.size() == 4) {
    // K split over pairs: column tiles to pairs, every core of a pair
    // working; A resident, B prefetched like plain weight streaming.
    KSplit k = kSplitOf(chip, sh, t, cores);
    if (step == PlanStep::Partition) {
      s.split = k.byRows() ? Split::Rows : Split::Cols;
      s.cores = static_cast<unsigned>(2 * k.pairs);
      return;
    }
    k = kSplitOf(chip, sh, t, std::max<unsigned>(s.cores, 2));
    uint64_t bBytes = kSplitBBytes(sh, t, k);
    uint64_t need = kSplitOwnBytes(chip, sh, t, k) + bBytes;
    if (need > chip.scratchpad.bytes)
      fail(kernel, "a K split of tiles [" + std::to_string(t.tm) + ", " +
                       std::to_string(t.tn) + ", " + std::to_string(t.tk) +
                       "] needs " + std::to_string(need) +
                       " scratchpad bytes per core; chip " + chip.name +
                       " has " + std::to_string(chip.scratchpad.bytes));
    s.buffers = {1, 2, 2};
    s.prefetch = p.constantB && bBytes <= chip.scratchpad.bytes / 4 &&
                 bBytes >= (128u << 10);
    return;
  }
  if (step == PlanStep::Partition) {
    // One row block: every core takes a slice of the columns (weight
    // streaming); otherwise contiguous ranges in row-major block order.
    s.split = mBlocks == 1 && nBlocks > 1 ? Split::Cols : Split::Rows;
    s.cores =
        static_cast<unsigned>(std::clamp<int64_t>(mBlocks * nBlocks, 1, cores));
    return;
  }
  int64_t aBuf, bBuf;
  defaultBuffers(chip, sh, t, aBuf, bBuf);
  // Fall back to plain double buffering where the deeper one does not fit.
  if (footprint(chip, sh, t, aBuf, bBuf, 2) > chip.scratchpad.bytes)
    bBuf = 2;
  if (footprint(chip, sh, t, aBuf, bBuf, 2) > chip.scratchpad.bytes)
    aBuf = 2;
  uint64_t need = footprint(chip, sh, t, aBuf, bBuf, 2);
  if (need > chip.scratchpad.bytes)
    fail(kernel, "tiles [" + std::to_string(t.tm) + ", " +
                     std::to_string(t.tn) + ", " + std::to_string(t.tk) +
                     "] double-buffered need " + std::to_string(need) +
                     " scratchpad bytes per core; chip " + chip.name + " has " +
                     std::to_string(chip.scratchpad.bytes));
  s.buffers = {aBuf, bBuf, 2};
  // Weights streamed past a resident A: each core's slice of B can be
  // loaded while the previous kernels run, if it takes at least 128 KiB
  // (smaller slices stream within the kernel's first loads; prefetching
  // them only lengthens the previous kernel: tiny_gpt on the tiny preset
  // ran 5% slower). Up to a quarter of the scratchpad (room for the
  // kernels in between and this one) it is prefetched whole; up to half
  // (GPT-2's LM head), its leading blocks as far as the earlier kernels'
  // spare DRAM time goes, the kernel loading the rest (see matmul()).
  int64_t perCore = ceilDiv(mBlocks * nBlocks, std::max<unsigned>(s.cores, 1));
  uint64_t slice = uint64_t(perCore) * K * t.tn * sh.e;
  s.prefetch = p.constantB && aBuf == 1 && mBlocks == 1 &&
               slice <= chip.scratchpad.bytes / 2 && slice >= (128u << 10);
  // Several row blocks over resident A: each core's first B block is
  // loaded during earlier kernels, so the kernel starts on A's loads only.
  uint64_t block = uint64_t(K) * t.tn * sh.e;
  if (p.constantB && aBuf == 1 && mBlocks > 1 && sh.batches == 1 &&
      block <= chip.scratchpad.bytes / 4 && block >= (128u << 10))
    s.prefetch = true;
}

} // namespace detail

bool StreamEmitter::prefetchWeights(
    const Tensor &b, int64_t bOff, int64_t K, int64_t N, int64_t tk, int64_t tn,
    unsigned e, int64_t total, int64_t mTiles, int64_t nTiles, bool colSplit,
    unsigned useCores, uint64_t own, uint64_t &region, uint64_t &regionAt,
    bool mustFit, int64_t hostedItems, bool deep) {
  const uint64_t blockBytes = uint64_t(K) * tn * e;
  region = uint64_t(ceilDiv(total, useCores)) * blockBytes;
  // Per core: one transfer per block and k-slice (DRAM channels serve
  // transfers in order, so smaller ones let the hosts' own traffic
  // through); destinations relative to the region.
  std::vector<std::vector<DmaCmd>> chunks(useCores);
  for (unsigned core = 0; core < useCores; ++core) {
    int64_t first = splitBegin(total, useCores, core),
            last = splitBegin(total, useCores, core + 1);
    if (hostedItems >= 0)
      last = std::min(last, first + hostedItems);
    for (int64_t item = first; item < last; ++item) {
      int64_t ni = colSplit ? item / mTiles : item % nTiles;
      appendBlockLoads(chunks[core], b, bOff, K, N, tk, tn, e, ni * tn,
                       uint64_t(item - first) * blockBytes, core);
    }
  }
  return hostPrefetch(chunks, own, region, regionAt, mustFit, deep);
}

void StreamEmitter::appendBlockLoads(std::vector<DmaCmd> &loads,
                                     const Tensor &b, int64_t bOff, int64_t K,
                                     int64_t N, int64_t tk, int64_t tn,
                                     unsigned e, int64_t n0, uint64_t at,
                                     unsigned core) {
  for (int64_t k0 = 0; k0 < K; k0 += tk) {
    DmaCmd d;
    d.src = MemRef::dram(b.addr + (bOff + k0 * N + n0) * e);
    d.dst = MemRef::spm(static_cast<uint16_t>(core), at + k0 * tn * e);
    d.rowBytes = static_cast<uint32_t>(std::min(tn, N - n0) * e);
    d.rows = static_cast<uint32_t>(std::min(tk, K - k0));
    d.srcRowStride = uint64_t(N) * e;
    d.dstRowStride = uint64_t(tn) * e;
    loads.push_back(d);
  }
}

StreamEmitter::PrefetchHosts
StreamEmitter::prefetchHosts(uint64_t own, uint64_t region, bool deep) {
  // Share of a host's estimated duration its DRAM can give to prefetches
  // (0.85 before whole B blocks of several-row-block matmuls were
  // prefetched; with them, BERT's attention hosted 6 MB and ran 10% longer:
  // 0.8 is best on BERT-base and GPT-2 small, 0.75 and 0.7 slower).
  constexpr double kSpareShare = 0.8;
  PrefetchHosts found;
  if (records.empty())
    return found;
  closeRecord();
  const uint64_t cap = chipDesc.scratchpad.bytes;
  const size_t consumer = records.size(); // this kernel's record, once begun
  // The region takes the highest free range of the scratchpad: above
  // everything the kernels from `host` on use (they allocate from 0) and
  // this kernel's buffers, clear of the regions of other prefetches live
  // at some point from `host` on. (Stacking each region below every live
  // one instead let them drift down a whole model: GPT-2 small's last
  // layers had theirs at 10 MB of 32 MiB, leaving no room for its LM head.)
  // Walking back, the kernels and regions to avoid only grow, so the
  // highest fit only falls.
  auto highestFit = [&](size_t host,
                        uint64_t floor) -> std::optional<uint64_t> {
    if (cap < region + floor)
      return std::nullopt;
    uint64_t at = (cap - region) / 64 * 64;
    for (bool moved = true; moved;) {
      moved = false;
      for (const PrefetchRegion &r : regions) {
        if (r.consumer < host || r.lo >= at + region || r.hi <= at)
          continue;
        if (r.lo < region + floor)
          return std::nullopt;
        at = (r.lo - region) / 64 * 64;
        moved = true;
      }
    }
    return at >= floor ? std::optional<uint64_t>(at) : std::nullopt;
  };
  uint64_t used = own;
  double rate = chipDesc.dramBytesPerCycle();
  const size_t depth = deep ? kDeepPrefetchDepth : kPrefetchDepth;
  for (size_t d = 0; d < depth && d < consumer; ++d) {
    size_t host = consumer - 1 - d;
    used = std::max(used, records[host].spm.hi);
    std::optional<uint64_t> at = highestFit(host, used);
    if (!at)
      break;
    const KernelRecord &r = records[host];
    // A deep prefetch only uses hosts whose dma0 is done early (prefetched
    // matmuls; its loads follow dma0's last transfer, then the kernel is
    // tensor bound), within that tail: GPT-2 small's LM head at 1 x 128
    // put 14.7 MB in QKV projections at no cost, while layer norms and
    // attention ran 0.7-2.7k cycles longer per 1-4 MB given by their
    // spare DRAM time over the whole kernel.
    double spare =
        deep ? (r.dma0Waits
                    ? 0.0
                    : kSpareShare * (r.cycles - r.dma0Busy) * rate - r.hosted)
             : kSpareShare * r.cycles * rate - r.dramBytes - r.hosted;
    found.hosts.push_back({host, *at, std::max(0.0, spare)});
  }
  return found;
}

bool StreamEmitter::hostPrefetch(std::vector<std::vector<DmaCmd>> &chunks,
                                 uint64_t own, uint64_t region,
                                 uint64_t &regionAt, bool mustFit, bool deep) {
  const unsigned useCores = static_cast<unsigned>(chunks.size());
  const size_t consumer = records.size();
  double totalBytes = 0;
  for (const std::vector<DmaCmd> &core : chunks)
    for (const DmaCmd &d : core)
      totalBytes += double(d.rowBytes) * d.rows;
  if (totalBytes <= 0)
    return false;

  // Hosts nearest first, each taking what its spare DRAM time holds; the
  // rest goes to the previous kernel (which then runs longer).
  std::vector<size_t> hosts;
  std::vector<double> share;
  double left = totalBytes;
  for (const PrefetchHosts::Host &h : prefetchHosts(own, region, deep).hosts) {
    regionAt = h.at;
    hosts.push_back(h.host);
    share.push_back(std::min(left, h.spare));
    left -= share.back();
    if (left <= 0)
      break;
  }
  // With `mustFit`, up to half of the loads may still go to the previous
  // kernel beyond its spare time (BERT's QKV projection at 1024 tokens
  // leaves a quarter to the layer norm before it and still runs 1k cycles
  // shorter than with only its first B block prefetched).
  if (hosts.empty() || (mustFit && left > 0.5 * totalBytes))
    return false;
  share[0] += std::max(0.0, left);

  unsigned engines = chipDesc.dma.engines;
  UnitRef dma0 = UnitRef::dma(0),
          storer = UnitRef::dma(static_cast<uint8_t>(engines - 1));
  for (unsigned core = 0; core < useCores; ++core) {
    std::vector<Instr> &program = stream.cores[core];
    size_t n = chunks[core].size(), from = 0;
    double done = 0;
    // Farthest host first: it gets the first blocks.
    for (size_t j = hosts.size(); j-- > 0;) {
      size_t host = hosts[j];
      done += share[j];
      size_t to = j == 0 ? n
                         : std::min<size_t>(
                               n, size_t(std::llround(done / totalBytes * n)));
      if (to <= from)
        continue;
      size_t begin = records[host].start[core],
             end = host + 1 < records.size() ? records[host + 1].start[core]
                                             : program.size();
      // A host whose dma0 never waits in its body (row ops, prefetched
      // matmuls) is done loading early: the loads follow its last dma0
      // transfer. Otherwise dma0 runs until late in the kernel, so the
      // loads go on the storing engine, spread after its fence and after
      // each of its stores but the last (at the start only, they would
      // hold the stores back and stall the kernel).
      bool dma0Waits = false;
      size_t afterDma0 = begin;
      for (size_t i = begin; i < end; ++i) {
        const Instr &instr = program[i];
        if (!(instr.unit == dma0))
          continue;
        if (const auto *w = std::get_if<WaitCmd>(&instr.cmd)) {
          if (w->sem != kFenceDone)
            dma0Waits = true;
        } else {
          afterDma0 = i + 1;
        }
      }
      std::vector<size_t> positions;
      UnitRef unit = dma0;
      // Where dma0 waits but the storing engine is the busier one (row
      // chunks that broadcast the bias into C there), the loads still go
      // after dma0's last transfer: behind the stores they delayed the
      // fills and the tensor unit waited.
      const KernelRecord &hr = records[host];
      if (!dma0Waits || engines < 2 || hr.storerBusy > hr.dma0Busy) {
        positions.push_back(afterDma0);
      } else {
        unit = storer;
        positions.push_back(begin);
        for (size_t i = begin; i < end; ++i) {
          const Instr &instr = program[i];
          if (!(instr.unit == storer))
            continue;
          if (const auto *w = std::get_if<WaitCmd>(&instr.cmd)) {
            if (w->sem == kFenceGo)
              positions.front() = i + 1;
          } else if (std::holds_alternative<DmaCmd>(instr.cmd) &&
                     i + 1 > positions.front()) {
            positions.push_back(i + 1);
          }
        }
        // Not after the last store: that would lengthen the kernel.
        if (positions.size() > 1)
          positions.pop_back();
      }
      // Spread the chunks [from, to) over the positions; insert from the
      // back so earlier positions stay valid.
      size_t count = to - from, slots = positions.size();
      for (size_t p = slots; p-- > 0;) {
        size_t lo = from + count * p / slots,
               hi = from + count * (p + 1) / slots;
        std::vector<Instr> loads;
        for (size_t c = lo; c < hi; ++c) {
          DmaCmd d = chunks[core][c];
          d.dst.addr += regionAt;
          loads.push_back({unit, d});
        }
        program.insert(program.begin() + positions[p], loads.begin(),
                       loads.end());
      }
      for (size_t k = host + 1; k < records.size(); ++k)
        records[k].start[core] += count;
      from = to;
    }
  }
  for (size_t j = 0; j < hosts.size(); ++j)
    records[hosts[j]].hosted += share[j];
  regions.push_back({regionAt, regionAt + region, hosts.back(), consumer});
  return true;
}

void StreamEmitter::matmul(const Tensor &a, const Tensor &b, const Tensor &out,
                           const Epilogue &epIn, const Schedule *schedule) {
  Epilogue ep = epIn; // gets the dequant scale's scratchpad address
  const std::string kernel = "matmul";
  Ctx ctx{stream, chipDesc, &spmUse};
  MatmulShape sh = analyze(chipDesc, a, b, out, ep);
  Schedule sched =
      schedule ? *schedule
               : defaultSchedule(chipDesc, MatmulProblem{a, b, out, ep});
  if (sched.tile.size() < 3 || sched.tile.size() > 4 ||
      sched.buffers.size() != 3 ||
      *std::min_element(sched.tile.begin(), sched.tile.end()) < 1)
    fail(kernel, "the schedule needs tile {m, n, k} (or {m, n, k, 2}) >= 1 "
                 "and buffers {A, B, C}");
  if (sched.tile.size() == 4) {
    matmulKSplit(a, b, out, ep, sched);
    return;
  }
  if (sched.split != Split::Rows && sched.split != Split::Cols)
    fail(kernel, "splits output blocks by rows or columns, not heads");
  int64_t M = sh.M, N = sh.N, K = sh.K, batches = sh.batches;
  Tiles t = tilesOf(sched);
  bool aResident = sched.buffers[0] == 1;
  unsigned engines = chipDesc.dma.engines;
  // Slot s of B is loaded by engine s % ldEngines, with per-engine
  // semaphores: two engines stream weights past a single resident m-block
  // (memory bound); otherwise one engine loads and the other only stores,
  // so loads never queue behind a store waiting for its epilogue.
  bool oneBlock = ceilDiv(M, t.tm) == 1;
  unsigned ldEngines = aResident && oneBlock && engines >= 2 ? 2 : 1;
  int64_t nSlots = sched.buffers[1];
  if (sched.buffers[0] < 1 || sched.buffers[0] > 2 || sched.buffers[2] != 2 ||
      nSlots < 2 || nSlots % ldEngines)
    fail(kernel, "buffers {A, B, C} must be A 1 (resident) or 2, B >= 2 (a "
                 "multiple of the loading engines), C 2");
  if (aResident && batches != 1)
    fail(kernel, "A can stay resident only without batches");
  if (footprint(chipDesc, sh, t, sched.buffers[0], nSlots, 2) >
      chipDesc.scratchpad.bytes)
    fail(kernel,
         "the schedule does not fit the scratchpad of chip " + chipDesc.name);
  unsigned useCores =
      sched.cores ? std::min(sched.cores, ctx.cores()) : ctx.cores();
  int64_t mTiles = ceilDiv(M, t.tm), nTiles = ceilDiv(N, t.tn);
  int64_t total = batches * mTiles * nTiles;
  const std::vector<int64_t> &aOff = sh.aOff, &bOff = sh.bOff;
  DType type = sh.type;
  unsigned e = sh.e, eo = sh.eo, eb = sh.eb, er = sh.er;
  bool epilogue = sh.epilogue;

  // Prefetch: each core's B blocks (one per output tile: with A resident
  // the tiles are distinct column blocks) go to the top of its scratchpad,
  // loaded while earlier kernels run: the previous kernel and, while it
  // lacks spare DRAM time for all of them, up to kPrefetchDepth - 1 kernels
  // before it (their fences wait for the loads; weights are constants, so
  // loading them early is safe). Skipped, with the same result, when there
  // is no room or no previous kernel.
  uint64_t blockBytes = uint64_t(K) * t.tn * e, region = 0, regionAt = 0;
  // Tiles taller than the array over resident A blocks, with an
  // activation (an epilogue as long as the matmuls: GELU), run in row
  // chunks where the scratchpad holds whole B blocks. (Without one the
  // exposed epilogue is short, and whole B blocks load later than k-slices
  // would: the FFN down-projection ran 20% slower chunked.)
  bool chunked = aResident && mTiles > 1 && batches == 1 &&
                 ep.activation != Activation::None && !ep.residualScale &&
                 sched.split == Split::Rows && engines >= 2 &&
                 t.tm > int64_t(chipDesc.tensor.rows) &&
                 chunkedFootprint(chipDesc, sh, t, chipDesc.tensor.rows) <=
                     chipDesc.scratchpad.bytes;
  // Several row blocks, not chunked: when a core's tiles are distinct
  // column blocks (at most one row's worth) and all its B blocks take at
  // most a quarter of the scratchpad, all of them are prefetched, not only
  // the first: a DRAM-bound matmul (BERT's attention output projection at
  // 1024 tokens) then reads only A, the residual and the output, and its
  // weights stream during the vector-bound attention before it. Only where
  // the earlier kernels' spare DRAM time takes at least half of them:
  // otherwise the first block alone (BERT's first QKV projection, after the
  // short embedding kernels, put 8 MB of weights into the kernel before it).
  int64_t perCore = ceilDiv(total, std::max<int64_t>(useCores, 1));
  bool allBlocks =
      mTiles > 1 && batches == 1 && !chunked && sched.split == Split::Rows &&
      perCore <= nTiles &&
      uint64_t(perCore) * blockBytes <= chipDesc.scratchpad.bytes / 4;
  // With all B blocks prefetched and each core's tiles in one row block,
  // several tiles per core run k-outer (see emitKOuter).
  bool kOuter = allBlocks && perCore >= 2 && engines >= 2;
  for (unsigned core = 0; core < useCores && kOuter; ++core) {
    int64_t first = splitBegin(total, useCores, core),
            last = splitBegin(total, useCores, core + 1);
    kOuter = first == last || first / nTiles == (last - 1) / nTiles;
  }
  uint64_t own = footprint(chipDesc, sh, t, 1, 0, 2);
  if (kOuter)
    own = std::max(own, kOuterFootprint(chipDesc, sh, t, perCore));
  // A weight-streaming slice of B over a quarter of the scratchpad (GPT-2
  // small's LM head: 9.8 MB per core on rngd, 77 MB in all, twice its
  // tensor time in DRAM time): the region still holds all of a core's
  // blocks, but earlier kernels, up to kDeepPrefetchDepth back, load only
  // as many leading blocks as their spare DRAM time holds (the layers
  // before leave DRAM idle half the time); this kernel loads the rest
  // itself, all at its start, so its DRAM streams them while the tensor
  // unit works through the prefetched blocks.
  int64_t hostedItems = -1;
  // Also where prefetching it whole would leave the previous kernel (which
  // takes what the nearer hosts' spare time does not) more than ten times
  // its own duration in extra loads: GPT-2 small's LM head in int8 (4.9 MB
  // per core, 26x) made an activation quantize of 0.5k cycles run 23k. (At
  // three times, atom's FFN up-projections after their layer norms, 7x,
  // ran deep and BERT-base took 2.6% longer there: a weight prefetched
  // whole keeps the matmul tensor bound from its start.)
  auto leftoverSwampsPrevious = [&] {
    double near = 0;
    for (const PrefetchHosts::Host &h :
         prefetchHosts(own, uint64_t(perCore) * blockBytes, false).hosts)
      near += h.spare;
    double left = double(total) * double(blockBytes) - near;
    return left / chipDesc.dramBytesPerCycle() > 10.0 * records.back().cycles;
  };
  const bool large =
      uint64_t(perCore) * blockBytes > chipDesc.scratchpad.bytes / 4;
  if (sched.prefetch && aResident && mTiles == 1 &&
      sched.split == Split::Cols && !records.empty() && total > 0 &&
      (large || leftoverSwampsPrevious())) {
    double spare = 0;
    for (const PrefetchHosts::Host &h :
         prefetchHosts(own, uint64_t(perCore) * blockBytes, true).hosts)
      spare += h.spare;
    double perBlock = double(blockBytes) * useCores;
    // No more than makes the kernel tensor bound: past that, hosting
    // only lengthens the hosts (GPT-2 small at 1 x 128: 15 of 25 blocks
    // per core; 17, with hosts given more of their time, ran 2% slower).
    double tensorCycles =
        double(perCore) * M * K * t.tn / chipDesc.peakMacsPerCycle(type);
    double fixedBytes = double(M) * N * eo + double(M) * K * e +
                        (ep.bias ? double(N) * eb : 0.0) +
                        (ep.residual ? double(M) * N * er : 0.0);
    double streamable =
        tensorCycles * chipDesc.dramBytesPerCycle() - fixedBytes;
    int64_t needed = std::clamp<int64_t>(
        perCore - int64_t(std::floor(std::max(0.0, streamable) / perBlock)), 0,
        perCore);
    hostedItems = std::min<int64_t>(needed, int64_t(spare / perBlock));
  }
  bool prefetched = false;
  if (sched.prefetch && aResident && (mTiles == 1 || allBlocks) &&
      !records.empty() && total > 0 && hostedItems != 0)
    prefetched = prefetchWeights(b, bOff[0], K, N, t.tk, t.tn, e, total, mTiles,
                                 nTiles, sched.split == Split::Cols, useCores,
                                 own, region, regionAt, /*mustFit=*/mTiles > 1,
                                 hostedItems, /*deep=*/hostedItems >= 0);
  // Blocks of the region this kernel loads itself (per core, after the
  // hosted ones): on dma0 at its start, after A, each signalling kFull;
  // the tensor unit waits for the count its step needs.
  const bool loadsHere = prefetched && hostedItems >= 0;
  auto blockAt = [&](int64_t localItem) {
    return regionAt + uint64_t(localItem) * blockBytes;
  };
  // Several row blocks: each core's first B block (a constant) is loaded
  // during earlier kernels, above this kernel's buffers.
  bool firstFromRegion = false;
  uint64_t firstAt = 0;
  if (sched.prefetch && aResident && mTiles > 1 && batches == 1 &&
      sched.split == Split::Rows && total > 0 && !prefetched) {
    std::vector<std::vector<DmaCmd>> loads(useCores);
    for (unsigned core = 0; core < useCores; ++core) {
      int64_t first = splitBegin(total, useCores, core),
              last = splitBegin(total, useCores, core + 1);
      if (first < last)
        appendBlockLoads(loads[core], b, bOff[0], K, N, t.tk, t.tn, e,
                         first % nTiles * t.tn, 0, core);
    }
    uint64_t own =
        chunked ? chunkedFootprint(chipDesc, sh, t, chipDesc.tensor.rows)
                : footprint(chipDesc, sh, t, sched.buffers[0], nSlots, 2);
    firstFromRegion = hostPrefetch(loads, own, blockBytes, firstAt);
  }
  beginKernel();
  if (out.numel() == 0)
    return;
  // With a prefetched region at the top, this kernel's buffers go below it
  // (the region itself is tracked with the prefetches, not in spmUse).
  SpmAlloc spm{kernel,
               prefetched        ? regionAt
               : firstFromRegion ? firstAt
                                 : chipDesc.scratchpad.bytes,
               0, ctx.use};
  loadDequantScale(ctx, ep, spm, useCores);
  if (chunked) {
    emitRowChunked(ctx, kernel, sh, t, useCores, a, b, out, ep, spm,
                   firstFromRegion ? std::optional<uint64_t>(firstAt)
                                   : std::nullopt);
    return;
  }
  if (kOuter && prefetched) {
    emitKOuter(ctx, kernel, sh, t, useCores, a, out, ep, spm, regionAt,
               blockBytes);
    return;
  }
  uint64_t aSlot[2] = {0, 0};
  if (aResident) {
    aSlot[0] = spm.take(std::min(M, t.tm) * K * e);
    if (mTiles > 1)
      aSlot[1] = spm.take(t.tm * K * e);
  } else {
    aSlot[0] = spm.take(t.tm * t.tk * e);
    aSlot[1] = spm.take(t.tm * t.tk * e);
  }
  std::vector<uint64_t> bSlot;
  for (int64_t i = 0; i < nSlots && !prefetched; ++i)
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
  uint64_t scaleSlot[2] = {0, 0}, scaled = 0;
  if (ep.residualScale) {
    uint64_t scaleBytes =
        std::max<uint64_t>(t.tn, chipDesc.vector.lanes) * sh.es;
    scaleSlot[0] = spm.take(scaleBytes);
    scaleSlot[1] = spm.take(scaleBytes);
    scaled = spm.take(t.tm * t.tn * 4);
  }
  bool epLoads = ep.bias || ep.residual;
  // Tiles are packed at pitch tn: when cols == tn divides the lanes, `fold`
  // consecutive rows form one vector row.
  uint32_t lanes = chipDesc.vector.lanes;
  auto foldFor = [&](uint32_t rows, uint32_t cols) {
    return foldedRows(rows, cols, t.tn, lanes);
  };

  // One resident A block read by every working core: A is multicast where
  // the chip can (B slices, unless prefetched, still stream per core).
  ACast cast;
  if (aResident && oneBlock && batches == 1)
    cast = planACast(chipDesc, ceilDiv(K, t.tk),
                     static_cast<unsigned>(std::min<int64_t>(total, useCores)));
  UnitRef loader = ctx.loader(), storer = ctx.storer();
  // Engine j loads slots j, j + 2, ... (per-engine semaphores keep order).
  // Bias/residual tiles follow the tile's loads; with B prefetched they go
  // on the storer, so that dma0's last transfer (after which the next
  // kernel's prefetch is placed) is this kernel's first A load.
  UnitRef epUnit = prefetched && engines >= 2 ? storer : loader;
  auto slotLoader = [&](int s) {
    return UnitRef::dma(static_cast<uint8_t>(s % ldEngines));
  };
  const uint16_t fullSem[2] = {kFull, kFull1}, emptySem[2] = {kEmpty, kEmpty1};
  UnitRef tensor = UnitRef::tensor(), vector = UnitRef::vector();
  for (unsigned core = 0; core < useCores; ++core) {
    int64_t first = splitBegin(total, useCores, core),
            last = splitBegin(total, useCores, core + 1);
    if (first == last)
      continue;
    CoreBuilder cb = ctx.core(core);
    if (cast)
      emitACast(cb, cast, MemRef::dram(a.addr + aOff[0] * e), aSlot[0], K, t.tk,
                static_cast<uint32_t>(M), e);
    int64_t step = 0, tileNo = 0;
    int64_t aTag[2] = {-1, -1};
    const int64_t nK = ceilDiv(K, t.tk);
    std::vector<bool> aLoaded(aResident ? nK : 0, false);
    // Loads of their own (loadsHere): A unless multicast, then the blocks
    // after the hosted ones, in the order the tensor unit meets them.
    const int64_t hereFrom =
        loadsHere ? first + std::min(hostedItems, last - first) : last;
    int64_t aSignals = 0, signalled = 0;
    if (loadsHere) {
      UnitRef ld0 = UnitRef::dma(0);
      for (int64_t k0 = 0; k0 < K && !cast; k0 += t.tk, ++aSignals) {
        cb.dma(0, cb.spm(aSlot[0] + k0 * e),
               MemRef::dram(a.addr + (aOff[0] + k0) * e),
               static_cast<uint32_t>(std::min(t.tk, K - k0) * e),
               static_cast<uint32_t>(M), K * e, K * e);
        cb.signal(ld0, kFull);
        aLoaded[aSignals] = true;
      }
      // The same k-slice transfers as the hosted blocks'.
      std::vector<DmaCmd> loads;
      for (int64_t item = hereFrom; item < last; ++item)
        appendBlockLoads(loads, b, bOff[0], K, N, t.tk, t.tn, e, item * t.tn,
                         blockAt(item - first), core);
      for (const DmaCmd &d : loads) {
        cb.dma(0, d);
        cb.signal(ld0, kFull);
      }
    }
    // Resident A blocks: the m-blocks this core has met (the j-th lives in
    // block j % 2), and per engine the m-block completions it waited for.
    int64_t curBlock = -1, blocks = 0;
    int64_t consumed[2] = {0, 0};
    const uint16_t aFreeSem[2] = {kAFree0, kAFree1};
    // A tile's store is emitted after the next tile's first loads, so the
    // engine shared by loads and stores does not idle behind the epilogue.
    std::function<void()> pendingStore;
    auto flushStore = [&] {
      if (pendingStore)
        pendingStore();
      pendingStore = nullptr;
    };
    for (int64_t item = first; item < last; ++item, ++tileNo) {
      // Rows: blocks in (batch, m, n) order; Cols: in (n, batch, m) order.
      int64_t bi, mi, ni;
      if (sched.split == Split::Cols) {
        ni = item / (batches * mTiles);
        bi = item % (batches * mTiles) / mTiles;
        mi = item % mTiles;
      } else {
        bi = item / (mTiles * nTiles);
        mi = item / nTiles % mTiles;
        ni = item % nTiles;
      }
      int64_t m0 = mi * t.tm, n0 = ni * t.tn;
      // Resident A: a new m-block goes to the other block buffer.
      auto blockOf = [&](int64_t it) {
        return sched.split == Split::Cols ? it % (batches * mTiles)
                                          : it / nTiles;
      };
      bool blockEnds = false;
      if (aResident && mTiles > 1) {
        if (blockOf(item) != curBlock) {
          curBlock = blockOf(item);
          ++blocks;
          std::fill(aLoaded.begin(), aLoaded.end(), false);
        }
        blockEnds = item + 1 == last || blockOf(item + 1) != curBlock;
      }
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
            cb.wait(epUnit, kEpFree);
          loadEpilogueInputs(cb, epUnit, ep, true, biasSlot[cs], resSlot[cs],
                             outRow, n0, rows, cols, foldFor(rows, cols), t.tn,
                             N, eb, er, scaleSlot[cs]);
          cb.signal(epUnit, kEpIn);
        }
      };
      // The first tile's B block may have been prefetched: its steps use
      // no B slot (and do not count as slot steps).
      bool fromRegion = firstFromRegion && item == first;
      bool useSlot = !prefetched && !fromRegion;
      // A core's last tile with all of B resident (prefetched) runs in row
      // chunks of one array height, each over all of K with its own
      // epilogue and store, so that only the last chunk's are exposed at
      // the kernel's end (rows of at least the array height stream at full
      // rate: no tensor time is lost). BERT's QKV projection at 1024
      // tokens: the 256 x 384 tile's bias pass and 196 KB store.
      const int64_t cr = chipDesc.tensor.rows;
      const uint32_t fold = foldFor(rows, cols);
      const bool rowChunks = prefetched && aResident && epilogue &&
                             item + 1 == last && rows > cr &&
                             foldFor(static_cast<uint32_t>(cr), cols) == fold;
      const uint32_t chunkRows = rowChunks ? static_cast<uint32_t>(cr) : rows;
      for (int64_t k0 = 0, ks = 0; k0 < K; k0 += t.tk, ++ks) {
        uint32_t depth = static_cast<uint32_t>(std::min(t.tk, K - k0));
        int bs = static_cast<int>(step % nSlots);
        int s = static_cast<int>(step % 2);
        int en = static_cast<int>(step % ldEngines);
        UnitRef ld = slotLoader(s);
        // With B prefetched and A resident, only the steps that load an A
        // slice hand over to the tensor unit (and no slot is ever reused).
        bool handshake = !loadsHere && (!prefetched || !aLoaded[ks]);
        // A multicast slice: its leader signals this core's tensor unit;
        // the loader still hands over the B slices it loads itself.
        bool castSlice = cast && !aLoaded[ks];
        bool ownSignal = handshake && (!castSlice || useSlot);
        if (useSlot && step >= nSlots)
          cb.wait(ld, emptySem[en]);
        uint64_t aAddr = aSlot[s];
        uint32_t lda = static_cast<uint32_t>(t.tk * e);
        if (aResident) {
          aAddr = aSlot[blocks > 0 ? (blocks - 1) % 2 : 0] + k0 * e;
          lda = static_cast<uint32_t>(K * e);
          if (!aLoaded[ks]) {
            // Block buffer j % 2 is free once block j - 2 is done.
            int64_t need = blocks - 2 - consumed[en];
            if (mTiles > 1 && blocks > 2 && need > 0) {
              cb.wait(ld, aFreeSem[en], static_cast<uint32_t>(need));
              consumed[en] += need;
            }
            if (!castSlice)
              cb.dma(ld.index, cb.spm(aAddr),
                     MemRef::dram(a.addr + (aOff[bi] + m0 * K + k0) * e),
                     depth * e, rows, K * e, K * e);
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
        uint64_t bAddr = prefetched   ? blockAt(item - first) + k0 * t.tn * e
                         : fromRegion ? firstAt + k0 * t.tn * e
                                      : bSlot[bs];
        if (useSlot)
          cb.dma(ld.index, cb.spm(bAddr),
                 MemRef::dram(b.addr + (bOff[bi] + k0 * N + n0) * e), cols * e,
                 depth, t.tn * e, N * e);
        if (ownSignal)
          cb.signal(ld, fullSem[en]);
        // This tile's bias/residual before the previous tile's store: on
        // the storing engine (prefetched B) the store waits for that tile's
        // epilogue, and the loads behind it would hold this tile's
        // epilogue back.
        if (ks == 1 || k0 + t.tk >= K) {
          if (epLoads && (ks == 1 || K <= t.tk))
            epLoad();
          flushStore();
        }

        if (castSlice)
          cb.wait(tensor, cast.sem(ks));
        if (loadsHere) {
          // Signals so far that this step needs: A's slices up to ks in
          // the first tile, then every slice of the blocks loaded here.
          int64_t need = item == first && ks < aSignals ? ks + 1 : 0;
          if (item >= hereFrom)
            need = aSignals + (item - hereFrom) * nK + ks + 1;
          if (need > signalled) {
            cb.wait(tensor, kFull, static_cast<uint32_t>(need - signalled));
            signalled = need;
          }
        }
        if (ownSignal)
          cb.wait(tensor, fullSem[en]);
        if (k0 == 0 && reuse)
          cb.wait(tensor, kCFree);
        MatmulCmd mm;
        mm.m = chunkRows;
        mm.n = cols;
        mm.k = depth;
        mm.inType = type;
        mm.outType = sh.acc;
        mm.accumulate = k0 > 0;
        mm.a = aAddr;
        mm.lda = lda;
        mm.b = bAddr;
        mm.ldb = static_cast<uint32_t>(t.tn * e);
        mm.c = cSlot[cs];
        mm.ldc = static_cast<uint32_t>(t.tn * 4);
        cb.matmul(mm);
        if (useSlot)
          cb.signal(tensor, emptySem[en]);
        if (!fromRegion)
          ++step;
      }
      cb.signal(tensor, kCDone);
      // The other row chunks (A and B are in the scratchpad by now).
      for (uint32_t r0 = chunkRows; r0 < rows; r0 += chunkRows) {
        uint32_t nr = std::min<uint32_t>(chunkRows, rows - r0);
        for (int64_t k0 = 0; k0 < K; k0 += t.tk) {
          MatmulCmd mm;
          mm.m = nr;
          mm.n = cols;
          mm.k = static_cast<uint32_t>(std::min(t.tk, K - k0));
          mm.inType = type;
          mm.outType = sh.acc;
          mm.accumulate = k0 > 0;
          mm.a = aSlot[blocks > 0 ? (blocks - 1) % 2 : 0] + (r0 * K + k0) * e;
          mm.lda = static_cast<uint32_t>(K * e);
          mm.b = blockAt(item - first) + k0 * t.tn * e;
          mm.ldb = static_cast<uint32_t>(t.tn * e);
          mm.c = cSlot[cs] + uint64_t(r0) * t.tn * 4;
          mm.ldc = static_cast<uint32_t>(t.tn * 4);
          cb.matmul(mm);
        }
        cb.signal(tensor, kCDone);
      }
      // The block's A buffer may be refilled once its last matmul is done.
      if (blockEnds)
        for (unsigned en = 0; en < ldEngines; ++en)
          cb.signal(tensor, aFreeSem[en]);

      uint64_t storeFrom = cSlot[cs];
      uint32_t pitch = static_cast<uint32_t>(t.tn * 4);
      unsigned es = 4;
      if (epilogue) {
        // out = act(alpha * C + bias) + residual, in fp32, rounded once;
        // per row chunk (one chunk but for a split last tile).
        if (epLoads)
          cb.wait(vector, kEpIn);
        for (uint32_t r0 = 0; r0 < rows; r0 += chunkRows) {
          uint32_t nr = std::min<uint32_t>(chunkRows, rows - r0);
          cb.wait(vector, kCDone);
          // A packed tile narrower than the vector unit runs as `fold` rows
          // side by side (the bias slot holds `fold` copies).
          uint32_t vr = nr / fold, vc = cols * fold;
          uint64_t at = uint64_t(r0) * t.tn; // element offset of the chunk
          VecOperand c{cSlot[cs] + at * 4, pitch * fold, sh.acc};
          emitEpilogueOps(
              ctx, kernel, cb, ep, vr, vc, c,
              {biasSlot[cs], vc * eb, ep.bias ? ep.bias->dtype : DType::F32},
              {resSlot[cs] + at * er, static_cast<uint32_t>(t.tn * er * fold),
               ep.residual ? ep.residual->dtype : DType::F32},
              {oSlot[cs] + at * eo, static_cast<uint32_t>(t.tn * eo * fold),
               out.dtype},
              reuse && r0 == 0, Broadcast::Row,
              {scaleSlot[cs], vc * sh.es,
               sh.es ? ep.residualScale->dtype : DType::F32},
              {scaled + at * 4, pitch * fold, DType::F32});
          cb.signal(vector, kODone);
        }
        cb.signal(vector, kCFree);
        if (epLoads)
          cb.signal(vector, kEpFree);
        storeFrom = oSlot[cs];
        pitch = static_cast<uint32_t>(t.tn * eo);
        es = eo;
      }
      pendingStore = [&cb, &out, storer, epilogue, outRow, N, n0, es, storeFrom,
                      cols, rows, pitch, chunkRows, &t] {
        for (uint32_t r0 = 0; r0 < rows; r0 += chunkRows) {
          uint32_t nr = std::min<uint32_t>(chunkRows, rows - r0);
          cb.wait(storer, epilogue ? kODone : kCDone);
          cb.dma(storer.index,
                 MemRef::dram(out.addr + ((outRow + r0) * N + n0) * es),
                 cb.spm(storeFrom + uint64_t(r0) * t.tn * es), cols * es, nr,
                 N * es, pitch);
        }
        cb.signal(storer, epilogue ? kOFree : kCFree);
      };
    }
    flushStore();
    // Take the hand-backs nobody waited for: semaphores end at zero.
    uint32_t lastTwo = static_cast<uint32_t>(std::min<int64_t>(tileNo, 2));
    for (unsigned en = 0; en < ldEngines && !prefetched; ++en) {
      int64_t loadsOn = step / ldEngines + (int64_t(en) < step % ldEngines);
      int64_t left = std::min<int64_t>(loadsOn, nSlots / ldEngines);
      if (left)
        cb.wait(slotLoader(en), emptySem[en], static_cast<uint32_t>(left));
    }
    for (unsigned en = 0; en < ldEngines && aResident && mTiles > 1; ++en)
      if (blocks > consumed[en])
        cb.wait(slotLoader(en), aFreeSem[en],
                static_cast<uint32_t>(blocks - consumed[en]));
    cb.wait(tensor, kCFree, lastTwo);
    if (epLoads)
      cb.wait(epUnit, kEpFree, lastTwo);
    if (epilogue)
      cb.wait(vector, kOFree, lastTwo);
  }
}

void StreamEmitter::matmulKSplit(const Tensor &a, const Tensor &b,
                                 const Tensor &out, const Epilogue &epIn,
                                 const Schedule &sched) {
  Epilogue ep = epIn;
  const std::string kernel = "matmul";
  Ctx ctx{stream, chipDesc, &spmUse};
  MatmulShape sh = analyze(chipDesc, a, b, out, ep);
  Tiles t = tilesOf(sched);
  unsigned useCores =
      sched.cores ? std::min(sched.cores, ctx.cores()) : ctx.cores();
  KSplit k = kSplitOf(chipDesc, sh, t, useCores);
  if (sched.tile[3] != 2 || sh.batches != 1 || sched.buffers[0] != 1 ||
      useCores < 2 || t.tn < 2 ||
      sched.split != (k.byRows() ? Split::Rows : Split::Cols))
    fail(kernel, "a K split (tile {m, n, k, 2}) needs no batches, A "
                 "resident (buffers {1, ...}), at least two cores, column "
                 "tiles of at least 2 and split = cols (tiles of one array "
                 "height of rows) or rows (taller tiles)");
  if (k.kAt >= sh.K)
    fail(kernel, "a K split needs K (" + std::to_string(sh.K) +
                     ") deeper than one k-slice (" + std::to_string(t.tk) +
                     ")");
  uint64_t own = kSplitOwnBytes(chipDesc, sh, t, k),
           bBytes = kSplitBBytes(sh, t, k);
  if (own + bBytes > chipDesc.scratchpad.bytes)
    fail(kernel,
         "the schedule does not fit the scratchpad of chip " + chipDesc.name);
  // Prefetch during earlier kernels, as without the split: each core's B
  // blocks (column halves) or its first B block (row chunks), its K part.
  uint64_t regionAt = 0;
  bool prefetched = false;
  if (sched.prefetch && !records.empty() && out.numel() > 0) {
    std::vector<std::vector<DmaCmd>> chunks(2 * k.pairs);
    for (unsigned core = 0; core < 2 * k.pairs; ++core) {
      auto [pair, q, partner, first, last, kq0, kLen] = k.share(core, sh.K);
      if (k.byRows())
        last = std::min(last, first + 1);
      for (int64_t item = first; item < last; ++item)
        appendBlockLoads(chunks[core], b, sh.bOff[0] + kq0 * sh.N, kLen, sh.N,
                         t.tk, t.tn, sh.e, item % k.nTiles * t.tn,
                         uint64_t(item - first) * k.kMax * t.tn * sh.e, core);
    }
    prefetched = hostPrefetch(chunks, own, bBytes, regionAt);
  }
  beginKernel();
  if (out.numel() == 0)
    return;
  SpmAlloc spm{kernel, prefetched ? regionAt : chipDesc.scratchpad.bytes, 0,
               ctx.use};
  loadDequantScale(ctx, ep, spm, useCores);
  std::optional<uint64_t> region =
      prefetched ? std::optional<uint64_t>(regionAt) : std::nullopt;
  if (k.byRows())
    emitKPairsRows(ctx, kernel, sh, t, k, a, b, out, ep, spm, region);
  else
    emitKPairs(ctx, kernel, sh, t, k, a, b, out, ep, spm, region);
}

} // namespace gaon::npu_kernels
