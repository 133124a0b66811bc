//===- ElementTypes.h - Element types the NPU backend lowers -----*- C++
//-*-===//
//
// One table of the MLIR element types gaon-npu-legalize accepts and the
// simulator's and the runtime's names for them, so legalization, scheduling
// and emission cannot disagree about a type.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_BACKENDS_NPUSIM_ELEMENTTYPES_H
#define GAON_BACKENDS_NPUSIM_ELEMENTTYPES_H

#include "gaon/npu_sim/DType.h"
#include "gaon/runtime/dtype.h"

#include "mlir/IR/Types.h"

#include <optional>
#include <utility>

namespace gaon::npu {

/// The simulator's and the runtime's element type for `type`, or nullopt
/// when the backend cannot run it (f64, ui64, i4, ...).
std::optional<std::pair<npu_sim::DType, rt::DType>>
npuElementTypes(mlir::Type type);

/// The names of the accepted types, for diagnostics.
const char *npuElementTypeList();

/// The simulator's type of an element type legalization accepted.
npu_sim::DType simElementType(mlir::Type type);
/// The runtime's type of an element type legalization accepted.
rt::DType runtimeElementType(mlir::Type type);

} // namespace gaon::npu

#endif // GAON_BACKENDS_NPUSIM_ELEMENTTYPES_H
