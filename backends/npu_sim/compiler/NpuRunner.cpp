//===- NpuRunner.cpp - Run checked models on the NPU simulator ------------===//

#include "gaon/Backends/NpuSim/NpuRunner.h"

#include "gaon/Backends/NpuSim/EmitArtifact.h"
#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Compiler/Reference/GraphInterpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using gaon::graph::ConstantTensor;

namespace gaon::npu {

/// The first op of the lowered function whose simulated result differs from
/// the reference interpreter's.
static std::string firstDivergence(ModuleOp module,
                                   ArrayRef<ConstantTensor> args,
                                   const SimulatedRun &run, double rtol,
                                   double atol) {
  llvm::DenseMap<Operation *, ConstantTensor> expected;
  auto func = module.lookupSymbol<func::FuncOp>("main");
  (void)reference::interpret(
      func, args, [&](Operation *op, unsigned i, const ConstantTensor &t) {
        if (i == 0)
          expected.try_emplace(op, t);
      });
  for (auto &[op, actual] : run.values) {
    auto it = expected.find(op);
    if (it == expected.end())
      continue;
    auto cmp = reference::compare(actual, it->second);
    if (cmp.relativeL2 > rtol && cmp.maxAbs > atol) {
      std::string text;
      llvm::raw_string_ostream os(text);
      op->print(os, OpPrintingFlags().elideLargeElementsAttrs(4));
      return llvm::formatv("  first differing op (rel-L2 {0:e2}, max-abs "
                           "{1:e2}): {2}\n",
                           cmp.relativeL2, cmp.maxAbs, text)
          .str();
    }
  }
  return "  every intermediate matches the reference\n";
}

reference::TargetRunner makeNpuSimRunner(std::string chip,
                                         bool compareIntermediates, double rtol,
                                         double atol, bool quantizeInt8) {
  return [=](ModuleOp module, ArrayRef<ConstantTensor> args,
             std::string &notes) -> FailureOr<SmallVector<ConstantTensor>> {
    PassManager pm(module.getContext());
    buildNpuPipeline(pm, chip.empty() ? "rngd" : chip,
                     /*reuseMemory=*/!compareIntermediates,
                     /*fuseEpilogues=*/!compareIntermediates, quantizeInt8);
    if (failed(pm.run(module)))
      return failure();
    auto run = simulateModule(module, args, compareIntermediates);
    if (failed(run))
      return failure();
    notes = llvm::formatv("  npu-sim: {0} cycles ({1:e3} s), {2:e3} J, MAC "
                          "utilization {3:p}\n",
                          run->cycles, run->seconds, run->energyJoules,
                          run->macUtilization)
                .str();
    if (compareIntermediates)
      notes += firstDivergence(module, args, *run, rtol, atol);
    return SmallVector<ConstantTensor>(
        std::make_move_iterator(run->outputs.begin()),
        std::make_move_iterator(run->outputs.end()));
  };
}

} // namespace gaon::npu
