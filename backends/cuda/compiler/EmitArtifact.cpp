//===- EmitArtifact.cpp - cuda-plan programs in .gaon artifacts -----------===//
//
// Walks the lowered function in order and turns each op into a plan step:
// gaon_cuda.launch -> Launch (PTX from the gpu.binary), gaon_cuda.matmul ->
// Matmul (cuBLASLt), gaon_graph.attention -> Attention (the fused kernel).
// Constants become weights, reshapes alias their input, and every other
// value gets an arena slot from the runtime's memory planner, with live
// ranges measured in steps.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/Cuda/Codegen.h"
#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"
#include "gaon/Dialect/Graph/RuntimeDType.h"
#include "gaon/cuda_runtime/Plan.h"
#include "gaon/runtime/artifact.h"
#include "gaon/runtime/planner.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <array>

using namespace mlir;

namespace gaon::cuda {
namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

uint64_t bytesOf(Value v) {
  auto type = tensorType(v);
  unsigned bits = type.getElementType().getIntOrFloatBitWidth();
  return uint64_t(type.getNumElements()) * ((bits + 7) / 8);
}

std::vector<int64_t> shapeOf(Value v) {
  auto shape = tensorType(v).getShape();
  return {shape.begin(), shape.end()};
}

std::string nameOf(func::FuncOp func, unsigned index, bool result) {
  auto attr = result ? func.getResultAttrOfType<StringAttr>(index, "gaon.name")
                     : func.getArgAttrOfType<StringAttr>(index, "gaon.name");
  return attr ? attr.getValue().str()
              : (result ? "output_" : "input_") + std::to_string(index);
}

/// Where a value lives: a tensor of the artifact (its binding) + offset.
struct Storage {
  uint32_t tensorId = 0;
  uint64_t offset = 0;
};

class PlanBuilder {
public:
  PlanBuilder(func::FuncOp func, const CudaEmitOptions &options)
      : func(func), options(options),
        writer(options.modelName, options.target) {}

  LogicalResult build(ModuleOp module);
  rt::ArtifactWriter &artifact() { return writer; }

private:
  DevicePtr ptr(Value v) {
    Storage s = storage.lookup(v);
    return {s.tensorId, s.offset};
  }
  LogicalResult addWeights();
  LogicalResult addActivations();
  LogicalResult emitStep(Operation *op);
  LogicalResult emitMatmul(MatMulOp op);
  /// How attention reads and writes its tensors (gaon_cuda.attention):
  /// per (query, key, value, result) whether it is [B, S, H, D] ("bshd")
  /// rather than [B, H, S, D]; the first head each operand uses; the heads
  /// of the query and of the key/value.
  struct AttentionLayout {
    std::array<bool, 4> bshd = {false, false, false, false};
    std::array<int64_t, 3> headOffset = {0, 0, 0};
    int64_t heads = 0, kvHeads = 0;
  };
  LogicalResult emitAttention(Operation *op, Value query, Value key,
                              Value value, Value mask, Value result,
                              double scale, bool causal,
                              const AttentionLayout &layout);
  LogicalResult planArena();

  func::FuncOp func;
  const CudaEmitOptions &options;
  rt::ArtifactWriter writer;
  Plan plan;
  llvm::StringMap<uint32_t> moduleIndex;
  llvm::DenseMap<Value, Storage> storage;
  // Arena tensors (inputs, outputs, intermediates) and their live ranges.
  struct ArenaTensor {
    uint32_t id;
    uint32_t first, last;
  };
  std::vector<ArenaTensor> arenaTensors;
  llvm::DenseMap<uint32_t, size_t> arenaIndex; // tensor id -> arenaTensors
  uint32_t stepIndex = 0;
  // Outputs that no step writes in place get a copy at the end.
  std::vector<std::pair<Value, uint32_t>> outputCopies;
};

LogicalResult PlanBuilder::addWeights() {
  unsigned index = 0;
  uint64_t total = 0;
  for (auto constant : func.getBody().front().getOps<graph::ConstantOp>())
    total += bytesOf(constant.getResult()) + rt::kWeightAlignment;
  writer.reserveWeights(total);
  for (auto constant : func.getBody().front().getOps<graph::ConstantOp>()) {
    std::optional<graph::ConstantTensor> copy;
    auto bytes = graph::readElementBytes(constant.getValue(), copy);
    auto dtype = graph::runtimeDType(constant.getType().getElementType());
    if (!bytes || !dtype)
      return constant.emitError("constant has no readable data");
    auto loc = dyn_cast<NameLoc>(constant.getLoc());
    std::string name =
        loc ? loc.getName().str() : "const_" + std::to_string(index);
    ++index;
    uint32_t id = writer.addWeight(name, *dtype, shapeOf(constant.getResult()),
                                   bytes->data(), bytes->size());
    storage[constant.getResult()] = {id, 0};
  }
  return success();
}

LogicalResult PlanBuilder::addActivations() {
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (BlockArgument arg : body.getArguments()) {
    auto dtype = graph::runtimeDType(tensorType(arg).getElementType());
    if (!dtype)
      return func.emitError("input ")
             << arg.getArgNumber() << " has an unsupported element type";
    uint32_t id = writer.addInput(nameOf(func, arg.getArgNumber(), false),
                                  *dtype, shapeOf(arg));
    storage[arg] = {id, 0};
    arenaIndex[id] = arenaTensors.size();
    arenaTensors.push_back({id, 0, ~0u});
  }
  // A returned value produced by a step is written straight into its
  // output tensor; the rest (inputs, weights, views, repeated results) are
  // copied there at the end.
  llvm::DenseSet<Value> claimed;
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    auto dtype = graph::runtimeDType(tensorType(value).getElementType());
    if (!dtype)
      return func.emitError("output ")
             << i << " has an unsupported element type";
    uint32_t id =
        writer.addOutput(nameOf(func, i, true), *dtype, shapeOf(value));
    arenaIndex[id] = arenaTensors.size();
    arenaTensors.push_back({id, 0, ~0u});
    Operation *def = value.getDefiningOp();
    bool stepResult =
        def && isa<LaunchOp, MatMulOp, AttentionOp, graph::AttentionOp>(def);
    if (stepResult && claimed.insert(value).second)
      storage[value] = {id, 0};
    else
      outputCopies.push_back({value, id});
  }
  return success();
}

LogicalResult PlanBuilder::emitMatmul(MatMulOp op) {
  auto lhs = tensorType(op.getLhs()), rhs = tensorType(op.getRhs());
  auto dtype = graph::runtimeDType(lhs.getElementType());
  MatmulStep step;
  step.dtype = *dtype;
  int64_t rank = lhs.getRank();
  step.k = lhs.getDimSize(rank - 1);
  step.n = tensorType(op.getResult()).getShape().back();
  step.transB = op.getTransposeRhs();
  int64_t batch = 1;
  for (int64_t d : lhs.getShape().drop_back(2))
    batch *= d;
  int64_t m = lhs.getDimSize(rank - 2);
  if (rhs.getRank() == 2) {
    // A shared rhs: fold the batch into M, one GEMM.
    step.m = m * batch;
    step.batch = 1;
  } else {
    step.m = m;
    step.batch = batch;
    step.strideA = m * step.k;
    step.strideB = step.k * step.n;
    step.strideD = m * step.n;
  }
  step.lda = step.k;
  // A 2-D rhs may be wider than the result (zero-padded aligned rows).
  step.ldb = step.transB ? step.k : rhs.getShape().back();
  step.ldd = step.n;
  step.f32Out = tensorType(op.getResult()).getElementType().isF32() &&
                !lhs.getElementType().isF32();
  StringRef act = op.getActivation();
  bool bias = op.getBias() != nullptr;
  step.epilogue = act == "gelu_tanh"
                      ? (bias ? Epilogue::BiasGelu : Epilogue::Gelu)
                  : act == "relu" ? (bias ? Epilogue::BiasRelu : Epilogue::Relu)
                  : bias          ? Epilogue::Bias
                                  : Epilogue::None;
  step.a = ptr(op.getLhs());
  step.b = ptr(op.getRhs());
  if (bias)
    step.bias = ptr(op.getBias());
  step.d = ptr(op.getResult());
  if (op.getResidual()) {
    step.beta = 1.0f;
    step.c = ptr(op.getResidual());
  }
  plan.steps.push_back(step);
  return success();
}

LogicalResult PlanBuilder::emitAttention(Operation *op, Value query, Value key,
                                         Value value, Value mask, Value result,
                                         double scale, bool causal,
                                         const AttentionLayout &layout) {
  auto q = tensorType(query), k = tensorType(key);
  auto dtype = graph::runtimeDType(q.getElementType());
  if (!dtype || (*dtype != rt::DType::F32 && *dtype != rt::DType::F16 &&
                 *dtype != rt::DType::BF16))
    return op->emitError("attention on the cuda target needs f32, f16 or "
                         "bf16 data");
  if (q.getRank() != 4)
    return op->emitError("attention on the cuda target needs rank-4 "
                         "[B, H, S, D] operands");
  const auto &bshd = layout.bshd;
  AttentionStep step;
  step.dtype = *dtype;
  step.batch = int32_t(q.getDimSize(0));
  step.heads = int32_t(layout.heads);
  step.seqQ = int32_t(q.getDimSize(bshd[0] ? 1 : 2));
  step.headDim = int32_t(q.getDimSize(3));
  step.kvHeads = int32_t(layout.kvHeads);
  step.seqK = int32_t(k.getDimSize(bshd[1] ? 1 : 2));
  step.scale = float(scale);
  step.causal = causal;
  // Element strides over (batch, head, seq) of the whole operand; the head
  // dim is contiguous.
  auto strides = [](RankedTensorType t, bool isBshd, int64_t out[3]) {
    int64_t d = t.getDimSize(3);
    int64_t inner = t.getDimSize(2) * d; // stride of dim 1
    out[0] = t.getDimSize(1) * inner;
    out[isBshd ? 2 : 1] = inner;
    out[isBshd ? 1 : 2] = d;
  };
  strides(q, bshd[0], step.qStride);
  strides(k, bshd[1], step.kStride);
  strides(tensorType(value), bshd[2], step.vStride);
  strides(tensorType(result), bshd[3], step.oStride);
  // An operand that is a head range of a larger tensor starts at its first
  // head.
  uint64_t elementBytes = rt::dtypeSize(*dtype);
  auto at = [&](Value v, int64_t headOffset, const int64_t stride[3]) {
    DevicePtr p = ptr(v);
    p.offset += uint64_t(headOffset * stride[1]) * elementBytes;
    return p;
  };
  step.q = at(query, layout.headOffset[0], step.qStride);
  step.k = at(key, layout.headOffset[1], step.kStride);
  step.v = at(value, layout.headOffset[2], step.vStride);
  step.o = ptr(result);
  if (mask) {
    auto mt = tensorType(mask);
    if (mt.getElementType() != q.getElementType())
      return op->emitError("attention mask must have the query's element "
                           "type on the cuda target");
    // Right-aligned broadcast to [B, H, Sq, Sk]; keys must be contiguous.
    SmallVector<int64_t> shape(4 - mt.getRank(), 1);
    llvm::append_range(shape, mt.getShape());
    if (shape[3] != step.seqK)
      return op->emitError("attention mask that broadcasts over the keys is "
                           "not supported on the cuda target");
    int64_t stride = shape[3];
    for (int d = 2; d >= 0; --d) {
      step.maskStride[d] = shape[d] == 1 ? 0 : stride;
      stride *= shape[d];
    }
    step.hasMask = true;
    step.mask = ptr(mask);
  }
  plan.steps.push_back(step);
  return success();
}

LogicalResult PlanBuilder::emitStep(Operation *op) {
  // Every value a step writes gets an intermediate arena tensor, unless it
  // is an output already bound above.
  for (Value result : op->getResults()) {
    if (storage.count(result))
      continue;
    auto dtype = graph::runtimeDType(tensorType(result).getElementType());
    if (!dtype)
      return op->emitError("result has an unsupported element type");
    uint32_t id = writer.addIntermediate(
        "t" + std::to_string(writer.model().tensors.size()), *dtype,
        shapeOf(result));
    storage[result] = {id, 0};
    arenaIndex[id] = arenaTensors.size();
    arenaTensors.push_back({id, stepIndex, stepIndex});
  }
  if (auto launch = dyn_cast<LaunchOp>(op)) {
    StringRef moduleName = launch.getKernel().getRootReference().getValue();
    auto it = moduleIndex.find(moduleName);
    if (it == moduleIndex.end())
      return op->emitError("kernel module '")
             << moduleName << "' has no PTX (serialize the kernels first)";
    LaunchStep step;
    step.module = it->second;
    step.kernel = launch.getKernel().getLeafReference().getValue().str();
    for (int d = 0; d < 3; ++d) {
      step.grid[d] = uint32_t(launch.getGrid()[d]);
      step.block[d] = uint32_t(launch.getBlock()[d]);
    }
    step.sharedBytes = uint32_t(launch.getSharedBytes());
    for (Value v : launch.getInputs())
      step.args.push_back(KernelArg::ptr(ptr(v)));
    for (Value v : launch.getResults())
      step.args.push_back(KernelArg::ptr(ptr(v)));
    plan.steps.push_back(std::move(step));
    return success();
  }
  if (auto matmul = dyn_cast<MatMulOp>(op))
    return emitMatmul(matmul);
  if (auto a = dyn_cast<graph::AttentionOp>(op))
    return emitAttention(op, a.getQuery(), a.getKey(), a.getValue(),
                         a.getMask(), a.getResult(),
                         a.getScale().convertToDouble(), a.getCausal(),
                         {{false, false, false, false},
                          {0, 0, 0},
                          tensorType(a.getQuery()).getDimSize(1),
                          tensorType(a.getKey()).getDimSize(1)});
  if (auto a = dyn_cast<AttentionOp>(op))
    return emitAttention(
        op, a.getQuery(), a.getKey(), a.getValue(), a.getMask(), a.getResult(),
        a.getScale().convertToDouble(), a.getCausal(),
        {{a.getQueryBshd(), a.getKeyBshd(), a.getValueBshd(),
          a.getResultBshd()},
         {int64_t(a.getQueryHeadOffset()), int64_t(a.getKeyHeadOffset()),
          int64_t(a.getValueHeadOffset())},
         a.getNumHeads(),
         a.getNumKvHeads()});
  return op->emitError("'")
         << op->getName() << "' was not lowered for the cuda target";
}

LogicalResult PlanBuilder::planArena() {
  // Tensors read by a step live until that step; views extend their root.
  std::vector<rt::PlannerTensor> tensors;
  for (const ArenaTensor &t : arenaTensors) {
    rt::PlannerTensor p;
    p.size = std::max<uint64_t>(writer.model().findTensor(t.id)->sizeBytes, 1);
    p.firstOp = t.first;
    p.lastOp = t.last == ~0u ? stepIndex : t.last;
    tensors.push_back(p);
  }
  rt::PlannerOptions plannerOptions;
  plannerOptions.alignment = 256; // cuBLASLt and vector loads like it
  plannerOptions.allowInPlace = false;
  auto memoryPlan = rt::planMemory(tensors, plannerOptions);
  if (!memoryPlan.isOk())
    return func.emitError("memory planning failed: ")
           << memoryPlan.status().message();
  for (size_t i = 0; i < arenaTensors.size(); ++i)
    writer.setArenaOffset(arenaTensors[i].id, memoryPlan->offsets[i]);
  writer.setMemoryPlan(memoryPlan->arenaSize, memoryPlan->lowerBound, 256);
  return success();
}

LogicalResult PlanBuilder::build(ModuleOp module) {
  plan.arch = options.arch;
  for (auto &[name, ptx] : collectPtx(module)) {
    moduleIndex[name] = plan.modules.size();
    plan.modules.push_back(ptx);
  }
  if (failed(addWeights()) || failed(addActivations()))
    return failure();
  Block &body = func.getBody().front();
  for (Operation &op : body.without_terminator()) {
    if (isa<graph::ConstantOp>(op))
      continue;
    if (auto reshape = dyn_cast<graph::ReshapeOp>(op)) {
      storage[reshape.getResult()] = storage.lookup(reshape.getInput());
      continue;
    }
    // Reads extend the live range of the tensors they touch.
    for (Value operand : op.getOperands()) {
      auto it = arenaIndex.find(storage.lookup(operand).tensorId);
      if (it != arenaIndex.end() && arenaTensors[it->second].last != ~0u)
        arenaTensors[it->second].last =
            std::max(arenaTensors[it->second].last, stepIndex);
    }
    if (failed(emitStep(&op)))
      return failure();
    ++stepIndex;
  }
  for (auto &[value, outputId] : outputCopies) {
    auto it = arenaIndex.find(storage.lookup(value).tensorId);
    if (it != arenaIndex.end() && arenaTensors[it->second].last != ~0u)
      arenaTensors[it->second].last =
          std::max(arenaTensors[it->second].last, stepIndex);
    CopyStep copy;
    copy.src = ptr(value);
    copy.dst = {outputId, 0};
    copy.bytes = bytesOf(value);
    plan.steps.push_back(copy);
  }
  if (!outputCopies.empty())
    ++stepIndex;
  if (failed(planArena()))
    return failure();

  // One dispatch binds every tensor; binding i is tensor i.
  const rt::ModelDesc &model = writer.model();
  plan.bindingCount = uint32_t(model.tensors.size());
  rt::DispatchDesc dispatch;
  for (const rt::TensorDesc &t : model.tensors)
    dispatch.bindings.push_back({t.id, t.kind == rt::TensorKind::Input ||
                                               t.kind == rt::TensorKind::Weight
                                           ? rt::Access::Read
                                       : t.kind == rt::TensorKind::Output
                                           ? rt::Access::Write
                                           : rt::Access::ReadWrite});
  writer.setProducer("gaon-compile");
  writer.addCompilerOption("cuda.arch", options.arch);
  writer.addCompilerOption("cuda.steps", std::to_string(plan.steps.size()));
  uint32_t program = writer.addProgram(options.target, kPlanFormat,
                                       encodePlan(plan), {"forward"});
  writer.addDispatch(program, dispatch);
  return success();
}

} // namespace

LogicalResult emitCudaArtifact(ModuleOp module, const std::string &path,
                               const CudaEmitOptions &options) {
  auto func = module.lookupSymbol<func::FuncOp>("main");
  if (!func)
    return module.emitError("emitCudaArtifact needs func.func @main");
  PlanBuilder builder(func, options);
  if (failed(builder.build(module)))
    return failure();
  rt::Status status = builder.artifact().writeFile(path);
  if (!status.isOk())
    return module.emitError("cannot write '")
           << path << "': " << status.message();
  return success();
}

} // namespace gaon::cuda
