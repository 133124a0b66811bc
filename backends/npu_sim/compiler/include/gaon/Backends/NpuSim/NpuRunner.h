//===- NpuRunner.h - Run checked models on the NPU simulator ----*- C++ -*-===//

#ifndef GAON_BACKENDS_NPUSIM_NPURUNNER_H
#define GAON_BACKENDS_NPUSIM_NPURUNNER_H

#include "gaon/Compiler/Reference/DataSetCheck.h"

#include <string>

namespace gaon::npu {

/// A target runner for gaon-check and gaon-onnx-conformance: lowers the
/// optimized module for `chip` and runs it functionally on the simulator.
/// With `compareIntermediates`, memory is planned without reuse, epilogues
/// are not fused, and the first op whose result differs from the reference
/// interpreter (beyond rtol/atol) is reported in the notes. `quantizeInt8`
/// runs products over constant weights in int8 (--dtype int8).
reference::TargetRunner makeNpuSimRunner(std::string chip,
                                         bool compareIntermediates = false,
                                         double rtol = 1e-4, double atol = 1e-6,
                                         bool quantizeInt8 = false);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_NPURUNNER_H
