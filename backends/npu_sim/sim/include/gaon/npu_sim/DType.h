//===- DType.h - Element types of the simulated NPU -------------*- C++ -*-===//
//
// Element types the tensor and vector units understand, and the conversions
// the chip applies when it stores a value (round to nearest even, saturating
// integers). Kept free of the rest of the simulator so drivers can use it to
// prepare DRAM images.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_DTYPE_H
#define GAON_NPU_SIM_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gaon::npu_sim {

/// Every error the simulator reports (bad chip file, corrupt stream, invalid
/// program, deadlock) is a SimError whose message names what is wrong.
class SimError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class DType : uint8_t {
  F32 = 0,
  BF16 = 1,
  F16 = 2,
  FP8 = 3,
  I8 = 4,
  I32 = 5,
  I64 = 6,
  Bool = 7, ///< One byte holding 0 or 1; loads treat any non-zero byte as 1.
  // Storage types of the vector unit and the DMA (quantized uint8
  // activations, ONNX's narrow integers); the tensor unit runs none of them.
  U8 = 8,
  I16 = 9,
  U16 = 10,
  U32 = 11,
};
constexpr int kNumDTypes = 12;

/// Size of one element in bytes.
unsigned dtypeBytes(DType type);
/// Canonical name: fp32, bf16, fp16, fp8 (e4m3), int8, int32, int64, bool,
/// uint8, int16, uint16, uint32.
const char *dtypeName(DType type);
/// Every canonical name, comma-separated, for messages.
const char *dtypeNameList();
std::optional<DType> parseDType(std::string_view name);
/// fp32, bf16, fp16, fp8. (The integer types and bool are not.)
bool isFloatType(DType type);

uint16_t floatToBf16(float value);
float bf16ToFloat(uint16_t bits);
uint16_t floatToF16(float value);
float f16ToFloat(uint16_t bits);
/// OCP FP8 E4M3 (no infinities, saturates at +-448).
uint8_t floatToFp8(float value);
float fp8ToFloat(uint8_t bits);

/// Reads one element and widens it to float.
float loadElement(DType type, const uint8_t *src);
/// Stores one element with the chip's rounding (RNE; integers saturate).
void storeElement(DType type, uint8_t *dst, float value);

/// Exact loads for the vector unit: integers and bool widen to int64,
/// everything widens exactly to double (int64 beyond 2^53 rounds).
double loadElementF64(DType type, const uint8_t *src);
int64_t loadElementI64(DType type, const uint8_t *src);
/// Vector-unit stores. From double: float types round to nearest even
/// (once, with no double rounding through fp32), integers truncate toward
/// zero and saturate (NaN -> 0), bool is `value != 0` (NaN -> 1).
void storeElementF64(DType type, uint8_t *dst, double value);
/// From int64: float types round to nearest even, narrower integers wrap
/// (two's complement, as C++ and numpy casts do), bool is `value != 0`.
void storeElementI64(DType type, uint8_t *dst, int64_t value);

/// Packs floats into the byte image of `type` (for loading DRAM).
std::vector<uint8_t> encodeValues(DType type, const std::vector<float> &values);
/// Unpacks `count` elements of `type` into floats (for reading DRAM back).
std::vector<float> decodeValues(DType type, const uint8_t *bytes, size_t count);

} // namespace gaon::npu_sim

#endif // GAON_NPU_SIM_DTYPE_H
