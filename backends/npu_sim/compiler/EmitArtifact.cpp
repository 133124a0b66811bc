//===- EmitArtifact.cpp - NPU command streams into a .gaon artifact -------===//
//
// Walks the planned function in program order and asks the kernel library
// (backends/npu_sim/kernels) for each op's tiled, multi-core kernel. The
// kernel library and the simulator report errors with exceptions, so this
// file is built with them and turns them into diagnostics on the op.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/NpuSim/EmitArtifact.h"

#include "ElementTypes.h"
#include "Scheduling.h"

#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"
#include "gaon/npu_kernels/Kernels.h"
#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim/Codec.h"
#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim_runtime/Executable.h"
#include "gaon/runtime/artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

#include <exception>

using namespace mlir;
using namespace gaon::graph;
namespace kernels = gaon::npu_kernels;
namespace sim = gaon::npu_sim;

namespace gaon::npu {
namespace {

/// Thrown after a diagnostic has been emitted on the failing op.
struct AlreadyReported {};

/// One size of gaon-npu-plan-memory's layout dictionary.
uint64_t layoutBytes(DictionaryAttr layout, StringRef name) {
  return uint64_t(cast<IntegerAttr>(layout.get(name)).getInt());
}

std::vector<int64_t> shapeOf(Value value) {
  auto shape = cast<RankedTensorType>(value.getType()).getShape();
  return std::vector<int64_t>(shape.begin(), shape.end());
}

class Emitter {
public:
  Emitter(func::FuncOp func, const sim::ChipDesc &chip, sim::Stream &stream)
      : func(func), stream(stream), kernels(stream, chip) {}

  /// Emits every op; throws on what the kernels cannot do.
  void emitBody();
  /// After emitBody: keeps the arena's hand-overs in scratchpad where they
  /// fit (the arena is the top `arena_bytes` of the planned DRAM, `layout`).
  kernels::StreamEmitter::OnChipStats keepOnChip(DictionaryAttr layout) {
    uint64_t top = layoutBytes(layout, "dram_bytes");
    return kernels.keepActivationsOnChip(
        top - layoutBytes(layout, "arena_bytes"), top);
  }

private:
  kernels::Tensor tensor(Value value) const;
  kernels::Tensor tensorAt(Value value, int64_t address) const {
    return {uint64_t(address), simElementType(elementType(value)),
            shapeOf(value)};
  }
  static Type elementType(Value value) {
    return cast<RankedTensorType>(value.getType()).getElementType();
  }
  void emit(Operation *op);

  mutable func::FuncOp func;
  sim::Stream &stream;
  kernels::StreamEmitter kernels;
};

kernels::Tensor Emitter::tensor(Value value) const {
  int64_t address;
  if (auto arg = dyn_cast<BlockArgument>(value))
    address = func.getArgAttrOfType<DenseI64ArrayAttr>(arg.getArgNumber(),
                                                       kDramAttrName)[0];
  else
    address = value.getDefiningOp()->getAttrOfType<DenseI64ArrayAttr>(
        kDramAttrName)[cast<OpResult>(value).getResultNumber()];
  return tensorAt(value, address);
}

/// The schedule the scheduling passes recorded on `op`, kept in `storage`;
/// null (the kernel library's default) when they did not run.
const kernels::Schedule *scheduleOf(Operation *op,
                                    std::optional<kernels::Schedule> &storage) {
  auto attr = op->getAttrOfType<ScheduleAttr>(kScheduleAttrName);
  if (!attr)
    return nullptr;
  if (attr.getSplit().empty() || attr.getBuffers().empty())
    throw std::runtime_error(
        "incomplete #gaon_npu.schedule (run gaon-npu-partition and "
        "gaon-npu-double-buffer after gaon-npu-tile)");
  storage = scheduleFromAttr(attr);
  return &*storage;
}

[[noreturn]] sim::VecOp noVectorOp(Operation *op) {
  throw std::runtime_error("no vector op for '" +
                           op->getName().getStringRef().str() + "'");
}

sim::VecOp binaryOp(Operation *op) {
  return llvm::TypeSwitch<Operation *, sim::VecOp>(op)
      .Case([](AddOp) { return sim::VecOp::Add; })
      .Case([](SubOp) { return sim::VecOp::Sub; })
      .Case([](MulOp) { return sim::VecOp::Mul; })
      .Case([](DivOp) { return sim::VecOp::Div; })
      .Case([](MaxOp) { return sim::VecOp::Max; })
      .Case([](MinOp) { return sim::VecOp::Min; })
      .Case([](PowOp) { return sim::VecOp::Pow; })
      // gaon_graph.mod is ONNX Mod: truncated (fmod) on floats, floored on
      // integers.
      .Case([](ModOp m) {
        return isa<FloatType>(m.getType().getElementType()) ? sim::VecOp::FMod
                                                            : sim::VecOp::Mod;
      })
      .Case([](AndOp) { return sim::VecOp::And; })
      .Case([](OrOp) { return sim::VecOp::Or; })
      .Case([](XorOp) { return sim::VecOp::Xor; })
      .Case([](EqualOp) { return sim::VecOp::CmpEq; })
      .Case([](LessOp) { return sim::VecOp::CmpLt; })
      .Case([](LessEqualOp) { return sim::VecOp::CmpLe; })
      .Case([](GreaterOp) { return sim::VecOp::CmpGt; })
      .Case([](GreaterEqualOp) { return sim::VecOp::CmpGe; })
      .Default(noVectorOp);
}

/// Unary vector op and its alpha/beta (for Scale-based forms).
sim::VecOp unaryOp(Operation *op) {
  return llvm::TypeSwitch<Operation *, sim::VecOp>(op)
      .Case([](NegOp) { return sim::VecOp::Neg; })
      .Case([](AbsOp) { return sim::VecOp::Abs; })
      .Case([](ExpOp) { return sim::VecOp::Exp; })
      .Case([](LogOp) { return sim::VecOp::Log; })
      .Case([](SqrtOp) { return sim::VecOp::Sqrt; })
      .Case([](RsqrtOp) { return sim::VecOp::Rsqrt; })
      .Case([](ReciprocalOp) { return sim::VecOp::Recip; })
      .Case([](TanhOp) { return sim::VecOp::Tanh; })
      .Case([](ErfOp) { return sim::VecOp::Erf; })
      .Case([](SigmoidOp) { return sim::VecOp::Sigmoid; })
      .Case([](SinOp) { return sim::VecOp::Sin; })
      .Case([](CosOp) { return sim::VecOp::Cos; })
      .Case([](FloorOp) { return sim::VecOp::Floor; })
      .Case([](CeilOp) { return sim::VecOp::Ceil; })
      .Case([](RoundOp) { return sim::VecOp::Round; }) // half to even
      .Case([](NotOp) { return sim::VecOp::Not; })
      .Default(noVectorOp);
}

void Emitter::emit(Operation *op) {
  std::optional<kernels::Schedule> storage;
  const kernels::Schedule *schedule = scheduleOf(op, storage);
  llvm::TypeSwitch<Operation *>(op)
      .Case<ConstantOp, ReshapeOp>([](auto) {}) // weights; views
      .Case<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, PowOp, ModOp, AndOp, OrOp,
            XorOp, EqualOp, LessOp, LessEqualOp, GreaterOp, GreaterEqualOp>(
          [&](auto b) {
            kernels.binary(binaryOp(b), tensor(b.getLhs()), tensor(b.getRhs()),
                           tensor(b.getResult()));
          })
      .Case<NegOp, AbsOp, ExpOp, LogOp, SqrtOp, RsqrtOp, ReciprocalOp, TanhOp,
            ErfOp, SigmoidOp, SinOp, CosOp, FloorOp, CeilOp, RoundOp, NotOp>(
          [&](auto u) {
            kernels.unary(unaryOp(u), tensor(u.getInput()),
                          tensor(u.getResult()));
          })
      .Case([&](GeluOp g) {
        kernels.activation(g.getApproximate() ? kernels::Activation::GeluTanh
                                              : kernels::Activation::Gelu,
                           tensor(g.getInput()), tensor(g.getResult()));
      })
      .Case([&](SiluOp u) {
        kernels.activation(kernels::Activation::Silu, tensor(u.getInput()),
                           tensor(u.getResult()));
      })
      .Case([&](ReluOp u) {
        kernels.activation(kernels::Activation::Relu, tensor(u.getInput()),
                           tensor(u.getResult()));
      })
      .Case([&](CastOp c) {
        kernels.cast(tensor(c.getInput()), tensor(c.getResult()));
      })
      .Case([&](SelectOp s) {
        kernels.select(tensor(s.getCondition()), tensor(s.getLhs()),
                       tensor(s.getRhs()), tensor(s.getResult()));
      })
      .Case([&](graph::MatMulOp m) {
        kernels.matmul(tensor(m.getLhs()), tensor(m.getRhs()),
                       tensor(m.getResult()), {}, schedule);
      })
      .Case([&](npu::MatMulOp m) {
        kernels::Epilogue epilogue;
        if (m.getBias())
          epilogue.bias = tensor(m.getBias());
        if (m.getResidual())
          epilogue.residual = tensor(m.getResidual());
        if (m.getResidualScale())
          epilogue.residualScale = tensor(m.getResidualScale());
        if (m.getDequantScale())
          epilogue.dequant = tensor(m.getDequantScale());
        epilogue.activation =
            llvm::StringSwitch<kernels::Activation>(m.getActivation())
                .Case("relu", kernels::Activation::Relu)
                .Case("gelu", kernels::Activation::Gelu)
                .Case("gelu_tanh", kernels::Activation::GeluTanh)
                .Case("silu", kernels::Activation::Silu)
                .Default(kernels::Activation::None);
        kernels.matmul(tensor(m.getLhs()), tensor(m.getRhs()),
                       tensor(m.getResult()), epilogue, schedule);
      })
      .Case([&](npu::QuantizeOp q) {
        kernels.quantize(tensor(q.getInput()), tensor(q.getWeightScale()),
                         tensor(q.getResult()), tensor(q.getDequantScale()));
      })
      .Case<ReduceSumOp, ReduceMaxOp, ReduceMinOp, ReduceMeanOp, ReduceProdOp>(
          [&](auto r) {
            kernels::ReduceOp kind =
                isa<ReduceMaxOp>(r.getOperation())    ? kernels::ReduceOp::Max
                : isa<ReduceMinOp>(r.getOperation())  ? kernels::ReduceOp::Min
                : isa<ReduceMeanOp>(r.getOperation()) ? kernels::ReduceOp::Mean
                : isa<ReduceProdOp>(r.getOperation()) ? kernels::ReduceOp::Prod
                                                      : kernels::ReduceOp::Sum;
            std::vector<int64_t> axes(r.getAxes().begin(), r.getAxes().end());
            kernels.reduce(kind, tensor(r.getInput()), axes,
                           tensor(r.getResult()));
          })
      .Case([&](CumSumOp c) {
        kernels.cumsum(tensor(c.getInput()), c.getAxis(), c.getExclusive(),
                       c.getReverse(), tensor(c.getResult()));
      })
      .Case([&](SoftmaxOp s) {
        if (s.getLog() || s.getAxis() != s.getType().getRank() - 1)
          throw std::runtime_error(
              "only softmax over the last axis is supported");
        kernels.softmax(tensor(s.getInput()), tensor(s.getResult()), schedule);
      })
      .Case([&](LayerNormOp n) {
        std::optional<kernels::Tensor> bias;
        if (n.getBias())
          bias = tensor(n.getBias());
        // A scale of ones (gaon-npu-fold-norm-affine) is skipped.
        std::optional<kernels::Tensor> scale = tensor(n.getScale());
        if (auto c = n.getScale().getDefiningOp<graph::ConstantOp>())
          if (auto ones = graph::ConstantTensor::fromAttr(c.getValue())) {
            bool allOnes = true;
            for (int64_t i = 0; i < ones->getNumElements() && allOnes; ++i)
              allOnes = ones->getDouble(i) == 1.0;
            if (allOnes)
              scale.reset();
          }
        kernels.layerNorm(tensor(n.getInput()), scale ? &*scale : nullptr,
                          bias ? &*bias : nullptr,
                          n.getEpsilon().convertToDouble(),
                          tensor(n.getResult()), schedule);
      })
      .Case([&](RmsNormOp n) {
        kernels.rmsNorm(tensor(n.getInput()), tensor(n.getScale()),
                        n.getEpsilon().convertToDouble(), tensor(n.getResult()),
                        schedule);
      })
      .Case([&](graph::AttentionOp a) {
        std::optional<kernels::Tensor> mask;
        if (a.getMask())
          mask = tensor(a.getMask());
        kernels.attention(tensor(a.getQuery()), tensor(a.getKey()),
                          tensor(a.getValue()), mask ? &*mask : nullptr,
                          a.getScale().convertToDouble(), a.getCausal(),
                          tensor(a.getResult()), schedule);
      })
      .Case([&](npu::AttentionOp a) {
        std::optional<kernels::Tensor> mask;
        if (a.getMask())
          mask = tensor(a.getMask());
        AttentionViews view =
            attentionViews(a, int64_t(tensor(a.getQuery()).addr),
                           int64_t(tensor(a.getKey()).addr),
                           int64_t(tensor(a.getValue()).addr),
                           int64_t(tensor(a.getResult()).addr));
        kernels.attention(view.q, view.k, view.v, mask ? &*mask : nullptr,
                          a.getScale().convertToDouble(), a.getCausal(),
                          view.out, schedule, &view.layout);
      })
      .Case([&](GatherOp g) {
        kernels.gatherRows(tensor(g.getData()), tensor(g.getIndices()),
                           tensor(g.getResult()));
      })
      .Case([&](GatherElementsOp g) {
        kernels.gatherElements(tensor(g.getData()), tensor(g.getIndices()),
                               g.getAxis(), tensor(g.getResult()));
      })
      .Case([&](TransposeOp t) {
        std::vector<int64_t> perm(t.getPerm().begin(), t.getPerm().end());
        kernels.transpose(tensor(t.getInput()), perm, tensor(t.getResult()));
      })
      .Case([&](SliceOp s) {
        std::vector<int64_t> starts(s.getStarts().begin(), s.getStarts().end());
        std::vector<int64_t> steps(s.getSteps().begin(), s.getSteps().end());
        kernels.slice(tensor(s.getInput()), starts, steps,
                      tensor(s.getResult()));
      })
      .Case([&](SplitOp s) {
        int64_t offset = 0, rank = s.getInput().getType().getRank();
        for (Value result : s.getResults()) {
          std::vector<int64_t> starts(rank, 0), steps(rank, 1);
          starts[s.getAxis()] = offset;
          offset +=
              cast<RankedTensorType>(result.getType()).getDimSize(s.getAxis());
          kernels.slice(tensor(s.getInput()), starts, steps, tensor(result));
        }
      })
      .Case([&](ConcatOp c) {
        std::vector<kernels::Tensor> inputs;
        for (Value v : c.getInputs())
          inputs.push_back(tensor(v));
        kernels.concat(inputs, c.getAxis(), tensor(c.getResult()));
      })
      .Case([&](BroadcastOp b) {
        kernels.broadcastTo(tensor(b.getInput()), tensor(b.getResult()));
      })
      .Default([](Operation *op) {
        throw std::runtime_error("no NPU kernel for this op");
      });
}

void Emitter::emitBody() {
  Block &body = func.getBody().front();
  for (Operation &op : body.without_terminator()) {
    try {
      emit(&op);
    } catch (const std::exception &e) {
      op.emitError() << "cannot lower to npu-sim: " << e.what();
      throw AlreadyReported{};
    }
  }
  // Results that do not already live in their output slot are copied there.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    int64_t slot =
        func.getResultAttrOfType<DenseI64ArrayAttr>(i, kDramAttrName)[0];
    kernels::Tensor source = tensor(value);
    if (int64_t(source.addr) != slot)
      kernels.copy(source, tensorAt(value, slot));
  }
}

std::string nameOf(func::FuncOp func, unsigned index, bool result) {
  auto attr = result ? func.getResultAttrOfType<StringAttr>(index, "gaon.name")
                     : func.getArgAttrOfType<StringAttr>(index, "gaon.name");
  return attr ? attr.getValue().str()
              : (result ? "output_" : "input_") + std::to_string(index);
}

} // namespace

LogicalResult emitNpuArtifact(ModuleOp module, const std::string &path,
                              const EmitOptions &options) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  auto chipAttr = module->getAttrOfType<ChipAttr>(kChipAttrName);
  if (!func || !chipAttr || !module->getAttr(kLayoutAttrName))
    return module.emitError("emitNpuArtifact needs a module planned by the "
                            "NPU pipeline (chip attached, memory planned)");
  try {
    sim::ChipDesc chip =
        sim::parseChipJson(chipAttr.getJson().str(), chipAttr.getName().str());
    sim::Stream stream;
    stream.cores.resize(chip.cores);
    Emitter emitter(func, chip, stream);
    emitter.emitBody();
    auto layout = module->getAttrOfType<DictionaryAttr>(kLayoutAttrName);
    kernels::StreamEmitter::OnChipStats onChip;
    if (options.activationsOnChip)
      onChip = emitter.keepOnChip(layout);
    if (options.streamText)
      *options.streamText = sim::printText(stream);
    if (path.empty())
      return success();

    // Weights, inputs and outputs are the executable's bindings.
    rt::ArtifactWriter writer(options.modelName, options.target);
    writer.setProducer("gaon-compile");
    npu_sim_runtime::NpuExecutable exec;
    exec.chipJson = chipAttr.getJson().str();
    Block &body = func.getBody().front();
    std::vector<rt::BindingDesc> bindings;
    auto bind = [&](uint32_t id, int64_t addr, Value value,
                    npu_sim_runtime::NpuBinding::Access access) {
      auto type = cast<RankedTensorType>(value.getType());
      unsigned bits = type.getElementType().getIntOrFloatBitWidth();
      exec.bindings.push_back(
          {id, uint64_t(addr),
           uint64_t(type.getNumElements()) * ((bits + 7) / 8), access});
      bindings.push_back({id, access == npu_sim_runtime::NpuBinding::Read
                                  ? rt::Access::Read
                                  : rt::Access::Write});
    };
    for (BlockArgument arg : body.getArguments()) {
      uint32_t id = writer.addInput(
          nameOf(func, arg.getArgNumber(), false),
          runtimeElementType(
              cast<RankedTensorType>(arg.getType()).getElementType()),
          shapeOf(arg));
      bind(id,
           func.getArgAttrOfType<DenseI64ArrayAttr>(arg.getArgNumber(),
                                                    kDramAttrName)[0],
           arg, npu_sim_runtime::NpuBinding::Read);
    }
    for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
      auto tensorType = cast<RankedTensorType>(type);
      uint32_t id =
          writer.addOutput(nameOf(func, i, true),
                           runtimeElementType(tensorType.getElementType()),
                           std::vector<int64_t>(tensorType.getShape().begin(),
                                                tensorType.getShape().end()));
      Value value = body.getTerminator()->getOperand(i);
      bind(id, func.getResultAttrOfType<DenseI64ArrayAttr>(i, kDramAttrName)[0],
           value, npu_sim_runtime::NpuBinding::Write);
    }
    // Aligned weights take at most the planned region's size.
    writer.reserveWeights(layoutBytes(layout, "weights_bytes"));
    unsigned weightIndex = 0;
    for (auto constant : body.getOps<ConstantOp>()) {
      // Large weights are read in place; small or packed ones are copied.
      std::optional<ConstantTensor> copy;
      auto bytes = readElementBytes(constant.getValue(), copy);
      if (!bytes)
        return constant.emitError("constant has no readable data");
      auto loc = dyn_cast<NameLoc>(constant.getLoc());
      std::string name =
          loc ? loc.getName().str() : "const_" + std::to_string(weightIndex);
      ++weightIndex;
      uint32_t id = writer.addWeight(
          name, runtimeElementType(constant.getType().getElementType()),
          shapeOf(constant.getResult()), bytes->data(), bytes->size());
      bind(id, constant->getAttrOfType<DenseI64ArrayAttr>(kDramAttrName)[0],
           constant.getResult(), npu_sim_runtime::NpuBinding::Read);
    }
    exec.dramBytes = layoutBytes(layout, "dram_bytes");
    exec.stream = std::move(stream);
    // The NPU's activations live in simulated DRAM (planned by
    // gaon-npu-plan-memory); the runtime's arena only holds inputs and
    // outputs, placed by the runtime planner below.
    for (auto name : {"weights_bytes", "arena_bytes", "arena_lower_bound_bytes",
                      "dram_bytes"})
      writer.addCompilerOption(std::string("npu.") + name,
                               std::to_string(layoutBytes(layout, name)));
    // What gaon-npu's hand-overs in scratchpad took off DRAM.
    writer.addCompilerOption("npu.on_chip_activations",
                             std::to_string(onChip.ranges));
    writer.addCompilerOption("npu.on_chip_activation_bytes",
                             std::to_string(onChip.bytes));
    uint32_t program =
        writer.addProgram(options.target, npu_sim_runtime::kNpuExecutableFormat,
                          npu_sim_runtime::encodeExecutable(exec),
                          {npu_sim_runtime::kNpuEntryName});
    rt::DispatchDesc dispatch;
    dispatch.bindings = bindings;
    std::vector<uint32_t> ids;
    for (const rt::BindingDesc &binding : bindings)
      ids.push_back(binding.tensorId);
    dispatch.params = npu_sim_runtime::encodeDispatchParams(ids);
    writer.addDispatch(program, dispatch);
    rt::Status status = writer.planMemory(program);
    if (status.isOk())
      status = writer.writeFile(path);
    if (!status.isOk())
      return module.emitError("cannot write '")
             << path << "': " << status.message();
    return success();
  } catch (const AlreadyReported &) {
    return failure();
  } catch (const std::exception &e) {
    return module.emitError("npu-sim: ") << e.what();
  }
}

FailureOr<SimulatedRun> simulateModule(ModuleOp module,
                                       ArrayRef<ConstantTensor> inputs,
                                       bool keepIntermediates) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  auto chipAttr = module->getAttrOfType<ChipAttr>(kChipAttrName);
  if (!func || !chipAttr || !module->getAttr(kLayoutAttrName))
    return module.emitError("simulateModule needs a module planned by the "
                            "NPU pipeline");
  if (inputs.size() != func.getNumArguments())
    return module.emitError("expected ")
           << func.getNumArguments() << " inputs, got " << inputs.size();
  try {
    sim::ChipDesc chip =
        sim::parseChipJson(chipAttr.getJson().str(), chipAttr.getName().str());
    sim::Stream stream;
    stream.cores.resize(chip.cores);
    Emitter emitter(func, chip, stream);
    emitter.emitBody();
    // Intermediates are read back from DRAM, so they must stay there.
    if (!keepIntermediates)
      emitter.keepOnChip(
          module->getAttrOfType<DictionaryAttr>(kLayoutAttrName));
    sim::Simulator simulator(chip);
    Block &body = func.getBody().front();
    auto addressOf = [](Operation *op, unsigned i) {
      return uint64_t(op->getAttrOfType<DenseI64ArrayAttr>(kDramAttrName)[i]);
    };
    for (auto constant : body.getOps<ConstantOp>()) {
      std::optional<ConstantTensor> copy;
      auto bytes = readElementBytes(constant.getValue(), copy);
      if (!bytes)
        return constant.emitError("constant has no readable data");
      simulator.writeDram(addressOf(constant, 0), bytes->data(), bytes->size());
    }
    for (auto [i, input] : llvm::enumerate(inputs)) {
      if (input.getType() != func.getArgumentTypes()[i])
        return module.emitError("input ")
               << i << " has type " << input.getType() << ", expected "
               << func.getArgumentTypes()[i];
      uint64_t addr = uint64_t(
          func.getArgAttrOfType<DenseI64ArrayAttr>(i, kDramAttrName)[0]);
      simulator.writeDram(addr, input.bytes().data(), input.bytes().size());
    }
    sim::Report report = simulator.run(stream);
    SimulatedRun run;
    auto read = [&](Type type, uint64_t addr) {
      ConstantTensor tensor(cast<RankedTensorType>(type));
      simulator.readDram(addr, tensor.bytes().data(), tensor.bytes().size());
      return tensor;
    };
    for (auto [i, type] : llvm::enumerate(func.getResultTypes()))
      run.outputs.push_back(
          read(type, uint64_t(func.getResultAttrOfType<DenseI64ArrayAttr>(
                         i, kDramAttrName)[0])));
    if (keepIntermediates)
      for (Operation &op : body.without_terminator())
        if (op.getNumResults() == 1 && !isa<ConstantOp>(op))
          run.values.push_back(
              {&op, read(op.getResult(0).getType(), addressOf(&op, 0))});
    run.cycles = report.cycles;
    run.seconds = report.seconds;
    run.energyJoules = report.energy.totalJ;
    run.macUtilization = report.macUtilization;
    run.reportJson = sim::reportToJson(report);
    return run;
  } catch (const AlreadyReported &) {
    return failure();
  } catch (const std::exception &e) {
    return module.emitError("npu-sim: ") << e.what();
  }
}

} // namespace gaon::npu
