//===- EmitArtifact.h - NPU command streams into a .gaon artifact -*- C++ -*-===//

#ifndef GAON_BACKENDS_NPUSIM_EMITARTIFACT_H
#define GAON_BACKENDS_NPUSIM_EMITARTIFACT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace gaon::npu {

struct EmitOptions {
  std::string target;    ///< recorded in the artifact, e.g. "npu-sim:rngd"
  std::string modelName; ///< recorded in the artifact
  /// When set, receives the command stream in the simulator's text form.
  std::string *streamText = nullptr;
};

/// Lowers a module planned by buildNpuPipeline to one command stream (every
/// gaon.graph op becomes a tiled kernel on all cores) and writes the artifact
/// to `path` (atomically). Without a path, only `streamText` is produced.
/// Errors are emitted on the op that cannot be lowered.
mlir::LogicalResult emitNpuArtifact(mlir::ModuleOp module,
                                    const std::string &path,
                                    const EmitOptions &options);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_EMITARTIFACT_H
