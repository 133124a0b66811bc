//===- FunctionalTest.cpp - Results of the units against references -------===//

#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim/Workloads.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace gaon::npu_sim;

namespace {

std::vector<float> randomValues(size_t count, unsigned seed,
                                float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng);
  return values;
}

// Values as the chip holds them after a store in `type`.
std::vector<float> rounded(DType type, const std::vector<float> &values) {
  std::vector<uint8_t> bytes = encodeValues(type, values);
  return decodeValues(type, bytes.data(), values.size());
}

std::vector<float> readSpm(Simulator &sim, uint64_t addr, DType type,
                           size_t count) {
  std::vector<uint8_t> bytes(count * dtypeBytes(type));
  sim.readScratchpad(0, addr, bytes.data(), bytes.size());
  return decodeValues(type, bytes.data(), count);
}

void writeSpm(Simulator &sim, uint64_t addr, DType type,
              const std::vector<float> &values) {
  std::vector<uint8_t> bytes = encodeValues(type, values);
  sim.writeScratchpad(0, addr, bytes.data(), bytes.size());
}

// C = A * B (+ C) in double, B optionally given transposed.
std::vector<double> referenceMatmul(const std::vector<float> &a,
                                    const std::vector<float> &b, uint32_t m,
                                    uint32_t n, uint32_t k, bool transB) {
  std::vector<double> c(size_t(m) * n, 0.0);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j)
      for (uint32_t kk = 0; kk < k; ++kk)
        c[i * n + j] +=
            double(a[i * k + kk]) * (transB ? b[j * k + kk] : b[kk * n + j]);
  return c;
}

Report runMatmul(Simulator &sim, DType in, DType out, uint32_t m, uint32_t n,
                 uint32_t k, bool transB, bool accumulate,
                 const std::vector<float> &a, const std::vector<float> &b) {
  writeSpm(sim, 0x0, in, a);
  writeSpm(sim, 0x10000, in, b);
  MatmulCmd mm;
  mm.m = m, mm.n = n, mm.k = k, mm.inType = in, mm.outType = out;
  mm.transposeB = transB, mm.accumulate = accumulate;
  mm.a = 0x0, mm.lda = k * dtypeBytes(in);
  mm.b = 0x10000, mm.ldb = (transB ? k : n) * dtypeBytes(in);
  mm.c = 0x20000, mm.ldc = n * dtypeBytes(out);
  Stream stream;
  CoreBuilder(stream, 0).matmul(mm);
  return sim.run(stream);
}

} // namespace

TEST(Conversions, RoundToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)),
            floatToBf16(1.0f)); // tie -> even
  EXPECT_EQ(bf16ToFloat(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8))),
            1.0f + std::ldexp(1.0f, -6)); // tie -> even (up)
  EXPECT_EQ(f16ToFloat(floatToF16(1.0f + std::ldexp(1.0f, -11))), 1.0f);
  EXPECT_EQ(f16ToFloat(floatToF16(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(f16ToFloat(floatToF16(65520.0f))));
  EXPECT_EQ(f16ToFloat(floatToF16(std::ldexp(1.0f, -24))),
            std::ldexp(1.0f, -24));                   // subnormal
  EXPECT_EQ(fp8ToFloat(floatToFp8(1000.0f)), 448.0f); // E4M3 saturates
  EXPECT_EQ(fp8ToFloat(floatToFp8(0.3f)), 0.3125f);
  for (int bits = 0; bits < 0x7f; ++bits) // every finite fp8 round-trips
    EXPECT_EQ(floatToFp8(fp8ToFloat(static_cast<uint8_t>(bits))), bits);
  uint8_t i8;
  storeElement(DType::I8, &i8, 300.0f);
  EXPECT_EQ(static_cast<int8_t>(i8), 127);
  storeElement(DType::I8, &i8, -2.5f);
  EXPECT_EQ(static_cast<int8_t>(i8), -2);
}

TEST(Functional, MatmulFp32) {
  Simulator sim(loadChip("tiny"));
  uint32_t m = 7, n = 9, k = 13;
  auto a = randomValues(m * k, 1), b = randomValues(k * n, 2);
  runMatmul(sim, DType::F32, DType::F32, m, n, k, false, false, a, b);
  auto c = readSpm(sim, 0x20000, DType::F32, m * n);
  auto ref = referenceMatmul(a, b, m, n, k, false);
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_NEAR(c[i], ref[i], 1e-5 * (1 + std::fabs(ref[i])));
}

TEST(Functional, MatmulBf16WithinRounding) {
  Simulator sim(loadChip("tiny"));
  uint32_t m = 16, n = 24, k = 64;
  auto a = rounded(DType::BF16, randomValues(m * k, 3)),
       b = rounded(DType::BF16, randomValues(k * n, 4));
  runMatmul(sim, DType::BF16, DType::BF16, m, n, k, false, false, a, b);
  auto c = readSpm(sim, 0x20000, DType::BF16, m * n);
  auto ref = referenceMatmul(a, b, m, n, k, false);
  for (size_t i = 0; i < c.size();
       ++i) // one bf16 rounding: half an ulp (2^-8 relative)
    EXPECT_NEAR(c[i], ref[i], std::ldexp(std::fabs(ref[i]), -8) + 1e-6) << i;
}

TEST(Functional, MatmulTransposedAccumulate) {
  Simulator sim(loadChip("tiny"));
  uint32_t m = 5, n = 6, k = 8;
  auto a = rounded(DType::F16, randomValues(m * k, 5)),
       b = rounded(DType::F16, randomValues(n * k, 6));
  std::vector<float> initial = randomValues(m * n, 7);
  writeSpm(sim, 0x20000, DType::F32, initial);
  runMatmul(sim, DType::F16, DType::F32, m, n, k, true, true, a, b);
  auto c = readSpm(sim, 0x20000, DType::F32, m * n);
  auto ref = referenceMatmul(a, b, m, n, k, true);
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_NEAR(c[i], ref[i] + initial[i], 1e-5);
}

TEST(Functional, MatmulInt8ExactInt32) {
  Simulator sim(loadChip("tiny"));
  uint32_t m = 9, n = 7, k = 33;
  std::vector<float> a(m * k), b(k * n);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = float(int(i * 37 % 255) - 127);
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = float(int(i * 91 % 255) - 128);
  runMatmul(sim, DType::I8, DType::I32, m, n, k, false, false, a, b);
  std::vector<int32_t> c(m * n);
  sim.readScratchpad(0, 0x20000, c.data(), c.size() * 4);
  auto ref = referenceMatmul(a, b, m, n, k, false);
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_EQ(c[i], static_cast<int32_t>(ref[i]));
}

TEST(Functional, SoftmaxFromVectorOps) {
  Simulator sim(loadChip("tiny"));
  uint32_t rows = 6, cols = 40;
  auto x = randomValues(rows * cols, 8, 4.0f);
  writeSpm(sim, 0x0, DType::F32, x);
  Stream stream;
  CoreBuilder b(stream, 0);
  VecOperand s{0x0, 0, DType::F32}, col{0x4000, 4, DType::F32},
      out{0x8000, 0, DType::BF16};
  b.unary(VecOp::ReduceMax, rows, cols, col, s);
  b.binary(VecOp::Sub, rows, cols, s, s, col, Broadcast::Col);
  b.unary(VecOp::Exp, rows, cols, s, s);
  b.unary(VecOp::ReduceSum, rows, cols, col, s);
  b.unary(VecOp::Recip, rows, 1, col, col);
  b.binary(VecOp::Mul, rows, cols, out, s, col, Broadcast::Col);
  sim.run(stream);
  auto y = readSpm(sim, 0x8000, DType::BF16, rows * cols);
  for (uint32_t r = 0; r < rows; ++r) {
    double mx = -1e30, sum = 0;
    for (uint32_t c = 0; c < cols; ++c)
      mx = std::max<double>(mx, x[r * cols + c]);
    for (uint32_t c = 0; c < cols; ++c)
      sum += std::exp(x[r * cols + c] - mx);
    for (uint32_t c = 0; c < cols; ++c) {
      double ref = std::exp(x[r * cols + c] - mx) / sum;
      EXPECT_NEAR(y[r * cols + c], ref, ref * std::ldexp(1.0, -8) + 1e-7);
    }
  }
}

TEST(Functional, ElementwiseBroadcastsAndUnaryOps) {
  Simulator sim(loadChip("tiny"));
  uint32_t rows = 3, cols = 5;
  auto a = randomValues(rows * cols, 9, 2.0f), row = randomValues(cols, 10),
       full = randomValues(rows * cols, 11);
  writeSpm(sim, 0x0, DType::F32, a);
  writeSpm(sim, 0x1000, DType::F32, row);
  writeSpm(sim, 0x2000, DType::F32, full);
  writeSpm(sim, 0x3000, DType::F32, {2.5f});
  Stream stream;
  CoreBuilder b(stream, 0);
  VecOperand A{0x0, 0, DType::F32};
  b.binary(VecOp::Add, rows, cols, {0x10000, 0, DType::F32}, A,
           {0x1000, 0, DType::F32}, Broadcast::Row);
  b.binary(VecOp::Max, rows, cols, {0x11000, 0, DType::F32}, A,
           {0x2000, 0, DType::F32});
  b.binary(VecOp::Div, rows, cols, {0x12000, 0, DType::F32}, A,
           {0x3000, 0, DType::F32}, Broadcast::Scalar);
  b.unary(VecOp::Erf, rows, cols, {0x13000, 0, DType::F32}, A);
  b.unary(VecOp::Tanh, rows, cols, {0x14000, 0, DType::F32}, A);
  b.unary(VecOp::Scale, rows, cols, {0x15000, 0, DType::F32}, A, 3.0f, 1.0f);
  b.unary(VecOp::Relu, rows, cols, {0x16000, 0, DType::F32}, A);
  sim.run(stream);
  auto add = readSpm(sim, 0x10000, DType::F32, rows * cols);
  auto mx = readSpm(sim, 0x11000, DType::F32, rows * cols);
  auto dv = readSpm(sim, 0x12000, DType::F32, rows * cols);
  auto er = readSpm(sim, 0x13000, DType::F32, rows * cols);
  auto th = readSpm(sim, 0x14000, DType::F32, rows * cols);
  auto sc = readSpm(sim, 0x15000, DType::F32, rows * cols);
  auto re = readSpm(sim, 0x16000, DType::F32, rows * cols);
  for (uint32_t i = 0; i < rows * cols; ++i) {
    EXPECT_FLOAT_EQ(add[i], a[i] + row[i % cols]);
    EXPECT_FLOAT_EQ(mx[i], std::max(a[i], full[i]));
    EXPECT_FLOAT_EQ(dv[i], a[i] / 2.5f);
    EXPECT_NEAR(er[i], std::erf(a[i]), 1e-6);
    EXPECT_NEAR(th[i], std::tanh(a[i]), 1e-6);
    EXPECT_FLOAT_EQ(sc[i], a[i] * 3.0f + 1.0f);
    EXPECT_FLOAT_EQ(re[i], a[i] > 0 ? a[i] : 0.0f);
  }
}

TEST(Functional, TiledGemmStreamMatchesReference) {
  // Uneven sizes, small tiles: several K steps, edge tiles, two cores.
  ChipDesc chip = loadChip("tiny");
  GemmSpec spec;
  spec.m = 40, spec.n = 36, spec.k = 72, spec.cores = 2;
  spec.tileM = 16, spec.tileN = 16, spec.tileK = 32;
  spec.aAddr = 0, spec.bAddr = 0x10000, spec.cAddr = 0x20000;
  auto a = rounded(DType::BF16, randomValues(spec.m * spec.k, 12)),
       b = rounded(DType::BF16, randomValues(spec.k * spec.n, 13));
  Simulator sim(chip);
  auto aBytes = encodeValues(DType::BF16, a),
       bBytes = encodeValues(DType::BF16, b);
  sim.writeDram(spec.aAddr, aBytes.data(), aBytes.size());
  sim.writeDram(spec.bAddr, bBytes.data(), bBytes.size());
  sim.run(makeGemmStream(chip, spec));
  std::vector<float> c(spec.m * spec.n);
  sim.readDram(spec.cAddr, c.data(), c.size() * 4);
  auto ref = referenceMatmul(a, b, spec.m, spec.n, spec.k, false);
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_NEAR(c[i], ref[i], 1e-4) << i;
}

TEST(Functional, TimingOnlyMovesNoData) {
  Simulator sim(loadChip("tiny"));
  std::vector<float> a = {1, 2, 3, 4};
  auto bytes = encodeValues(DType::F32, a);
  sim.writeDram(0, bytes.data(), bytes.size());
  Stream stream;
  CoreBuilder(stream, 0).dma(0, MemRef::spm(0, 0), MemRef::dram(0), 16);
  RunOptions timingOnly;
  timingOnly.functional = false;
  Report report = sim.run(stream, timingOnly);
  EXPECT_GT(report.cycles, 0);
  EXPECT_EQ(readSpm(sim, 0, DType::F32, 4), std::vector<float>(4, 0.0f));
  sim.run(stream);
  EXPECT_EQ(readSpm(sim, 0, DType::F32, 4), a);
}
