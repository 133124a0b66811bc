//===- ElementTypes.cpp - Element types the NPU backend lowers ------------===//

#include "ElementTypes.h"

#include "gaon/Dialect/Graph/RuntimeDType.h"

#include "mlir/IR/BuiltinTypes.h"

namespace gaon::npu {

std::optional<npu_sim::DType> npuElementType(mlir::Type type) {
  using S = npu_sim::DType;
  if (type.isF32())
    return S::F32;
  if (type.isBF16())
    return S::BF16;
  if (type.isF16())
    return S::F16;
  if (type.isInteger(1))
    return S::Bool;
  auto integer = mlir::dyn_cast<mlir::IntegerType>(type);
  if (!integer)
    return std::nullopt;
  // uint64 is left out: the vector unit's integer path is int64.
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 8:
    return isUnsigned ? S::U8 : S::I8;
  case 16:
    return isUnsigned ? S::U16 : S::I16;
  case 32:
    return isUnsigned ? S::U32 : S::I32;
  case 64:
    if (!isUnsigned)
      return S::I64;
    return std::nullopt;
  default:
    return std::nullopt;
  }
}

const char *npuElementTypeList() {
  return "f32, bf16, f16, i1, i8, ui8, i16, ui16, i32, ui32, i64";
}

npu_sim::DType simElementType(mlir::Type type) {
  return npuElementType(type).value_or(npu_sim::DType::F32);
}

rt::DType runtimeElementType(mlir::Type type) {
  return graph::runtimeDType(type).value_or(rt::DType::F32);
}

} // namespace gaon::npu
