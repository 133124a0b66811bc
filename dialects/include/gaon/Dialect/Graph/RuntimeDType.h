//===- RuntimeDType.h - Graph element types as runtime dtypes -*- C++ -*-===//
//
// The runtime's name (artifact bindings, HAL buffers, tensor files) of each
// element type a gaon.graph tensor can have. Every backend's artifact
// writer and the Python bindings use this one mapping; a backend that runs
// fewer types narrows it (backends/npu_sim/compiler/ElementTypes.h).
//
//===----------------------------------------------------------------------===//

#ifndef GAON_DIALECT_GRAPH_RUNTIMEDTYPE_H
#define GAON_DIALECT_GRAPH_RUNTIMEDTYPE_H

#include "gaon/runtime/dtype.h"

#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace gaon::graph {

/// The runtime dtype of `type`, or nullopt for types with none (i4, f8 of
/// other formats, complex, ...).
inline std::optional<rt::DType> runtimeDType(mlir::Type type) {
  if (type.isF32())
    return rt::DType::F32;
  if (type.isF16())
    return rt::DType::F16;
  if (type.isBF16())
    return rt::DType::BF16;
  if (type.isF64())
    return rt::DType::F64;
  if (type.isInteger(1))
    return rt::DType::Bool;
  auto integer = mlir::dyn_cast<mlir::IntegerType>(type);
  if (!integer)
    return std::nullopt;
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 8:
    return isUnsigned ? rt::DType::U8 : rt::DType::I8;
  case 16:
    return isUnsigned ? rt::DType::U16 : rt::DType::I16;
  case 32:
    return isUnsigned ? rt::DType::U32 : rt::DType::I32;
  case 64:
    return isUnsigned ? rt::DType::U64 : rt::DType::I64;
  default:
    return std::nullopt;
  }
}

} // namespace gaon::graph

#endif // GAON_DIALECT_GRAPH_RUNTIMEDTYPE_H
