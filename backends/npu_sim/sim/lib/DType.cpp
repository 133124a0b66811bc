//===- DType.cpp - Element conversions with the chip's rounding -----------===//

#include "gaon/npu_sim/DType.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace gaon::npu_sim {

namespace {
uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}
float bitsFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}
// 2^bits of Int's magnitude: max + 1, exact in double (INT64_MAX is not).
template <typename Int> double maxPlusOne() {
  return std::ldexp(1.0, std::numeric_limits<Int>::digits);
}
// Calls fn(Int{}) with the C++ type of an integer DType; false for the
// others (floats, bool).
template <typename Fn> bool visitInt(DType type, Fn &&fn) {
  switch (type) {
  case DType::I8:
    return fn(int8_t{}), true;
  case DType::U8:
    return fn(uint8_t{}), true;
  case DType::I16:
    return fn(int16_t{}), true;
  case DType::U16:
    return fn(uint16_t{}), true;
  case DType::I32:
    return fn(int32_t{}), true;
  case DType::U32:
    return fn(uint32_t{}), true;
  case DType::I64:
    return fn(int64_t{}), true;
  default:
    return false;
  }
}
template <typename Int> Int loadInt(const uint8_t *src) {
  Int value;
  std::memcpy(&value, src, sizeof(Int));
  return value;
}
template <typename Int> void storeInt(uint8_t *dst, Int value) {
  std::memcpy(dst, &value, sizeof(Int));
}
// Integer stores round to nearest even and saturate, as a cast unit does.
template <typename Int> Int saturateRound(float value) {
  if (std::isnan(value))
    return 0;
  double rounded = std::nearbyint(static_cast<double>(value));
  if (rounded < std::numeric_limits<Int>::min())
    return std::numeric_limits<Int>::min();
  if (rounded >= maxPlusOne<Int>())
    return std::numeric_limits<Int>::max();
  return static_cast<Int>(rounded);
}
// Truncates toward zero and saturates, as a float -> int cast unit does.
template <typename Int> Int truncSaturate(double value) {
  if (std::isnan(value))
    return 0;
  double truncated = std::trunc(value);
  if (truncated <= static_cast<double>(std::numeric_limits<Int>::min()))
    return std::numeric_limits<Int>::min();
  if (truncated >= maxPlusOne<Int>())
    return std::numeric_limits<Int>::max();
  return static_cast<Int>(truncated);
}
// double -> float rounding to odd (sticky bit in the last place).
float roundToOddFloat(double value) {
  float f = static_cast<float>(value);
  if (!std::isfinite(value) || static_cast<double>(f) == value ||
      !std::isfinite(f))
    return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(value))
    f = std::nextafter(f, 0.0f); // truncate toward zero
  uint32_t bits = floatBits(f);
  return bitsFloat(bits | 1u);
}
} // namespace

unsigned dtypeBytes(DType type) {
  unsigned bytes = 1;
  if (visitInt(type, [&](auto v) { bytes = sizeof(v); }))
    return bytes;
  switch (type) {
  case DType::F32:
    return 4;
  case DType::BF16:
  case DType::F16:
    return 2;
  default: // fp8, bool
    return 1;
  }
}

const char *dtypeName(DType type) {
  switch (type) {
  case DType::F32:
    return "fp32";
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "fp16";
  case DType::FP8:
    return "fp8";
  case DType::I8:
    return "int8";
  case DType::I32:
    return "int32";
  case DType::I64:
    return "int64";
  case DType::Bool:
    return "bool";
  case DType::U8:
    return "uint8";
  case DType::I16:
    return "int16";
  case DType::U16:
    return "uint16";
  case DType::U32:
    return "uint32";
  }
  return "?";
}

const char *dtypeNameList() {
  return "fp32, bf16, fp16, fp8, int8, int32, int64, bool, uint8, int16, "
         "uint16, uint32";
}

std::optional<DType> parseDType(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (name == dtypeName(static_cast<DType>(i)))
      return static_cast<DType>(i);
  return std::nullopt;
}

bool isFloatType(DType type) {
  return type == DType::F32 || type == DType::BF16 || type == DType::F16 ||
         type == DType::FP8;
}

uint16_t floatToBf16(float value) {
  uint32_t bits = floatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet, keep the sign
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float bf16ToFloat(uint16_t bits) {
  return bitsFloat(static_cast<uint32_t>(bits) << 16);
}

uint16_t floatToF16(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t absBits = bits & 0x7fffffffu;
  if (absBits >= 0x7f800000u)
    return sign | (absBits > 0x7f800000u ? 0x7e00 : 0x7c00);
  if (absBits >= 0x477ff000u) // >= 65520 rounds to infinity
    return sign | 0x7c00;
  if (absBits < 0x38800000u) { // below 2^-14: subnormal, unit 2^-24
    float scaled = bitsFloat(absBits) * 16777216.0f; // exact power-of-2 scale
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t mantissa = absBits & 0x7fffffu;
  uint32_t exponent = (absBits >> 23) - 127 + 15;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
    ++half;
  return sign | static_cast<uint16_t>(half);
}

float f16ToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31)
    return bitsFloat(sign | 0x7f800000u | (mantissa << 13));
  return bitsFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

uint8_t floatToFp8(float value) {
  uint32_t bits = floatBits(value);
  uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  uint32_t absBits = bits & 0x7fffffffu;
  if (absBits > 0x7f800000u)
    return sign | 0x7f;
  float magnitude = bitsFloat(absBits);
  if (magnitude >= 448.0f)
    return sign | 0x7e;      // saturate (E4M3 has no infinity)
  if (magnitude < 0.015625f) // below 2^-6: subnormal, unit 2^-9
    return sign | static_cast<uint8_t>(std::nearbyint(magnitude * 512.0f));
  uint32_t mantissa = absBits & 0x7fffffu;
  uint32_t exponent = (absBits >> 23) - 127 + 7;
  uint32_t code = (exponent << 3) | (mantissa >> 20);
  uint32_t rest = mantissa & 0xfffffu;
  if (rest > 0x80000u || (rest == 0x80000u && (code & 1u)))
    ++code;
  if (code > 0x7eu)
    code = 0x7eu;
  return sign | static_cast<uint8_t>(code);
}

float fp8ToFloat(uint8_t bits) {
  float sign = (bits & 0x80u) ? -1.0f : 1.0f;
  uint32_t exponent = (bits >> 3) & 0xfu;
  uint32_t mantissa = bits & 0x7u;
  if (exponent == 15 && mantissa == 7)
    return std::numeric_limits<float>::quiet_NaN();
  if (exponent == 0)
    return sign * std::ldexp(static_cast<float>(mantissa), -9);
  return sign *
         std::ldexp(1.0f + mantissa / 8.0f, static_cast<int>(exponent) - 7);
}

float loadElement(DType type, const uint8_t *src) {
  switch (type) {
  case DType::F32: {
    float value;
    std::memcpy(&value, src, 4);
    return value;
  }
  case DType::BF16:
  case DType::F16: {
    uint16_t bits;
    std::memcpy(&bits, src, 2);
    return type == DType::BF16 ? bf16ToFloat(bits) : f16ToFloat(bits);
  }
  case DType::FP8:
    return fp8ToFloat(*src);
  case DType::Bool:
    return *src != 0 ? 1.0f : 0.0f;
  default: {
    float value = 0.0f;
    visitInt(type, [&](auto v) {
      value = static_cast<float>(loadInt<decltype(v)>(src));
    });
    return value;
  }
  }
}

void storeElement(DType type, uint8_t *dst, float value) {
  switch (type) {
  case DType::F32:
    std::memcpy(dst, &value, 4);
    return;
  case DType::BF16:
  case DType::F16: {
    uint16_t bits =
        type == DType::BF16 ? floatToBf16(value) : floatToF16(value);
    std::memcpy(dst, &bits, 2);
    return;
  }
  case DType::FP8:
    *dst = floatToFp8(value);
    return;
  case DType::Bool:
    *dst = value != 0.0f ? 1 : 0;
    return;
  default:
    visitInt(type,
             [&](auto v) { storeInt(dst, saturateRound<decltype(v)>(value)); });
    return;
  }
}

double loadElementF64(DType type, const uint8_t *src) {
  if (type == DType::Bool || !isFloatType(type))
    return static_cast<double>(loadElementI64(type, src));
  return static_cast<double>(loadElement(type, src));
}

int64_t loadElementI64(DType type, const uint8_t *src) {
  if (type == DType::Bool)
    return *src != 0 ? 1 : 0;
  int64_t value = 0;
  if (visitInt(type, [&](auto v) {
        value = static_cast<int64_t>(loadInt<decltype(v)>(src));
      }))
    return value;
  return truncSaturate<int64_t>(loadElementF64(type, src));
}

void storeElementF64(DType type, uint8_t *dst, double value) {
  switch (type) {
  case DType::F32: {
    float f = static_cast<float>(value);
    std::memcpy(dst, &f, 4);
    return;
  }
  case DType::BF16:
  case DType::F16:
  case DType::FP8:
    // Round to odd into fp32 first: a second RNE rounding to a format with
    // at least two fewer significand bits is then exact RNE of the double.
    storeElement(type, dst, roundToOddFloat(value));
    return;
  case DType::Bool:
    *dst = value != 0.0 ? 1 : 0; // NaN != 0
    return;
  default:
    visitInt(type,
             [&](auto v) { storeInt(dst, truncSaturate<decltype(v)>(value)); });
    return;
  }
}

void storeElementI64(DType type, uint8_t *dst, int64_t value) {
  if (type == DType::Bool) {
    *dst = value != 0 ? 1 : 0;
    return;
  }
  // Narrower integers keep the low bits (two's complement wrap).
  if (!visitInt(type, [&](auto v) {
        storeInt(dst, static_cast<decltype(v)>(value));
      }))
    storeElementF64(type, dst, static_cast<double>(value));
}

std::vector<uint8_t> encodeValues(DType type,
                                  const std::vector<float> &values) {
  unsigned size = dtypeBytes(type);
  std::vector<uint8_t> bytes(values.size() * size);
  for (size_t i = 0; i < values.size(); ++i)
    storeElement(type, bytes.data() + i * size, values[i]);
  return bytes;
}

std::vector<float> decodeValues(DType type, const uint8_t *bytes,
                                size_t count) {
  unsigned size = dtypeBytes(type);
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = loadElement(type, bytes + i * size);
  return values;
}

} // namespace gaon::npu_sim
