//===- Codegen.h - PTX and .gaon artifacts for the cuda target --*- C++ -*-===//

#ifndef GAON_BACKENDS_CUDA_CODEGEN_H
#define GAON_BACKENDS_CUDA_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"

#include <string>
#include <vector>

namespace gaon::cuda {

/// Registers what PTX generation needs beyond the dialects: the NVVM target
/// interface, ConvertToLLVM interfaces and the LLVM IR translations.
void registerCudaCodegenDependencies(mlir::DialectRegistry &registry);

/// The CUDA toolkit to take libdevice from: $GAON_CUDA_PATH, $CUDA_HOME,
/// $CUDA_PATH, else /usr/local/cuda.
std::string cudaToolkitPath();

/// Lowers every gpu.module of `module` (after buildCudaLoweringPipeline)
/// through NVVM to PTX for `arch` ("sm_90"), replacing them by gpu.binary
/// ops; libdevice from the toolkit provides the math functions.
mlir::LogicalResult serializeKernelsToPtx(mlir::ModuleOp module,
                                          llvm::StringRef arch);

/// The PTX text of every gpu.binary in `module`, with its symbol name.
std::vector<std::pair<std::string, std::string>>
collectPtx(mlir::ModuleOp module);

struct CudaEmitOptions {
  std::string target = "cuda"; ///< recorded in the artifact
  std::string arch = "sm_90";
  std::string modelName;
};

/// Turns a serialized module into a cuda-plan program (cuBLASLt matmuls,
/// generated kernels, fused attention) with a static memory plan, and
/// writes the artifact to `path` atomically. Errors name the op.
mlir::LogicalResult emitCudaArtifact(mlir::ModuleOp module,
                                     const std::string &path,
                                     const CudaEmitOptions &options);

} // namespace gaon::cuda

#endif // GAON_BACKENDS_CUDA_CODEGEN_H
