// Element type sizes, names and scalar conversions.
#include "gaon/runtime/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace gaon::rt {

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F64:
  case DType::I64:
  case DType::U64:
    return 8;
  case DType::F32:
  case DType::I32:
  case DType::U32:
    return 4;
  case DType::F16:
  case DType::BF16:
  case DType::I16:
  case DType::U16:
    return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool:
  case DType::F8E4M3FN:
  case DType::F8E5M2:
    return 1;
  case DType::Invalid:
    return 0;
  }
  return 0;
}

bool isValidDType(int32_t value) {
  return dtypeSize(static_cast<DType>(value)) != 0;
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::U8:
    return "u8";
  case DType::I8:
    return "i8";
  case DType::U16:
    return "u16";
  case DType::I16:
    return "i16";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::Bool:
    return "bool";
  case DType::F16:
    return "f16";
  case DType::F64:
    return "f64";
  case DType::U32:
    return "u32";
  case DType::U64:
    return "u64";
  case DType::BF16:
    return "bf16";
  case DType::F8E4M3FN:
    return "f8e4m3fn";
  case DType::F8E5M2:
    return "f8e5m2";
  case DType::Invalid:
    break;
  }
  return "invalid";
}

std::optional<DType> parseDType(const std::string &name) {
  for (int32_t value = 1; value < 32; ++value) {
    DType dtype = static_cast<DType>(value);
    if (isValidDType(value) && name == dtypeName(dtype))
      return dtype;
  }
  return std::nullopt;
}

std::optional<uint64_t> elementCount(const std::vector<int64_t> &shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 && count > UINT64_MAX / static_cast<uint64_t>(dim))
      return std::nullopt;
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

std::optional<uint64_t> tensorByteSize(DType dtype,
                                       const std::vector<int64_t> &shape) {
  size_t size = dtypeSize(dtype);
  auto count = elementCount(shape);
  if (size == 0 || !count || *count > UINT64_MAX / size)
    return std::nullopt;
  return *count * size;
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = (bits >> 15) & 1, exponent = (bits >> 10) & 0x1f,
           mantissa = bits & 0x3ff;
  float value;
  if (exponent == 0)
    value = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(static_cast<float>(mantissa | 0x400),
                       static_cast<int>(exponent) - 25);
  return sign ? -value : value;
}

uint16_t floatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  if (std::isnan(value))
    return sign | 0x7e00;
  float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f)
    return sign | 0x7c00;
  if (magnitude < std::ldexp(1.0f, -25))
    return sign;
  int exponent;
  std::frexp(magnitude, &exponent); // magnitude = m * 2^exponent, m in [.5,1)
  int halfExponent = exponent - 1 + 15;
  if (halfExponent <= 0) // subnormal: units of 2^-24
    return sign |
           static_cast<uint16_t>(std::nearbyint(std::ldexp(magnitude, 24)));
  uint32_t mantissa = static_cast<uint32_t>(
      std::nearbyint(std::ldexp(magnitude, 11 - exponent))); // in [1024,2048]
  if (mantissa == 2048) {
    mantissa = 1024;
    ++halfExponent;
  }
  if (halfExponent >= 31)
    return sign | 0x7c00;
  return sign | static_cast<uint16_t>(halfExponent << 10) |
         static_cast<uint16_t>(mantissa & 0x3ff);
}

float bf16ToFloat(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if (std::isnan(value))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

namespace {
template <typename T> T loadRaw(const uint8_t *p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}
template <typename T> void storeRaw(T value, uint8_t *p) {
  std::memcpy(p, &value, sizeof(T));
}
template <typename T> T clampTo(double value) {
  if (std::isnan(value))
    return T(0);
  double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (value <= lo)
    return std::numeric_limits<T>::lowest();
  if (value >= hi)
    return std::numeric_limits<T>::max();
  return static_cast<T>(std::nearbyint(value));
}
} // namespace

double loadAsDouble(DType dtype, const uint8_t *p) {
  switch (dtype) {
  case DType::F32:
    return loadRaw<float>(p);
  case DType::F64:
    return loadRaw<double>(p);
  case DType::F16:
    return halfToFloat(loadRaw<uint16_t>(p));
  case DType::BF16:
    return bf16ToFloat(loadRaw<uint16_t>(p));
  case DType::I8:
    return loadRaw<int8_t>(p);
  case DType::U8:
  case DType::F8E4M3FN: // statistics over fp8 read the raw byte
  case DType::F8E5M2:
    return loadRaw<uint8_t>(p);
  case DType::Bool:
    return loadRaw<uint8_t>(p) ? 1.0 : 0.0;
  case DType::I16:
    return loadRaw<int16_t>(p);
  case DType::U16:
    return loadRaw<uint16_t>(p);
  case DType::I32:
    return loadRaw<int32_t>(p);
  case DType::U32:
    return loadRaw<uint32_t>(p);
  case DType::I64:
    return static_cast<double>(loadRaw<int64_t>(p));
  case DType::U64:
    return static_cast<double>(loadRaw<uint64_t>(p));
  case DType::Invalid:
    break;
  }
  return 0;
}

void storeFromDouble(DType dtype, double value, uint8_t *p) {
  switch (dtype) {
  case DType::F32:
    return storeRaw(static_cast<float>(value), p);
  case DType::F64:
    return storeRaw(value, p);
  case DType::F16:
    return storeRaw(floatToHalf(static_cast<float>(value)), p);
  case DType::BF16:
    return storeRaw(floatToBf16(static_cast<float>(value)), p);
  case DType::I8:
    return storeRaw(clampTo<int8_t>(value), p);
  case DType::U8:
  case DType::F8E4M3FN:
  case DType::F8E5M2:
    return storeRaw(clampTo<uint8_t>(value), p);
  case DType::Bool:
    return storeRaw<uint8_t>(value != 0 ? 1 : 0, p);
  case DType::I16:
    return storeRaw(clampTo<int16_t>(value), p);
  case DType::U16:
    return storeRaw(clampTo<uint16_t>(value), p);
  case DType::I32:
    return storeRaw(clampTo<int32_t>(value), p);
  case DType::U32:
    return storeRaw(clampTo<uint32_t>(value), p);
  case DType::I64:
    return storeRaw(clampTo<int64_t>(value), p);
  case DType::U64:
    return storeRaw(clampTo<uint64_t>(value), p);
  case DType::Invalid:
    break;
  }
}

} // namespace gaon::rt
