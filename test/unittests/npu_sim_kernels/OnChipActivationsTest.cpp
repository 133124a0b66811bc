//===- OnChipActivationsTest.cpp - hand-overs kept in scratchpad ----------===//
//
// StreamEmitter::keepActivationsOnChip: the values one kernel writes into the
// activation arena and later kernels read stay in scratchpad; results are
// unchanged, the arena in DRAM is never written, and DRAM traffic falls by
// the value's store and loads.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

/// Whether `t`'s bytes in DRAM are all zero (never written).
bool untouched(const Harness &h, const Tensor &t) {
  std::vector<uint8_t> bytes(t.bytes());
  h.sim.readDram(t.addr, bytes.data(), bytes.size());
  for (uint8_t b : bytes)
    if (b)
      return false;
  return true;
}

/// x [M, K] -> h = gelu(x W1) [M, F] in the arena -> out = h W2 [M, N].
struct Chain {
  Tensor x, w1, w2, h, out;
};
Chain emitChain(Harness &h, int64_t M, int64_t K, int64_t F, int64_t N) {
  Chain c;
  c.x = h.input(DType::BF16, {M, K});
  c.w1 = h.input(DType::BF16, {K, F}, -0.1f, 0.1f);
  c.w2 = h.input(DType::BF16, {F, N}, -0.1f, 0.1f);
  c.out = h.alloc(DType::BF16, {M, N});
  c.h = h.alloc(DType::BF16, {M, F}); // last: the arena is [h, end)
  Epilogue gelu;
  gelu.activation = Activation::GeluTanh;
  h.emitter.matmul(c.x, c.w1, c.h, gelu);
  h.emitter.matmul(c.h, c.w2, c.out);
  return c;
}

std::vector<double> refChain(const Harness &h, const Chain &c, int64_t M,
                             int64_t K, int64_t F, int64_t N) {
  std::vector<double> hid = refGemm(h.read(c.x), h.read(c.w1), M, K, F);
  std::vector<float> hf(hid.size());
  for (size_t i = 0; i < hid.size(); ++i)
    hf[i] = float(refActivation(Activation::GeluTanh, hid[i]));
  return refGemm(hf, h.read(c.w2), M, F, N);
}

// A weight-streaming FFN on rngd (multicast): the hidden activation goes
// from the first matmul's stores to the second's loads through scratchpad;
// same result, 2 x its size less DRAM traffic, and never written to DRAM.
TEST(OnChipActivations, FfnHiddenStaysOnChipRngd) {
  const int64_t M = 128, K = 256, F = 1024, N = 256;
  Harness dram("rngd"), chip("rngd");
  Chain cd = emitChain(dram, M, K, F, N);
  Chain cc = emitChain(chip, M, K, F, N);
  StreamEmitter::OnChipStats none =
      dram.emitter.keepActivationsOnChip(0, 0); // empty arena: no change
  EXPECT_EQ(none.ranges, 0u);
  StreamEmitter::OnChipStats stats =
      chip.emitter.keepActivationsOnChip(cc.h.addr, cc.h.addr + cc.h.bytes());
  EXPECT_EQ(stats.ranges, 1u);
  EXPECT_EQ(stats.bytes, cc.h.bytes());

  Report rd = dram.run(), rc = chip.run();
  std::vector<double> ref = refChain(chip, cc, M, K, F, N);
  EXPECT_LT(relL2(chip.read(cc.out), ref), 2e-2);
  EXPECT_EQ(chip.read(cc.out), dram.read(cd.out)); // bit for bit
  EXPECT_TRUE(untouched(chip, cc.h));
  EXPECT_FALSE(untouched(dram, cd.h));
  EXPECT_EQ(rd.dramWriteBytes - rc.dramWriteBytes, cc.h.bytes());
  // The multicast A of the second matmul reads h once.
  EXPECT_EQ(rd.dramReadBytes - rc.dramReadBytes, cc.h.bytes());
  EXPECT_LT(rc.cycles, rd.cycles);
}

// The chip without multicast (tiny) keeps everything in DRAM.
TEST(OnChipActivations, NoMulticastNoChangeTiny) {
  Harness h("tiny");
  Chain c = emitChain(h, 64, 64, 128, 64);
  Stream before = h.stream;
  StreamEmitter::OnChipStats stats =
      h.emitter.keepActivationsOnChip(c.h.addr, c.h.addr + c.h.bytes());
  EXPECT_EQ(stats.ranges, 0u);
  EXPECT_TRUE(h.stream == before);
}

// Values outside the arena (inputs, outputs) never move, and a value that
// the next kernel updates in place stays in DRAM, as does the updated value
// (a kernel that reads its own output range is left alone: its loads and
// stores of the same bytes would need ordering inside the kernel).
TEST(OnChipActivations, InPlaceUpdateAndOutputsStayRngd) {
  Harness h("rngd");
  const std::vector<int64_t> shape = {256, 512};
  Tensor a = h.input(DType::F32, shape), b = h.input(DType::F32, shape);
  Tensor out = h.alloc(DType::F32, shape);
  Tensor t = h.alloc(DType::F32, shape);   // arena
  h.emitter.binary(VecOp::Add, a, b, t);   // t = a + b
  h.emitter.binary(VecOp::Mul, t, b, t);   // t = t * b, in place
  h.emitter.binary(VecOp::Sub, t, a, out); // out = t - a
  StreamEmitter::OnChipStats stats =
      h.emitter.keepActivationsOnChip(t.addr, t.addr + t.bytes());
  EXPECT_EQ(stats.ranges, 0u);
  h.run();
  auto av = h.read(a), bv = h.read(b), got = h.read(out), tv = h.read(t);
  std::vector<double> ref(av.size()), tref(av.size());
  for (size_t i = 0; i < av.size(); ++i) {
    tref[i] = (double(av[i]) + bv[i]) * bv[i];
    ref[i] = tref[i] - av[i];
  }
  EXPECT_LT(relL2(got, ref), 1e-6);
  EXPECT_LT(relL2(tv, tref), 1e-6); // the updated value, in DRAM
}

/// On tiny with multicast switched on (1 MiB of scratchpad per core):
/// t = a + b in the arena, out = t * a. Checks the result and returns how
/// many values moved; `moved` says whether t's DRAM bytes stay unwritten.
unsigned addMulTinyMulticast(std::vector<int64_t> shape, bool moved) {
  ChipDesc chip = loadChip("tiny");
  chip.dma.multicast = true;
  Harness h(chip);
  Tensor a = h.input(DType::F32, shape), b = h.input(DType::F32, shape);
  Tensor out = h.alloc(DType::F32, shape);
  Tensor t = h.alloc(DType::F32, shape);
  h.emitter.binary(VecOp::Add, a, b, t);
  h.emitter.binary(VecOp::Mul, t, a, out);
  StreamEmitter::OnChipStats stats =
      h.emitter.keepActivationsOnChip(t.addr, t.addr + t.bytes());
  h.run();
  EXPECT_EQ(untouched(h, t), moved);
  auto av = h.read(a), bv = h.read(b), got = h.read(out);
  std::vector<double> ref(av.size());
  for (size_t i = 0; i < av.size(); ++i)
    ref[i] = (double(av[i]) + bv[i]) * av[i];
  EXPECT_LT(relL2(got, ref), 1e-6);
  return stats.ranges;
}

// A value larger than any free scratchpad range (2 MiB of f32) stays in
// DRAM, and the result is right.
TEST(OnChipActivations, TooLargeStaysInDramTinyMulticast) {
  EXPECT_EQ(addMulTinyMulticast({1024, 512}, /*moved=*/false), 0u);
}

// A small value on the same chip moves, and the result is unchanged.
TEST(OnChipActivations, SmallValueMovesTinyMulticast) {
  EXPECT_EQ(addMulTinyMulticast({64, 96}, /*moved=*/true), 1u);
}

} // namespace
