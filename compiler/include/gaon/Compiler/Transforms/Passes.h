//===- Passes.h - Target-independent gaon.graph passes ----------*- C++ -*-===//

#ifndef GAON_COMPILER_TRANSFORMS_PASSES_H
#define GAON_COMPILER_TRANSFORMS_PASSES_H

#include "gaon/Dialect/Graph/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace gaon {

#define GEN_PASS_DECL
#include "gaon/Compiler/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "gaon/Compiler/Transforms/Passes.h.inc"

/// The target-independent optimization pipeline that gaon-compile runs after
/// import: canonicalize + CSE, the fusions, and canonicalize again.
void buildGraphOptimizationPipeline(mlir::OpPassManager &pm);

/// Registers the passes and the `gaon-graph-optimize` pipeline.
void registerTransformsPassesAndPipelines();

} // namespace gaon

#endif // GAON_COMPILER_TRANSFORMS_PASSES_H
