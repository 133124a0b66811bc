//===- Legalize.cpp - Check that a graph can run on the NPU ---------------===//

#include "ElementTypes.h"

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Matchers.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPULEGALIZE
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;
using namespace gaon::graph;

namespace gaon::npu {
namespace {

/// Why `op` cannot be lowered, or "" when it can.
std::string unsupportedReason(Operation *op) {
  if (isa<func::ReturnOp>(op))
    return "";
  for (Type type :
       llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes()))
    if (auto tensor = dyn_cast<RankedTensorType>(type);
        tensor && !npuElementType(tensor.getElementType())) {
      std::string s;
      llvm::raw_string_ostream os(s);
      os << "element type " << tensor.getElementType() << " is not supported ("
         << npuElementTypeList() << " are)";
      return s;
    }
  if (auto gather = dyn_cast<GatherOp>(op)) {
    if (gather.getAxis() != 0)
      return "gather along axis " + std::to_string(gather.getAxis()) +
             " is not supported (axis 0 is: embedding lookups)";
    return "";
  }
  if (isa<GatherNdOp>(op))
    return "gather_nd needs static shapes (gaon-npu-prepare rewrites it "
           "into a row gather)";
  // gaon-npu-prepare rewrites static tiles and triangles of up to 4M
  // elements per matrix; what reaches here is larger.
  if (isa<TriluOp>(op))
    return "trilu over more than 4M elements per matrix is not supported "
           "(smaller ones run as a select)";
  if (isa<ArgMaxOp>(op))
    return "argmax is supported with i64 indices and static shapes (it runs "
           "as reductions)";
  if (isa<ConvOp, PadOp, TileOp, SignOp>(op))
    return "this op is not supported by the npu-sim backend yet";
  if (op->getDialect() &&
      (op->getDialect()->getNamespace() == "gaon_graph" ||
       isa<npu::MatMulOp, npu::AttentionOp, npu::QuantizeOp>(op)))
    return "";
  return "only gaon_graph ops can be lowered to the NPU";
}

struct NpuLegalizePass : impl::NpuLegalizeBase<NpuLegalizePass> {
  void runOnOperation() override {
    bool failedAny = false;
    getOperation().walk([&](Operation *op) {
      if (isa<ModuleOp, func::FuncOp>(op))
        return;
      std::string reason = unsupportedReason(op);
      if (!reason.empty()) {
        op->emitError() << "cannot run '" << op->getName()
                        << "' on npu-sim: " << reason;
        failedAny = true;
      }
    });
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon::npu
