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

#include "mlir/IR/BuiltinAttributes.h"
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

namespace {

// toAttr on a tensor about to die hands its storage to the resource blob
// (weights rewritten by a pass are not copied again); the attribute reads
// back the same elements as the copying toAttr. Small and i1 tensors still
// become inline dense attributes.
TEST(ConstantTensor, MovedIntoAttrKeepsStorageAndElements) {
  mlir::MLIRContext ctx;
  auto f32 = mlir::Float32Type::get(&ctx);
  auto type = mlir::RankedTensorType::get({1000}, f32);
  ConstantTensor copied(type), moved(type);
  for (int64_t i = 0; i < 1000; ++i) {
    copied.setDouble(i, 0.5 * i - 3);
    moved.setDouble(i, 0.5 * i - 3);
  }
  const char *storage = moved.bytes().data();
  mlir::ElementsAttr a = copied.toAttr("copied");
  mlir::ElementsAttr b = std::move(moved).toAttr("moved");
  auto viewA = gaon::graph::viewElementBytes(a);
  auto viewB = gaon::graph::viewElementBytes(b);
  ASSERT_TRUE(viewA && viewB);
  EXPECT_NE(viewA->data(), copied.bytes().data());
  EXPECT_EQ(viewB->data(), storage);
  auto back = ConstantTensor::fromAttr(b);
  ASSERT_TRUE(back);
  for (int64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(back->getDouble(i), 0.5 * i - 3) << i;

  ConstantTensor small(mlir::RankedTensorType::get({3}, f32));
  small.setDouble(2, 4);
  EXPECT_TRUE(mlir::isa<mlir::DenseElementsAttr>(std::move(small).toAttr()));
  ConstantTensor flags(
      mlir::RankedTensorType::get({100}, mlir::IntegerType::get(&ctx, 1)));
  flags.setInt(99, 1);
  mlir::ElementsAttr f = std::move(flags).toAttr();
  ASSERT_TRUE(mlir::isa<mlir::DenseElementsAttr>(f));
  EXPECT_TRUE(ConstantTensor::fromAttr(f)->getInt(99));
  EXPECT_FALSE(ConstantTensor::fromAttr(f)->getInt(98));
}

// Each element type reads and writes through its own encoding: integers
// (signed, unsigned, i1) and f64 next to the 16-bit floats above.
TEST(ConstantTensor, EncodingsPerElementType) {
  mlir::MLIRContext ctx;
  auto make = [&](mlir::Type element) {
    return ConstantTensor(mlir::RankedTensorType::get({2}, element));
  };
  ConstantTensor u8 =
      make(mlir::IntegerType::get(&ctx, 8, mlir::IntegerType::Unsigned));
  u8.setInt(0, 200);
  EXPECT_EQ(u8.getDouble(0), 200.0);
  EXPECT_FALSE(u8.isFloat());
  ConstantTensor i8 = make(mlir::IntegerType::get(&ctx, 8));
  i8.setDouble(0, -7.9); // float -> int truncates toward zero
  EXPECT_EQ(i8.getInt(0), -7);
  ConstantTensor f64 = make(mlir::Float64Type::get(&ctx));
  f64.setDouble(1, 1.0 / 3);
  EXPECT_EQ(f64.getDouble(1), 1.0 / 3);
  EXPECT_TRUE(f64.isFloat());
  ConstantTensor f32 = make(mlir::Float32Type::get(&ctx));
  f32.setDouble(1, 1.0 / 3);
  EXPECT_EQ(f32.getDouble(1), double(1.0f / 3));
}

} // namespace
