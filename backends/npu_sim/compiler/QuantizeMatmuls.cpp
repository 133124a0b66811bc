//===- QuantizeMatmuls.cpp - int8 products over constant weights ----------===//
//
// --dtype int8 on npu-sim: the graph is converted to bf16 as for --dtype
// bf16, then every product with constant weights runs on the tensor unit's
// int8 rate (twice bf16's on rngd) over weights half the size. Weights are
// quantized here, symmetric per tensor; activations per tensor at run time
// (gaon_npu.quantize), so no calibration data is needed. This is
// onnxruntime's default dynamic quantization (per-tensor weights), with a
// symmetric activation scale. Per-tensor scales keep the dequantization one
// scalar multiply in the matmul's epilogue.
//
//===----------------------------------------------------------------------===//

#include "gaon/Backends/NpuSim/ChipLoader.h"
#include "gaon/Backends/NpuSim/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"
#include "gaon/Dialect/Npu/NpuDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace gaon::npu {
#define GEN_PASS_DEF_NPUQUANTIZEMATMULS
#include "gaon/Backends/NpuSim/Passes.h.inc"
} // namespace gaon::npu

using namespace mlir;

namespace gaon::npu {
namespace {

/// The weights of a product that can run in int8: a 2-D float constant.
static std::optional<graph::ConstantTensor> quantizableWeights(Value rhs) {
  auto constant = rhs.getDefiningOp<graph::ConstantOp>();
  if (!constant || constant.getType().getRank() != 2 ||
      !isa<FloatType>(constant.getType().getElementType()))
    return std::nullopt;
  return graph::ConstantTensor::fromAttr(constant.getValue());
}

/// The weights as floats. bf16 and f32 are decoded straight from the
/// attribute's bytes: element-wise ConstantTensor access took 4.9 s of
/// BERT-base's compile.
static std::vector<float> weightValues(Value rhs) {
  auto constant = rhs.getDefiningOp<graph::ConstantOp>();
  Type element = constant.getType().getElementType();
  std::optional<graph::ConstantTensor> storage;
  std::optional<ArrayRef<char>> bytes =
      graph::readElementBytes(constant.getValue(), storage);
  int64_t n = constant.getType().getNumElements();
  std::vector<float> values(n);
  if (bytes && element.isBF16() && int64_t(bytes->size()) == 2 * n) {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, bytes->data() + 2 * i, 2);
      uint32_t word = uint32_t(bits) << 16;
      std::memcpy(&values[i], &word, 4);
    }
    return values;
  }
  if (bytes && element.isF32() && int64_t(bytes->size()) == 4 * n) {
    std::memcpy(values.data(), bytes->data(), 4 * n);
    return values;
  }
  graph::ConstantTensor w = *quantizableWeights(rhs);
  for (int64_t i = 0; i < n; ++i)
    values[i] = static_cast<float>(w.getDouble(i));
  return values;
}

struct Product {
  Operation *op;
  Value lhs, rhs, bias, residual, residualScale;
  StringAttr activation;
};

static std::optional<Product> productOf(Operation *op, MLIRContext *context) {
  if (auto m = dyn_cast<graph::MatMulOp>(op))
    return Product{op,
                   m.getLhs(),
                   m.getRhs(),
                   {},
                   {},
                   {},
                   StringAttr::get(context, "none")};
  if (auto m = dyn_cast<MatMulOp>(op); m && !m.getDequantScale())
    return Product{op,
                   m.getLhs(),
                   m.getRhs(),
                   m.getBias(),
                   m.getResidual(),
                   m.getResidualScale(),
                   m.getActivationAttr()};
  return std::nullopt;
}

struct NpuQuantizeMatmulsPass
    : impl::NpuQuantizeMatmulsBase<NpuQuantizeMatmulsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto chipAttr = module->getAttrOfType<ChipAttr>(kChipAttrName);
    if (!chipAttr) {
      module.emitError("gaon-npu-quantize-matmuls needs the chip attached "
                       "(gaon-npu-attach-chip)");
      return signalPassFailure();
    }
    std::string error;
    std::optional<npu_sim::ChipDesc> chip = parseChipDesc(
        chipAttr.getJson().str(), chipAttr.getName().str(), error);
    if (!chip) {
      module.emitError(error);
      return signalPassFailure();
    }
    if (chip->peakMacsPerCycle(npu_sim::DType::I8) <= 0) {
      module.emitError() << "--dtype int8: the tensor unit of chip '"
                         << chipAttr.getName()
                         << "' has no int8 rate (its description lists no "
                            "\"int8\" under macs_per_cycle)";
      return signalPassFailure();
    }
    SmallVector<Operation *> products;
    module.walk([&](Operation *op) {
      std::optional<Product> p = productOf(op, &getContext());
      if (p && isa<FloatType>(
                   cast<RankedTensorType>(p->lhs.getType()).getElementType()))
        if (quantizableWeights(p->rhs))
          products.push_back(op);
    });
    // Operands are read when each product is rewritten: one product's
    // result may be the next one's lhs (FFN up -> down).
    for (Operation *op : products)
      quantize(*productOf(op, &getContext()));
    // Weights several products shared are quantized once (`quantized`) and
    // erased once nothing reads them.
    for (auto &entry : quantized)
      if (Operation *old = entry.first.getDefiningOp(); old && old->use_empty())
        old->erase();
  }

  /// Per float weight constant: its int8 copy and its scale.
  llvm::DenseMap<Value, std::pair<Value, Value>> quantized;

  std::pair<Value, Value> quantizeWeights(Value rhs) {
    auto found = quantized.find(rhs);
    if (found != quantized.end())
      return found->second;
    std::vector<float> w = weightValues(rhs);
    auto rhsType = cast<RankedTensorType>(rhs.getType());
    double peak = 0;
    for (float v : w)
      peak = std::max(peak, double(std::fabs(v)));
    double scale = peak > 0 ? peak / 127.0 : 1.0;
    Builder builder(&getContext());
    Type i8 = builder.getIntegerType(8), f32 = builder.getF32Type();
    graph::ConstantTensor wq(RankedTensorType::get(rhsType.getShape(), i8));
    MutableArrayRef<char> out = wq.bytes();
    for (size_t i = 0; i < w.size(); ++i)
      out[i] = static_cast<char>(static_cast<int8_t>(
          std::clamp(std::nearbyint(double(w[i]) / scale), -127.0, 127.0)));
    graph::ConstantTensor ws(RankedTensorType::get({1}, f32));
    ws.setDouble(0, static_cast<float>(scale));
    // Beside the float weights, which dominate every product reading them.
    OpBuilder b(rhs.getDefiningOp());
    Location loc = rhs.getLoc();
    Value weights =
        graph::ConstantOp::create(b, loc, std::move(wq).toAttr("int8_weights"));
    Value weightScale = graph::ConstantOp::create(
        b, loc, std::move(ws).toAttr("int8_weight_scale"));
    return quantized[rhs] = {weights, weightScale};
  }

  void quantize(const Product &p) {
    auto [weights, weightScale] = quantizeWeights(p.rhs);
    OpBuilder b(p.op);
    Location loc = p.op->getLoc();
    auto lhsType = cast<RankedTensorType>(p.lhs.getType());
    auto scaleType = cast<RankedTensorType>(weightScale.getType());
    auto activation = QuantizeOp::create(
        b, loc, RankedTensorType::get(lhsType.getShape(), b.getIntegerType(8)),
        scaleType, p.lhs, weightScale);
    Value product = MatMulOp::create(
        b, loc, p.op->getResult(0).getType(), activation.getResult(), weights,
        p.bias, p.residual, p.residualScale, activation.getDequantScale(),
        p.activation);
    p.op->getResult(0).replaceAllUsesWith(product);
    p.op->erase();
  }
};

} // namespace
} // namespace gaon::npu
