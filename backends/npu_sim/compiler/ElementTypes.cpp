//===- ElementTypes.cpp - Element types the NPU backend lowers ------------===//

#include "ElementTypes.h"

#include "mlir/IR/BuiltinTypes.h"

namespace gaon::npu {

std::optional<std::pair<npu_sim::DType, rt::DType>>
npuElementTypes(mlir::Type type) {
  using S = npu_sim::DType;
  using R = rt::DType;
  if (type.isF32())
    return std::pair{S::F32, R::F32};
  if (type.isBF16())
    return std::pair{S::BF16, R::BF16};
  if (type.isF16())
    return std::pair{S::F16, R::F16};
  if (type.isInteger(1))
    return std::pair{S::Bool, R::Bool};
  auto integer = mlir::dyn_cast<mlir::IntegerType>(type);
  if (!integer)
    return std::nullopt;
  // uint64 is left out: the vector unit's integer path is int64.
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 8:
    return isUnsigned ? std::pair{S::U8, R::U8} : std::pair{S::I8, R::I8};
  case 16:
    return isUnsigned ? std::pair{S::U16, R::U16} : std::pair{S::I16, R::I16};
  case 32:
    return isUnsigned ? std::pair{S::U32, R::U32} : std::pair{S::I32, R::I32};
  case 64:
    if (!isUnsigned)
      return std::pair{S::I64, R::I64};
    return std::nullopt;
  default:
    return std::nullopt;
  }
}

const char *npuElementTypeList() {
  return "f32, bf16, f16, i1, i8, ui8, i16, ui16, i32, ui32, i64";
}

npu_sim::DType simElementType(mlir::Type type) {
  auto types = npuElementTypes(type);
  return types ? types->first : npu_sim::DType::F32;
}

rt::DType runtimeElementType(mlir::Type type) {
  auto types = npuElementTypes(type);
  return types ? types->second : rt::DType::F32;
}

} // namespace gaon::npu
