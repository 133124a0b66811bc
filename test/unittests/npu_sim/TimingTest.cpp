//===- TimingTest.cpp - Timing and energy against closed forms ------------===//

#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim/Workloads.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace gaon::npu_sim;

namespace {

RunOptions timingOnly() {
  RunOptions options;
  options.functional = false;
  return options;
}

MatmulCmd bigTile(uint32_t m, uint32_t n, uint32_t k,
                  DType type = DType::BF16) {
  MatmulCmd mm;
  mm.m = m, mm.n = n, mm.k = k, mm.inType = type;
  mm.outType = type == DType::I8 ? DType::I32 : DType::F32;
  mm.a = 0, mm.lda = k * dtypeBytes(type);
  mm.b = uint64_t(m) * k * dtypeBytes(type), mm.ldb = n * dtypeBytes(type);
  mm.c = mm.b + uint64_t(k) * n * dtypeBytes(type), mm.ldc = n * 4;
  return mm;
}

// The lower bound no run may beat: peak compute or DRAM bandwidth.
double rooflineCycles(const ChipDesc &chip, const Report &report,
                      uint32_t coresUsed) {
  double compute = 0;
  for (int i = 0; i < kNumDTypes; ++i)
    if (report.macs[i])
      compute += report.macs[i] /
                 (chip.peakMacsPerCycle(static_cast<DType>(i)) * coresUsed);
  double dram =
      (report.dramReadBytes + report.dramWriteBytes) / chip.dramBytesPerCycle();
  return std::max(compute, dram);
}

} // namespace

TEST(Timing, DmaBoundCopyIsBytesOverBandwidthPlusLatency) {
  for (const char *name : {"tiny", "rngd", "atom"}) {
    ChipDesc chip = loadChip(name);
    uint64_t bytes = std::min<uint64_t>(chip.scratchpad.bytes / 2, 8 << 20);
    Stream stream;
    CoreBuilder(stream, 0).dma(0, MemRef::spm(0, 0), MemRef::dram(0),
                               uint32_t(bytes));
    Report report = Simulator(chip).run(stream, timingOnly());
    double rate =
        std::min({chip.dma.bytesPerCycle, chip.scratchpad.bytesPerCycle,
                  chip.dramBytesPerCycle()});
    double expected = bytes / rate + chip.dramLatencyCycles();
    EXPECT_NEAR(report.cycles, expected, 0.05 * expected) << name;
    EXPECT_EQ(report.dramReadBytes, bytes);
  }
}

TEST(Timing, StridedCopyFeelsChannelInterleaving) {
  ChipDesc chip =
      loadChip("tiny"); // 4 channels, 256-byte interleave, 12 B/cycle each
  auto run = [&](uint64_t pitch) {
    Stream stream;
    // 64 rows of 128 bytes out of a matrix with the given row pitch.
    CoreBuilder(stream, 0).dma(0, MemRef::spm(0, 0), MemRef::dram(0), 128, 64,
                               0, pitch);
    return Simulator(chip).run(stream, timingOnly());
  };
  double channelRate = chip.dramBytesPerCycle() / chip.dram.channels;
  double fixed = chip.dma.setupCycles + chip.dramLatencyCycles();
  // A 1280-byte pitch rotates over the channels: the DMA engine is the limit.
  Report spread = run(1280);
  EXPECT_EQ(spread.dramReadBytes, 64u * 128);
  double engineBound = 64.0 * 128 / chip.dma.bytesPerCycle + fixed;
  EXPECT_NEAR(spread.cycles, engineBound, 0.05 * engineBound);
  // A 1024-byte pitch maps every row to channel 0: one channel's bandwidth.
  double oneChannel = 64.0 * 128 / channelRate + fixed;
  EXPECT_NEAR(run(1024).cycles, oneChannel, 0.05 * oneChannel);
}

TEST(Timing, LongRunOfLargeTilesReachesNinetyPercentOfPeak) {
  for (const char *name : {"rngd", "atom", "tiny"}) {
    ChipDesc chip = loadChip(name);
    Stream stream;
    CoreBuilder builder(stream, 0);
    uint32_t tile = std::min<uint32_t>(512, chip.tensor.rows * 8);
    for (int i = 0; i < 64; ++i)
      builder.matmul(bigTile(tile, tile, tile));
    Report report = Simulator(chip).run(stream, timingOnly());
    double achieved = report.macs[int(DType::BF16)] / report.cycles;
    EXPECT_GE(achieved / chip.peakMacsPerCycle(DType::BF16), 0.90) << name;
    EXPECT_LE(achieved / chip.peakMacsPerCycle(DType::BF16), 1.0) << name;
  }
}

TEST(Timing, SingleTileShowsFillAndDrain) {
  ChipDesc chip = loadChip("rngd");
  Stream stream;
  CoreBuilder(stream, 0).matmul(bigTile(128, 128, 128));
  Report report = Simulator(chip).run(stream, timingOnly());
  // Weight load (128) + stream 128 rows + drain (128 + 128 - 2), SCALE-Sim's
  // 2R + C + M - 2 for one weight-stationary fold.
  EXPECT_DOUBLE_EQ(report.cycles, 2 * 128 + 128 + 128 - 2);
}

TEST(Timing, Int8RunsTwiceAsFastAsBf16AndFp32Emulated) {
  ChipDesc chip = loadChip("rngd");
  auto cyclesFor = [&](DType type) {
    Stream stream;
    CoreBuilder builder(stream, 0);
    for (int i = 0; i < 16; ++i)
      builder.matmul(bigTile(1024, 512, 512, type));
    return Simulator(chip).run(stream, timingOnly()).cycles;
  };
  double bf16 = cyclesFor(DType::BF16);
  EXPECT_NEAR(cyclesFor(DType::I8) / bf16, 0.5, 0.03);
  EXPECT_NEAR(cyclesFor(DType::F32) / bf16, 4.0, 0.1);
}

// Loads `steps` tiles on dma0 and multiplies each on the tensor unit, with
// two buffers so that load i+1 overlaps multiply i.
Stream doubleBuffered(const ChipDesc &chip, int steps, uint32_t loadBytes,
                      bool withDma, bool withCompute) {
  Stream stream;
  CoreBuilder b(stream, 0);
  for (int i = 0; i < steps; ++i) {
    uint16_t slot = static_cast<uint16_t>(i % 2);
    if (withDma) {
      if (i >= 2 && withCompute)
        b.wait(UnitRef::dma(0), 2 + slot);
      b.dma(0, b.spm(slot * loadBytes), MemRef::dram(uint64_t(i) * loadBytes),
            loadBytes);
      b.signal(UnitRef::dma(0), slot);
    }
    if (withCompute) {
      if (withDma)
        b.wait(UnitRef::tensor(), slot);
      MatmulCmd mm = bigTile(128, 64, 64);
      mm.a = slot * loadBytes, mm.b = mm.a, mm.c = 2 * loadBytes;
      b.matmul(mm);
      if (withDma)
        b.signal(UnitRef::tensor(), 2 + slot);
    }
  }
  return stream;
}

TEST(Timing, DoubleBufferingOverlapsDmaAndCompute) {
  ChipDesc chip = loadChip("tiny");
  const int steps = 32;
  // Pick the load size so that one load takes about as long as one multiply.
  double computeOnly =
      Simulator(chip)
          .run(doubleBuffered(chip, steps, 8192, false, true), timingOnly())
          .cycles;
  uint32_t loadBytes =
      uint32_t(computeOnly / steps * chip.dma.bytesPerCycle) / 64 * 64;
  double dmaOnly = Simulator(chip)
                       .run(doubleBuffered(chip, steps, loadBytes, true, false),
                            timingOnly())
                       .cycles;
  double both =
      Simulator(chip)
          .run(doubleBuffered(chip, steps, loadBytes, true, true), timingOnly())
          .cycles;
  double bound = std::max(computeOnly, dmaOnly);
  EXPECT_GE(both, bound);
  EXPECT_LE(both, bound * 1.10)
      << "compute " << computeOnly << " dma " << dmaOnly;
  EXPECT_LT(both, 0.65 * (computeOnly + dmaOnly));
}

TEST(Timing, CoresSharingDramSlowDownAsBandwidthDictates) {
  for (const char *name : {"tiny", "rngd"}) {
    ChipDesc chip = loadChip(name);
    const uint32_t bytes = uint32_t(
        std::min<uint64_t>(1 << 20, chip.scratchpad.bytes / chip.dma.engines));
    auto run = [&](uint16_t cores) {
      Stream stream;
      for (uint16_t core = 0; core < cores; ++core) {
        CoreBuilder b(stream, core);
        for (uint8_t engine = 0; engine < chip.dma.engines; ++engine)
          b.dma(engine, b.spm(engine * uint64_t(bytes)),
                MemRef::dram((uint64_t(core) * chip.dma.engines + engine) *
                             bytes),
                bytes);
      }
      return Simulator(chip).run(stream, timingOnly()).cycles;
    };
    for (uint16_t cores = 1; cores <= chip.cores; cores *= 2) {
      double demand = cores * chip.dma.engines * chip.dma.bytesPerCycle;
      double rate = std::min(demand, chip.dramBytesPerCycle());
      double expected = double(cores) * chip.dma.engines * bytes / rate +
                        chip.dramLatencyCycles() + chip.dma.setupCycles;
      EXPECT_NEAR(run(cores), expected, 0.05 * expected)
          << name << " cores " << cores;
    }
  }
}

TEST(Timing, RemoteScratchpadCopyUsesNetwork) {
  ChipDesc chip = loadChip("tiny");
  Stream stream;
  CoreBuilder(stream, 0).dma(0, MemRef::spm(1, 0), MemRef::spm(0, 0), 4096);
  Report report = Simulator(chip).run(stream, timingOnly());
  double expected = chip.dma.setupCycles + 4096 / chip.network.bytesPerCycle +
                    chip.network.latencyCycles;
  EXPECT_NEAR(report.cycles, expected, 0.05 * expected);
  EXPECT_EQ(report.networkBytes, 4096u);
}

// A multicast DMA (rngd has them) reads DRAM once and writes the same
// bytes into each core of its group; it costs about what one core's copy
// does, and a chip without multicast rejects it before running.
TEST(Timing, MulticastDmaReadsOnceAndWritesEveryCore) {
  ChipDesc chip = loadChip("rngd");
  ASSERT_TRUE(chip.dma.multicast);
  const uint32_t bytes = 64 << 10;
  Simulator sim(chip);
  std::vector<uint8_t> data(bytes);
  for (uint32_t i = 0; i < bytes; ++i)
    data[i] = static_cast<uint8_t>(i * 7 + 3);
  sim.writeDram(0x1000, data.data(), bytes);
  Stream stream;
  DmaCmd cast;
  cast.src = MemRef::dram(0x1000);
  cast.dst = MemRef::spm(2, 0x100);
  cast.rowBytes = bytes;
  cast.multicast = 4; // cores 2..5
  CoreBuilder(stream, 0).dma(0, cast);
  stream.cores.resize(chip.cores);
  RunOptions functional;
  functional.functional = true;
  Report report = sim.run(stream, functional);
  EXPECT_EQ(report.dramReadBytes, bytes);
  EXPECT_EQ(report.scratchpadWriteBytes, 4u * bytes);
  EXPECT_EQ(report.networkBytes, 4u * bytes); // core 0 is outside the group
  for (uint16_t core = 0; core < 8; ++core) {
    std::vector<uint8_t> got(bytes);
    sim.readScratchpad(core, 0x100, got.data(), bytes);
    EXPECT_EQ(got == data, core >= 2 && core < 6) << "core " << core;
  }
  double oneCopy = chip.dma.setupCycles + bytes / chip.dma.bytesPerCycle +
                   chip.dramLatencyCycles() + chip.network.latencyCycles;
  EXPECT_NEAR(report.cycles, oneCopy, 0.05 * oneCopy);

  ChipDesc plain = chip;
  plain.dma.multicast = false;
  try {
    Simulator(plain).run(stream, timingOnly());
    ADD_FAILURE() << "multicast ran on a chip without it";
  } catch (const SimError &error) {
    EXPECT_NE(std::string(error.what()).find("has no multicast DMA"),
              std::string::npos)
        << error.what();
  }
  cast.multicast = 7; // cores 2..8 of 8
  Stream past;
  CoreBuilder(past, 0).dma(0, cast);
  try {
    Simulator(chip).run(past, timingOnly());
    ADD_FAILURE() << "multicast past the last core ran";
  } catch (const SimError &error) {
    EXPECT_NE(std::string(error.what()).find("cores 2..8"), std::string::npos)
        << error.what();
  }
}

TEST(Timing, SemaphoresAcrossCoresAndBarriers) {
  ChipDesc chip = loadChip("tiny");
  Stream stream;
  CoreBuilder c0(stream, 0), c1(stream, 1);
  c0.matmul(bigTile(256, 64, 64));
  c0.signal(UnitRef::tensor(), 0, 1, /*targetCore=*/1);
  c1.wait(UnitRef::vector(), 0);
  c1.unary(VecOp::Exp, 16, 16, {0, 0, DType::F32}, {0, 0, DType::F32});
  c0.barrier(UnitRef::dma(0), 0);
  c1.barrier(UnitRef::dma(0), 0);
  Simulator sim(chip);
  Report onlyMatmul;
  {
    Stream single;
    CoreBuilder(single, 0).matmul(bigTile(256, 64, 64));
    onlyMatmul = sim.run(single, timingOnly());
  }
  Report report = sim.run(stream, timingOnly());
  // exp waits for the matmul to complete and the signal to cross the network.
  double expCycles =
      16 * 16 / chip.vector.lanes * chip.vector.opCycles.at("exp") +
      chip.vector.pipelineLatencyCycles;
  EXPECT_DOUBLE_EQ(report.cycles,
                   onlyMatmul.cycles + chip.network.latencyCycles + expCycles);
}

TEST(Timing, DeadlockIsReported) {
  ChipDesc chip = loadChip("tiny");
  Stream stream;
  CoreBuilder b(stream, 0);
  b.wait(UnitRef::tensor(), 4);
  b.wait(UnitRef::vector(), 5, 2);
  b.signal(UnitRef::dma(0), 5);
  try {
    Simulator(chip).run(stream);
    FAIL();
  } catch (const SimError &error) {
    std::string message = error.what();
    EXPECT_NE(message.find("deadlock"), std::string::npos);
    EXPECT_NE(
        message.find(
            "core 0 tensor blocked at its 0th instruction (wait sem 4 needs 1, "
            "has 0)"),
        std::string::npos)
        << message;
    EXPECT_NE(message.find("wait sem 5 needs 2, has 1"), std::string::npos)
        << message;
  }
}

TEST(Timing, InvalidStreamsAreRejectedBeforeRunning) {
  ChipDesc chip = loadChip("tiny");
  auto errorOf = [&](const Stream &stream) {
    try {
      Simulator(chip).run(stream);
    } catch (const SimError &error) {
      return std::string(error.what());
    }
    return std::string();
  };
  Stream outOfRange;
  CoreBuilder(outOfRange, 0)
      .dma(0, MemRef::spm(0, chip.scratchpad.bytes - 8), MemRef::dram(0), 16);
  EXPECT_EQ(errorOf(outOfRange), "core 0 instr 0 (dma0): dma destination "
                                 "[0xffff8, 0x100008) exceeds the scratchpad "
                                 "size 0x100000 (1048576 bytes)");
  Stream noEngine;
  CoreBuilder(noEngine, 0).dma(5, MemRef::spm(0, 0), MemRef::dram(0), 16);
  EXPECT_EQ(errorOf(noEngine), "core 0 instr 0: unit dma5 does not exist (chip "
                               "tiny has 2 DMA engines per core)");
  Stream badTypes;
  MatmulCmd mm = bigTile(4, 4, 4, DType::I8);
  mm.outType = DType::BF16;
  CoreBuilder(badTypes, 0).matmul(mm);
  EXPECT_NE(errorOf(badTypes).find("matmul cannot produce bf16 from int8"),
            std::string::npos);
  Stream tooManyCores;
  CoreBuilder(tooManyCores, 2).wait(UnitRef::tensor(), 0);
  EXPECT_EQ(errorOf(tooManyCores),
            "stream has programs for 3 cores but chip tiny has 2");
}

TEST(Timing, UnsupportedVectorOpIsRejected) {
  ChipDesc chip = loadChip("tiny");
  chip.vector.opCycles.erase("erf");
  Stream stream;
  CoreBuilder(stream, 0).unary(VecOp::Erf, 1, 16, {0, 0, DType::F32},
                               {0, 0, DType::F32});
  try {
    Simulator(chip).run(stream);
    FAIL();
  } catch (const SimError &error) {
    EXPECT_EQ(
        std::string(error.what()),
        "core 0 instr 0 (vector): the vector unit of chip tiny has no erf "
        "(cores.vector_unit.op_cycles)");
  }
}

TEST(Timing, NoRunBeatsTheRoofline) {
  for (const char *name : {"tiny", "atom", "rngd"}) {
    ChipDesc chip = loadChip(name);
    for (uint32_t size : {64u, 256u, 1024u}) {
      for (uint16_t cores : {uint16_t(1), uint16_t(chip.cores)}) {
        GemmSpec spec;
        spec.m = spec.n = spec.k = size;
        spec.cores = cores;
        Report report =
            Simulator(chip).run(makeGemmStream(chip, spec), timingOnly());
        double bound = rooflineCycles(chip, report, cores);
        EXPECT_GE(report.cycles, bound)
            << name << " " << size << " cores " << cores;
        EXPECT_LE(report.macUtilization, 1.0);
        for (const UnitReport &unit : report.units)
          EXPECT_LE(unit.utilization, 1.0 + 1e-9);
      }
    }
  }
}

TEST(Energy, MatchesHandCount) {
  ChipDesc chip = loadChip("tiny");
  Stream stream;
  CoreBuilder b(stream, 0);
  const uint32_t bytes = 32768;
  b.dma(0, b.spm(0), MemRef::dram(0), bytes);
  b.signal(UnitRef::dma(0), 0);
  b.wait(UnitRef::tensor(), 0);
  MatmulCmd mm = bigTile(64, 32, 128); // A 64x128, B 128x32 bf16, C fp32
  b.matmul(mm);
  b.signal(UnitRef::tensor(), 1);
  b.wait(UnitRef::vector(), 1);
  b.unary(VecOp::Exp, 64, 32, {mm.c, 0, DType::F32}, {mm.c, 0, DType::F32});
  Report report = Simulator(chip).run(stream);

  const double pj = 1e-12;
  double macs = 64.0 * 32 * 128;
  EXPECT_EQ(report.macs[int(DType::BF16)], uint64_t(macs));
  EXPECT_DOUBLE_EQ(report.energy.macJ, macs * 0.6 * pj);
  EXPECT_DOUBLE_EQ(report.energy.dramJ, bytes * 8.0 * 4.0 * pj);
  // Scratchpad: DMA writes 32 KiB; matmul reads A (one column fold: n=32 is
  // two folds of 16) twice and B once, writes C; exp reads and writes C.
  double colFolds = 2;
  double spmBytes = bytes + colFolds * 64 * 128 * 2 + 128 * 32 * 2 +
                    64 * 32 * 4 + 2 * 64 * 32 * 4;
  EXPECT_EQ(report.scratchpadReadBytes + report.scratchpadWriteBytes,
            uint64_t(spmBytes));
  EXPECT_DOUBLE_EQ(report.energy.scratchpadJ, spmBytes * 1.0 * pj);
  // exp costs 4 cycles per lane group: 4 element-ops per element.
  EXPECT_DOUBLE_EQ(report.energy.vectorJ, 64 * 32 * 4 * 0.5 * pj);
  EXPECT_DOUBLE_EQ(report.energy.staticJ, 0.5 * report.seconds);
  EXPECT_DOUBLE_EQ(report.seconds, report.cycles * 1e-9);
  EXPECT_NEAR(report.energy.totalJ,
              report.energy.macJ + report.energy.dramJ +
                  report.energy.scratchpadJ + report.energy.vectorJ +
                  report.energy.staticJ,
              1e-18);
  EXPECT_NEAR(report.averageWatts, report.energy.totalJ / report.seconds, 1e-9);
  EXPECT_TRUE(report.warnings.empty());
}

TEST(Energy, WarnsAboveTdp) {
  ChipDesc chip = loadChip("tiny");
  chip.tdpWatts = 0.55; // static 0.5 W + a busy tensor unit exceeds it
  Stream stream;
  CoreBuilder builder(stream, 0);
  for (int i = 0; i < 8; ++i)
    builder.matmul(bigTile(256, 64, 64));
  Report report = Simulator(chip).run(stream, timingOnly());
  EXPECT_GT(report.averageWatts, 0.55);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("exceeds the TDP"), std::string::npos);
}

TEST(Report, JsonAndTraceAreWellFormed) {
  ChipDesc chip = loadChip("tiny");
  GemmSpec spec;
  spec.m = spec.n = spec.k = 64;
  Simulator sim(chip);
  RunOptions options;
  options.trace = true;
  Report report = sim.run(makeGemmStream(chip, spec), options);
  std::string json = reportToJson(report);
  EXPECT_NE(json.find("\"energy_joules\""), std::string::npos);
  std::string trace = sim.traceJson();
  EXPECT_EQ(trace.rfind("{\"traceEvents\":[", 0), 0u);
  EXPECT_NE(trace.find("\"thread_name\""), std::string::npos);
  EXPECT_NE(trace.find("\"name\":\"matmul\""), std::string::npos);
}
