//===- AttachChip.cpp - Record the target chip on the module --------------===//

#include "gaon/Backends/NpuSim/ChipLoader.h"
#include "gaon/Backends/NpuSim/Passes.h"

namespace gaon::npu {
#define GEN_PASS_DEF_NPUATTACHCHIP
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

struct NpuAttachChipPass : impl::NpuAttachChipBase<NpuAttachChipPass> {
  using NpuAttachChipBase::NpuAttachChipBase;

  void runOnOperation() override {
    std::string error;
    auto chipInfo = loadChipSummary(chip, error);
    if (!chipInfo) {
      getOperation().emitError() << error;
      return signalPassFailure();
    }
    auto attr = ChipAttr::get(&getContext(), chipInfo->name, chipInfo->cores,
                              chipInfo->tensorRows, chipInfo->tensorCols,
                              chipInfo->scratchpadBytes, chipInfo->dramBytes,
                              chipInfo->clockMhz, chipInfo->json);
    getOperation()->setAttr(kChipAttrName, attr);
  }
};

} // namespace
} // namespace gaon::npu
