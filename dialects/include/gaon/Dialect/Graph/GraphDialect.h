//===- GraphDialect.h - gaon.graph dialect ----------------------*- C++ -*-===//

#ifndef GAON_DIALECT_GRAPH_GRAPHDIALECT_H
#define GAON_DIALECT_GRAPH_GRAPHDIALECT_H

#include "mlir/IR/Dialect.h"

#include "gaon/Dialect/Graph/GraphDialect.h.inc"

#endif // GAON_DIALECT_GRAPH_GRAPHDIALECT_H
