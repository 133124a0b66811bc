// .npy and TensorProto (.pb) readers, statistics and comparisons.
#include "gaon/runtime/tensor_io.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <unistd.h>

namespace gaon::rt {
namespace {

HostTensor floats(std::vector<int64_t> shape, std::vector<float> values) {
  HostTensor t;
  t.name = "t";
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.data.resize(values.size() * 4);
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

TEST(NpyTest, RoundTripManyDTypes) {
  for (DType dtype : {DType::F32, DType::F16, DType::F64, DType::I8, DType::U8,
                      DType::I32, DType::I64, DType::Bool, DType::U16}) {
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{}, {5}, {2, 3}, {2, 0, 4}}) {
      HostTensor t = randomTensor("t", dtype, shape, 42);
      std::vector<uint8_t> bytes = encodeNpy(t);
      auto back = parseNpy(bytes.data(), bytes.size());
      ASSERT_TRUE(back.isOk()) << dtypeName(dtype) << back.status().toString();
      EXPECT_EQ(back->dtype, dtype);
      EXPECT_EQ(back->shape, shape);
      EXPECT_EQ(back->data, t.data);
    }
  }
}

TEST(NpyTest, Bf16IsWidenedToF32) {
  HostTensor t = randomTensor("t", DType::BF16, {3}, 1);
  std::vector<uint8_t> bytes = encodeNpy(t);
  auto back = parseNpy(bytes.data(), bytes.size());
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(back->dtype, DType::F32);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(loadAsDouble(DType::F32, back->data.data() + 4 * i),
              loadAsDouble(DType::BF16, t.data.data() + 2 * i));
}

TEST(NpyTest, MalformedFilesAreErrors) {
  std::vector<uint8_t> bytes = encodeNpy(floats({2}, {1, 2}));
  for (size_t length = 0; length < bytes.size(); ++length)
    EXPECT_FALSE(parseNpy(bytes.data(), length).isOk()) << length;
  std::string fortran("\x93NUMPY\x01\x00", 8);
  std::string header =
      "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }";
  fortran += char(header.size());
  fortran += '\0';
  fortran += header + "abcd";
  auto result = parseNpy(reinterpret_cast<const uint8_t *>(fortran.data()),
                         fortran.size());
  ASSERT_FALSE(result.isOk());
  EXPECT_NE(result.status().message().find("Fortran"), std::string::npos);
}

TEST(NpyTest, WriteIsAtomic) {
  std::string path =
      ::testing::TempDir() + "/" + std::to_string(getpid()) + "_t.npy";
  ASSERT_TRUE(writeNpy(path, floats({2}, {1, 2})).isOk());
  auto back = readTensorFile(path);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(back->shape, (std::vector<int64_t>{2}));
  std::remove(path.c_str());
}

void putVarint(std::vector<uint8_t> &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

TEST(TensorProtoTest, RawDataRoundTrip) {
  HostTensor t = randomTensor("input_0", DType::F32, {2, 3}, 3);
  std::vector<uint8_t> bytes = encodeTensorProto(t);
  auto back = parseTensorProto(bytes.data(), bytes.size());
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(back->name, "input_0");
  EXPECT_EQ(back->shape, t.shape);
  EXPECT_EQ(back->data, t.data);
}

TEST(TensorProtoTest, PackedAndUnpackedFields) {
  // dims packed [2, 2], data_type FLOAT, float_data unpacked, name.
  std::vector<uint8_t> unpacked;
  putVarint(unpacked, (1 << 3) | 2);
  putVarint(unpacked, 2);
  unpacked.push_back(2);
  unpacked.push_back(2);
  putVarint(unpacked, (2 << 3) | 0);
  putVarint(unpacked, 1);
  for (float v : {1.0f, -2.0f, 3.5f, 4.0f}) {
    putVarint(unpacked, (4 << 3) | 5);
    uint8_t raw[4];
    std::memcpy(raw, &v, 4);
    unpacked.insert(unpacked.end(), raw, raw + 4);
  }
  auto a = parseTensorProto(unpacked.data(), unpacked.size());
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(computeStats(a.value()).min, -2.0);

  // int64 tensor: dims unpacked [3], int64_data packed (with a negative).
  std::vector<uint8_t> packed;
  putVarint(packed, (1 << 3) | 0);
  putVarint(packed, 3);
  putVarint(packed, (2 << 3) | 0);
  putVarint(packed, 7);
  std::vector<uint8_t> body;
  for (int64_t v : {5ll, -1ll, 300ll})
    putVarint(body, static_cast<uint64_t>(v));
  putVarint(packed, (7 << 3) | 2);
  putVarint(packed, body.size());
  packed.insert(packed.end(), body.begin(), body.end());
  auto b = parseTensorProto(packed.data(), packed.size());
  ASSERT_TRUE(b.isOk()) << b.status().toString();
  int64_t values[3];
  std::memcpy(values, b->data.data(), 24);
  EXPECT_EQ(values[1], -1);
  EXPECT_EQ(values[2], 300);

  // f16 through int32_data; unknown fields (doc_string=12) skipped.
  std::vector<uint8_t> half;
  putVarint(half, (1 << 3) | 0);
  putVarint(half, 1);
  putVarint(half, (2 << 3) | 0);
  putVarint(half, 10);
  putVarint(half, (12 << 3) | 2);
  putVarint(half, 3);
  half.insert(half.end(), {'d', 'o', 'c'});
  putVarint(half, (5 << 3) | 0);
  putVarint(half, floatToHalf(1.5f));
  auto c = parseTensorProto(half.data(), half.size());
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(computeStats(c.value()).max, 1.5);
}

TEST(TensorProtoTest, TruncatedAndCorruptedNeverCrash) {
  HostTensor t = randomTensor("x", DType::F32, {4, 4}, 5);
  std::vector<uint8_t> bytes = encodeTensorProto(t);
  for (size_t length = 0; length < bytes.size(); ++length)
    EXPECT_FALSE(parseTensorProto(bytes.data(), length).isOk()) << length;
  std::mt19937 random(3);
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<uint8_t> copy = bytes;
    copy[random() % copy.size()] = static_cast<uint8_t>(random());
    (void)parseTensorProto(copy.data(), copy.size());
  }
  std::vector<uint8_t> wrongCount;
  putVarint(wrongCount, (1 << 3) | 0);
  putVarint(wrongCount, 3);
  putVarint(wrongCount, (2 << 3) | 0);
  putVarint(wrongCount, 1);
  auto d = parseTensorProto(wrongCount.data(), wrongCount.size());
  ASSERT_FALSE(d.isOk());
  EXPECT_NE(d.status().message().find("need 3"), std::string::npos);
}

TEST(StatsTest, StatsAndComparison) {
  HostTensor a = floats({4}, {1, 2, 3, NAN});
  TensorStats stats = computeStats(a);
  EXPECT_EQ(stats.min, 1);
  EXPECT_EQ(stats.max, 3);
  EXPECT_EQ(stats.mean, 2);
  EXPECT_EQ(stats.nonFinite, 1u);
  HostTensor x = floats({3}, {1, 2, 3});
  HostTensor y = floats({3}, {1, 2, 3.5});
  TensorComparison same = compareTensors(x, x, 0, 0);
  EXPECT_EQ(same.maxAbsError, 0);
  EXPECT_EQ(same.mismatches, 0u);
  TensorComparison diff = compareTensors(x, y, 0, 0.1);
  EXPECT_DOUBLE_EQ(diff.maxAbsError, 0.5);
  EXPECT_EQ(diff.mismatches, 1u);
  EXPECT_NEAR(diff.relativeL2, 0.5 / std::sqrt(1 + 4 + 12.25), 1e-9);
  EXPECT_FALSE(compareTensors(x, floats({1, 3}, {1, 2, 3}), 0, 0).shapeMatches);
}

TEST(DTypeTest, HalfConversions) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f})
    EXPECT_EQ(halfToFloat(floatToHalf(v)), v) << v;
  EXPECT_TRUE(std::isinf(halfToFloat(floatToHalf(1e6f))));
  EXPECT_EQ(bf16ToFloat(floatToBf16(1.5f)), 1.5f);
  EXPECT_EQ(parseDType("bf16"), DType::BF16);
  EXPECT_FALSE(tensorByteSize(DType::F32, {INT64_MAX, 4}).has_value());
}

} // namespace
} // namespace gaon::rt
