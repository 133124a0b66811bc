//===- Scheduling.cpp - Shared driver of the NPU scheduling passes --------===//

#include "Scheduling.h"

#include "ElementTypes.h"

#include "gaon/Backends/NpuSim/ChipLoader.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
namespace kernels = gaon::npu_kernels;
namespace sim = gaon::npu_sim;

namespace gaon::npu {
namespace {

/// A tensor at address 0: scheduling depends on shapes and types only.
kernels::Tensor tensorOf(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return {0, simElementType(type.getElementType()),
          std::vector<int64_t>(type.getShape().begin(), type.getShape().end())};
}
std::optional<kernels::Tensor> optionalTensorOf(Value value) {
  if (!value)
    return std::nullopt;
  return tensorOf(value);
}

/// A constant (through views): no kernel writes it, so it may be loaded
/// before earlier kernels finish.
bool isWeight(Value value) {
  while (auto reshape = value.getDefiningOp<graph::ReshapeOp>())
    value = reshape.getInput();
  return value.getDefiningOp<graph::ConstantOp>() != nullptr;
}

StringRef splitName(kernels::Split split) {
  switch (split) {
  case kernels::Split::Rows:
    return "rows";
  case kernels::Split::Cols:
    return "cols";
  case kernels::Split::Heads:
    return "heads";
  }
  return "rows";
}

StringRef stepName(kernels::PlanStep step) {
  switch (step) {
  case kernels::PlanStep::Tile:
    return "gaon-npu-tile";
  case kernels::PlanStep::Partition:
    return "gaon-npu-partition";
  case kernels::PlanStep::Buffer:
    return "gaon-npu-double-buffer";
  }
  return "";
}

} // namespace

AttentionViews attentionViews(npu::AttentionOp op, int64_t qAddr, int64_t kAddr,
                              int64_t vAddr, int64_t outAddr) {
  auto q = op.getQuery().getType(), k = op.getKey().getType(),
       v = op.getValue().getType(), out = op.getResult().getType();
  int64_t B = q.getDimSize(0), Sq = q.getDimSize(1), Sk = k.getDimSize(1);
  int64_t H = op.getHeads(), Hkv = op.getKvHeads(), D = op.getHeadDim(),
          Dv = op.getValueDim();
  auto view = [](RankedTensorType type, int64_t addr, int64_t offset,
                 std::vector<int64_t> shape) {
    sim::DType dtype = simElementType(type.getElementType());
    return kernels::Tensor{uint64_t(addr + offset * sim::dtypeBytes(dtype)),
                           dtype, std::move(shape)};
  };
  // Token-major [B, S, W]: head h at columns offset + h * dim.
  auto strides = [](RankedTensorType type, int64_t dim) {
    int64_t seq = type.getDimSize(1), width = type.getShape().back();
    return kernels::HeadStrides{seq * width, dim, width};
  };
  AttentionViews views;
  views.q = view(q, qAddr, op.getQueryOffset(), {B, H, Sq, D});
  views.k = view(k, kAddr, op.getKeyOffset(), {B, Hkv, Sk, D});
  views.v = view(v, vAddr, op.getValueOffset(), {B, Hkv, Sk, Dv});
  views.out = view(out, outAddr, 0, {B, H, Sq, Dv});
  views.layout = {strides(q, D), strides(k, D), strides(v, Dv),
                  strides(out, Dv)};
  return views;
}

std::optional<kernels::Problem> scheduleProblemOf(Operation *op) {
  using namespace gaon::graph;
  return llvm::TypeSwitch<Operation *, std::optional<kernels::Problem>>(op)
      .Case([](graph::MatMulOp m) -> std::optional<kernels::Problem> {
        return kernels::MatmulProblem{tensorOf(m.getLhs()),
                                      tensorOf(m.getRhs()),
                                      tensorOf(m.getResult()),
                                      {},
                                      isWeight(m.getRhs())};
      })
      .Case([](npu::MatMulOp m) -> std::optional<kernels::Problem> {
        kernels::Epilogue epilogue;
        epilogue.bias = optionalTensorOf(m.getBias());
        epilogue.residual = optionalTensorOf(m.getResidual());
        epilogue.residualScale = optionalTensorOf(m.getResidualScale());
        epilogue.dequant = optionalTensorOf(m.getDequantScale());
        // Only the dtypes of the epilogue matter here, but an activation
        // must be one the chip's vector unit runs.
        epilogue.activation =
            llvm::StringSwitch<kernels::Activation>(m.getActivation())
                .Case("relu", kernels::Activation::Relu)
                .Case("gelu", kernels::Activation::Gelu)
                .Case("gelu_tanh", kernels::Activation::GeluTanh)
                .Case("silu", kernels::Activation::Silu)
                .Default(kernels::Activation::None);
        return kernels::MatmulProblem{
            tensorOf(m.getLhs()), tensorOf(m.getRhs()), tensorOf(m.getResult()),
            epilogue, isWeight(m.getRhs())};
      })
      .Case([](graph::AttentionOp a) -> std::optional<kernels::Problem> {
        return kernels::AttentionProblem{
            tensorOf(a.getQuery()), tensorOf(a.getKey()),
            tensorOf(a.getValue()), optionalTensorOf(a.getMask()),
            tensorOf(a.getResult())};
      })
      .Case([](npu::AttentionOp a) -> std::optional<kernels::Problem> {
        auto view = attentionViews(a);
        return kernels::AttentionProblem{
            view.q, view.k, view.v, optionalTensorOf(a.getMask()), view.out};
      })
      .Case([](SoftmaxOp s) -> std::optional<kernels::Problem> {
        // Other softmaxes are rewritten by gaon-npu-prepare or rejected at
        // emission.
        if (s.getLog() || s.getAxis() != s.getType().getRank() - 1)
          return std::nullopt;
        return kernels::RowProblem{
            kernels::RowKind::Softmax, tensorOf(s.getInput()),
            tensorOf(s.getResult()), std::nullopt, std::nullopt};
      })
      .Case([](LayerNormOp n) -> std::optional<kernels::Problem> {
        return kernels::RowProblem{
            kernels::RowKind::LayerNorm, tensorOf(n.getInput()),
            tensorOf(n.getResult()), tensorOf(n.getScale()),
            optionalTensorOf(n.getBias())};
      })
      .Case([](RmsNormOp n) -> std::optional<kernels::Problem> {
        return kernels::RowProblem{
            kernels::RowKind::RmsNorm, tensorOf(n.getInput()),
            tensorOf(n.getResult()), tensorOf(n.getScale()), std::nullopt};
      })
      .Default([](Operation *) { return std::nullopt; });
}

kernels::Schedule scheduleFromAttr(ScheduleAttr attr) {
  kernels::Schedule s;
  s.tile.assign(attr.getTile().begin(), attr.getTile().end());
  s.split = llvm::StringSwitch<kernels::Split>(attr.getSplit())
                .Case("cols", kernels::Split::Cols)
                .Case("heads", kernels::Split::Heads)
                .Default(kernels::Split::Rows);
  s.cores = static_cast<unsigned>(attr.getCores());
  s.buffers.assign(attr.getBuffers().begin(), attr.getBuffers().end());
  s.prefetch = attr.getPrefetch();
  return s;
}

ScheduleAttr scheduleToAttr(MLIRContext *context,
                            const kernels::Schedule &schedule) {
  // Split and cores are recorded once gaon-npu-partition has set cores.
  bool partitioned = schedule.cores > 0;
  return ScheduleAttr::get(
      context, schedule.tile, partitioned ? splitName(schedule.split) : "",
      int64_t(schedule.cores), schedule.buffers, schedule.prefetch);
}

LogicalResult runScheduleStep(ModuleOp module, kernels::PlanStep step) {
  auto chipAttr = module->getAttrOfType<ChipAttr>(kChipAttrName);
  if (!chipAttr)
    return module.emitError()
           << stepName(step)
           << " needs the chip (run gaon-npu-attach-chip first)";
  std::string error;
  std::optional<sim::ChipDesc> chip =
      parseChipDesc(chipAttr.getJson().str(), chipAttr.getName().str(), error);
  if (!chip)
    return module.emitError() << "invalid #gaon_npu.chip: " << error;
  bool failed = false;
  module.walk([&](Operation *op) {
    std::optional<kernels::Problem> problem = scheduleProblemOf(op);
    if (!problem)
      return;
    auto existing = op->getAttrOfType<ScheduleAttr>(kScheduleAttrName);
    if (step != kernels::PlanStep::Tile && !existing) {
      op->emitError() << stepName(step)
                      << " needs the op's tiles (run gaon-npu-tile first)";
      failed = true;
      return;
    }
    kernels::Schedule schedule = existing && step != kernels::PlanStep::Tile
                                     ? scheduleFromAttr(existing)
                                     : kernels::Schedule{};
    std::string why = kernels::planStep(*chip, *problem, step, schedule);
    if (!why.empty()) {
      op->emitError() << "cannot schedule for npu-sim chip '" << chip->name
                      << "': " << why;
      failed = true;
      return;
    }
    op->setAttr(kScheduleAttrName, scheduleToAttr(op->getContext(), schedule));
  });
  return failure(failed);
}

} // namespace gaon::npu
