//===- Passes.h - CUDA backend passes ---------------------------*- C++ -*-===//

#ifndef GAON_BACKENDS_CUDA_PASSES_H
#define GAON_BACKENDS_CUDA_PASSES_H

#include "gaon/Dialect/Cuda/CudaDialect.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace gaon::cuda {

#define GEN_PASS_DECL
#include "gaon/Backends/Cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "gaon/Backends/Cuda/Passes.h.inc"

/// The CUDA passes from gaon.graph to gaon_cuda launches, matmuls and
/// attention ops with generated gpu.funcs (before PTX serialization).
void buildCudaLoweringPipeline(mlir::OpPassManager &pm);

/// The GPU architecture of a target string: "cuda" -> "sm_90",
/// "cuda:sm_80" -> "sm_80"; empty with `error` set when it is not one
/// Gaon generates code for.
std::string cudaArchOfTarget(llvm::StringRef target, std::string &error);

} // namespace gaon::cuda

#endif // GAON_BACKENDS_CUDA_PASSES_H
