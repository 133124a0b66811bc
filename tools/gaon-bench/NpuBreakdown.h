//===- NpuBreakdown.h - Where time and energy go on npu-sim -----*- C++ -*-===//
//
// The simulator reports one run as a whole (per unit, per energy component).
// The npu-sim emitter fences consecutive kernels with a chip-wide barrier,
// so the stream splits at its barriers into one piece per kernel; each piece
// is a valid stream by itself (its semaphore signals and waits balance), and
// simulating it alone in timing-only mode gives that kernel's cycles and
// energy. The kernels map one to one onto the ops of the lowered function,
// which names them (op kind, ONNX node, layer).
//
//===----------------------------------------------------------------------===//
#ifndef GAON_BENCH_NPUBREAKDOWN_H
#define GAON_BENCH_NPUBREAKDOWN_H

#include "gaon/Tools/Progress.h"
#include "gaon/runtime/artifact.h"

#include "mlir/IR/BuiltinOps.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace gaon::bench {

struct KernelLabel {
  std::string op;    ///< "matmul", "attention", "copy to output", ...
  std::string name;  ///< the ONNX node it came from, or ""
  std::string layer; ///< "3" for ".../blocks.3/...", or ""
};

/// The kernels the npu-sim emitter produces for a module planned by the NPU
/// pipeline, in stream order.
std::vector<KernelLabel> npuKernelLabels(mlir::ModuleOp module);

/// Simulates each kernel of `program` (an npu-sim program) alone and
/// returns {"kernels": [...], "by_op": [...], "by_layer": [...], ...}; the
/// labels are used when their count matches the kernels found. Shows a
/// spinner with the fraction done on `progress` (may be null). Throws
/// std::exception on a malformed program.
nlohmann::json npuKernelBreakdown(const rt::ProgramDesc &program,
                                  const std::vector<KernelLabel> &labels,
                                  tools::ProgressLine *progress);

} // namespace gaon::bench

#endif // GAON_BENCH_NPUBREAKDOWN_H
