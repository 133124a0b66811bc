//===- PassProgress.h - "[3/7] pass-name" while a pipeline runs -*- C++ -*-===//

#ifndef GAON_TOOLS_PASSPROGRESS_H
#define GAON_TOOLS_PASSPROGRESS_H

#include "gaon/Tools/Progress.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

namespace gaon::tools {

/// While alive, clears `line` before any diagnostic of `context` is
/// printed, then lets the handlers registered before it print the
/// diagnostic; so an error never lands on the end of a progress line.
class ClearProgressOnDiagnostic {
public:
  ClearProgressOnDiagnostic(mlir::MLIRContext &context, ProgressLine &line);
  ~ClearProgressOnDiagnostic();

private:
  mlir::MLIRContext &context;
  mlir::DiagnosticEngine::HandlerID id;
};

/// Passes in a pipeline, nested pipelines included (the pass managers that
/// anchor them are not counted). Counted from the textual form, the only
/// public view of nested pipelines.
unsigned countPasses(mlir::OpPassManager &pm);

/// Shows "[k/N] <pass argument>" on `line` before each pass of `pm`. `done`
/// passes ran before this pipeline and `total` is the count over every
/// pipeline the caller runs (0: this pipeline's own count), so several
/// pipelines show one running count. Nothing is added when the line is
/// disabled.
void addPassProgress(mlir::PassManager &pm, ProgressLine &line,
                     unsigned done = 0, unsigned total = 0);

} // namespace gaon::tools

#endif // GAON_TOOLS_PASSPROGRESS_H
