// Element types shared by the artifact, the HAL and the tensor readers.
#ifndef GAON_RUNTIME_DTYPE_H
#define GAON_RUNTIME_DTYPE_H

#include "gaon/runtime.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gaon::rt {

enum class DType : int32_t {
  Invalid = GAON_DTYPE_INVALID,
  F32 = GAON_DTYPE_F32,
  U8 = GAON_DTYPE_U8,
  I8 = GAON_DTYPE_I8,
  U16 = GAON_DTYPE_U16,
  I16 = GAON_DTYPE_I16,
  I32 = GAON_DTYPE_I32,
  I64 = GAON_DTYPE_I64,
  Bool = GAON_DTYPE_BOOL,
  F16 = GAON_DTYPE_F16,
  F64 = GAON_DTYPE_F64,
  U32 = GAON_DTYPE_U32,
  U64 = GAON_DTYPE_U64,
  BF16 = GAON_DTYPE_BF16,
  F8E4M3FN = GAON_DTYPE_F8E4M3FN,
  F8E5M2 = GAON_DTYPE_F8E5M2,
};

// 0 for Invalid or an unknown value.
size_t dtypeSize(DType dtype);
bool isValidDType(int32_t value);
// "f32", "bf16", ...; "invalid" for unknown values.
const char *dtypeName(DType dtype);
std::optional<DType> parseDType(const std::string &name);

// Element count of a shape; nullopt when a dim is negative or it overflows.
std::optional<uint64_t> elementCount(const std::vector<int64_t> &shape);
// Byte size of a dense tensor; nullopt on invalid dtype/shape or overflow.
std::optional<uint64_t> tensorByteSize(DType dtype,
                                       const std::vector<int64_t> &shape);
// "[2, 3, 4]".
std::string shapeToString(const std::vector<int64_t> &shape);

// Conversions used for statistics and comparisons (any dtype <-> double).
double loadAsDouble(DType dtype, const uint8_t *element);
void storeFromDouble(DType dtype, double value, uint8_t *element);
float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
float bf16ToFloat(uint16_t bits);
uint16_t floatToBf16(float value);

} // namespace gaon::rt

#endif // GAON_RUNTIME_DTYPE_H
