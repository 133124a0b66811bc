//===- WorkloadsTest.cpp - Synthesized GEMM and BERT streams --------------===//

#include "gaon/npu_sim/Workloads.h"
#include "gaon/npu_sim/Simulator.h"

#include <gtest/gtest.h>

using namespace gaon::npu_sim;

namespace {
RunOptions timingOnly() {
  RunOptions options;
  options.functional = false;
  return options;
}
} // namespace

TEST(Workloads, LargeGemmIsComputeBoundOnRngd) {
  ChipDesc chip = loadChip("rngd");
  GemmSpec spec;
  spec.m = spec.n = spec.k = 4096;
  Report report = Simulator(chip).run(makeGemmStream(chip, spec), timingOnly());
  double perCore = report.macs[int(DType::BF16)] / report.cycles;
  EXPECT_GE(perCore / chip.peakMacsPerCycle(DType::BF16), 0.85);
}

TEST(Workloads, GemmScalesAcrossCores) {
  ChipDesc chip = loadChip("rngd");
  GemmSpec spec;
  spec.m = spec.n = spec.k = 4096;
  double one =
      Simulator(chip).run(makeGemmStream(chip, spec), timingOnly()).cycles;
  spec.cores = 8;
  double eight =
      Simulator(chip).run(makeGemmStream(chip, spec), timingOnly()).cycles;
  EXPECT_GT(one / eight, 6.0);
  EXPECT_LE(one / eight, 8.0 + 1e-9);
}

TEST(Workloads, BertBaseRunsAndIsCredible) {
  ChipDesc chip = loadChip("rngd");
  BertSpec spec; // BERT-base: 12 layers, seq 128, hidden 768
  Stream stream = makeBertStream(chip, spec);
  Report report = Simulator(chip).run(stream, timingOnly());
  // 12 layers x (4 h^2 + 2 h f) x seq + attention = ~11.2 G MACs.
  uint64_t macs = report.macs[int(DType::BF16)];
  uint64_t expectedMacs = 12ull * 128 * (4ull * 768 * 768 + 2ull * 768 * 3072) +
                          12ull * 12 * 2 * 128 * 128 * 64;
  EXPECT_EQ(macs, expectedMacs);
  // Weights (~170 MB bf16) must stream from HBM at 1.5 TB/s: >= ~113 us.
  double weightBytes = 12.0 * (4 * 768 * 768 + 2 * 768 * 3072) * 2;
  EXPECT_GE(report.seconds, weightBytes / 1.5e12);
  EXPECT_LT(report.seconds, 10 * weightBytes / 1.5e12);
  EXPECT_LT(report.wallSeconds, 1.0);
}

TEST(Workloads, SmallBertIsFunctionallyRunnable) {
  ChipDesc chip = loadChip("tiny");
  BertSpec spec;
  spec.layers = 1, spec.seq = 16, spec.hidden = 64, spec.heads = 2,
  spec.ffn = 128;
  Simulator sim(chip);
  Report report = sim.run(makeBertStream(chip, spec));
  EXPECT_GT(report.cycles, 0);
}
