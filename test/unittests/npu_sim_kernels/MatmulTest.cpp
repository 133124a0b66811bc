//===- MatmulTest.cpp - batched GEMM, epilogues, chaining, utilisation ----===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

// Reference NumPy matmul in double over the harness's decoded inputs.
std::vector<double> refMatmul(const std::vector<float> &a,
                              std::vector<int64_t> as,
                              const std::vector<float> &b,
                              std::vector<int64_t> bs,
                              const std::vector<int64_t> &batch) {
  if (as.size() == 1)
    as = {1, as[0]};
  if (bs.size() == 1)
    bs = {bs[0], 1};
  int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  std::vector<int64_t> ab(as.begin(), as.end() - 2),
      bb(bs.begin(), bs.end() - 2);
  int64_t batches = numel(batch);
  std::vector<double> out(batches * M * N);
  for (int64_t i = 0; i < batches; ++i) {
    auto idx = unravel(i, batch);
    int64_t ao = broadcastIndex(idx, ab) * M * K,
            bo = broadcastIndex(idx, bb) * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += double(a[ao + m * K + k]) * b[bo + k * N + n];
        out[(i * M + m) * N + n] = acc;
      }
  }
  return out;
}

struct Case {
  std::vector<int64_t> a, b, out, batch;
};

void runCase(const ChipDesc &chip, const Case &c, DType type, DType outType) {
  Harness h(chip);
  Tensor a = h.input(type, c.a), b = h.input(type, c.b);
  Tensor out = h.alloc(outType, c.out);
  h.emitter.matmul(a, b, out);
  h.run();
  auto ref = refMatmul(h.read(a), c.a, h.read(b), c.b, c.batch);
  EXPECT_LE(relL2(h.read(out), ref),
            type == DType::F32 && outType == DType::F32 ? 1e-5 : 1e-2)
      << testing::PrintToString(c.a) << " x " << testing::PrintToString(c.b);
}

const std::vector<Case> kCases = {
    {{1, 1}, {1, 1}, {1, 1}, {}},
    {{7}, {7}, {}, {}},     // dot product
    {{5}, {5, 3}, {3}, {}}, // vector x matrix
    {{4, 5}, {5}, {4}, {}}, // matrix x vector
    {{17, 33}, {33, 19}, {17, 19}, {}},
    {{70, 100}, {100, 90}, {70, 90}, {}},      // tails on every tile dim (tiny)
    {{3, 20, 24}, {24, 30}, {3, 20, 30}, {3}}, // batch folded into M
    {{2, 1, 9, 8}, {3, 8, 5}, {2, 3, 9, 5}, {2, 3}}, // broadcast batches
    {{9, 8}, {4, 8, 6}, {4, 9, 6}, {4}}, // A broadcast over B's batch
};

TEST(Matmul, ShapesF32Tiny) {
  for (const Case &c : kCases)
    runCase(loadChip("tiny"), c, DType::F32, DType::F32);
}

TEST(Matmul, ShapesBf16Tiny) {
  for (const Case &c : kCases)
    runCase(loadChip("tiny"), c, DType::BF16, DType::BF16);
}

TEST(Matmul, Rngd) {
  runCase(loadChip("rngd"), {{300, 200}, {200, 700}, {300, 700}, {}},
          DType::BF16, DType::F32);
  runCase(loadChip("rngd"), {{2, 130, 64}, {2, 64, 129}, {2, 130, 129}, {2}},
          DType::F32, DType::F32);
}

TEST(Matmul, FusedEpilogue) {
  for (DType type : {DType::F32, DType::BF16})
    for (Activation act : {Activation::None, Activation::Relu, Activation::Gelu,
                           Activation::GeluTanh, Activation::Silu}) {
      Harness h("tiny");
      int64_t M = 45, K = 70, N = 77;
      Tensor a = h.input(type, {M, K}), b = h.input(type, {K, N});
      Tensor bias = h.input(type, {N}), res = h.input(type, {M, N});
      Tensor out = h.alloc(type, {M, N});
      Epilogue ep;
      ep.bias = bias;
      ep.residual = res;
      ep.activation = act;
      ep.alpha = 0.5f;
      h.emitter.matmul(a, b, out, ep);
      h.run();
      auto mm = refMatmul(h.read(a), {M, K}, h.read(b), {K, N}, {});
      refEpilogue(mm, N, act, h.read(bias), h.read(res), 0.5);
      EXPECT_LE(relL2(h.read(out), mm), tolerance(type)) << int(act);
    }
}

// matmul -> gelu -> matmul: each kernel must see the previous one's DRAM.
TEST(Matmul, ChainedKernelsSynchronize) {
  for (std::string preset : {"tiny", "rngd"}) {
    Harness h(preset);
    int64_t M = 150, K = 64, H = 96, N = 40;
    Tensor x = h.input(DType::F32, {M, K}), w1 = h.input(DType::F32, {K, H});
    Tensor w2 = h.input(DType::F32, {H, N});
    Tensor t1 = h.alloc(DType::F32, {M, H}), t2 = h.alloc(DType::F32, {M, H});
    Tensor y = h.alloc(DType::F32, {M, N});
    h.emitter.matmul(x, w1, t1);
    h.emitter.activation(Activation::Gelu, t1, t2);
    h.emitter.matmul(t2, w2, y);
    h.run();
    auto h1 = refMatmul(h.read(x), {M, K}, h.read(w1), {K, H}, {});
    std::vector<float> g(h1.size());
    for (size_t i = 0; i < g.size(); ++i)
      g[i] = float(0.5 * h1[i] * (1 + std::erf(h1[i] / std::sqrt(2.0))));
    auto ref = refMatmul(g, {M, H}, h.read(w2), {H, N}, {});
    EXPECT_LE(relL2(h.read(y), ref), 1e-5) << preset;
  }
}

TEST(Matmul, Errors) {
  Harness h("tiny");
  Tensor a = h.alloc(DType::F32, {4, 5}), b = h.alloc(DType::F32, {6, 3});
  Tensor out = h.alloc(DType::F32, {4, 3});
  EXPECT_THROW(h.emitter.matmul(a, b, out), KernelError);
  Tensor b2 = h.alloc(DType::BF16, {5, 3});
  EXPECT_THROW(h.emitter.matmul(a, b2, out), KernelError);
  Tensor b3 = h.alloc(DType::F32, {5, 3}), bad = h.alloc(DType::F32, {4, 4});
  EXPECT_THROW(h.emitter.matmul(a, b3, bad), KernelError);
}

// A large compute-bound GEMM on rngd (timing only) keeps the tensor units
// of all 8 cores >= 70% busy.
TEST(Matmul, UtilizationRngd) {
  for (int64_t n : {2048, 4096}) {
    Harness h("rngd");
    Tensor a = h.alloc(DType::BF16, {n, n}), b = h.alloc(DType::BF16, {n, n});
    Tensor out = h.alloc(DType::BF16, {n, n});
    h.emitter.matmul(a, b, out);
    Report r = h.run(/*functional=*/false);
    std::printf(
        "GEMM %lld^3 bf16 on rngd: %.0f cycles, MAC utilization %.1f%%\n",
        (long long)n, r.cycles, 100 * r.macUtilization);
    EXPECT_GE(r.macUtilization, 0.70) << n;
  }
}

} // namespace

namespace {

// Tiles over resident A blocks with an activation run in row chunks of
// one array height (128 rows on rngd): bias, GELU and residual stay right
// with a tile of two chunks, tails in both dims and the last op writing
// the bf16 output directly.
TEST(Matmul, RowChunkedEpilogueRngd) {
  Harness h("rngd");
  int64_t M = 1000, K = 200, N = 300;
  EpilogueProblem p =
      epilogueProblem(h, M, K, N, DType::BF16, Activation::GeluTanh);
  Schedule s;
  s.tile = {256, 128, 128};
  s.split = Split::Rows;
  s.cores = 8;
  s.buffers = {1, 2, 2};
  h.emitter.matmul(p.a, p.b, p.out, p.ep, &s);
  h.run();
  auto mm = refMatmul(h.read(p.a), {M, K}, h.read(p.b), {K, N}, {});
  refEpilogue(mm, N, Activation::GeluTanh, h.read(p.bias), h.read(p.res));
  EXPECT_LE(relL2(h.read(p.out), mm), tolerance(DType::BF16));
}

// GPT-2's FFN up-projection at 8 x 128 tokens (1024 x 768 x 3072, bias and
// tanh GELU, bf16) on rngd: its GELU costs the vector unit about as much
// as the matmul costs the tensor unit; with row chunks (the epilogue of
// one chunk under the next chunk's matmuls) the tensor units stay >= 70%
// busy: 23.4k cycles, 79% with the bias as C's initial value (24.7k, 75%
// with a bias add in the epilogue; whole-tile epilogues: 25.7k with 256 x
// 256 tiles, 28.8k with 512 x 256).
TEST(Matmul, FfnGeluUtilizationRngd) {
  Harness h("rngd");
  Tensor a = h.alloc(DType::BF16, {1024, 768}),
         b = h.alloc(DType::BF16, {768, 3072});
  Tensor bias = h.alloc(DType::BF16, {3072}),
         out = h.alloc(DType::BF16, {1024, 3072});
  Epilogue ep;
  ep.bias = bias;
  ep.activation = Activation::GeluTanh;
  h.emitter.matmul(a, b, out, ep);
  Report r = h.run(/*functional=*/false);
  std::printf("FFN GEMM 1024 x 768 x 3072 + GELU on rngd: %.0f cycles, MAC "
              "utilization %.1f%%\n",
              r.cycles, 100 * r.macUtilization);
  EXPECT_GE(r.macUtilization, 0.70) << r.cycles;
}

} // namespace

namespace {

// Row-chunked tiles at least as wide as the vector unit start each chunk's
// C from the bias (the fp32 bias broadcast into C by a scratchpad DMA, the
// matmuls accumulating onto it), so the epilogue has no bias add: exact
// GELU and a residual over tails in both dims stay right.
TEST(Matmul, RowChunkedBiasInitRngd) {
  Harness h("rngd");
  int64_t M = 600, K = 200, N = 600;
  Tensor a = h.input(DType::BF16, {M, K}), b = h.input(DType::BF16, {K, N});
  Tensor bias = h.input(DType::BF16, {N}), res = h.input(DType::BF16, {M, N});
  Tensor out = h.alloc(DType::BF16, {M, N});
  Epilogue ep;
  ep.bias = bias;
  ep.residual = res;
  ep.activation = Activation::Gelu;
  Schedule s;
  s.tile = {256, 256, 128};
  s.split = Split::Rows;
  s.cores = 8;
  s.buffers = {1, 2, 2};
  h.emitter.matmul(a, b, out, ep, &s);
  size_t fills = 0, rowAdds = 0;
  for (const auto &program : h.stream.cores)
    for (const Instr &instr : program) {
      if (auto *d = std::get_if<DmaCmd>(&instr.cmd);
          d && d->src.space == MemSpace::Scratchpad &&
          d->dst.space == MemSpace::Scratchpad && d->srcRowStride == 0)
        ++fills;
      if (auto *v = std::get_if<VectorCmd>(&instr.cmd);
          v && v->op == VecOp::Add && v->bcast == Broadcast::Row)
        ++rowAdds;
    }
  // One fill per chunk: 3 row blocks (256, 256, 88 rows: 2 + 2 + 1
  // chunks) x 3 column tiles.
  EXPECT_EQ(fills, 15u);
  EXPECT_EQ(rowAdds, 0u);
  h.run();
  auto mm = refMatmul(h.read(a), {M, K}, h.read(b), {K, N}, {});
  refEpilogue(mm, N, Activation::Gelu, h.read(bias), h.read(res));
  EXPECT_LE(relL2(h.read(out), mm), tolerance(DType::BF16));
}

// BERT's FFN up-projection at 8 x 128 tokens (1024 x 768 x 3072, bias and
// exact GELU: 11 cycles per lane group) on rngd, in 512 x 256 tiles as the
// compiler schedules it: with the bias in C the epilogue is shorter than
// the chunk's matmuls and the tensor units stay >= 77% busy (23.6k
// cycles, 78%; with a bias add in the epilogue 25.5k, 72%).
TEST(Matmul, BertFfnExactGeluUtilizationRngd) {
  Harness h("rngd");
  Tensor a = h.alloc(DType::BF16, {1024, 768}),
         b = h.alloc(DType::BF16, {768, 3072});
  Tensor bias = h.alloc(DType::BF16, {3072}),
         out = h.alloc(DType::BF16, {1024, 3072});
  Epilogue ep;
  ep.bias = bias;
  ep.activation = Activation::Gelu;
  Schedule s;
  s.tile = {512, 256, 256};
  s.split = Split::Rows;
  s.cores = 8;
  s.buffers = {1, 2, 2};
  h.emitter.matmul(a, b, out, ep, &s);
  Report r = h.run(/*functional=*/false);
  std::printf("BERT FFN GEMM 1024 x 768 x 3072 + exact GELU on rngd: %.0f "
              "cycles, MAC utilization %.1f%%\n",
              r.cycles, 100 * r.macUtilization);
  EXPECT_GE(r.macUtilization, 0.77) << r.cycles;
}

} // namespace

namespace {

// A residual scaled per column (a post-norm's scale moved out of the norm
// by gaon-npu-fold-norm-affine): out = C + bias + residual * scale, right
// in every form that takes a residual: plain tiles (narrower than the
// vector unit: folded rows), K split in pairs by column halves and by row
// chunks. Without a residual it is refused, as is one of the wrong size.
// (Folded tiles read a vector as two repeated rows from DRAM: allowed.)
TEST(Matmul, ResidualScaleRngd) {
  struct Case {
    int64_t M, K, N;
    std::vector<int64_t> tile;
    Split split;
  };
  for (const Case &c : {Case{600, 200, 300, {256, 128, 128}, Split::Rows},
                        Case{128, 512, 300, {128, 76, 128, 2}, Split::Cols},
                        Case{600, 512, 300, {512, 128, 128, 2}, Split::Rows}}) {
    Harness h("rngd");
    Tensor a = h.input(DType::BF16, {c.M, c.K}),
           b = h.input(DType::BF16, {c.K, c.N}, -0.1f, 0.1f);
    Tensor bias = h.input(DType::BF16, {c.N}),
           res = h.input(DType::BF16, {c.M, c.N}),
           scale = h.input(DType::BF16, {c.N}, 0.5f, 2.0f);
    Tensor out = h.alloc(DType::BF16, {c.M, c.N});
    Epilogue ep;
    ep.bias = bias;
    ep.residual = res;
    ep.residualScale = scale;
    Schedule s;
    s.tile = c.tile;
    s.split = c.split;
    s.cores = 8;
    s.buffers = {1, 2, 2};
    h.emitter.matmul(a, b, out, ep, &s);
    // Per-column vectors repeated over rows are read from DRAM once and
    // repeated within the scratchpad (the same DRAM row read once per row
    // queued on one channel).
    for (const auto &program : h.stream.cores)
      for (const Instr &instr : program)
        if (auto *d = std::get_if<DmaCmd>(&instr.cmd);
            d && d->src.space == MemSpace::Dram)
          EXPECT_FALSE(d->srcRowStride == 0 && d->rows > 2) << d->rows;
    h.run();
    auto mm = refMatmul(h.read(a), {c.M, c.K}, h.read(b), {c.K, c.N}, {});
    auto bv = h.read(bias), rv = h.read(res), sv = h.read(scale);
    for (int64_t i = 0; i < c.M * c.N; ++i)
      mm[i] += bv[i % c.N] + rv[i] * sv[i % c.N];
    EXPECT_LE(relL2(h.read(out), mm), tolerance(DType::BF16))
        << c.tile.size() << " " << c.tile[0];
  }
  Harness h("rngd");
  Tensor a = h.input(DType::BF16, {16, 32}), b = h.input(DType::BF16, {32, 8});
  Tensor out = h.alloc(DType::BF16, {16, 8});
  Epilogue ep;
  ep.residualScale = h.input(DType::BF16, {8});
  EXPECT_THROW(h.emitter.matmul(a, b, out, ep), KernelError);
  ep.residual = h.input(DType::BF16, {16, 8});
  ep.residualScale = h.input(DType::BF16, {7});
  EXPECT_THROW(h.emitter.matmul(a, b, out, ep), KernelError);
}

} // namespace

namespace {

/// BERT's QKV projection at 1 x 128 tokens (bias and residual-free), after
/// a kernel that can host its prefetched weights, on rngd with and without
/// multicast DMA. Returns the report; `casts` counts multicast transfers.
Report weightStreamingA(bool multicast, size_t &casts, double &err,
                        bool prefetch = true) {
  ChipDesc chip = loadChip("rngd");
  chip.dma.multicast = multicast;
  Harness h(chip);
  int64_t M = 128, K = 768, N = 2304;
  Tensor x = h.input(DType::BF16, {M, K}), a = h.alloc(DType::BF16, {M, K});
  Tensor b = h.input(DType::BF16, {K, N}), bias = h.input(DType::BF16, {N});
  Tensor out = h.alloc(DType::BF16, {M, N});
  h.emitter.activation(Activation::Relu, x, a);
  Epilogue ep;
  ep.bias = bias;
  Schedule s;
  s.tile = {128, 128, 128};
  s.split = Split::Cols;
  s.cores = 8;
  s.buffers = {1, 4, 2};
  s.prefetch = prefetch;
  h.emitter.matmul(a, b, out, ep, &s);
  casts = multicastCount(h.stream);
  Report r = h.run();
  std::vector<float> relu = h.read(x);
  for (float &v : relu)
    v = std::max(v, 0.0f);
  auto mm = refMatmul(relu, {M, K}, h.read(b), {K, N}, {});
  refEpilogue(mm, N, Activation::None, h.read(bias), {});
  err = relL2(h.read(out), mm);
  return r;
}

// One resident A read by all 8 cores (weight streaming): with multicast the
// 6 K-slices of A are each read from DRAM once and written to every core
// (6 multicast transfers, (8 - 1) x 196 KB less DRAM traffic), the result
// is the same and the kernel pair is faster; without it, no multicast.
TEST(Matmul, MulticastResidentARngd) {
  size_t castsOn = 0, castsOff = 0;
  double errOn = 0, errOff = 0;
  Report on = weightStreamingA(true, castsOn, errOn);
  Report off = weightStreamingA(false, castsOff, errOff);
  EXPECT_EQ(castsOn, 6u);
  EXPECT_EQ(castsOff, 0u);
  EXPECT_LE(errOn, tolerance(DType::BF16));
  EXPECT_LE(errOff, tolerance(DType::BF16));
  EXPECT_EQ(off.dramReadBytes - on.dramReadBytes, 7u * 128 * 768 * 2);
  EXPECT_LT(on.cycles, off.cycles);
  std::printf("QKV 128 x 768 x 2304 on rngd: %.0f cycles with multicast A, "
              "%.0f without\n",
              on.cycles, off.cycles);
  // Weights not prefetched: each core's loader streams its B slices and
  // hands them over as before, the tensor unit also waits for A's leader.
  Report streamed = weightStreamingA(true, castsOn, errOn, false);
  EXPECT_EQ(castsOn, 6u);
  EXPECT_LE(errOn, tolerance(DType::BF16));
  EXPECT_EQ(off.dramReadBytes - streamed.dramReadBytes, 7u * 128 * 768 * 2);
}

// Every shape and epilogue case on the two-core tiny preset with multicast
// DMA switched on: one-block matmuls multicast A, and stay right.
TEST(Matmul, ShapesTinyMulticast) {
  ChipDesc chip = loadChip("tiny");
  chip.dma.multicast = true;
  for (DType type : {DType::F32, DType::BF16})
    for (const Case &c : kCases)
      runCase(chip, c, type, type);
  // A resident block shared by both cores, with bias, GELU and residual.
  Harness h(chip);
  int64_t M = 30, K = 200, N = 300;
  EpilogueProblem p =
      epilogueProblem(h, M, K, N, DType::BF16, Activation::Gelu);
  h.emitter.matmul(p.a, p.b, p.out, p.ep);
  EXPECT_GT(multicastCount(h.stream), 0u);
  h.run();
  auto mm = refMatmul(h.read(p.a), {M, K}, h.read(p.b), {K, N}, {});
  refEpilogue(mm, N, Activation::Gelu, h.read(p.bias), h.read(p.res));
  EXPECT_LE(relL2(h.read(p.out), mm), tolerance(DType::BF16));
}

} // namespace
