//===- ScheduleTest.cpp - explicit schedules: followed, checked, planned --===//

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <numeric>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

/// BERT's attention output projection at 1024 tokens on rngd: 24 tiles of
/// 256 x 128, three per core, each in one row block, B prefetched.
Schedule outputProjectionSchedule() {
  Schedule s;
  s.tile = {256, 128, 256};
  s.split = Split::Rows;
  s.cores = 8;
  s.buffers = {1, 2, 2};
  s.prefetch = true;
  return s;
}

// The steps run one at a time give the library's default schedule.
TEST(Schedule, StepsComposeToDefault) {
  ChipDesc chip = loadChip("rngd");
  MatmulProblem p{{0, DType::BF16, {128, 768}},
                  {0, DType::BF16, {768, 3072}},
                  {0, DType::BF16, {128, 3072}},
                  {}};
  Schedule s;
  for (PlanStep step : {PlanStep::Tile, PlanStep::Partition, PlanStep::Buffer})
    ASSERT_EQ(planStep(chip, p, step, s), "");
  Schedule d = defaultSchedule(chip, p);
  EXPECT_EQ(s.tile, d.tile);
  EXPECT_EQ(s.buffers, d.buffers);
  EXPECT_EQ(s.cores, d.cores);
  EXPECT_EQ(s.split, d.split);
  // One row block of 128 tokens: weight streaming, A resident.
  EXPECT_EQ(s.split, Split::Cols);
  EXPECT_EQ(s.buffers[0], 1);
  EXPECT_LE(scheduleBytes(chip, p, s), chip.scratchpad.bytes);
}

// Non-default schedules (small tiles, column split, fewer cores, single A
// slots) still compute the right product.
TEST(Schedule, ExplicitMatmulSchedules) {
  for (Split split : {Split::Rows, Split::Cols})
    for (unsigned cores : {1u, 2u, 3u}) {
      Harness h("tiny");
      Tensor a = h.input(DType::F32, {70, 100}),
             b = h.input(DType::F32, {100, 90});
      Tensor out = h.alloc(DType::F32, {70, 90});
      Schedule s;
      s.tile = {32, 16, 24};
      s.split = split;
      s.cores = cores;
      s.buffers = {2, 3, 2};
      h.emitter.matmul(a, b, out, {}, &s);
      h.run();
      EXPECT_LE(relL2(h.read(out), refGemm(h.read(a), h.read(b), 70, 100, 90)),
                1e-5)
          << "split " << int(split) << " cores " << cores;
    }
}

// A resident per m-block (several m-blocks, two block buffers): any split,
// any core count, m-blocks revisited by a core after its buffer was reused.
TEST(Schedule, ResidentABlocks) {
  for (Split split : {Split::Rows, Split::Cols})
    for (unsigned cores : {1u, 2u})
      for (int64_t tk : {24, 100}) {
        Harness h("tiny");
        Tensor a = h.input(DType::F32, {70, 100}),
               b = h.input(DType::F32, {100, 90});
        Tensor out = h.alloc(DType::F32, {70, 90});
        Schedule s;
        s.tile = {16, 32, tk};
        s.split = split;
        s.cores = cores;
        s.buffers = {1, 4, 2};
        h.emitter.matmul(a, b, out, {}, &s);
        h.run();
        EXPECT_LE(
            relL2(h.read(out), refGemm(h.read(a), h.read(b), 70, 100, 90)),
            1e-5)
            << "split " << int(split) << " cores " << cores << " tk " << tk;
      }
}

// A schedule that does not fit, or asks for what the kernel cannot do, is
// rejected before anything is emitted.
TEST(Schedule, RejectsBadSchedules) {
  Harness h("tiny");
  Tensor a = h.alloc(DType::F32, {512, 512}),
         b = h.alloc(DType::F32, {512, 512});
  Tensor out = h.alloc(DType::F32, {512, 512});
  Schedule s;
  s.tile = {512, 512, 512};
  s.buffers = {2, 2, 2};
  EXPECT_THROW(h.emitter.matmul(a, b, out, {}, &s), KernelError);
  // One resident m-block streams B on two engines: an even slot count.
  Tensor a2 = h.alloc(DType::F32, {32, 512}),
         out2 = h.alloc(DType::F32, {32, 512});
  s.tile = {32, 64, 64};
  s.buffers = {1, 3, 2};
  EXPECT_THROW(h.emitter.matmul(a2, b, out2, {}, &s), KernelError);
  s.tile = {64, 64, 64};
  // A resident needs an unbatched A.
  Tensor a3 = h.alloc(DType::F32, {2, 64, 512}),
         b3 = h.alloc(DType::F32, {2, 512, 64}),
         out3 = h.alloc(DType::F32, {2, 64, 64});
  s.buffers = {1, 2, 2};
  EXPECT_THROW(h.emitter.matmul(a3, b3, out3, {}, &s), KernelError);
  s.buffers = {2, 2, 2};
  s.split = Split::Heads;
  EXPECT_THROW(h.emitter.matmul(a, b, out, {}, &s), KernelError);
  EXPECT_EQ(h.emitter.kernels(), 0);
}

// Planning reports, without throwing, a row that cannot fit.
TEST(Schedule, PlanErrorIsAString) {
  ChipDesc chip = loadChip("tiny");
  RowProblem p{RowKind::LayerNorm,
               {0, DType::F32, {2, 1 << 20}},
               {0, DType::F32, {2, 1 << 20}},
               Tensor{0, DType::F32, {1 << 20}},
               std::nullopt};
  Schedule s;
  std::string error = planStep(chip, p, PlanStep::Tile, s);
  EXPECT_NE(error.find("layerNorm: a row of 1048576 elements does not fit"),
            std::string::npos)
      << error;
}

// Explicit attention and row schedules (smaller blocks, fewer cores) give
// the same numbers as the defaults.
TEST(Schedule, ExplicitAttentionAndRows) {
  Harness h("tiny");
  Tensor q = h.input(DType::F32, {1, 2, 40, 16}),
         k = h.input(DType::F32, {1, 2, 40, 16}),
         v = h.input(DType::F32, {1, 2, 40, 16});
  Tensor o1 = h.alloc(DType::F32, {1, 2, 40, 16}),
         o2 = h.alloc(DType::F32, {1, 2, 40, 16});
  h.emitter.attention(q, k, v, nullptr, 0.25, true, o1);
  Schedule s;
  s.tile = {8, 16};
  s.split = Split::Heads;
  s.cores = 1;
  s.buffers = {3, 2, 2}; // two K/V slots
  h.emitter.attention(q, k, v, nullptr, 0.25, true, o2, &s);
  Tensor x = h.input(DType::F32, {37, 24});
  Tensor r1 = h.alloc(DType::F32, {37, 24}), r2 = h.alloc(DType::F32, {37, 24});
  h.emitter.softmax(x, r1);
  Schedule rs;
  rs.tile = {5};
  rs.cores = 2;
  rs.buffers = {2, 2};
  h.emitter.softmax(x, r2, &rs);
  h.run();
  std::vector<float> a1 = h.read(o1), a2 = h.read(o2);
  EXPECT_LE(relL2(a2, std::vector<double>(a1.begin(), a1.end())), 1e-5);
  std::vector<float> s1 = h.read(r1), s2 = h.read(r2);
  EXPECT_LE(relL2(s2, std::vector<double>(s1.begin(), s1.end())), 1e-6);
}

} // namespace

namespace {

// A prefetched matmul right after the kernel that writes its A: the
// weights are loaded before the fence (the stream shows them ahead of the
// barrier), A after it, and the product is right.
TEST(Schedule, PrefetchedWeights) {
  Harness h("tiny");
  const int64_t M = 16, K = 96, N = 80;
  Tensor x = h.input(DType::F32, {M, K}), y = h.input(DType::F32, {M, K});
  Tensor a = h.alloc(DType::F32, {M, K});
  Tensor w = h.input(DType::F32, {K, N});
  Tensor out = h.alloc(DType::F32, {M, N});
  h.emitter.binary(VecOp::Add, x, y, a);
  Schedule s;
  s.tile = {M, 16, 32};
  s.split = Split::Cols;
  s.cores = 2;
  s.buffers = {1, 2, 2};
  s.prefetch = true;
  h.emitter.matmul(a, w, out, {}, &s);
  // Core 0 loads its K x 16 weight blocks before the second kernel's
  // barrier.
  const std::vector<Instr> &program = h.stream.cores[0];
  size_t barrier = 0, weightLoad = program.size();
  for (size_t i = 0; i < program.size(); ++i) {
    if (std::holds_alternative<BarrierCmd>(program[i].cmd))
      barrier = i;
    if (auto *d = std::get_if<DmaCmd>(&program[i].cmd);
        d && d->src.addr == w.addr && weightLoad == program.size())
      weightLoad = i;
  }
  EXPECT_LT(weightLoad, barrier);
  h.run();
  std::vector<float> av = h.read(x), bv = h.read(y);
  for (size_t i = 0; i < av.size(); ++i)
    av[i] += bv[i];
  EXPECT_LE(relL2(h.read(out), refGemm(av, h.read(w), M, K, N)), 1e-5);
}

// The planner prefetches constant weights of matmuls over resident A
// (weight streaming: every block; several row blocks: the first per core).
TEST(Schedule, PlanPrefetch) {
  ChipDesc chip = loadChip("rngd");
  MatmulProblem p{{0, DType::BF16, {128, 768}},
                  {0, DType::BF16, {768, 768}},
                  {0, DType::BF16, {128, 768}},
                  {},
                  /*constantB=*/true};
  EXPECT_TRUE(defaultSchedule(chip, p).prefetch);
  p.constantB = false;
  EXPECT_FALSE(defaultSchedule(chip, p).prefetch);
  p.constantB = true;
  // Several row blocks over resident A blocks: each core's first B block.
  p.a.shape = {4096, 768};
  p.out.shape = {4096, 768};
  EXPECT_TRUE(defaultSchedule(chip, p).prefetch);
  // A not resident (two 1024-row blocks of K = 8192 exceed a quarter of
  // the scratchpad).
  p.a.shape = {4096, 8192};
  p.b.shape = {8192, 768};
  EXPECT_FALSE(defaultSchedule(chip, p).prefetch);
}

} // namespace

namespace {

// Weights loaded during earlier kernels than the previous one: a
// vector-bound attention (little DRAM traffic) is followed by two
// weight-streaming matmuls. The first matmul's own DRAM time cannot hold
// the second's weights, so part of them is loaded during the attention
// (before the first barrier), into scratchpad the first matmul leaves
// alone; the products are right and the chain is faster than without
// prefetching (17.7k against 20.2k cycles).
TEST(Schedule, PrefetchSpansKernels) {
  auto build = [](Harness &h, bool prefetch, Tensor &x, Tensor &w1, Tensor &w2,
                  Tensor &y, Tensor &z) {
    const int64_t B = 8, H = 12, S = 128, D = 64, M = 128, K = 768;
    Tensor q = h.input(DType::BF16, {B, H, S, D});
    Tensor att = h.alloc(DType::BF16, {B, H, S, D});
    h.emitter.attention(q, q, q, nullptr, 0.125, false, att);
    x = h.input(DType::BF16, {M, K});
    w1 = h.input(DType::BF16, {K, K});
    w2 = h.input(DType::BF16, {K, 4 * K});
    y = h.alloc(DType::BF16, {M, K});
    z = h.alloc(DType::BF16, {M, 4 * K});
    for (auto [a, w, out] : {std::tuple{x, w1, y}, std::tuple{y, w2, z}}) {
      MatmulProblem p{a, w, out, {}, /*constantB=*/true};
      Schedule s = defaultSchedule(h.emitter.chip(), p);
      EXPECT_TRUE(s.prefetch);
      s.prefetch = prefetch;
      h.emitter.matmul(a, w, out, {}, &s);
    }
  };
  Harness h("rngd");
  Tensor x, w1, w2, y, z;
  build(h, true, x, w1, w2, y, z);
  // Core 0 loads some of w2 before the first barrier (the first matmul's
  // fence): during the attention.
  const std::vector<Instr> &program = h.stream.cores[0];
  size_t firstBarrier = program.size(), w2Load = program.size();
  for (size_t i = 0; i < program.size(); ++i) {
    if (std::holds_alternative<BarrierCmd>(program[i].cmd) &&
        firstBarrier == program.size())
      firstBarrier = i;
    if (auto *d = std::get_if<DmaCmd>(&program[i].cmd);
        d && d->src.space == MemSpace::Dram && d->src.addr >= w2.addr &&
        d->src.addr < w2.addr + w2.bytes() && w2Load == program.size())
      w2Load = i;
  }
  EXPECT_LT(w2Load, firstBarrier);
  Report withPrefetch = h.run();
  std::vector<float> yv = h.read(y);
  EXPECT_LE(relL2(yv, refGemm(h.read(x), h.read(w1), 128, 768, 768)), 2e-2);
  EXPECT_LE(relL2(h.read(z), refGemm(yv, h.read(w2), 128, 768, 3072)), 2e-2);

  Harness plain("rngd");
  build(plain, false, x, w1, w2, y, z);
  Report without = plain.run(/*functional=*/false);
  EXPECT_LT(withPrefetch.cycles, 0.9 * without.cycles)
      << withPrefetch.cycles << " vs " << without.cycles;
}

} // namespace

namespace {

// Several row blocks over resident A (compute bound): each core's first
// B block is loaded before the matmul's fence, the rest in the kernel;
// products right with and without an activation (with one, tiles taller
// than the array run in row chunks).
TEST(Schedule, PrefetchedFirstBlocks) {
  for (Activation act : {Activation::None, Activation::Relu}) {
    Harness h("rngd");
    const int64_t M = 1024, K = 768, N = 640;
    Tensor x = h.input(DType::BF16, {M, K}), y = h.input(DType::BF16, {M, K});
    Tensor a = h.alloc(DType::BF16, {M, K});
    Tensor w = h.input(DType::BF16, {K, N});
    Tensor out = h.alloc(DType::BF16, {M, N});
    h.emitter.binary(VecOp::Add, x, y, a);
    Epilogue ep;
    ep.activation = act;
    MatmulProblem p{a, w, out, ep, /*constantB=*/true};
    Schedule s = defaultSchedule(h.emitter.chip(), p);
    ASSERT_TRUE(s.prefetch);
    ASSERT_LT(s.tile[0], M); // several row blocks
    h.emitter.matmul(a, w, out, ep, &s);
    const std::vector<Instr> &program = h.stream.cores[0];
    size_t barrier = 0, weightLoad = program.size();
    for (size_t i = 0; i < program.size(); ++i) {
      if (std::holds_alternative<BarrierCmd>(program[i].cmd))
        barrier = i;
      if (auto *d = std::get_if<DmaCmd>(&program[i].cmd);
          d && d->src.space == MemSpace::Dram && d->src.addr >= w.addr &&
          d->src.addr < w.addr + w.bytes() && weightLoad == program.size())
        weightLoad = i;
    }
    EXPECT_LT(weightLoad, barrier);
    h.run();
    std::vector<float> av = h.read(x), bv = h.read(y);
    for (size_t i = 0; i < av.size(); ++i)
      av[i] = float(double(av[i]) + bv[i]);
    std::vector<double> ref = refGemm(av, h.read(w), M, K, N);
    if (act == Activation::Relu)
      for (double &v : ref)
        v = std::max(v, 0.0);
    EXPECT_LE(relL2(h.read(out), ref), 2e-2) << int(act);
  }
}

} // namespace

namespace {

// Several row blocks, not row-chunked (no activation), each core's tiles
// distinct column blocks: all of a core's B blocks are loaded before the
// matmul's fence (the kernel itself reads only A) where earlier kernels
// have the spare DRAM time for them (a vector-bound attention); behind a
// short kernel that has not, only the first block is, as with an
// activation (row chunks). With all of B resident, a core's last tile runs
// in two row chunks of 128, each stored on its own (4 stores for 3 tiles
// instead of 3). Products right in every case.
TEST(Schedule, PrefetchedAllBlocks) {
  struct Case {
    Activation act;
    bool attentionHost;
    size_t before, after, stores;
  };
  for (Case c : {Case{Activation::None, true, 9, 0, 4},
                 Case{Activation::Relu, true, 3, 6, 6},
                 Case{Activation::None, false, 3, 6, 3}}) {
    Harness h("rngd");
    const int64_t M = 1024, K = 768, N = 768;
    if (c.attentionHost) {
      Tensor q = h.input(DType::BF16, {8, 12, 128, 64});
      Tensor att = h.alloc(DType::BF16, {8, 12, 128, 64});
      h.emitter.attention(q, q, q, nullptr, 0.125, false, att);
    }
    Tensor x = h.input(DType::BF16, {M, K}), y = h.input(DType::BF16, {M, K});
    Tensor a = h.alloc(DType::BF16, {M, K});
    Tensor w = h.input(DType::BF16, {K, N});
    Tensor out = h.alloc(DType::BF16, {M, N});
    h.emitter.binary(VecOp::Add, x, y, a);
    Epilogue ep;
    ep.activation = c.act;
    Schedule s = outputProjectionSchedule();
    h.emitter.matmul(a, w, out, ep, &s);
    for (unsigned core = 0; core < 8; ++core) {
      const std::vector<Instr> &program = h.stream.cores[core];
      size_t barrier = 0, before = 0, after = 0, stores = 0;
      for (size_t i = 0; i < program.size(); ++i) {
        if (std::holds_alternative<BarrierCmd>(program[i].cmd))
          barrier = i;
        if (auto *d = std::get_if<DmaCmd>(&program[i].cmd);
            d && d->dst.space == MemSpace::Dram && d->dst.addr >= out.addr &&
            d->dst.addr < out.addr + out.bytes())
          ++stores;
      }
      for (size_t i = 0; i < program.size(); ++i)
        if (auto *d = std::get_if<DmaCmd>(&program[i].cmd);
            d && d->src.space == MemSpace::Dram && d->src.addr >= w.addr &&
            d->src.addr < w.addr + w.bytes())
          ++(i < barrier ? before : after);
      // Three 768 x 128 blocks, one transfer per k-slice of 256.
      EXPECT_EQ(before, c.before) << core << " " << int(c.act);
      EXPECT_EQ(after, c.after) << core << " " << int(c.act);
      EXPECT_EQ(stores, c.stores) << core << " " << int(c.act);
    }
    h.run();
    std::vector<float> av = h.read(x), bv = h.read(y);
    for (size_t i = 0; i < av.size(); ++i)
      av[i] = float(double(av[i]) + bv[i]);
    std::vector<double> ref = refGemm(av, h.read(w), M, K, N);
    if (c.act == Activation::Relu)
      for (double &v : ref)
        v = std::max(v, 0.0);
    EXPECT_LE(relL2(h.read(out), ref), 2e-2) << int(c.act);
  }
}

} // namespace

namespace {

// With all of B prefetched and each core's three tiles in one row block
// (BERT's attention output projection at 1024 tokens, with its bias, scaled
// residual and a vector-bound attention before it), the first half of K
// runs over all three tiles before any tile finishes: a core's first three
// matmuls write three C tiles, and the tensor unit starts on A's first
// fold-deep slice (about 1k cycles sooner than tile by tile). Products
// right.
TEST(Schedule, PrefetchedAllBlocksKOuter) {
  Harness h("rngd");
  const int64_t M = 1024, K = 768, N = 768;
  Tensor q = h.input(DType::BF16, {8, 12, 128, 64});
  Tensor att = h.alloc(DType::BF16, {8, 12, 128, 64});
  h.emitter.attention(q, q, q, nullptr, 0.125, false, att);
  Tensor x = h.input(DType::BF16, {M, K}), y = h.input(DType::BF16, {M, K});
  Tensor a = h.alloc(DType::BF16, {M, K});
  Tensor w = h.input(DType::BF16, {K, N}, -0.1f, 0.1f);
  Tensor bias = h.input(DType::F32, {N}), res = h.input(DType::BF16, {M, N}),
         scale = h.input(DType::BF16, {N}, 0.5f, 2.0f);
  Tensor out = h.alloc(DType::BF16, {M, N});
  h.emitter.binary(VecOp::Add, x, y, a);
  Epilogue ep;
  ep.bias = bias;
  ep.residual = res;
  ep.residualScale = scale;
  Schedule s = outputProjectionSchedule();
  h.emitter.matmul(a, w, out, ep, &s);
  for (unsigned core = 0; core < 8; ++core) {
    const std::vector<Instr> &program = h.stream.cores[core];
    size_t barrier = 0;
    for (size_t i = 0; i < program.size(); ++i)
      if (std::holds_alternative<BarrierCmd>(program[i].cmd))
        barrier = i;
    std::vector<uint64_t> cs;
    for (size_t i = barrier; i < program.size() && cs.size() < 3; ++i)
      if (auto *mm = std::get_if<MatmulCmd>(&program[i].cmd)) {
        EXPECT_EQ(mm->k, 128u) << core;
        cs.push_back(mm->c);
      }
    ASSERT_EQ(cs.size(), 3u) << core;
    EXPECT_NE(cs[0], cs[1]) << core;
    EXPECT_NE(cs[1], cs[2]) << core;
  }
  h.run();
  std::vector<float> av = h.read(x), bv = h.read(y);
  for (size_t i = 0; i < av.size(); ++i)
    av[i] = float(double(av[i]) + bv[i]);
  std::vector<double> ref = refGemm(av, h.read(w), M, K, N);
  auto biasv = h.read(bias), rv = h.read(res), sv = h.read(scale);
  for (int64_t i = 0; i < M * N; ++i)
    ref[i] += biasv[i % N] + double(rv[i]) * sv[i % N];
  EXPECT_LE(relL2(h.read(out), ref), 2e-2);
}

} // namespace

namespace {

// Prefetches hosted by a kernel whose dma0 waits go on the storing engine,
// unless that engine is the busier one: row-chunked tiles broadcast the
// bias into C there, and loads queued behind its stores delayed those
// fills. The FFN up-projection (BERT, 1024 tokens) hosts the
// down-projection's first B blocks on dma0.
TEST(Schedule, HostedLoadsAvoidTheBusierEngine) {
  Harness h("rngd");
  Tensor x = h.input(DType::BF16, {1024, 768});
  Tensor w1 = h.input(DType::BF16, {768, 3072}),
         b1 = h.input(DType::BF16, {3072});
  Tensor w2 = h.input(DType::BF16, {3072, 768});
  Tensor hid = h.alloc(DType::BF16, {1024, 3072});
  Tensor out = h.alloc(DType::BF16, {1024, 768});
  Epilogue up;
  up.bias = b1;
  up.activation = Activation::Gelu;
  Schedule s1;
  s1.tile = {512, 256, 256};
  s1.split = Split::Rows;
  s1.cores = 8;
  s1.buffers = {1, 2, 2};
  h.emitter.matmul(x, w1, hid, up, &s1);
  MatmulProblem p{hid, w2, out, {}, /*constantB=*/true};
  Schedule s2 = defaultSchedule(h.emitter.chip(), p);
  ASSERT_TRUE(s2.prefetch);
  h.emitter.matmul(hid, w2, out, {}, &s2);
  size_t onDma0 = 0, elsewhere = 0;
  for (const auto &program : h.stream.cores) {
    size_t barrier = 0;
    for (size_t i = 0; i < program.size(); ++i)
      if (std::holds_alternative<BarrierCmd>(program[i].cmd))
        barrier = i;
    for (size_t i = 0; i < barrier; ++i)
      if (auto *d = std::get_if<DmaCmd>(&program[i].cmd);
          d && d->src.space == MemSpace::Dram && d->src.addr >= w2.addr &&
          d->src.addr < w2.addr + w2.bytes())
        ++(program[i].unit == UnitRef::dma(0) ? onDma0 : elsewhere);
  }
  EXPECT_GT(onDma0, 0u);
  EXPECT_EQ(elsewhere, 0u);
}

} // namespace

namespace {

// Weight streaming (one row block, A resident) uses k-slices one array
// fold deep; several row blocks keep two folds.
TEST(Schedule, WeightStreamingSlicesOneFold) {
  ChipDesc chip = loadChip("rngd");
  MatmulProblem p{{0, DType::BF16, {128, 768}},
                  {0, DType::BF16, {768, 3072}},
                  {0, DType::BF16, {128, 3072}},
                  {},
                  /*constantB=*/true};
  EXPECT_EQ(defaultSchedule(chip, p).tile,
            (std::vector<int64_t>{128, 128, 128}));
  p.a.shape = {1024, 768};
  p.out.shape = {1024, 3072};
  EXPECT_EQ(defaultSchedule(chip, p).tile[2], 256);
}

} // namespace

namespace {

// A K split over pairs of cores (tile {m, n, k, 2}), explicit schedule on
// the two-core tiny preset, no prefetch: five column tiles of 10 for the
// one pair (the last tile narrower), K = 96 split as 64 + 32 (k-slices of
// 32), bias + ReLU + residual epilogue; partners exchange partial sums
// over the network (scratchpad-to-scratchpad DMA) and the result matches
// the reference in fp32.
TEST(Schedule, KSplitPairsExplicit) {
  Harness h("tiny");
  const int64_t M = 12, K = 96, N = 47;
  EpilogueProblem p = epilogueProblem(h, M, K, N, DType::F32, Activation::Relu);
  Tensor a = p.a, w = p.b, bias = p.bias, res = p.res, out = p.out;
  Epilogue ep = p.ep;
  Schedule s;
  s.tile = {M, 10, 32, 2};
  s.split = Split::Cols;
  s.cores = 2;
  s.buffers = {1, 2, 2};
  h.emitter.matmul(a, w, out, ep, &s);
  bool remote = false;
  for (const Instr &instr : h.stream.cores[0])
    if (auto *d = std::get_if<DmaCmd>(&instr.cmd))
      remote = remote || (d->dst.space == MemSpace::Scratchpad &&
                          d->dst.core == 1 && d->src.core == 0);
  EXPECT_TRUE(remote);
  Report report = h.run();
  EXPECT_GT(report.networkBytes, 0u);
  std::vector<double> ref = refGemm(h.read(a), h.read(w), M, K, N);
  refEpilogue(ref, N, Activation::Relu, h.read(bias), h.read(res));
  EXPECT_LE(relL2(h.read(out), ref), 1e-5);
  // Malformed K splits are refused, naming the problem.
  Schedule bad = s;
  bad.tile = {M, 10, 128, 2}; // K fits one k-slice
  EXPECT_THROW(h.emitter.matmul(a, w, out, ep, &bad), KernelError);
  bad = s;
  bad.split = Split::Rows;
  EXPECT_THROW(h.emitter.matmul(a, w, out, ep, &bad), KernelError);
}

/// The FFN down-projection of BERT/GPT-2 (M x 3072 by 3072 x 768, bias and
/// residual), behind an add that produces its A. The planner's schedule is
/// checked to be `tile` split by `split` over 8 cores with prefetch; with
/// `plainTile`, that plain (unsplit) schedule runs instead.
struct DownProjection {
  Tensor x, w, bias, res, out;
};
DownProjection emitDownProjection(Harness &h, int64_t M,
                                  const std::vector<int64_t> &tile, Split split,
                                  const std::vector<int64_t> *plainTile,
                                  unsigned cores = 8) {
  const int64_t K = 3072, N = 768;
  DownProjection d;
  Tensor x0 = h.input(DType::BF16, {M, K}), x1 = h.input(DType::BF16, {M, K});
  d.x = h.alloc(DType::BF16, {M, K});
  h.emitter.binary(VecOp::Add, x0, x1, d.x);
  d.w = h.input(DType::BF16, {K, N}, -0.05f, 0.05f);
  d.bias = h.input(DType::BF16, {N});
  d.res = h.input(DType::BF16, {M, N});
  d.out = h.alloc(DType::BF16, {M, N});
  Epilogue ep;
  ep.bias = d.bias;
  ep.residual = d.res;
  MatmulProblem p{d.x, d.w, d.out, ep, /*constantB=*/true};
  Schedule s = defaultSchedule(h.emitter.chip(), p);
  EXPECT_EQ(s.tile, tile);
  EXPECT_EQ(s.split, split);
  EXPECT_EQ(s.cores, cores);
  EXPECT_TRUE(s.prefetch);
  if (plainTile) {
    s.tile = *plainTile;
    planStep(h.emitter.chip(), p, PlanStep::Partition, s);
    planStep(h.emitter.chip(), p, PlanStep::Buffer, s);
  }
  h.emitter.matmul(d.x, d.w, d.out, ep, &s);
  return d;
}

/// The product of a run of emitDownProjection is right in bf16.
void expectDownProjectionRight(Harness &h, const DownProjection &d, int64_t M) {
  const int64_t K = 3072, N = 768;
  std::vector<double> ref = refGemm(h.read(d.x), h.read(d.w), M, K, N);
  std::vector<float> bv = h.read(d.bias), rv = h.read(d.res);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      ref[m * N + n] += double(bv[n]) + rv[m * N + n];
  EXPECT_LE(relL2(h.read(d.out), ref), 1e-2);
}

/// rngd without its multicast DMA (every core then reads A itself).
ChipDesc rngdUnicast() {
  ChipDesc chip = loadChip("rngd");
  chip.dma.multicast = false;
  return chip;
}

// The planner splits K in pairs where every core reading all of A costs
// more DRAM time than the exchange: BERT/GPT-2's FFN down-projection at
// 128 tokens on rngd without multicast (K = 3072, N = 768: four pairs of
// 192 columns, A read 4 times instead of 6), not the output projection
// (K = 768). Preceded by another kernel, the weights are prefetched; the
// product (bias and residual) is right in bf16 and the kernel reads less
// DRAM than the plain weight-streaming schedule.
TEST(Schedule, KSplitPairsPlanned) {
  ChipDesc chip = rngdUnicast();
  MatmulProblem proj{{0, DType::BF16, {128, 768}},
                     {0, DType::BF16, {768, 768}},
                     {0, DType::BF16, {128, 768}},
                     {},
                     /*constantB=*/true};
  EXPECT_EQ(defaultSchedule(chip, proj).tile.size(), 3u);

  const std::vector<int64_t> tile = {128, 192, 128, 2},
                             plainTile = {128, 128, 128};
  Harness h(chip);
  DownProjection d = emitDownProjection(h, 128, tile, Split::Cols, nullptr);
  Report report = h.run();
  expectDownProjectionRight(h, d, 128);

  Harness plain(chip);
  emitDownProjection(plain, 128, tile, Split::Cols, &plainTile);
  Report without = plain.run(/*functional=*/false);
  // A: 4 x 786 KB instead of 6 x 786 KB.
  EXPECT_LT(report.dramReadBytes + 1000000, without.dramReadBytes)
      << report.dramReadBytes << " vs " << without.dramReadBytes;
}

// With multicast (rngd as shipped) A is read once whatever the split, so
// the same down-projection streams its weights unsplit: 6 column tiles of
// 128 on 6 cores, A multicast in 24 slices. It is right, reads less DRAM
// than the K split (A once, not 4 times) and runs faster.
TEST(Schedule, MulticastStreamsWeightsUnsplit) {
  const std::vector<int64_t> plainTile = {128, 128, 128},
                             kSplitTile = {128, 192, 128, 2};
  Harness h("rngd");
  DownProjection d =
      emitDownProjection(h, 128, plainTile, Split::Cols, nullptr, 6);
  EXPECT_EQ(multicastCount(h.stream), 24u);
  Report report = h.run();
  expectDownProjectionRight(h, d, 128);

  // The K split of the unicast chip, forced on rngd (no multicast there).
  Harness split("rngd");
  Tensor x = split.input(DType::BF16, {128, 3072});
  Tensor w = split.input(DType::BF16, {3072, 768}, -0.05f, 0.05f);
  Tensor bias = split.input(DType::BF16, {768});
  Tensor res = split.input(DType::BF16, {128, 768});
  Tensor xs = split.alloc(DType::BF16, {128, 3072});
  Tensor out = split.alloc(DType::BF16, {128, 768});
  split.emitter.binary(VecOp::Add, x, x, xs);
  Epilogue ep;
  ep.bias = bias;
  ep.residual = res;
  MatmulProblem p{xs, w, out, ep, /*constantB=*/true};
  Schedule s;
  s.tile = kSplitTile;
  planStep(split.emitter.chip(), p, PlanStep::Partition, s);
  planStep(split.emitter.chip(), p, PlanStep::Buffer, s);
  split.emitter.matmul(xs, w, out, ep, &s);
  Report kSplit = split.run(/*functional=*/false);
  EXPECT_LT(report.dramReadBytes + 1000000, kSplit.dramReadBytes)
      << report.dramReadBytes << " vs " << kSplit.dramReadBytes;
  EXPECT_LT(report.cycles, kSplit.cycles);
  std::printf("FFN down 128 x 3072 x 768 on rngd: %.0f cycles multicast, "
              "%.0f K split\n",
              report.cycles, kSplit.cycles);
}

} // namespace

namespace {

// Row-chunk K split (tiles taller than the array), explicit schedule on
// the two-core tiny preset (16-row array): two row blocks of 40 and 30
// rows (chunks of 16, 16, 8 and 16, 14), two column blocks (24 and 23),
// K = 96 as 64 + 32; the pair computes the partner's chunks first and
// exchanges them; bias + ReLU + residual; right in fp32.
TEST(Schedule, KSplitPairsRowChunks) {
  Harness h("tiny");
  const int64_t M = 70, K = 96, N = 47;
  Tensor a = h.input(DType::F32, {M, K}), w = h.input(DType::F32, {K, N});
  Tensor bias = h.input(DType::F32, {N}), res = h.input(DType::F32, {M, N});
  Tensor out = h.alloc(DType::F32, {M, N});
  Epilogue ep;
  ep.bias = bias;
  ep.residual = res;
  ep.activation = Activation::Relu;
  Schedule s;
  s.tile = {40, 24, 32, 2};
  s.split = Split::Rows;
  s.cores = 2;
  s.buffers = {1, 2, 2};
  h.emitter.matmul(a, w, out, ep, &s);
  Report report = h.run();
  EXPECT_GT(report.networkBytes, 0u);
  std::vector<double> ref = refGemm(h.read(a), h.read(w), M, K, N);
  refEpilogue(ref, N, Activation::Relu, h.read(bias), h.read(res));
  EXPECT_LE(relL2(h.read(out), ref), 1e-5);
  // Taller tiles exchange row chunks under split = rows only.
  Schedule bad = s;
  bad.split = Split::Cols;
  EXPECT_THROW(h.emitter.matmul(a, w, out, ep, &bad), KernelError);
}

// The planner splits K in pairs for the compute-bound FFN down-projection
// of GPT-2 small at 1024 tokens on rngd (512 x 384 tiles, one per pair:
// 25 MB of DRAM traffic instead of 31 MB); behind another kernel the
// first B blocks are prefetched, the product is right in bf16, and the
// two kernels run at least 10% faster than with the best plain schedule,
// which is DRAM bound (40.5k against 46.8k cycles).
TEST(Schedule, KSplitPairsComputeBound) {
  // The plain schedule is the one the cost model picked before the split.
  const std::vector<int64_t> tile = {512, 384, 256, 2},
                             plainTile = {256, 384, 256};
  Harness h("rngd");
  DownProjection d = emitDownProjection(h, 1024, tile, Split::Rows, nullptr);
  Report report = h.run();
  expectDownProjectionRight(h, d, 1024);

  Harness plain("rngd");
  emitDownProjection(plain, 1024, tile, Split::Rows, &plainTile);
  Report without = plain.run(/*functional=*/false);
  EXPECT_LT(report.cycles, 0.9 * without.cycles)
      << report.cycles << " vs " << without.cycles;
}

} // namespace

namespace {

// Row-chunked tiles with an activation and a bias at least as wide as the
// vector unit: the whole bias is loaded once per core by the loading
// engine (not per chunk on the storing engine, where it queued behind
// hosted prefetches); bias + GELU + residual are right in bf16.
TEST(Schedule, RowChunksResidentBias) {
  Harness h("rngd");
  const int64_t M = 1024, K = 768, N = 1536;
  Tensor a = h.input(DType::BF16, {M, K}), w = h.input(DType::BF16, {K, N});
  Tensor bias = h.input(DType::BF16, {N}), res = h.input(DType::BF16, {M, N});
  Tensor out = h.alloc(DType::BF16, {M, N});
  Epilogue ep;
  ep.bias = bias;
  ep.residual = res;
  ep.activation = Activation::Gelu;
  Schedule s = defaultSchedule(h.emitter.chip(), MatmulProblem{a, w, out, ep});
  ASSERT_LT(s.tile[0], M);   // several row blocks
  ASSERT_GT(s.tile[0], 128); // taller than the array: row chunks
  ASSERT_GE(s.tile[1], 256); // at least as wide as the vector unit
  h.emitter.matmul(a, w, out, ep, &s);
  for (unsigned core = 0; core < h.chip.cores; ++core) {
    int biasLoads = 0;
    for (const Instr &instr : h.stream.cores[core])
      if (auto *d = std::get_if<DmaCmd>(&instr.cmd);
          d && d->src.space == MemSpace::Dram && d->src.addr >= bias.addr &&
          d->src.addr < bias.addr + bias.bytes())
        biasLoads += instr.unit == UnitRef::dma(0) ? 1 : 100;
    EXPECT_EQ(biasLoads, 1) << "core " << core;
  }
  h.run();
  std::vector<double> ref = refGemm(h.read(a), h.read(w), M, K, N);
  refEpilogue(ref, N, Activation::Gelu, h.read(bias), h.read(res));
  EXPECT_LE(relL2(h.read(out), ref), 2e-2);
}

} // namespace

namespace {

/// Per kernel (the segments between barriers, all cores together), the
/// DMAs that read `w` from DRAM.
std::vector<size_t> loadsPerKernel(const Stream &stream, const Tensor &w) {
  std::vector<size_t> n;
  for (const auto &program : stream.cores) {
    size_t kernel = 0;
    for (const Instr &instr : program) {
      if (std::holds_alternative<BarrierCmd>(instr.cmd))
        ++kernel;
      else if (auto *d = std::get_if<DmaCmd>(&instr.cmd);
               d && d->src.space == MemSpace::Dram && d->src.addr >= w.addr &&
               d->src.addr < w.addr + w.bytes()) {
        n.resize(std::max(n.size(), kernel + 1));
        ++n[kernel];
      }
    }
  }
  return n;
}

// A weight-streaming matmul whose slice of B per core is over a quarter of
// the scratchpad (GPT-2's LM head on rngd; here rngd with 4 MiB of
// scratchpad and a 768 x 10240 weight, 1.97 MB per core) is prefetched
// only in part: six earlier weight-streaming matmuls, tensor bound with
// DRAM idle after their first loads, host its leading block per core (one
// of five; more than the previous kernel's spare DRAM time holds, so two
// kernels host it); the kernel loads the rest itself. Products right; the
// chain is faster than with the large weight streamed (25.5k against 26.5k
// cycles).
TEST(Schedule, LargeWeightsPartlyPrefetched) {
  const int64_t M = 128, K = 768, N = 10240;
  auto build = [&](Harness &h, bool prefetch, std::vector<Tensor> &ts) {
    Tensor x = h.input(DType::BF16, {M, K});
    ts = {x};
    for (int i = 0; i < 6; ++i) {
      Tensor w = h.input(DType::BF16, {K, K}, -0.05f, 0.05f);
      Tensor y = h.alloc(DType::BF16, {M, K});
      MatmulProblem p{ts.back(), w, y, {}, /*constantB=*/true};
      Schedule s = defaultSchedule(h.emitter.chip(), p);
      h.emitter.matmul(ts.back(), w, y, {}, &s);
      ts.push_back(w);
      ts.push_back(y);
    }
    Tensor head = h.input(DType::BF16, {K, N});
    Tensor logits = h.alloc(DType::F32, {M, N});
    MatmulProblem p{ts.back(), head, logits, {}, /*constantB=*/true};
    Schedule s = defaultSchedule(h.emitter.chip(), p);
    EXPECT_TRUE(s.prefetch);
    s.prefetch = prefetch;
    h.emitter.matmul(ts.back(), head, logits, {}, &s);
    ts.push_back(head);
    ts.push_back(logits);
  };
  ChipDesc chip = loadChip("rngd");
  chip.scratchpad.bytes = 4u << 20;
  Harness h(chip);
  std::vector<Tensor> ts;
  build(h, true, ts);
  const Tensor &head = ts[ts.size() - 2], &logits = ts.back();
  // Seven kernels (six hosts and the head, the first without a fence):
  // the head's own loads, and hosted ones in more than the previous
  // kernel.
  std::vector<size_t> perKernel = loadsPerKernel(h.stream, head);
  ASSERT_EQ(perKernel.size(), 7u);
  EXPECT_GT(perKernel[6], 0u);
  EXPECT_GT(perKernel[5], 0u);
  EXPECT_GT(perKernel[4], 0u);
  Report with = h.run();
  std::vector<float> y = h.read(ts[ts.size() - 3]);
  EXPECT_LE(relL2(h.read(logits), refGemm(y, h.read(head), M, K, N)), 1e-2);

  Harness plain(chip);
  build(plain, false, ts);
  // Streamed: only the head loads its weights.
  std::vector<size_t> plainLoads =
      loadsPerKernel(plain.stream, ts[ts.size() - 2]);
  ASSERT_EQ(plainLoads.size(), 7u);
  EXPECT_EQ(
      std::accumulate(plainLoads.begin(), plainLoads.end() - 1, size_t(0)), 0u);
  Report without = plain.run(/*functional=*/false);
  EXPECT_LT(with.cycles, 0.98 * without.cycles)
      << with.cycles << " vs " << without.cycles;
}

} // namespace

namespace {

// Prefetch regions take the highest free scratchpad range over their
// lifetime, so a long chain of prefetched matmuls reuses the top of the
// scratchpad: each region needs to avoid only the regions live with it.
// (Placed below every region live at its first host instead, they drifted
// down a region per kernel: GPT-2 small's last layers had theirs at 10 MB
// of 32 MiB.)
TEST(Schedule, PrefetchRegionsStayAtTheTop) {
  Harness h("rngd");
  const int64_t M = 128, K = 768;
  Tensor x = h.input(DType::BF16, {M, K});
  uint64_t lowest = UINT64_MAX, slice = 0;
  for (int i = 0; i < 24; ++i) {
    Tensor w = h.input(DType::BF16, {K, K}, -0.05f, 0.05f);
    Tensor y = h.alloc(DType::BF16, {M, K});
    MatmulProblem p{x, w, y, {}, /*constantB=*/true};
    Schedule s = defaultSchedule(h.emitter.chip(), p);
    ASSERT_TRUE(s.prefetch);
    h.emitter.matmul(x, w, y, {}, &s);
    x = y;
    // Every core's loads of w into its scratchpad (the first matmul has
    // no earlier kernel to host them).
    for (size_t c = 0; c < h.stream.cores.size(); ++c)
      for (const Instr &instr : h.stream.cores[c])
        if (auto *d = std::get_if<DmaCmd>(&instr.cmd);
            d && d->src.space == MemSpace::Dram && d->src.addr >= w.addr &&
            d->src.addr < w.addr + w.bytes() &&
            d->dst.space == MemSpace::Scratchpad && i > 0) {
          lowest = std::min(lowest, d->dst.addr);
          slice = std::max<uint64_t>(slice, uint64_t(d->rowBytes) * K);
        }
  }
  ASSERT_GT(slice, 0u);
  // Within three slices of the top (two regions live at once, aligned).
  EXPECT_GE(lowest, h.chip.scratchpad.bytes - 3 * slice);
  Report report = h.run();
  EXPECT_GT(report.cycles, 0.0);
}

} // namespace
