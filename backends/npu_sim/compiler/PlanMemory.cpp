//===- PlanMemory.cpp - Place every tensor in the NPU's DRAM --------------===//

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"
#include "gaon/runtime/planner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUPLANMEMORY
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

constexpr uint64_t kAlignment = 64;

uint64_t alignUp(uint64_t value) {
  return (value + kAlignment - 1) / kAlignment * kAlignment;
}

/// Bytes of a tensor in DRAM: booleans take one byte per element.
uint64_t tensorBytes(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  unsigned bits = tensor.getElementType().getIntOrFloatBitWidth();
  return uint64_t(tensor.getNumElements()) * ((bits + 7) / 8);
}

/// True for ops that may write their result over their first operand: the
/// NPU's elementwise kernels read each tile before writing it.
bool mayRunInPlace(Operation *op) {
  if (op->getNumOperands() == 0 || op->getNumResults() != 1 ||
      op->getOperand(0).getType() != op->getResult(0).getType())
    return false;
  return op->hasTrait<OpTrait::SameOperandsAndResultType>() ||
         isa<graph::AddOp, graph::SubOp, graph::MulOp, graph::DivOp,
             graph::MaxOp, graph::MinOp>(op);
}

struct NpuPlanMemoryPass : impl::NpuPlanMemoryBase<NpuPlanMemoryPass> {
  using NpuPlanMemoryBase::NpuPlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>("main");
    auto chip = module->getAttrOfType<ChipAttr>(kChipAttrName);
    if (!func || !chip) {
      module.emitError("gaon-npu-plan-memory needs func.func @main and a "
                       "#gaon_npu.chip (run gaon-npu-attach-chip first)");
      return signalPassFailure();
    }
    Builder b(&getContext());
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());

    // Reshapes are views: they share their input's storage.
    llvm::DenseMap<Value, Value> root;
    auto rootOf = [&](Value v) {
      auto it = root.find(v);
      return it == root.end() ? v : it->second;
    };
    llvm::DenseMap<Operation *, unsigned> position;
    unsigned index = 0;
    for (Operation &op : body) {
      position[&op] = index++;
      if (auto reshape = dyn_cast<graph::ReshapeOp>(op))
        root[reshape.getResult()] = rootOf(reshape.getInput());
    }

    // Regions for weights, inputs and outputs.
    uint64_t cursor = 0;
    llvm::DenseMap<Value, uint64_t> address;
    for (Operation &op : body)
      if (auto constant = dyn_cast<graph::ConstantOp>(op)) {
        address[constant.getResult()] = cursor;
        cursor = alignUp(cursor + tensorBytes(constant.getType()));
      }
    uint64_t weightsBytes = cursor;
    for (BlockArgument arg : body.getArguments()) {
      address[arg] = cursor;
      func.setArgAttr(arg.getArgNumber(), kDramAttrName,
                      b.getDenseI64ArrayAttr({int64_t(cursor)}));
      cursor = alignUp(cursor + tensorBytes(arg.getType()));
    }
    uint64_t inputsEnd = cursor;
    // A result computed by an op (not a view, not returned twice) is written
    // straight into its output slot; the others are copied there.
    llvm::DenseMap<Value, unsigned> timesReturned;
    for (Value v : ret.getOperands())
      ++timesReturned[v];
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      uint64_t slot = cursor;
      cursor = alignUp(cursor + tensorBytes(v.getType()));
      func.setResultAttr(i, kDramAttrName,
                         b.getDenseI64ArrayAttr({int64_t(slot)}));
      Operation *def = v.getDefiningOp();
      if (def && !isa<graph::ConstantOp, graph::ReshapeOp>(def) &&
          timesReturned[v] == 1 && !address.count(v))
        address[v] = slot;
    }
    uint64_t outputsEnd = cursor;

    // Intermediates share the arena by live range.
    std::vector<gaon::rt::PlannerTensor> tensors;
    SmallVector<Value> planned;
    llvm::DenseMap<Value, unsigned> tensorIndex;
    for (Operation &op : body)
      for (Value result : op.getResults())
        if (rootOf(result) == result && !address.count(result)) {
          tensorIndex[result] = tensors.size();
          gaon::rt::PlannerTensor t;
          t.size = std::max<uint64_t>(tensorBytes(result.getType()), 1);
          t.firstOp = t.lastOp = position[&op];
          tensors.push_back(t);
          planned.push_back(result);
        }
    for (Operation &op : body)
      for (Value operand : op.getOperands()) {
        auto it = tensorIndex.find(rootOf(operand));
        if (it != tensorIndex.end())
          tensors[it->second].lastOp =
              std::max(tensors[it->second].lastOp, position[&op]);
      }
    for (Operation &op : body) {
      if (!mayRunInPlace(&op))
        continue;
      auto result = tensorIndex.find(op.getResult(0));
      auto input = tensorIndex.find(rootOf(op.getOperand(0)));
      if (result != tensorIndex.end() && input != tensorIndex.end() &&
          tensors[input->second].lastOp == position[&op])
        tensors[result->second].mayAliasInput = int32_t(input->second);
    }
    uint64_t arenaBytes = 0, lowerBound = 0;
    if (!reuse) {
      // Debugging layout: every tensor stays readable after the run.
      for (auto [i, value] : llvm::enumerate(planned)) {
        address[value] = outputsEnd + arenaBytes;
        arenaBytes = alignUp(arenaBytes + tensors[i].size);
      }
      lowerBound = arenaBytes;
    } else if (!tensors.empty()) {
      auto plan = gaon::rt::planMemory(tensors, {kAlignment, true});
      if (!plan.isOk()) {
        module.emitError("memory planning failed: ") << plan.status().message();
        return signalPassFailure();
      }
      for (auto [i, value] : llvm::enumerate(planned))
        address[value] = outputsEnd + plan.value().offsets[i];
      arenaBytes = plan.value().arenaSize;
      lowerBound = plan.value().lowerBound;
    }
    uint64_t total = outputsEnd + arenaBytes;
    if (total > uint64_t(chip.getDramBytes())) {
      module.emitError("the model needs ")
          << total << " bytes of DRAM (weights " << weightsBytes
          << ", inputs and outputs " << (outputsEnd - weightsBytes)
          << ", activations " << arenaBytes << "), but chip '" << chip.getName()
          << "' has " << chip.getDramBytes() << " ("
          << (total - uint64_t(chip.getDramBytes())) << " bytes too many)";
      return signalPassFailure();
    }

    for (Operation &op : body) {
      if (op.getNumResults() == 0)
        continue;
      SmallVector<int64_t> addrs;
      for (Value result : op.getResults())
        addrs.push_back(int64_t(address.lookup(rootOf(result))));
      op.setAttr(kDramAttrName, b.getDenseI64ArrayAttr(addrs));
    }
    module->setAttr(
        kLayoutAttrName,
        b.getDictionaryAttr({
            b.getNamedAttr("weights_bytes", b.getI64IntegerAttr(weightsBytes)),
            b.getNamedAttr("inputs_bytes",
                           b.getI64IntegerAttr(inputsEnd - weightsBytes)),
            b.getNamedAttr("outputs_bytes",
                           b.getI64IntegerAttr(outputsEnd - inputsEnd)),
            b.getNamedAttr("arena_bytes", b.getI64IntegerAttr(arenaBytes)),
            b.getNamedAttr("arena_lower_bound_bytes",
                           b.getI64IntegerAttr(lowerBound)),
            b.getNamedAttr("dram_bytes", b.getI64IntegerAttr(total)),
        }));
  }
};

} // namespace
} // namespace gaon::npu
