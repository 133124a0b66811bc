//===- IsaV2Test.cpp - Gather, broadcast DMA, integer/bool vector ops -----===//
//
// The instructions added in stream format version 2: functional results
// against reference loops, timing against closed forms, validation, codecs,
// and the chip JSON round trip.
//
//===----------------------------------------------------------------------===//

#include "gaon/npu_sim/Codec.h"
#include "gaon/npu_sim/Simulator.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace gaon::npu_sim;

namespace {

template <typename T>
std::vector<uint8_t> bytesOf(const std::vector<T> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

template <typename T>
std::vector<T> readSpmAs(Simulator &sim, uint64_t addr, size_t count) {
  std::vector<T> values(count);
  sim.readScratchpad(0, addr, values.data(), count * sizeof(T));
  return values;
}

template <typename T>
void writeSpmAs(Simulator &sim, uint64_t addr, const std::vector<T> &values) {
  sim.writeScratchpad(0, addr, values.data(), values.size() * sizeof(T));
}

std::vector<float> readF32(Simulator &sim, uint64_t addr, size_t count) {
  return readSpmAs<float>(sim, addr, count);
}

std::string runError(Simulator &sim, const Stream &stream,
                     RunOptions options = {}) {
  try {
    sim.run(stream, options);
  } catch (const SimError &error) {
    return error.what();
  }
  return "";
}

std::string validateError(const Stream &stream, const ChipDesc &chip) {
  try {
    validateStream(stream, chip);
  } catch (const SimError &error) {
    return error.what();
  }
  return "";
}

VecOperand f32(uint64_t addr) { return {addr, 0, DType::F32}; }

} // namespace

//===----------------------------------------------------------------------===//
// Gather
//===----------------------------------------------------------------------===//

TEST(Gather, EmbeddingLookupMatchesReference) {
  Simulator sim(loadChip("tiny"));
  const uint32_t vocab = 100, hidden = 24; // bf16 rows of 48 bytes
  const uint64_t pitch = 64;               // padded table rows
  std::mt19937 rng(3);
  std::vector<uint8_t> table(vocab * pitch);
  for (auto &byte : table)
    byte = static_cast<uint8_t>(rng());
  sim.writeDram(0x1000, table.data(), table.size());
  for (DType indexType : {DType::I32, DType::I64}) {
    std::vector<int64_t> indices = {0, 99, -1, -100, 42, 7, 7, 63};
    if (indexType == DType::I32) {
      std::vector<int32_t> narrow(indices.begin(), indices.end());
      writeSpmAs(sim, 0x100, narrow);
    } else {
      writeSpmAs(sim, 0x100, indices);
    }
    Stream stream;
    CoreBuilder core(stream, 0);
    const uint64_t dstPitch = 2 * hidden + 16;
    core.gather(1, core.spm(0x4000), MemRef::dram(0x1000), 2 * hidden, vocab,
                core.spm(0x100), indexType, indices.size(), dstPitch, pitch);
    sim.run(stream);
    for (size_t i = 0; i < indices.size(); ++i) {
      int64_t row = indices[i] < 0 ? indices[i] + vocab : indices[i];
      std::vector<uint8_t> got(2 * hidden);
      sim.readScratchpad(0, 0x4000 + i * dstPitch, got.data(), got.size());
      EXPECT_EQ(0,
                std::memcmp(got.data(), table.data() + row * pitch, got.size()))
          << dtypeName(indexType) << " index " << indices[i];
    }
  }
}

TEST(Gather, OutOfRangeIndexIsARunTimeErrorNamingInstructionAndIndex) {
  Simulator sim(loadChip("tiny"));
  writeSpmAs(sim, 0x100, std::vector<int32_t>{1, 2, 10});
  writeSpmAs(sim, 0x200, std::vector<int64_t>{-11});
  std::vector<uint8_t> before(64, 0xAB);
  sim.writeScratchpad(0, 0x4000, before.data(), before.size());
  Stream stream;
  CoreBuilder core(stream, 0);
  core.wait(UnitRef::dma(0), 0, 1); // instr 0 on another unit
  core.signal(UnitRef::vector(), 0);
  core.gather(0, core.spm(0x4000), MemRef::dram(0), 16, 10, core.spm(0x100),
              DType::I32, 3);
  std::string error = runError(sim, stream);
  EXPECT_NE(error.find("core 0 instr 2 (dma0)"), std::string::npos) << error;
  EXPECT_NE(error.find("gather index 10 (indices[2])"), std::string::npos)
      << error;
  EXPECT_NE(error.find("[-10, 10)"), std::string::npos) << error;
  // Nothing was written: the indices are checked before any row moves.
  std::vector<uint8_t> after(64);
  sim.readScratchpad(0, 0x4000, after.data(), after.size());
  EXPECT_EQ(after, before);

  Stream negative;
  CoreBuilder(negative, 0)
      .gather(0, MemRef::spm(0, 0x4000), MemRef::dram(0), 16, 10,
              MemRef::spm(0, 0x200), DType::I64, 1);
  error = runError(sim, negative);
  EXPECT_NE(error.find("gather index -11 (indices[0])"), std::string::npos)
      << error;
  // Timing-only runs read no data, so they cannot check indices.
  RunOptions timingOnly;
  timingOnly.functional = false;
  EXPECT_EQ(runError(sim, negative, timingOnly), "");
}

TEST(Gather, ValidationChecksTableIndicesAndDestination) {
  ChipDesc chip = loadChip("tiny");
  auto errorFor = [&](auto edit) {
    GatherCmd cmd;
    cmd.table = MemRef::dram(0);
    cmd.rowBytes = 64;
    cmd.tableRowStride = 64;
    cmd.numRows = 1000;
    cmd.indices = MemRef::spm(0, 0);
    cmd.count = 16;
    cmd.dst = MemRef::spm(0, 0x1000);
    cmd.dstRowStride = 64;
    edit(cmd);
    Stream stream;
    CoreBuilder(stream, 0).gather(0, cmd);
    return validateError(stream, chip);
  };
  EXPECT_EQ(errorFor([](GatherCmd &) {}), "");
  EXPECT_NE(errorFor([](GatherCmd &c) {
              c.indexType = DType::F32;
            }).find("index_type must be int32 or int64, got fp32"),
            std::string::npos);
  EXPECT_NE(errorFor([](GatherCmd &c) {
              c.indices = MemRef::spm(1, 0);
            }).find("indices must be in the executing core's scratchpad"),
            std::string::npos);
  EXPECT_NE(errorFor([](GatherCmd &c) {
              c.table.addr = (256u << 20) - 4096;
            }).find("gather table"),
            std::string::npos);
  EXPECT_NE(errorFor([](GatherCmd &c) {
              c.dst.addr = (1u << 20) - 128;
            }).find("gather destination"),
            std::string::npos);
  EXPECT_NE(
      errorFor([](GatherCmd &c) { c.count = 0; }).find("must be positive"),
      std::string::npos);
  Stream onTensor;
  onTensor.cores.resize(1);
  onTensor.cores[0].push_back({UnitRef::tensor(), GatherCmd{}});
  EXPECT_NE(validateError(onTensor, chip).find("gather must run on a DMA"),
            std::string::npos);
}

TEST(Gather, TimingIsThatOfCountRowsFromDram) {
  ChipDesc chip = loadChip("tiny");
  // 256 rows x 256 B = 64 KiB: DMA-rate bound (32 B/cycle; DRAM gives 48).
  const uint32_t count = 256, rowBytes = 256;
  Stream gather;
  CoreBuilder(gather, 0).gather(0, MemRef::spm(0, 0x10000), MemRef::dram(0),
                                rowBytes, 4096, MemRef::spm(0, 0), DType::I32,
                                count);
  Simulator sim(chip);
  RunOptions timingOnly;
  timingOnly.functional = false;
  double cycles = sim.run(gather, timingOnly).cycles;
  double expected = chip.dma.setupCycles +
                    count * 4.0 / chip.scratchpad.bytesPerCycle +
                    double(count) * rowBytes / chip.dma.bytesPerCycle +
                    chip.dramLatencyCycles();
  EXPECT_NEAR(cycles, expected, 1.0);
  // Same bytes as a packed DMA, plus reading the indices.
  Stream dma;
  CoreBuilder(dma, 0).dma(0, MemRef::spm(0, 0x10000), MemRef::dram(0), rowBytes,
                          count);
  double dmaCycles = sim.run(dma, timingOnly).cycles;
  EXPECT_NEAR(cycles - dmaCycles, count * 4.0 / chip.scratchpad.bytesPerCycle,
              1.0);
  // And the functional run takes exactly as long.
  writeSpmAs(sim, 0, std::vector<int32_t>(count, 5));
  EXPECT_DOUBLE_EQ(sim.run(gather).cycles, cycles);
  Report report = sim.run(gather);
  EXPECT_EQ(report.dramReadBytes, uint64_t(count) * rowBytes);
}

//===----------------------------------------------------------------------===//
// Broadcast DMA (stride 0 = repeat)
//===----------------------------------------------------------------------===//

TEST(BroadcastDma, ZeroSourceStridesRepeatRowsAndPlanes) {
  Simulator sim(loadChip("tiny"));
  std::vector<float> row = {1, 2, 3, 4};
  sim.writeDram(0x100, row.data(), 16);
  std::vector<float> plane = {5, 6, 7, 8, 9, 10, 11, 12}; // 2 rows x 4
  sim.writeDram(0x200, plane.data(), 32);
  Stream stream;
  CoreBuilder core(stream, 0);
  core.broadcastDma(0, core.spm(0x1000), MemRef::dram(0x100), 16, 5);
  DmaCmd planes; // one 2 x 4 plane repeated 3 times, destination packed
  planes.src = MemRef::dram(0x200);
  planes.dst = core.spm(0x2000);
  planes.rowBytes = 16, planes.rows = 2, planes.planes = 3;
  planes.srcRowStride = 16, planes.srcPlaneStride = 0;
  planes.dstRowStride = 16, planes.dstPlaneStride = 32;
  core.dma(1, planes);
  sim.run(stream);
  auto rows = readF32(sim, 0x1000, 20);
  for (size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ(rows[i], row[i % 4]);
  auto tiled = readF32(sim, 0x2000, 24);
  for (size_t i = 0; i < tiled.size(); ++i)
    EXPECT_EQ(tiled[i], plane[i % 8]);
  // The helper and the text form keep the 0 literally.
  const auto &cmd = std::get<DmaCmd>(stream.cores[0][0].cmd);
  EXPECT_EQ(cmd.srcRowStride, 0u);
  EXPECT_EQ(cmd.dstRowStride, 16u);
  EXPECT_EQ(parseText(printText(stream)), stream);
}

//===----------------------------------------------------------------------===//
// Element conversions
//===----------------------------------------------------------------------===//

TEST(ConversionsV2, DoubleStoresRoundOnceAndCastsFollowOnnx) {
  uint8_t buffer[8];
  // 1 + 2^-8 + 2^-30 is just above the bf16 halfway point: RNE gives
  // 1 + 2^-7. Rounding through fp32 first would lose the 2^-30 and tie to 1.
  storeElementF64(DType::BF16, buffer,
                  1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30));
  EXPECT_EQ(loadElement(DType::BF16, buffer), 1.0f + std::ldexp(1.0f, -7));
  storeElementF64(DType::BF16, buffer, 1.0 + std::ldexp(1.0, -8)); // tie
  EXPECT_EQ(loadElement(DType::BF16, buffer), 1.0f);
  // float -> int truncates toward zero and saturates; NaN -> 0.
  storeElementF64(DType::I32, buffer, -2.9);
  EXPECT_EQ(loadElementI64(DType::I32, buffer), -2);
  storeElementF64(DType::I8, buffer, 300.7);
  EXPECT_EQ(loadElementI64(DType::I8, buffer), 127);
  storeElementF64(DType::I64, buffer, 1e30);
  EXPECT_EQ(loadElementI64(DType::I64, buffer),
            std::numeric_limits<int64_t>::max());
  storeElementF64(DType::I64, buffer, NAN);
  EXPECT_EQ(loadElementI64(DType::I64, buffer), 0);
  // any -> bool is != 0; bool -> float is 0/1; a non-zero byte loads as 1.
  storeElementF64(DType::Bool, buffer, 0.25);
  EXPECT_EQ(buffer[0], 1);
  storeElementF64(DType::Bool, buffer, -0.0);
  EXPECT_EQ(buffer[0], 0);
  buffer[0] = 7;
  EXPECT_EQ(loadElementF64(DType::Bool, buffer), 1.0);
  // int -> narrower int wraps.
  storeElementI64(DType::I32, buffer, (int64_t(1) << 32) + 5);
  EXPECT_EQ(loadElementI64(DType::I32, buffer), 5);
  storeElementI64(DType::I8, buffer, 200);
  EXPECT_EQ(loadElementI64(DType::I8, buffer), -56);
  EXPECT_EQ(dtypeBytes(DType::I64), 8u);
  EXPECT_EQ(dtypeBytes(DType::Bool), 1u);
  EXPECT_EQ(parseDType("int64"), DType::I64);
  EXPECT_EQ(parseDType("bool"), DType::Bool);
  EXPECT_FALSE(isFloatType(DType::Bool));
}

// The narrow storage integers (uint8 activations of quantized models,
// ONNX's int16/uint16/uint32): zero- or sign-extending loads, saturating
// float stores at their own bounds, wrapping integer stores.
TEST(ConversionsV2, NarrowAndUnsignedIntegers) {
  uint8_t buffer[8] = {};
  struct Case {
    DType type;
    unsigned bytes;
    double below, above; // stores saturate to these
  };
  for (Case c :
       {Case{DType::U8, 1, 0, 255}, Case{DType::I16, 2, -32768, 32767},
        Case{DType::U16, 2, 0, 65535}, Case{DType::U32, 4, 0, 4294967295.0}}) {
    SCOPED_TRACE(dtypeName(c.type));
    EXPECT_EQ(dtypeBytes(c.type), c.bytes);
    EXPECT_EQ(parseDType(dtypeName(c.type)), c.type);
    EXPECT_FALSE(isFloatType(c.type));
    storeElementF64(c.type, buffer, -1e12);
    EXPECT_EQ(loadElementF64(c.type, buffer), c.below);
    storeElementF64(c.type, buffer, 1e12);
    EXPECT_EQ(loadElementF64(c.type, buffer), c.above);
    storeElement(c.type, buffer, 1e12f);
    EXPECT_EQ(loadElement(c.type, buffer), static_cast<float>(c.above));
    storeElementF64(c.type, buffer, 7.9); // truncates
    EXPECT_EQ(loadElementI64(c.type, buffer), 7);
    storeElement(c.type, buffer, 6.5f); // rounds to even
    EXPECT_EQ(loadElementI64(c.type, buffer), 6);
  }
  // The top bit is magnitude in an unsigned type, sign in a signed one.
  storeElementI64(DType::U8, buffer, 200);
  EXPECT_EQ(loadElementI64(DType::U8, buffer), 200);
  EXPECT_EQ(loadElementI64(DType::I8, buffer), -56);
  storeElementI64(DType::U8, buffer, 256 + 3); // wraps
  EXPECT_EQ(loadElementI64(DType::U8, buffer), 3);
  storeElementI64(DType::U32, buffer, -1);
  EXPECT_EQ(loadElementI64(DType::U32, buffer), 4294967295);
  storeElementI64(DType::I16, buffer, 40000);
  EXPECT_EQ(loadElementI64(DType::I16, buffer), 40000 - 65536);
  EXPECT_EQ(loadElement(DType::U16, buffer), 40000.0f);
  EXPECT_EQ(parseDType("uint64"), std::nullopt);
}

//===----------------------------------------------------------------------===//
// Vector ops
//===----------------------------------------------------------------------===//

TEST(VectorV2, IntegerArithmeticIsExactInInt64) {
  Simulator sim(loadChip("tiny"));
  const int64_t big = (int64_t(1) << 53) + 1; // not representable in double
  std::vector<int64_t> a = {
      big, -7, 7, -7, 7, std::numeric_limits<int64_t>::min(), 0, 5};
  std::vector<int64_t> b = {1, 2, -2, -2, 0, -1, 3, 5};
  writeSpmAs(sim, 0x0, a);
  writeSpmAs(sim, 0x100, b);
  writeSpmAs(sim, 0x200,
             std::vector<int32_t>{std::numeric_limits<int32_t>::max()});
  Stream stream;
  CoreBuilder core(stream, 0);
  VecOperand A{0x0, 0, DType::I64}, B{0x100, 0, DType::I64};
  auto I64 = [](uint64_t addr) { return VecOperand{addr, 0, DType::I64}; };
  core.binary(VecOp::Add, 1, 8, I64(0x1000), A, B);
  core.binary(VecOp::Div, 1, 8, I64(0x1100), A, B);
  core.binary(VecOp::Mod, 1, 8, I64(0x1200), A, B);
  core.binary(VecOp::FMod, 1, 8, I64(0x1300), A, B);
  core.binary(VecOp::Max, 1, 8, I64(0x1400), A, B);
  core.unary(VecOp::Neg, 1, 8, I64(0x1500), A);
  core.binary(VecOp::Add, 1, 1, {0x1600, 0, DType::I32}, {0x200, 0, DType::I32},
              {0x200, 0, DType::I32}); // int32 wraps
  core.unary(VecOp::ReduceSum, 1, 8, I64(0x1700), B);
  core.unary(VecOp::ReduceMin, 1, 8, I64(0x1708), A);
  sim.run(stream);
  auto add = readSpmAs<int64_t>(sim, 0x1000, 8);
  auto div = readSpmAs<int64_t>(sim, 0x1100, 8);
  auto mod = readSpmAs<int64_t>(sim, 0x1200, 8);
  auto fmod = readSpmAs<int64_t>(sim, 0x1300, 8);
  auto mx = readSpmAs<int64_t>(sim, 0x1400, 8);
  auto neg = readSpmAs<int64_t>(sim, 0x1500, 8);
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t x = a[i], y = b[i];
    EXPECT_EQ(add[i], static_cast<int64_t>(uint64_t(x) + uint64_t(y))) << i;
    int64_t q =
        y == 0 ? 0 : (y == -1 ? static_cast<int64_t>(0 - uint64_t(x)) : x / y);
    EXPECT_EQ(div[i], q) << i;
    int64_t r = (y == 0 || y == -1) ? 0 : x % y;
    EXPECT_EQ(fmod[i], r) << i;
    EXPECT_EQ(mod[i], (r != 0 && ((r < 0) != (y < 0))) ? r + y : r) << i;
    EXPECT_EQ(mx[i], std::max(x, y)) << i;
    EXPECT_EQ(neg[i], static_cast<int64_t>(0 - uint64_t(x))) << i;
  }
  EXPECT_EQ(add[0], big + 1); // exact beyond 2^53
  EXPECT_EQ(mod[1], 1);       // -7 mod 2 = 1 (floored)
  EXPECT_EQ(fmod[1], -1);     // fmod(-7, 2) = -1 (truncated)
  EXPECT_EQ(readSpmAs<int32_t>(sim, 0x1600, 1)[0], -2);
  EXPECT_EQ(readSpmAs<int64_t>(sim, 0x1700, 1)[0], 6);
  EXPECT_EQ(readSpmAs<int64_t>(sim, 0x1708, 1)[0],
            std::numeric_limits<int64_t>::min());
}

TEST(VectorV2, ComparisonsBitwiseAndCastsOverAllTypes) {
  Simulator sim(loadChip("tiny"));
  std::vector<float> x = {-1.5f, 0.0f, 2.0f, NAN, 3.7f, -0.2f};
  std::vector<float> y = {0.0f, 0.0f, 1.0f, 1.0f, 3.7f, 0.0f};
  const uint32_t n = 6;
  writeSpmAs(sim, 0x0, x);
  writeSpmAs(sim, 0x100, y);
  Stream stream;
  CoreBuilder core(stream, 0);
  const VecOp cmps[] = {VecOp::CmpEq, VecOp::CmpNe, VecOp::CmpLt,
                        VecOp::CmpLe, VecOp::CmpGt, VecOp::CmpGe};
  for (int i = 0; i < 6; ++i)
    core.binary(cmps[i], 1, n, {0x1000 + 0x10u * i, 0, DType::Bool}, f32(0x0),
                f32(0x100));
  // bool logic and int bitwise ops
  VecOperand lt{0x1020, 0, DType::Bool}, ge{0x1050, 0, DType::Bool};
  core.binary(VecOp::Or, 1, n, {0x1100, 0, DType::Bool}, lt, ge);
  core.binary(VecOp::And, 1, n, {0x1110, 0, DType::Bool}, lt, ge);
  core.unary(VecOp::Not, 1, n, {0x1120, 0, DType::Bool}, lt);
  // casts: f32 -> i32 (truncates), f32 -> bool, bool -> f32, i32 -> i64
  core.unary(VecOp::Cast, 1, n, {0x1200, 0, DType::I32}, f32(0x0));
  core.unary(VecOp::Cast, 1, n, {0x1300, 0, DType::Bool}, f32(0x0));
  core.unary(VecOp::Cast, 1, n, f32(0x1400), lt);
  core.unary(VecOp::Cast, 1, n, {0x1500, 0, DType::I64},
             {0x1200, 0, DType::I32});
  core.unary(VecOp::Not, 1, n, {0x1600, 0, DType::I32},
             {0x1200, 0, DType::I32});
  core.binary(VecOp::Xor, 1, n, {0x1700, 0, DType::I32},
              {0x1200, 0, DType::I32}, {0x1600, 0, DType::I32});
  sim.run(stream);
  for (uint32_t i = 0; i < n; ++i) {
    bool want[6] = {x[i] == y[i], x[i] != y[i],
                    x[i]<y[i], x[i] <= y[i], x[i]> y[i], x[i] >= y[i]};
    for (int k = 0; k < 6; ++k)
      EXPECT_EQ(readSpmAs<uint8_t>(sim, 0x1000 + 0x10u * k, n)[i], want[k])
          << vecOpName(cmps[k]) << " " << i;
    EXPECT_EQ(readSpmAs<uint8_t>(sim, 0x1100, n)[i], want[2] || want[5]);
    EXPECT_EQ(readSpmAs<uint8_t>(sim, 0x1110, n)[i], 0);
    EXPECT_EQ(readSpmAs<uint8_t>(sim, 0x1120, n)[i], !want[2]);
    int32_t truncated = std::isnan(x[i]) ? 0 : static_cast<int32_t>(x[i]);
    EXPECT_EQ(readSpmAs<int32_t>(sim, 0x1200, n)[i], truncated);
    EXPECT_EQ(readSpmAs<uint8_t>(sim, 0x1300, n)[i], x[i] != 0.0f);
    EXPECT_EQ(readF32(sim, 0x1400, n)[i], want[2] ? 1.0f : 0.0f);
    EXPECT_EQ(readSpmAs<int64_t>(sim, 0x1500, n)[i], truncated);
    EXPECT_EQ(readSpmAs<int32_t>(sim, 0x1600, n)[i], ~truncated);
    EXPECT_EQ(readSpmAs<int32_t>(sim, 0x1700, n)[i], -1);
  }
}

TEST(VectorV2, SelectWithIndependentBroadcasts) {
  // masked_fill: where(mask[1 x cols], x[rows x cols], -inf scalar), and
  // where(mask[rows x 1], scalar, x).
  Simulator sim(loadChip("tiny"));
  const uint32_t rows = 3, cols = 5;
  std::vector<float> x(rows * cols);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.5f * i - 3;
  std::vector<uint8_t> rowMask = {1, 0, 1, 1, 0}, colMask = {0, 1, 1};
  writeSpmAs(sim, 0x0, x);
  writeSpmAs(sim, 0x100, rowMask);
  writeSpmAs(sim, 0x200, colMask);
  writeSpmAs(sim, 0x300, std::vector<float>{-INFINITY, 9.0f});
  Stream stream;
  CoreBuilder core(stream, 0);
  core.select(rows, cols, {0x1000, 0, DType::BF16}, {0x100, 0, DType::Bool},
              f32(0x0), f32(0x300), Broadcast::Row, Broadcast::None,
              Broadcast::Scalar);
  core.select(rows, cols, f32(0x2000), {0x200, 0, DType::Bool}, f32(0x304),
              f32(0x0), Broadcast::Col, Broadcast::Scalar, Broadcast::None);
  sim.run(stream);
  std::vector<uint16_t> first = readSpmAs<uint16_t>(sim, 0x1000, rows * cols);
  auto second = readF32(sim, 0x2000, rows * cols);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < cols; ++c) {
      size_t i = r * cols + c;
      float want = rowMask[c] ? x[i] : -INFINITY;
      EXPECT_EQ(bf16ToFloat(first[i]), bf16ToFloat(floatToBf16(want))) << i;
      EXPECT_EQ(second[i], colMask[r] ? 9.0f : x[i]) << i;
    }
}

TEST(VectorV2, FloatOpsMatchReferenceLoops) {
  Simulator sim(loadChip("tiny"));
  const uint32_t rows = 4, cols = 9;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  std::vector<float> a(rows * cols), b(rows * cols);
  for (auto &v : a)
    v = dist(rng);
  for (auto &v : b)
    v = dist(rng);
  a[3] = 2.5f, a[4] = -2.5f, a[5] = 3.5f; // round half to even
  writeSpmAs(sim, 0x0, a);
  writeSpmAs(sim, 0x1000, b);
  struct Case {
    VecOp op;
    double (*ref)(double, double);
  };
  const Case cases[] = {
      {VecOp::Sin, [](double x, double) { return std::sin(x); }},
      {VecOp::Cos, [](double x, double) { return std::cos(x); }},
      {VecOp::Floor, [](double x, double) { return std::floor(x); }},
      {VecOp::Ceil, [](double x, double) { return std::ceil(x); }},
      {VecOp::Round, [](double x, double) { return std::nearbyint(x); }},
      {VecOp::Silu, [](double x, double) { return x / (1 + std::exp(-x)); }},
      {VecOp::Gelu,
       [](double x, double) {
         return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
       }},
      {VecOp::GeluTanh,
       [](double x, double) {
         return 0.5 * x *
                (1 +
                 std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
       }},
      {VecOp::Pow,
       [](double x, double y) { return std::pow(std::fabs(x), y); }},
      {VecOp::Mod,
       [](double x, double y) { return x - y * std::floor(x / y); }},
      {VecOp::FMod, [](double x, double y) { return std::fmod(x, y); }},
  };
  // pow of a negative base with a fractional exponent is NaN: use |a|.
  Stream stream;
  CoreBuilder core(stream, 0);
  core.unary(VecOp::Abs, rows, cols, f32(0x3000), f32(0x0));
  uint64_t out = 0x4000;
  for (const Case &c : cases) {
    VecOperand in = f32(c.op == VecOp::Pow ? 0x3000 : 0x0);
    if (isBinaryVecOp(c.op))
      core.binary(c.op, rows, cols, f32(out), in, f32(0x1000));
    else
      core.unary(c.op, rows, cols, f32(out), in);
    out += 0x1000;
  }
  core.unary(VecOp::ReduceMin, rows, cols, f32(out), f32(0x0));
  sim.run(stream);
  out = 0x4000;
  for (const Case &c : cases) {
    auto got = readF32(sim, out, rows * cols);
    for (size_t i = 0; i < got.size(); ++i) {
      double want = c.ref(a[i], b[i]);
      EXPECT_NEAR(got[i], want, 1e-5 * std::max(1.0, std::fabs(want)))
          << vecOpName(c.op) << " a=" << a[i] << " b=" << b[i];
    }
    out += 0x1000;
  }
  auto mins = readF32(sim, out, rows);
  for (uint32_t r = 0; r < rows; ++r)
    EXPECT_EQ(mins[r], *std::min_element(a.begin() + r * cols,
                                         a.begin() + (r + 1) * cols));
  EXPECT_EQ(readF32(sim, 0x4000 + 4 * 0x1000, 6)[3], 2.0f);  // round(2.5)
  EXPECT_EQ(readF32(sim, 0x4000 + 4 * 0x1000, 6)[4], -2.0f); // round(-2.5)
  EXPECT_EQ(readF32(sim, 0x4000 + 4 * 0x1000, 6)[5], 4.0f);  // round(3.5)
}

TEST(VectorV2, BroadcastOperandAExpandsARow) {
  Simulator sim(loadChip("tiny"));
  writeSpmAs(sim, 0x0, std::vector<float>{1, 2, 3});
  writeSpmAs(sim, 0x100, std::vector<float>{10, 20});
  VectorCmd cmd; // dst[r][c] = b[r] - a[c]  (a row-broadcast, b col-broadcast)
  cmd.op = VecOp::Sub, cmd.rows = 2, cmd.cols = 3;
  cmd.dst = {0x1000, 12, DType::F32};
  cmd.a = {0x100, 4, DType::F32}, cmd.bcastA = Broadcast::Col;
  cmd.b = {0x0, 0, DType::F32}, cmd.bcast = Broadcast::Row;
  Stream stream;
  CoreBuilder(stream, 0).vector(cmd);
  sim.run(stream);
  EXPECT_EQ(readF32(sim, 0x1000, 6), (std::vector<float>{9, 8, 7, 19, 18, 17}));
}

TEST(VectorV2, ValidationRejectsMeaninglessOperands) {
  ChipDesc chip = loadChip("tiny");
  auto errorFor = [&](VectorCmd cmd) {
    Stream stream;
    CoreBuilder(stream, 0).vector(cmd);
    return validateError(stream, chip);
  };
  VectorCmd base;
  base.rows = 2, base.cols = 4;
  base.dst = {0x0, 16, DType::I32}, base.a = {0x100, 16, DType::I32};
  base.b = {0x200, 16, DType::I32};
  VectorCmd andF = base;
  andF.op = VecOp::And, andF.a.type = DType::F32;
  EXPECT_NE(errorFor(andF).find("and needs integer or bool operands, got fp32"),
            std::string::npos)
      << errorFor(andF);
  VectorCmd stray = base;
  stray.c = {0x300, 4, DType::Bool};
  EXPECT_NE(errorFor(stray).find("select only"), std::string::npos);
  VectorCmd reduce = base;
  reduce.op = VecOp::ReduceMin, reduce.bcastA = Broadcast::Row;
  EXPECT_NE(errorFor(reduce).find("cannot broadcast operand a"),
            std::string::npos);
  VectorCmd select = base;
  select.op = VecOp::Select, select.c = {(1u << 20) - 4, 16, DType::Bool};
  EXPECT_NE(errorFor(select).find("vector operand c"), std::string::npos);
  select.bcastC = Broadcast::Scalar;
  EXPECT_EQ(errorFor(select), "");
  ChipDesc noSin = chip;
  noSin.vector.opCycles.erase("sin");
  noSin.vector.opCycles.erase("erf");
  VectorCmd sin = base;
  sin.op = VecOp::Sin;
  Stream stream;
  CoreBuilder(stream, 0).vector(sin);
  EXPECT_NE(validateError(stream, noSin).find("has no sin"), std::string::npos);
  EXPECT_LT(vectorOpCycles(noSin, VecOp::Gelu), 0); // erf missing
  EXPECT_GT(vectorOpCycles(noSin, VecOp::GeluTanh), 0);
}

TEST(VectorV2, CyclesFollowComponentCosts) {
  ChipDesc chip = loadChip("tiny"); // 16 lanes, latency 4
  auto cycles = [&](VecOp op) {
    Stream stream;
    CoreBuilder core(stream, 0);
    VecOperand a{0x0, 0, DType::F32}, dst{0x10000, 0, DType::F32};
    if (op == VecOp::Select)
      core.select(8, 64, dst, {0x20000, 0, DType::Bool}, a, a);
    else if (isBinaryVecOp(op))
      core.binary(op, 8, 64, dst, a, a);
    else
      core.unary(op, 8, 64, dst, a);
    Simulator sim(chip);
    RunOptions timingOnly;
    timingOnly.functional = false;
    return sim.run(stream, timingOnly).cycles;
  };
  const double groups = 8 * 4, latency = 4;
  auto op = [&](const char *name) { return chip.vector.opCycles.at(name); };
  EXPECT_DOUBLE_EQ(cycles(VecOp::CmpLt), groups + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Select), groups + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Floor), groups + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Sin), groups * op("sin") + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Silu), groups * (op("sigmoid") + 1) + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Gelu), groups * (op("erf") + 3) + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::GeluTanh),
                   groups * (op("tanh") + 4) + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Pow),
                   groups * (op("exp") + op("log") + 1) + latency);
  EXPECT_DOUBLE_EQ(cycles(VecOp::Mod), groups * (op("div") + 2) + latency);
  // A fused GELU is cheaper than its five-op expansion (scale, erf, scale,
  // mul: 4 issues with 4 pipeline latencies).
  EXPECT_LT(cycles(VecOp::Gelu), cycles(VecOp::Erf) + 3 * cycles(VecOp::Mul));
}

//===----------------------------------------------------------------------===//
// Codecs
//===----------------------------------------------------------------------===//

TEST(CodecV2, NewInstructionsRoundTripAndVersionOneIsRejected) {
  Stream stream = parseText(
      "core 0\n"
      "  dma0: gather dst=spm0:0x100 table=dram:0x1000 indices=spm:0x0 "
      "row_bytes=64 table_rows=500 count=8 index_type=int64 "
      "table_row_stride=128\n"
      "  vector: select rows=2 cols=4 dst=0x400:8:bf16 a=0x500:16:fp32 "
      "b=0x600:0:fp32 c=0x700:4:bool bcast=scalar bcast_c=row\n"
      "  vector: cmp_ge rows=2 cols=4 dst=0x800:4:bool a=0x900:32:int64 "
      "b=0xa00:4:int32 bcast=col bcast_a=none\n");
  const auto &gather = std::get<GatherCmd>(stream.cores[0][0].cmd);
  EXPECT_EQ(gather.indices, MemRef::spm(0, 0));
  EXPECT_EQ(gather.indexType, DType::I64);
  EXPECT_EQ(gather.dstRowStride, 0u);
  EXPECT_EQ(gather.tableRowStride, 128u);
  const auto &select = std::get<VectorCmd>(stream.cores[0][1].cmd);
  EXPECT_EQ(select.bcastC, Broadcast::Row);
  EXPECT_EQ(select.c.type, DType::Bool);
  std::string text = printText(stream);
  EXPECT_EQ(parseText(text), stream);
  EXPECT_EQ(printText(parseText(text)), text);
  std::vector<uint8_t> bytes = encodeBinary(stream);
  EXPECT_EQ(decodeBinary(bytes.data(), bytes.size()), stream);
  EXPECT_NO_THROW(validateStream(stream, loadChip("tiny")));

  bytes[4] = 1; // version 1, re-signed
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i + 4 < bytes.size(); ++i) {
    crc ^= bytes[i];
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  crc ^= 0xFFFFFFFFu;
  for (int i = 0; i < 4; ++i)
    bytes[bytes.size() - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
  try {
    decodeBinary(bytes.data(), bytes.size());
    FAIL() << "version 1 decoded";
  } catch (const SimError &error) {
    EXPECT_NE(std::string(error.what()).find("version 1 is not supported"),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("re-encode"), std::string::npos);
  }
}

TEST(CodecV2, TextErrorsForNewFields) {
  auto error = [](const std::string &text) {
    try {
      parseText(text, "s.txt");
    } catch (const SimError &e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("core 0\n  vector: select rows=1 cols=1 dst=0:4:fp32 "
                  "a=0:4:fp32 b=0:4:fp32"),
            "s.txt:2: select needs operand c (the condition)");
  EXPECT_EQ(error("core 0\n  vector: add rows=1 cols=1 dst=0:4:fp32 "
                  "a=0:4:fp32 b=0:4:fp32 bcast_a=diag"),
            "s.txt:2: bcast_a=diag is not none, row, col or scalar");
  EXPECT_EQ(error("core 0\n  dma0: gather dst=spm:0 table=dram:0 indices=spm:0 "
                  "row_bytes=4 count=1"),
            "s.txt:2: missing field 'table_rows'");
  EXPECT_EQ(error("core 0\n  vector: cast rows=1 cols=1 dst=0:4:uint64 "
                  "a=0:4:fp32"),
            "s.txt:2: dst=uint64 is not a dtype (fp32, bf16, fp16, fp8, "
            "int8, int32, int64, bool, uint8, int16, uint16, uint32)");
}

//===----------------------------------------------------------------------===//
// Chip JSON round trip
//===----------------------------------------------------------------------===//

TEST(ChipJson, PresetsRoundTripExactly) {
  for (const char *name : {"rngd", "atom", "tiny"}) {
    ChipDesc chip = loadChip(name);
    std::string json = chipToJson(chip);
    ChipDesc back = parseChipJson(json, "embedded");
    EXPECT_TRUE(back == chip) << name << "\n" << json;
    EXPECT_EQ(back.source, "embedded");
    EXPECT_EQ(chipToJson(back), json);
    EXPECT_FALSE(back.description.empty());
  }
  ChipDesc odd = loadChip("tiny");
  odd.clockGhz = 1.0 / 3.0; // needs all 17 digits
  odd.shared.bytes = 0;     // no shared SRAM: the section is left out
  odd.shared.bytesPerCycle = 0;
  odd.description.clear();
  EXPECT_TRUE(parseChipJson(chipToJson(odd, -1), "x") == odd);
  EXPECT_EQ(chipToJson(odd, -1).find("shared_sram"), std::string::npos);
}

TEST(ChipJson, EmbeddedTextIsValidatedLikeAFile) {
  nlohmann::json json = nlohmann::json::parse(chipToJson(loadChip("tiny")));
  json["cores"]["tensor_unit"]["rows"] = -4;
  try {
    parseChipJson(json.dump(), "artifact.gnpu:chip");
    FAIL();
  } catch (const SimError &error) {
    EXPECT_EQ(std::string(error.what()),
              "artifact.gnpu:chip: cores.tensor_unit.rows must be an integer "
              "in [1, 4096], got -4");
  }
  std::string_view view = "{ \"name\": 1 }";
  EXPECT_THROW(parseChipJson(view, std::string_view("v")), SimError);
}
