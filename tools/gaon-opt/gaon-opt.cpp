//===- gaon-opt.cpp - mlir-opt with Gaon's dialects and passes ------------===//

#ifdef GAON_WITH_CUDA
#include "gaon/Backends/Cuda/Passes.h"
#endif
#ifdef GAON_WITH_NPU_SIM
#include "gaon/Backends/NpuSim/Passes.h"
#endif
#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<gaon::graph::GraphDialect, mlir::func::FuncDialect>();
#ifdef GAON_WITH_CUDA
  registry.insert<gaon::cuda::CudaDialect, mlir::gpu::GPUDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect>();
  gaon::cuda::registerGaonCudaPasses();
#endif
#ifdef GAON_WITH_NPU_SIM
  registry.insert<gaon::npu::NpuDialect>();
  gaon::npu::registerGaonNpuPasses();
#endif
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  gaon::registerTransformsPassesAndPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Gaon optimizer driver\n", registry));
}
