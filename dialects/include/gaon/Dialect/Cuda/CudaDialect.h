//===- CudaDialect.h - gaon.cuda dialect ------------------------*- C++ -*-===//

#ifndef GAON_DIALECT_CUDA_CUDADIALECT_H
#define GAON_DIALECT_CUDA_CUDADIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "gaon/Dialect/Cuda/CudaDialect.h.inc"

#define GET_OP_CLASSES
#include "gaon/Dialect/Cuda/CudaOps.h.inc"

#endif // GAON_DIALECT_CUDA_CUDADIALECT_H
