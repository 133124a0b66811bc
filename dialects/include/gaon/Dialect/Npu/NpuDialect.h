//===- NpuDialect.h - gaon.npu dialect --------------------------*- C++ -*-===//

#ifndef GAON_DIALECT_NPU_NPUDIALECT_H
#define GAON_DIALECT_NPU_NPUDIALECT_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include "gaon/Dialect/Npu/NpuDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "gaon/Dialect/Npu/NpuAttrs.h.inc"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "gaon/Dialect/Npu/NpuOps.h.inc"

namespace gaon::npu {
/// Name of the module attribute holding the #gaon_npu.chip.
inline constexpr llvm::StringLiteral kChipAttrName = "gaon_npu.chip";
/// Name of the op attribute holding its #gaon_npu.schedule.
inline constexpr llvm::StringLiteral kScheduleAttrName = "gaon_npu.schedule";
} // namespace gaon::npu

#endif // GAON_DIALECT_NPU_NPUDIALECT_H
