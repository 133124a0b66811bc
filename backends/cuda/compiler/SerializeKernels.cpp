//===- SerializeKernels.cpp - gpu.module -> NVVM -> PTX -------------------===//
//
// The upstream path: SCF to CF, gpu to NVVM (bare-pointer kernel
// arguments, so the runtime passes one device pointer per tensor), then
// gpu-module-to-binary in "isa" form, which is PTX text. This is the only
// file that includes the NVVM headers (they are slow to compile).
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/Cuda/Codegen.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#include <cstdlib>

using namespace mlir;

namespace gaon::cuda {

void registerCudaCodegenDependencies(DialectRegistry &registry) {
  registry.insert<NVVM::NVVMDialect, LLVM::LLVMDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
}

std::string cudaToolkitPath() {
  for (const char *var : {"GAON_CUDA_PATH", "CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(var); value && *value)
      return value;
  return "/usr/local/cuda";
}

/// The most elements of any memref a generated kernel takes.
static int64_t maxKernelElements(ModuleOp module) {
  int64_t most = 0;
  module.walk([&](gpu::GPUFuncOp func) {
    for (Type type : func.getArgumentTypes())
      if (auto memref = dyn_cast<MemRefType>(type))
        most = std::max(most, memref.getNumElements());
  });
  return most;
}

LogicalResult serializeKernelsToPtx(ModuleOp module, StringRef arch) {
  if (module.getOps<gpu::GPUModuleOp>().empty())
    return success();
  PassManager pm(module.getContext());
  GpuNVVMAttachTargetOptions target;
  target.chip = arch.str();
  target.optLevel = 3;
  // PTX ISA 8.0 is understood by every CUDA 12+ driver and covers up to
  // sm_90; Blackwell (sm_100) needs 8.6.
  target.features = arch == "sm_100" ? "+ptx86" : "+ptx80";
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToNVVMOpsOptions toNvvm;
  toNvvm.useBarePtrCallConv = true;
  // 32-bit index arithmetic (the elemental kernels divide indices by the
  // shape's constants) is several times cheaper than 64-bit on the GPU;
  // it is exact while every kernel tensor has fewer than 2^31 elements.
  if (maxKernelElements(module) < (int64_t(1) << 31))
    toNvvm.indexBitwidth = 32;
  kernels.addPass(createConvertGpuOpsToNVVMOps(toNvvm));
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  binary.toolkitPath = cudaToolkitPath();
  pm.addPass(createGpuModuleToBinaryPass(binary));
  return pm.run(module);
}

std::vector<std::pair<std::string, std::string>> collectPtx(ModuleOp module) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        out.emplace_back(binary.getSymName().str(),
                         object.getObject().getValue().str());
  return out;
}

} // namespace gaon::cuda
