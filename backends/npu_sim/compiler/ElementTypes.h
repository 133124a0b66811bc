//===- ElementTypes.h - Element types the NPU backend lowers -*- C++ -*-===//
//
// One table of the MLIR element types gaon-npu-legalize accepts and the
// simulator's names for them (the runtime's come from the graph dialect's
// shared mapping, gaon/Dialect/Graph/RuntimeDType.h), so legalization,
// scheduling and emission cannot disagree about a type.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_BACKENDS_NPUSIM_ELEMENTTYPES_H
#define GAON_BACKENDS_NPUSIM_ELEMENTTYPES_H

#include "gaon/npu_sim/DType.h"
#include "gaon/runtime/dtype.h"

#include "mlir/IR/Types.h"

#include <optional>

namespace gaon::npu {

/// The simulator's element type for `type`, or nullopt when the backend
/// cannot run it (f64, ui64, i4, ...).
std::optional<npu_sim::DType> npuElementType(mlir::Type type);

/// The names of the accepted types, for diagnostics.
const char *npuElementTypeList();

/// The simulator's type of an element type legalization accepted.
npu_sim::DType simElementType(mlir::Type type);
/// The runtime's type of an element type legalization accepted.
rt::DType runtimeElementType(mlir::Type type);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_ELEMENTTYPES_H
