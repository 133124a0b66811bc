//===- GraphDialect.td - gaon.graph dialect definition -----*- tablegen -*-===//
//
// The gaon.graph dialect: hardware-agnostic tensor ops at the level of a
// transformer. Its namespace is `gaon_graph` because MLIR namespaces cannot
// contain dots.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_DIALECT_GRAPH_GRAPHDIALECT_TD
#define GAON_DIALECT_GRAPH_GRAPHDIALECT_TD

include "mlir/IR/OpBase.td"

def Graph_Dialect : Dialect {
  let name = "gaon_graph";
  let summary = "Hardware-agnostic tensor ops of transformer graphs";
  let description = [{
    gaon.graph is the common IR that every Gaon backend consumes. Ops work on
    ranked tensors with static shapes (the ONNX importer specializes dynamic
    dimensions); elementwise ops follow NumPy broadcasting. Weights are
    `dense_resource` constants so that IR dumps stay readable.
  }];
  let cppNamespace = "::gaon::graph";
  let hasConstantMaterializer = 1;
  let useDefaultAttributePrinterParser = 0;
}

class Graph_Op<string mnemonic, list<Trait> traits = []>
    : Op<Graph_Dialect, mnemonic, traits>;

#endif // GAON_DIALECT_GRAPH_GRAPHDIALECT_TD
