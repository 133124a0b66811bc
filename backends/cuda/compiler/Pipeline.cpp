//===- Pipeline.cpp - The CUDA backend pass pipeline ----------------------===//

#include "gaon/Backends/Cuda/Passes.h"

#include "mlir/Transforms/Passes.h"

namespace gaon::cuda {

void buildCudaLoweringPipeline(mlir::OpPassManager &pm) {
  pm.addNestedPass<mlir::func::FuncOp>(createCudaMergeSiblingMatmuls());
  pm.addNestedPass<mlir::func::FuncOp>(createCudaFormMatmuls());
  pm.addNestedPass<mlir::func::FuncOp>(createCudaFoldAttentionLayouts());
  pm.addNestedPass<mlir::func::FuncOp>(createCudaFormFusions());
  pm.addNestedPass<mlir::func::FuncOp>(createCudaFusionsToLinalg());
  pm.addPass(createCudaLowerFusions());
}

std::string cudaArchOfTarget(llvm::StringRef target, std::string &error) {
  auto [name, arch] = target.split(':');
  if (name != "cuda") {
    error = "not a cuda target: '" + target.str() + "'";
    return "";
  }
  if (arch.empty())
    return "sm_90";
  if (arch == "sm_90" || arch == "sm_80" || arch == "sm_89" ||
      arch == "sm_86" || arch == "sm_100")
    return arch.str();
  error = "unknown cuda architecture '" + arch.str() +
          "' (available: sm_90 (default), sm_80, sm_86, sm_89, sm_100)";
  return "";
}

} // namespace gaon::cuda
