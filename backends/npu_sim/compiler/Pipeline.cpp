//===- Pipeline.cpp - The NPU backend pass pipeline -----------------------===//

#include "gaon/Backends/NpuSim/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace gaon::npu {

void buildNpuPipeline(mlir::OpPassManager &pm, llvm::StringRef chip,
                      bool reuseMemory, bool fuseEpilogues, bool quantizeInt8) {
  pm.addPass(createNpuAttachChip(NpuAttachChipOptions{chip.str()}));
  pm.addNestedPass<mlir::func::FuncOp>(createNpuPrepare());
  if (fuseEpilogues) {
    pm.addNestedPass<mlir::func::FuncOp>(createNpuFuseEpilogues());
    pm.addNestedPass<mlir::func::FuncOp>(createNpuFuseSiblingMatmuls());
    pm.addNestedPass<mlir::func::FuncOp>(createNpuFoldNormAffine());
    pm.addNestedPass<mlir::func::FuncOp>(createNpuFoldAttentionLayouts());
    pm.addNestedPass<mlir::func::FuncOp>(createNpuFoldAttentionScale());
  }
  // After the folds that rewrite weights (norm affine, attention scale).
  if (quantizeInt8)
    pm.addPass(createNpuQuantizeMatmuls());
  pm.addPass(createNpuLegalize());
  pm.addPass(createNpuTile());
  pm.addPass(createNpuPartition());
  pm.addPass(createNpuDoubleBuffer());
  pm.addPass(createNpuPlanMemory(NpuPlanMemoryOptions{reuseMemory}));
}

} // namespace gaon::npu
