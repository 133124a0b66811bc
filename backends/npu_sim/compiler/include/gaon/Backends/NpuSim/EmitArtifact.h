//===- EmitArtifact.h - NPU command streams into a .gaon artifact -*- C++
//-*-===//

#ifndef GAON_BACKENDS_NPUSIM_EMITARTIFACT_H
#define GAON_BACKENDS_NPUSIM_EMITARTIFACT_H

#include "gaon/Dialect/Graph/ConstantTensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace gaon::npu {

struct EmitOptions {
  std::string target;    ///< recorded in the artifact, e.g. "npu-sim:rngd"
  std::string modelName; ///< recorded in the artifact
  /// When set, receives the command stream in the simulator's text form.
  std::string *streamText = nullptr;
  /// Keep activations that one kernel writes and later kernels read in
  /// the cores' scratchpads instead of DRAM, where they fit (multicast
  /// chips; StreamEmitter::keepActivationsOnChip).
  bool activationsOnChip = true;
};

/// Lowers a module planned by buildNpuPipeline to one command stream (every
/// gaon.graph op becomes a tiled kernel on all cores) and writes the artifact
/// to `path` (atomically). Without a path, only `streamText` is produced.
/// Errors are emitted on the op that cannot be lowered.
mlir::LogicalResult emitNpuArtifact(mlir::ModuleOp module,
                                    const std::string &path,
                                    const EmitOptions &options);

/// The result of running a planned module on the simulator in-process.
struct SimulatedRun {
  std::vector<graph::ConstantTensor> outputs;
  /// With keepIntermediates: the DRAM contents of every op result after the
  /// run, in program order (valid only when memory was planned without reuse).
  std::vector<std::pair<mlir::Operation *, graph::ConstantTensor>> values;
  double cycles = 0, seconds = 0, energyJoules = 0, macUtilization = 0;
  std::string reportJson;
};

/// Lowers a planned module and runs it functionally on its chip with
/// `inputs` (one per function argument). Used by gaon-check and tests.
mlir::FailureOr<SimulatedRun>
simulateModule(mlir::ModuleOp module,
               llvm::ArrayRef<graph::ConstantTensor> inputs,
               bool keepIntermediates);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_EMITARTIFACT_H
