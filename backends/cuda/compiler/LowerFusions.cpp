//===- LowerFusions.cpp - One generated gpu.func per fusion ---------------===//

#include "KernelEmitter.h"

#include "gaon/Backends/Cuda/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace gaon::cuda {
#define GEN_PASS_DEF_CUDALOWERFUSIONS
#include "gaon/Backends/Cuda/Passes.h.inc"
} // namespace gaon::cuda

using namespace mlir;

namespace gaon::cuda {
namespace {

constexpr StringLiteral kKernelModuleName = "gaon_kernels";

struct CudaLowerFusionsPass : impl::CudaLowerFusionsBase<CudaLowerFusionsPass> {
  using CudaLowerFusionsBase::CudaLowerFusionsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<FusionOp> fusions;
    module.walk([&](FusionOp op) { fusions.push_back(op); });
    if (fusions.empty())
      return;
    if (blockSize < 32 || blockSize > 1024 || blockSize % 32 != 0) {
      module.emitError("block-size must be a multiple of 32 in [32, 1024]");
      return signalPassFailure();
    }

    OpBuilder b(module.getBodyRegion());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
    if (!gpuModule) {
      b.setInsertionPointToEnd(module.getBody());
      gpuModule =
          gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModuleName);
    }

    unsigned counter = 0;
    bool failed = false;
    for (FusionOp fusion : fusions) {
      std::string name;
      do {
        name = "fusion_" + std::to_string(counter++);
      } while (gpuModule.lookupSymbol(name));
      FailureOr<LaunchShape> shape =
          emitFusionKernel(fusion, gpuModule, name, blockSize);
      if (mlir::failed(shape)) {
        failed = true;
        continue;
      }
      b.setInsertionPoint(fusion);
      auto kernel =
          SymbolRefAttr::get(b.getStringAttr(kKernelModuleName),
                             {FlatSymbolRefAttr::get(b.getContext(), name)});
      auto launch = LaunchOp::create(
          b, fusion.getLoc(), fusion.getResultTypes(), kernel,
          fusion.getInputs(), b.getDenseI32ArrayAttr(shape->grid),
          b.getDenseI32ArrayAttr(shape->block), b.getI32IntegerAttr(0));
      fusion.replaceAllUsesWith(launch.getResults());
      fusion.erase();
    }
    if (failed)
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon::cuda
