//===- Pipelines.cpp - Target-independent pass pipelines ------------------===//

#include "gaon/Compiler/Transforms/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace gaon {

void buildGraphOptimizationPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createConvToMatmul());
  funcPm.addPass(createFuseGelu());
  funcPm.addPass(createFuseSilu());
  funcPm.addPass(createFuseRmsNorm());
  funcPm.addPass(createFuseAttention());
  funcPm.addPass(createFoldCausalMasks());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void registerTransformsPassesAndPipelines() {
  registerGaonTransformsPasses();
  PassPipelineRegistration<>(
      "gaon-graph-optimize",
      "Canonicalize, CSE and fuse transformer patterns in gaon.graph",
      buildGraphOptimizationPipeline);
}

} // namespace gaon
