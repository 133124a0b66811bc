//===- constant_tensor_test.cpp - ConstantTensor element conversions -----===//
//
// ConstantTensor reads and writes bf16/f16 normals with bit arithmetic
// instead of APFloat (much faster on whole weight tensors). These tests hold
// that path to APFloat's results bit for bit: random values over the whole
// normal range, exact ties (round half to even), values that round up into
// the next binade or to infinity, and the special values left to APFloat.
//
//===----------------------------------------------------------------------===//

#include "gaon/Dialect/Graph/ConstantTensor.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/APFloat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using gaon::graph::ConstantTensor;

/// APFloat's round-to-nearest-even conversion of `v`, as raw bits.
uint16_t referenceBits(double v, const llvm::fltSemantics &sem) {
  llvm::APFloat x(v);
  bool losesInfo = false;
  x.convert(sem, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return uint16_t(x.bitcastToAPInt().getZExtValue());
}

/// Doubles that exercise a 16-bit format with `mantissaBits` bits: random
/// magnitudes across (and a bit beyond) its exponent range, exact ties
/// between neighbouring values, and the edges.
std::vector<double> probeValues(int mantissaBits, int minExp, int maxExp) {
  std::mt19937_64 rng(1234);
  std::vector<double> v = {
      0.0,
      -0.0,
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::quiet_NaN(),
      std::ldexp(1.0, minExp),
      std::ldexp(1.0, minExp - 3),
      std::ldexp(2.0 - std::ldexp(1.0, -mantissaBits), maxExp),
      std::ldexp(2.0 - std::ldexp(1.0, -mantissaBits - 1),
                 maxExp), // ties to even: infinity
      std::ldexp(2.0, maxExp)};
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  std::uniform_int_distribution<int> exponent(minExp - 4, maxExp + 1);
  std::uniform_int_distribution<int> code(0, (1 << mantissaBits) - 1);
  for (int i = 0; i < 200000; ++i) {
    double m = mantissa(rng);
    int e = exponent(rng);
    v.push_back(std::ldexp(i % 2 ? -m : m, e));
    // Halfway between two neighbours (k and k + 1 in the last place).
    double tie = std::ldexp(1.0 + (code(rng) + 0.5) / (1 << mantissaBits), e);
    v.push_back(i % 3 ? tie : -tie);
  }
  return v;
}

class Half16Conversions : public ::testing::TestWithParam<bool> {};

TEST_P(Half16Conversions, MatchApFloatBitForBit) {
  const bool bf16 = GetParam();
  mlir::MLIRContext context;
  mlir::Type element = bf16 ? mlir::Type(mlir::BFloat16Type::get(&context))
                            : mlir::Type(mlir::Float16Type::get(&context));
  const llvm::fltSemantics &sem =
      bf16 ? llvm::APFloat::BFloat() : llvm::APFloat::IEEEhalf();
  std::vector<double> values =
      bf16 ? probeValues(7, -126, 127) : probeValues(10, -14, 15);
  ConstantTensor t(
      mlir::RankedTensorType::get({int64_t(values.size())}, element));
  for (size_t i = 0; i < values.size(); ++i)
    t.setDouble(int64_t(i), values[i]);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, t.bytes().data() + 2 * i, 2);
    const uint16_t want = referenceBits(values[i], sem);
    if (std::isnan(values[i])) {
      // Any NaN will do; the payload is APFloat's business.
      EXPECT_TRUE(std::isnan(t.getDouble(int64_t(i))));
      continue;
    }
    ASSERT_EQ(bits, want) << "value " << values[i] << " (index " << i << ")";
    // Reading back widens exactly.
    llvm::APFloat back(sem, llvm::APInt(16, bits));
    ASSERT_EQ(t.getDouble(int64_t(i)), back.convertToDouble())
        << "bits 0x" << std::hex << bits;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, Half16Conversions, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "bf16" : "f16";
                         });

} // namespace

namespace {

// concatLastAxis joins [2, 1] and [2, 3] into [2, 4] row by row (the merged
// Q/K/V weights of sibling matmuls), and vectors of any shape into one.
TEST(ConstantTensor, ConcatLastAxis) {
  mlir::MLIRContext ctx;
  auto f32 = mlir::Float32Type::get(&ctx);
  ConstantTensor a(mlir::RankedTensorType::get({2, 1}, f32));
  ConstantTensor b(mlir::RankedTensorType::get({2, 3}, f32));
  for (int64_t i = 0; i < 2; ++i)
    a.setDouble(i, 10 * i);
  for (int64_t i = 0; i < 6; ++i)
    b.setDouble(i, i + 1);
  ConstantTensor m = ConstantTensor::concatLastAxis(
      {a, b}, mlir::RankedTensorType::get({2, 4}, f32));
  std::vector<double> expected = {0, 1, 2, 3, 10, 4, 5, 6};
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_EQ(m.getDouble(i), expected[i]) << i;

  ConstantTensor v(mlir::RankedTensorType::get({1, 1, 2}, f32));
  v.setDouble(0, 7);
  v.setDouble(1, 8);
  ConstantTensor joined = ConstantTensor::concatLastAxis(
      {v, v}, mlir::RankedTensorType::get({4}, f32));
  EXPECT_EQ(joined.getDouble(0), 7);
  EXPECT_EQ(joined.getDouble(3), 8);
}

} // namespace
