//===- Passes.h - NPU simulator backend passes ------------------*- C++ -*-===//

#ifndef GAON_BACKENDS_NPUSIM_PASSES_H
#define GAON_BACKENDS_NPUSIM_PASSES_H

#include "gaon/Dialect/Npu/NpuDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace gaon::npu {

#define GEN_PASS_DECL
#include "gaon/Backends/NpuSim/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "gaon/Backends/NpuSim/Passes.h.inc"

/// Name of the per-op attribute with the DRAM address of each result, and
/// of the function argument/result attribute with theirs.
inline constexpr llvm::StringLiteral kDramAttrName = "gaon_npu.dram";
inline constexpr llvm::StringLiteral kLayoutAttrName = "gaon_npu.layout";

/// The NPU pipeline after gaon-graph-optimize: attach the chip, prepare,
/// fuse epilogues, legalize, schedule (tile, partition, double-buffer),
/// plan memory.
/// `reuseMemory` = false keeps every tensor in its own memory and
/// `fuseEpilogues` = false keeps every gaon_graph op (debugging: each
/// intermediate can then be compared with the reference interpreter).
/// `quantizeInt8` runs products over constant weights in int8
/// (gaon-npu-quantize-matmuls; --dtype int8, over a bf16 graph).
void buildNpuPipeline(mlir::OpPassManager &pm, llvm::StringRef chip,
                      bool reuseMemory = true, bool fuseEpilogues = true,
                      bool quantizeInt8 = false);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_PASSES_H
