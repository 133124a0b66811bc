//===- ConvertPrecision.cpp - Compute in bf16 or f16 ----------------------===//

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <cstring>

namespace gaon {
#define GEN_PASS_DEF_CONVERTPRECISION
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using gaon::graph::ConstantTensor;

namespace gaon {
namespace {

/// f32 -> bf16 with round to nearest even (NaN stays NaN). Finite values
/// that would round to infinity saturate instead: exporters write masks as
/// finfo(float32).min, and (1 - mask) * -inf would be NaN. Weights are large:
/// this avoids APFloat per element.
uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x40);
  bool finite = (bits & 0x7f800000) != 0x7f800000;
  uint32_t rounded = bits + 0x7fff + ((bits >> 16) & 1);
  if (finite && (rounded & 0x7f800000) == 0x7f800000)
    return uint16_t(((bits >> 16) & 0x8000) | 0x7f7f); // largest finite
  return uint16_t(rounded >> 16);
}

bool isF32Tensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getElementType().isF32();
}

Type converted(Type type, Type element) {
  return cast<RankedTensorType>(type).clone(element);
}

/// The ops of a quantization step that must stay f32: bf16 holds only
/// integers up to 256 exactly, so `round(x / scale) + zp` computed in bf16
/// picks other quantization levels than the model's. The step is
/// clamp([add(] round(div(x, scale)) [, zp)]) (QuantizeLinear) and the
/// sub/mul that dequantize the clamp (DequantizeLinear).
llvm::DenseSet<Operation *> quantizationIslands(Block &body) {
  llvm::DenseSet<Operation *> island;
  for (Operation &op : body) {
    auto clamp = dyn_cast<graph::ClampOp>(op);
    if (!clamp)
      continue;
    Operation *inner = clamp.getInput().getDefiningOp();
    auto add = dyn_cast_or_null<graph::AddOp>(inner);
    if (add)
      inner = add.getLhs().getDefiningOp();
    auto round = dyn_cast_or_null<graph::RoundOp>(inner);
    auto div = round ? round.getInput().getDefiningOp<graph::DivOp>() : nullptr;
    if (!div)
      continue;
    island.insert(clamp);
    island.insert(round);
    island.insert(div);
    if (add)
      island.insert(add);
    for (Operation *user : clamp->getUsers()) {
      if (!isa<graph::SubOp, graph::MulOp>(user))
        continue;
      island.insert(user);
      if (isa<graph::SubOp>(user))
        for (Operation *scale : user->getUsers())
          if (isa<graph::MulOp>(scale))
            island.insert(scale);
    }
  }
  return island;
}

/// Elementwise and shape ops that index arithmetic is made of.
bool isIndexArithmetic(Operation *op) {
  return isa<graph::AddOp, graph::SubOp, graph::MulOp, graph::DivOp,
             graph::FloorOp, graph::CeilOp, graph::RoundOp, graph::MinOp,
             graph::MaxOp, graph::NegOp, graph::AbsOp, graph::ModOp,
             graph::PowOp, graph::LogOp, graph::ExpOp, graph::SqrtOp,
             graph::ClampOp, graph::SelectOp, graph::SliceOp, graph::ReshapeOp,
             graph::TransposeOp, graph::BroadcastOp, graph::ConcatOp,
             graph::CastOp, graph::LessOp, graph::LessEqualOp, graph::GreaterOp,
             graph::GreaterEqualOp, graph::EqualOp, graph::AndOp, graph::OrOp,
             graph::NotOp>(op);
}

/// Float arithmetic that ends in an integer index (a float -> integer cast)
/// stays f32: coordinates floored or rounded into indices (GridSample's
/// taps, T5's log-spaced position buckets) move by whole positions when
/// computed in bf16 (1/32 apart at 4..8), and weights taken from the same
/// coordinates (an interpolation's fractions) would be that far off. The
/// island is the index arithmetic each such cast reads, transitively, plus
/// index arithmetic all of whose float operands come from the island,
/// constants or arguments the island reads.
void addIndexIslands(Block &body, llvm::DenseSet<Operation *> &island) {
  SmallVector<Operation *> work;
  for (Operation &op : body) {
    auto cast = dyn_cast<graph::CastOp>(op);
    if (!cast || !isF32Tensor(cast.getInput().getType()) ||
        !isa<IntegerType>(cast.getResult().getType().getElementType()))
      continue;
    work.push_back(cast);
  }
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!isIndexArithmetic(op) || !island.insert(op).second)
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        work.push_back(def);
  }
  for (Operation &op : body) {
    if (island.contains(&op) || !isIndexArithmetic(&op))
      continue;
    bool fromIsland = false, allowed = true;
    for (Value operand : op.getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && island.contains(def))
        fromIsland = true;
      else if (isF32Tensor(operand.getType()) &&
               !(def && isa<graph::ConstantOp>(def)) &&
               !(isa<BlockArgument>(operand) &&
                 llvm::any_of(operand.getUsers(), [&](Operation *user) {
                   return island.contains(user);
                 })))
        allowed = false; // a value the island does not also read
    }
    if (fromIsland && allowed)
      island.insert(&op);
  }
}

struct ConvertPrecisionPass : impl::ConvertPrecisionBase<ConvertPrecisionPass> {
  using ConvertPrecisionBase::ConvertPrecisionBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    OpBuilder b(&getContext());
    Type element;
    if (dtype == "bf16")
      element = b.getBF16Type();
    else if (dtype == "f16")
      element = b.getF16Type();
    else {
      func.emitError("gaon-convert-precision: unknown dtype '")
          << dtype << "' (bf16 or f16)";
      return signalPassFailure();
    }
    Block &body = func.getBody().front();
    llvm::DenseSet<Operation *> island = quantizationIslands(body);
    addIndexIslands(body, island);
    auto inIsland = [&](Operation *op) { return op && island.contains(op); };
    // Arguments are cast on entry (islands read them as they are).
    b.setInsertionPointToStart(&body);
    for (BlockArgument arg : body.getArguments()) {
      if (!isF32Tensor(arg.getType()))
        continue;
      auto cast = graph::CastOp::create(b, arg.getLoc(),
                                        converted(arg.getType(), element), arg);
      arg.replaceUsesWithIf(cast.getResult(), [&](OpOperand &use) {
        return use.getOwner() != cast && !inIsland(use.getOwner());
      });
    }
    // Casts at the islands' edges, one per value and direction.
    llvm::DenseMap<std::pair<Value, Type>, Value> edgeCasts;
    auto castAt = [&](Operation *user, OpOperand &operand, Type to) {
      Value value = operand.get();
      Value &cast = edgeCasts[{value, to}];
      if (!cast) {
        OpBuilder::InsertionGuard guard(b);
        if (Operation *def = value.getDefiningOp())
          b.setInsertionPointAfter(def);
        else
          b.setInsertionPoint(user);
        cast = graph::CastOp::create(b, user->getLoc(),
                                     converted(value.getType(), to), value);
      }
      operand.set(cast);
    };
    for (Operation &op :
         llvm::make_early_inc_range(body.without_terminator())) {
      if (auto constant = dyn_cast<graph::ConstantOp>(op)) {
        // A scale or zero point that only islands read stays exact.
        bool islandOnly = !constant->use_empty() &&
                          llvm::all_of(constant->getUsers(), inIsland);
        if (isF32Tensor(constant.getType()) && !islandOnly &&
            failed(convert(constant, element)))
          return signalPassFailure();
        continue;
      }
      bool keep = inIsland(&op);
      for (OpOperand &operand : op.getOpOperands()) {
        auto type = dyn_cast<RankedTensorType>(operand.get().getType());
        if (!type)
          continue;
        if (keep && type.getElementType() == element)
          castAt(&op, operand, b.getF32Type());
        else if (!keep && type.getElementType().isF32() &&
                 inIsland(operand.get().getDefiningOp()))
          castAt(&op, operand, element);
      }
      if (keep)
        continue;
      for (Value result : op.getResults())
        if (isF32Tensor(result.getType()))
          result.setType(converted(result.getType(), element));
    }
    // Results go back to f32 so the signature does not change.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    b.setInsertionPoint(ret);
    for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
      Value value = ret.getOperand(i);
      if (isF32Tensor(type) && value.getType() != type)
        ret.setOperand(i, graph::CastOp::create(b, ret.getLoc(), type, value));
    }
  }

  LogicalResult convert(graph::ConstantOp constant, Type element) {
    std::optional<ConstantTensor> copy;
    auto bytes = graph::readElementBytes(constant.getValue(), copy);
    if (!bytes)
      return constant.emitError("constant has no readable data");
    auto type = cast<RankedTensorType>(converted(constant.getType(), element));
    int64_t n = type.getNumElements();
    const float *in = reinterpret_cast<const float *>(bytes->data());
    std::string name = "converted";
    if (auto resource =
            dyn_cast<DenseResourceElementsAttr>(constant.getValue()))
      name = resource.getRawHandle().getKey().str();
    ElementsAttr value;
    if (element.isBF16() && n > graph::kMaxInlineElements) {
      // Weights: convert straight into the new blob.
      AsmResourceBlob blob =
          HeapAsmResourceBlob::allocate(n * 2, 8, /*dataIsMutable=*/true);
      auto *out = reinterpret_cast<uint16_t *>(blob.getMutableData().data());
      for (int64_t i = 0; i < n; ++i)
        out[i] = toBf16(in[i]);
      value = DenseResourceElementsAttr::get(type, name, std::move(blob));
    } else {
      ConstantTensor target(type);
      constexpr double kF16Max = 65504.0;
      for (int64_t i = 0; i < n; ++i) {
        if (element.isBF16()) {
          uint16_t b = toBf16(in[i]);
          std::memcpy(&target.bytes()[i * 2], &b, 2);
          continue;
        }
        double v = in[i];
        if (std::isfinite(v))
          v = std::max(-kF16Max, std::min(kF16Max, v)); // saturate, as bf16
        target.setDouble(i, v);
      }
      value = std::move(target).toAttr(name);
    }
    constant.setValueAttr(value);
    constant.getResult().setType(type);
    return success();
  }
};

} // namespace
} // namespace gaon
