//===- NpuDialect.cpp - gaon.npu dialect ----------------------------------===//

#include "gaon/Dialect/Npu/NpuDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace gaon::npu;

#include "gaon/Dialect/Npu/NpuDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "gaon/Dialect/Npu/NpuAttrs.cpp.inc"

void NpuDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "gaon/Dialect/Npu/NpuAttrs.cpp.inc"
      >();
}
