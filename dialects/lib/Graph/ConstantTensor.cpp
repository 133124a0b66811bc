//===- ConstantTensor.cpp - Host copies of constant tensors ---------------===//

#include "gaon/Dialect/Graph/ConstantTensor.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/APFloat.h"

#include <cmath>
#include <cstring>

using namespace mlir;

namespace gaon::graph {

static int64_t storageBytes(Type elementType) {
  if (elementType.isInteger(1))
    return 1;
  if (!elementType.isIntOrFloat())
    return 0;
  return (elementType.getIntOrFloatBitWidth() + 7) / 8;
}

SmallVector<int64_t> computeStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

ConstantTensor::ConstantTensor(RankedTensorType type)
    : type(type), numElements(type.getNumElements()),
      elementBytes(storageBytes(type.getElementType())),
      encoding(encodingOf(type.getElementType())),
      data(size_t(numElements * elementBytes), 0) {}

ConstantTensor::ConstantTensor(RankedTensorType type, Uninitialized)
    : type(type), numElements(type.getNumElements()),
      elementBytes(storageBytes(type.getElementType())),
      encoding(encodingOf(type.getElementType())) {
  data.resize_for_overwrite(size_t(numElements * elementBytes));
}

ConstantTensor ConstantTensor::concatLastAxis(ArrayRef<ConstantTensor> parts,
                                              RankedTensorType type) {
  ConstantTensor result(type);
  int64_t total = type.getRank() ? type.getShape().back() : 1;
  int64_t rows = total ? type.getNumElements() / total : 0;
  int64_t bytes = result.getElementBytes(), column = 0;
  for (const ConstantTensor &part : parts) {
    int64_t width = part.getShape().empty() ? 1 : part.getShape().back();
    assert(part.getElementBytes() == bytes &&
           part.getNumElements() == rows * width && "mismatched part");
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(result.data.data() + (r * total + column) * bytes,
                  part.data.data() + r * width * bytes, width * bytes);
    column += width;
  }
  return result;
}

std::optional<ConstantTensor> ConstantTensor::fromBytes(RankedTensorType type,
                                                        ArrayRef<char> bytes) {
  if (!type.hasStaticShape() || storageBytes(type.getElementType()) == 0)
    return std::nullopt;
  ConstantTensor result(type, Uninitialized{});
  if (int64_t(bytes.size()) != result.numElements * result.elementBytes)
    return std::nullopt;
  std::memcpy(result.data.data(), bytes.data(), bytes.size());
  return result;
}

std::optional<ConstantTensor> ConstantTensor::fromAttr(Attribute attr) {
  auto elements = dyn_cast_or_null<ElementsAttr>(attr);
  if (!elements)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(elements.getShapedType());
  if (!type || !type.hasStaticShape() ||
      storageBytes(type.getElementType()) == 0)
    return std::nullopt;
  ConstantTensor result(type, Uninitialized{});
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (type.getElementType().isInteger(1)) {
      int64_t i = 0;
      for (bool value : dense.getValues<bool>())
        result.data[i++] = value ? 1 : 0;
      return result;
    }
    ArrayRef<char> raw = dense.getRawData();
    if (dense.isSplat()) {
      for (int64_t i = 0; i < result.numElements; ++i)
        std::memcpy(&result.data[i * result.elementBytes], raw.data(),
                    result.elementBytes);
      return result;
    }
    if (int64_t(raw.size()) != int64_t(result.data.size()))
      return std::nullopt;
    std::memcpy(result.data.data(), raw.data(), raw.size());
    return result;
  }
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob || type.getElementType().isInteger(1))
      return std::nullopt;
    ArrayRef<char> raw = blob->getData();
    if (int64_t(raw.size()) != int64_t(result.data.size()))
      return std::nullopt;
    std::memcpy(result.data.data(), raw.data(), raw.size());
    return result;
  }
  return std::nullopt;
}

ElementsAttr ConstantTensor::toAttr(StringRef blobName) const & {
  Type elementType = type.getElementType();
  if (elementType.isInteger(1)) {
    SmallVector<bool> values(numElements);
    for (int64_t i = 0; i < numElements; ++i)
      values[i] = data[i] != 0;
    return DenseElementsAttr::get(type, values);
  }
  if (numElements <= kMaxInlineElements)
    return DenseElementsAttr::getFromRawBuffer(type, data);
  size_t align = std::max<size_t>(elementBytes, 8);
  return DenseResourceElementsAttr::get(
      type, blobName,
      HeapAsmResourceBlob::allocateAndCopyWithAlign(data, align));
}

ElementsAttr ConstantTensor::toAttr(StringRef blobName) && {
  size_t align = std::max<size_t>(elementBytes, 8);
  if (type.getElementType().isInteger(1) || numElements <= kMaxInlineElements ||
      reinterpret_cast<uintptr_t>(data.data()) % align != 0)
    return static_cast<const ConstantTensor &>(*this).toAttr(blobName);
  auto *owned = new llvm::SmallVector<char, 0>(std::move(data));
  AsmResourceBlob blob(
      ArrayRef<char>(*owned), align,
      [owned](void *, size_t, size_t) { delete owned; },
      /*dataIsMutable=*/true);
  return DenseResourceElementsAttr::get(type, blobName, std::move(blob));
}

std::optional<ArrayRef<char>> viewElementBytes(Attribute attr) {
  auto elements = dyn_cast_or_null<ElementsAttr>(attr);
  if (!elements || elements.getElementType().isInteger(1) ||
      !elements.getElementType().isIntOrFloat())
    return std::nullopt;
  auto type = elements.getShapedType();
  int64_t bytes = type.getNumElements() *
                  ((elements.getElementType().getIntOrFloatBitWidth() + 7) / 8);
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (blob && int64_t(blob->getData().size()) == bytes)
      return blob->getData();
    return std::nullopt;
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(attr);
      dense && !dense.isSplat() && int64_t(dense.getRawData().size()) == bytes)
    return dense.getRawData();
  return std::nullopt;
}

std::optional<ArrayRef<char>>
readElementBytes(Attribute attr, std::optional<ConstantTensor> &storage) {
  if (auto view = viewElementBytes(attr))
    return view;
  storage = ConstantTensor::fromAttr(attr);
  if (!storage)
    return std::nullopt;
  return ArrayRef<char>(storage->bytes());
}

bool ConstantTensor::isFloat() const { return encoding != Encoding::Integer; }

bool ConstantTensor::isUnsigned() const {
  return type.getElementType().isUnsignedInteger();
}

static uint64_t loadBits(const char *ptr, int64_t bytes) {
  uint64_t bits = 0;
  std::memcpy(&bits, ptr, bytes); // little-endian host
  return bits;
}

namespace {

/// A 16-bit IEEE-style float format: bf16 (8 exponent bits) or f16 (5).
struct Half16 {
  int mantissaBits, exponentBias;
};
constexpr Half16 kBF16{7, 127}, kF16{10, 15};

/// Normal 16-bit values widened exactly (weights are converted and read
/// element by element: APFloat took ~100 ns per element, seconds for a
/// model). Zeros, subnormals, infinities and NaNs go to APFloat.
std::optional<double> widenHalf16(uint16_t bits, Half16 f) {
  const int e = (bits >> f.mantissaBits) & ((1 << (15 - f.mantissaBits)) - 1);
  if (e == 0 || e == (1 << (15 - f.mantissaBits)) - 1)
    return std::nullopt;
  const double mantissa = 1.0 + double(bits & ((1 << f.mantissaBits) - 1)) /
                                    double(1 << f.mantissaBits);
  const double v = std::ldexp(mantissa, e - f.exponentBias);
  return (bits >> 15) ? -v : v;
}

/// `v` rounded to nearest-even in one step, when the result is a normal
/// number (as APFloat's conversion rounds it); otherwise nullopt.
std::optional<uint16_t> narrowToHalf16(double v, Half16 f) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  const int e = int((bits >> 52) & 0x7ff) - 1023;
  const int maxExponent = (1 << (14 - f.mantissaBits)) - 1; // bias
  if (e < 1 - f.exponentBias || e > maxExponent)
    return std::nullopt;
  const int drop = 52 - f.mantissaBits;
  uint64_t keep = (bits & ((1ull << 52) - 1)) >> drop;
  const uint64_t rest = bits & ((1ull << drop) - 1), half = 1ull << (drop - 1);
  if (rest > half || (rest == half && (keep & 1)))
    ++keep;
  uint64_t exponent = uint64_t(e + f.exponentBias);
  if (keep >> f.mantissaBits) { // the mantissa rounded up to 2
    keep = 0;
    ++exponent;
  }
  if (exponent >= uint64_t(1 << (15 - f.mantissaBits)) - 1)
    return std::nullopt; // rounds to infinity
  return uint16_t((bits >> 63) << 15 | exponent << f.mantissaBits | keep);
}

} // namespace

ConstantTensor::Encoding ConstantTensor::encodingOf(Type elementType) {
  auto floatType = dyn_cast<FloatType>(elementType);
  if (!floatType)
    return Encoding::Integer;
  if (floatType.isF32())
    return Encoding::F32;
  if (floatType.isF64())
    return Encoding::F64;
  if (floatType.isBF16())
    return Encoding::BF16;
  if (floatType.isF16())
    return Encoding::F16;
  return Encoding::OtherFloat;
}

double ConstantTensor::getDouble(int64_t index) const {
  const char *ptr = &data[index * elementBytes];
  switch (encoding) {
  case Encoding::F32: {
    float value;
    std::memcpy(&value, ptr, 4);
    return value;
  }
  case Encoding::F64: {
    double value;
    std::memcpy(&value, ptr, 8);
    return value;
  }
  case Encoding::BF16: {
    // bf16 is the top half of an fp32: exact for every value.
    uint16_t half;
    std::memcpy(&half, ptr, 2);
    uint32_t bits = uint32_t(half) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  case Encoding::F16: {
    uint16_t bits;
    std::memcpy(&bits, ptr, 2);
    if (std::optional<double> v = widenHalf16(bits, kF16))
      return *v;
    [[fallthrough]];
  }
  case Encoding::OtherFloat: {
    auto floatType = cast<FloatType>(type.getElementType());
    unsigned width = floatType.getWidth();
    llvm::APFloat value(floatType.getFloatSemantics(),
                        llvm::APInt(width, loadBits(ptr, elementBytes)));
    return value.convertToDouble();
  }
  case Encoding::Integer:
    break;
  }
  if (isUnsigned())
    return double(uint64_t(getInt(index)));
  return double(getInt(index));
}

int64_t ConstantTensor::getInt(int64_t index) const {
  if (isFloat())
    return int64_t(getDouble(index));
  const char *ptr = &data[index * elementBytes];
  uint64_t bits = loadBits(ptr, elementBytes);
  unsigned width = type.getElementType().getIntOrFloatBitWidth();
  if (width == 1)
    return bits != 0;
  if (width < 64 && !isUnsigned() && (bits >> (width - 1)) & 1)
    bits |= ~uint64_t(0) << width; // sign-extend
  return int64_t(bits);
}

void ConstantTensor::setDouble(int64_t index, double value) {
  char *ptr = &data[index * elementBytes];
  switch (encoding) {
  case Encoding::Integer:
    return setInt(index, int64_t(value));
  case Encoding::F32: {
    float narrowed = float(value);
    std::memcpy(ptr, &narrowed, 4);
    return;
  }
  case Encoding::F64:
    std::memcpy(ptr, &value, 8);
    return;
  case Encoding::BF16:
  case Encoding::F16:
    if (std::optional<uint16_t> bits =
            narrowToHalf16(value, encoding == Encoding::BF16 ? kBF16 : kF16)) {
      std::memcpy(ptr, &*bits, 2);
      return;
    }
    break;
  case Encoding::OtherFloat:
    break;
  }
  llvm::APFloat converted(value);
  bool losesInfo = false;
  converted.convert(cast<FloatType>(type.getElementType()).getFloatSemantics(),
                    llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  uint64_t bits = converted.bitcastToAPInt().getZExtValue();
  std::memcpy(ptr, &bits, elementBytes);
}

void ConstantTensor::setInt(int64_t index, int64_t value) {
  if (isFloat())
    return setDouble(index, double(value));
  char *ptr = &data[index * elementBytes];
  if (type.getElementType().isInteger(1)) {
    *ptr = value != 0;
    return;
  }
  std::memcpy(ptr, &value, elementBytes); // truncating two's complement
}

SmallVector<int64_t> ConstantTensor::getInts() const {
  SmallVector<int64_t> values(numElements);
  for (int64_t i = 0; i < numElements; ++i)
    values[i] = getInt(i);
  return values;
}

} // namespace gaon::graph
