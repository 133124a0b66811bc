//===- FusionsToLinalg.cpp - Fusion bodies as linalg on tensors -----------===//
//
// Rewrites the body of each gaon_cuda.fusion from gaon_graph ops into
// linalg on tensors, which gaon-cuda-lower-fusions then lowers to the
// gpu.func. Every elementwise op becomes one all-parallel linalg.generic
// whose indexing maps are its operands' index maps (numpy broadcasting,
// transposes, reshapes as linearize/delinearize maps); a row op at the root
// (softmax over the last axis, layer/RMS norm, float reductions over
// trailing axes) becomes the reduction generics (a `reduction` iterator
// over the row) and parallel generics that the row kernel runs, in the
// order it runs them.
//
// The generic bodies are built by ScalarOps, the code the elemental emitter
// uses, and intermediate tensors have the compute type (f32 for f16/bf16
// data, as the kernels compute); a last generic narrows the yielded value
// to its storage type. So the linalg computes exactly what the kernel
// stores, and both lowerings produce the same arithmetic.
//
// Fusions with any other op keep their gaon_graph body for the elemental
// emitter (KernelEmitter.cpp), because:
//  - gather, gather_elements, gather_nd: operand indices are data (read from
//    another tensor), which indexing maps cannot express;
//  - concat, pad, trilu: the element comes from a select between inputs or
//    a constant by index, not from one affine map per operand;
//  - slice, tile, split (multi-result): affine but not lowered here yet;
//  - reductions over leading axes, integer/f64 reductions, reduce_prod,
//    argmax, cumsum, softmax on another axis, matmul: the serial schedule
//    (one thread loops over the reduced elements) has no linalg lowering;
//  - non-splat constants, rank-0 or empty results, unsigned integers.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"
#include "ScalarOps.h"

#include "gaon/Backends/Cuda/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/TypeSwitch.h"

namespace gaon::cuda {
#define GEN_PASS_DEF_CUDAFUSIONSTOLINALG
#include "gaon/Backends/Cuda/Passes.h.inc"
} // namespace gaon::cuda

using namespace mlir;
namespace g = gaon::graph;

namespace gaon::cuda {
namespace {

using utils::IteratorType;

/// Whether `op` has a linalg form inside a fusion (row ops only as root).
bool isLinalgElementwise(Operation *op) {
  if (auto constant = dyn_cast<g::ConstantOp>(op)) {
    auto attr = dyn_cast<DenseElementsAttr>(constant.getValue());
    return attr && attr.isSplat();
  }
  // Integer pow loops over the exponent's bits (scf.for): the direct
  // emitter takes it.
  if (isa<g::PowOp>(op) &&
      !isa<FloatType>(getElementTypeOrSelf(op->getResult(0).getType())))
    return false;
  return ScalarOps::isUnary(op) || ScalarOps::isBinary(op) ||
         isa<g::CastOp, g::ClampOp, g::SelectOp, g::BroadcastOp, g::TransposeOp,
             g::ReshapeOp>(op);
}

bool hasLinalgForm(FusionOp fusion) {
  auto yield = cast<YieldOp>(fusion.getBlock().getTerminator());
  if (yield.getValues().size() != 1)
    return false;
  Operation *root = yield.getValues().front().getDefiningOp();
  if (!root)
    return false;
  auto resultType = tensorType(yield.getValues().front());
  if (resultType.getRank() == 0 || resultType.getNumElements() == 0)
    return false;
  for (Operation &op : fusion.getBlock().without_terminator()) {
    for (Type type :
         llvm::concat<Type>(op.getOperandTypes(), op.getResultTypes())) {
      auto tensor = dyn_cast<RankedTensorType>(type);
      if (!tensor || !tensor.hasStaticShape() || tensor.getNumElements() == 0)
        return false;
      if (auto integer = dyn_cast<IntegerType>(tensor.getElementType());
          integer && !integer.isSignless())
        return false;
    }
    if (!isLinalgElementwise(&op) &&
        !(&op == root && rowOpFirstAxis(&op).has_value()))
      return false;
  }
  return true;
}

/// Numpy broadcasting of `operand` to a result of rank `rank`.
AffineMap broadcastMap(MLIRContext *ctx, ArrayRef<int64_t> shape,
                       int64_t rank) {
  SmallVector<AffineExpr> exprs;
  int64_t offset = rank - int64_t(shape.size());
  for (auto [d, size] : llvm::enumerate(shape))
    exprs.push_back(size == 1 ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(offset + d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// Builds the linalg form of one fusion body in front of its terminator.
class LinalgBuilder : public ScalarOps {
public:
  using ScalarOps::ScalarOps;

  void convert(Operation *op);
  /// The yielded value in its storage type.
  Value result(Value old);

private:
  /// One operand of an elementwise op: a tensor read through a map, or a
  /// splat constant materialized in each body that reads it.
  struct Operand {
    Value tensor;
    AffineMap map;
    g::ConstantOp splat;
  };
  Operand operand(Value old, AffineMap map) {
    if (auto constant = old.getDefiningOp<g::ConstantOp>())
      return {Value(), AffineMap(), constant};
    Value tensor = converted.lookup(old);
    return {tensor ? tensor : old, map, nullptr};
  }
  Operand broadcastOperand(Value old, int64_t rank) {
    return operand(
        old, broadcastMap(b.getContext(), tensorType(old).getShape(), rank));
  }
  Value widen(Value x) {
    if (x.getType().isF16() || x.getType().isBF16())
      return arith::ExtFOp::create(b, loc, b.getF32Type(), x);
    return x;
  }
  /// A linalg.generic producing `type` over `iterators`, its output written
  /// through `outMap` into `init` (tensor.empty when null); `body` gets the
  /// operands' elements in compute type (and the accumulator).
  Value generic(RankedTensorType type, ArrayRef<Operand> operands,
                AffineMap outMap, ArrayRef<IteratorType> iterators, Value init,
                function_ref<Value(ArrayRef<Value>, Value)> body);
  /// An elementwise generic over the shape of `type` (identity output).
  Value parallel(RankedTensorType type, ArrayRef<Operand> operands,
                 function_ref<Value(ArrayRef<Value>)> body) {
    SmallVector<IteratorType> iterators(type.getRank(), IteratorType::parallel);
    return generic(type, operands, b.getMultiDimIdentityMap(type.getRank()),
                   iterators, Value(),
                   [&](ArrayRef<Value> in, Value) { return body(in); });
  }
  /// combine(kind) over the trailing axes [firstAxis, rank) of the row
  /// domain of `operands` (read through their maps) of
  /// `contribution(elements)`, into a tensor of `type` written via `outMap`.
  Value reduce(Combine kind, RankedTensorType type, AffineMap outMap,
               int64_t rank, int64_t firstAxis, ArrayRef<Operand> operands,
               function_ref<Value(ArrayRef<Value>)> contribution);
  void convertRowOp(Operation *op, int64_t firstAxis);

  /// Old gaon_graph values -> their linalg tensors (compute type).
  DenseMap<Value, Value> converted;
};

Value LinalgBuilder::generic(RankedTensorType type, ArrayRef<Operand> operands,
                             AffineMap outMap, ArrayRef<IteratorType> iterators,
                             Value init,
                             function_ref<Value(ArrayRef<Value>, Value)> body) {
  if (!init)
    init =
        tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  for (const Operand &o : operands)
    if (o.tensor) {
      ins.push_back(o.tensor);
      maps.push_back(o.map);
    }
  maps.push_back(outMap);
  auto op = linalg::GenericOp::create(b, loc, TypeRange{type}, ins,
                                      ValueRange{init}, maps, iterators);
  // The body is built here rather than in a body-builder callback: the
  // scalar code may throw Unsupported, which must not unwind through MLIR's
  // (exception-free) frames.
  SmallVector<Type> argTypes;
  for (Value v : ins)
    argTypes.push_back(tensorType(v).getElementType());
  argTypes.push_back(type.getElementType());
  OpBuilder::InsertionGuard guard(b);
  Block *block = b.createBlock(&op.getRegion(), {}, argTypes,
                               SmallVector<Location>(argTypes.size(), loc));
  SmallVector<Value> elements;
  unsigned next = 0;
  for (const Operand &o : operands)
    elements.push_back(o.tensor ? widen(block->getArgument(next++))
                                : splatConstant(o.splat));
  linalg::YieldOp::create(b, loc, body(elements, block->getArguments().back()));
  return op.getResult(0);
}

Value LinalgBuilder::reduce(Combine kind, RankedTensorType type,
                            AffineMap outMap, int64_t rank, int64_t firstAxis,
                            ArrayRef<Operand> operands,
                            function_ref<Value(ArrayRef<Value>)> contribution) {
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  Value init = linalg::FillOp::create(b, loc, ValueRange{identity(kind)},
                                      ValueRange{empty})
                   .getResult(0);
  SmallVector<IteratorType> iterators(firstAxis, IteratorType::parallel);
  iterators.append(rank - firstAxis, IteratorType::reduction);
  // The accumulator is the combiner's first operand: the row lowering
  // (KernelEmitter.cpp) takes the other one as the element's contribution.
  return generic(type, operands, outMap, iterators, init,
                 [&](ArrayRef<Value> in, Value acc) {
                   return combine(kind, acc, contribution(in));
                 });
}

void LinalgBuilder::convert(Operation *op) {
  if (isa<g::ConstantOp>(op))
    return; // materialized in each body that reads it
  if (std::optional<int64_t> firstAxis = rowOpFirstAxis(op);
      firstAxis && !isLinalgElementwise(op))
    return convertRowOp(op, *firstAxis);

  Value result = op->getResult(0);
  auto resultType = tensorType(result);
  int64_t rank = resultType.getRank();
  Type resultElement = resultType.getElementType();
  auto type =
      RankedTensorType::get(resultType.getShape(), computeType(resultElement));
  auto id = b.getMultiDimIdentityMap(rank);
  Value out =
      llvm::TypeSwitch<Operation *, Value>(op)
          .Case([&](g::CastOp c) {
            Type from = tensorType(c.getInput()).getElementType();
            return parallel(
                type, {operand(c.getInput(), id)}, [&](ArrayRef<Value> in) {
                  return ScalarOps::convert(in[0], from, resultElement);
                });
          })
          .Case([&](g::ClampOp c) {
            return parallel(
                type, {operand(c.getInput(), id)},
                [&](ArrayRef<Value> in) { return clamp(c, in[0]); });
          })
          .Case([&](g::SelectOp s) {
            return parallel(type,
                            {broadcastOperand(s.getCondition(), rank),
                             broadcastOperand(s.getLhs(), rank),
                             broadcastOperand(s.getRhs(), rank)},
                            [&](ArrayRef<Value> in) -> Value {
                              return arith::SelectOp::create(b, loc, in[0],
                                                             in[1], in[2]);
                            });
          })
          .Case([&](g::BroadcastOp o) {
            return parallel(type, {broadcastOperand(o.getInput(), rank)},
                            [&](ArrayRef<Value> in) { return in[0]; });
          })
          .Case([&](g::TransposeOp o) {
            // Result dim i reads input dim perm[i].
            ArrayRef<int64_t> perm = o.getPerm();
            SmallVector<AffineExpr> exprs(perm.size());
            for (size_t i = 0; i < perm.size(); ++i)
              exprs[perm[i]] = b.getAffineDimExpr(i);
            auto map = AffineMap::get(rank, 0, exprs, b.getContext());
            return parallel(type, {operand(o.getInput(), map)},
                            [&](ArrayRef<Value> in) { return in[0]; });
          })
          .Case([&](g::ReshapeOp o) {
            // The row-major linear index of the result element,
            // delinearized over the input's shape.
            AffineExpr linear = b.getAffineConstantExpr(0);
            for (int64_t d = 0; d < rank; ++d)
              linear =
                  linear * resultType.getDimSize(d) + b.getAffineDimExpr(d);
            ArrayRef<int64_t> inShape = tensorType(o.getInput()).getShape();
            SmallVector<AffineExpr> exprs(inShape.size());
            int64_t stride = 1;
            for (int64_t d = int64_t(inShape.size()) - 1; d >= 0; --d) {
              exprs[d] = linear.floorDiv(stride);
              if (d > 0)
                exprs[d] = exprs[d] % inShape[d];
              stride *= inShape[d];
            }
            auto map = AffineMap::get(rank, 0, exprs, b.getContext());
            return parallel(type, {operand(o.getInput(), map)},
                            [&](ArrayRef<Value> in) { return in[0]; });
          })
          .Default([&](Operation *) -> Value {
            if (isUnary(op))
              return parallel(
                  type, {broadcastOperand(op->getOperand(0), rank)},
                  [&](ArrayRef<Value> in) { return unary(op, in[0]); });
            Type operandElement =
                tensorType(op->getOperand(0)).getElementType();
            return parallel(type,
                            {broadcastOperand(op->getOperand(0), rank),
                             broadcastOperand(op->getOperand(1), rank)},
                            [&](ArrayRef<Value> in) {
                              return binary(op, in[0], in[1], operandElement);
                            });
          });
  converted[result] = out;
}

/// The row op as the kernel's row schedule runs it: per-row values from
/// reductions over the row [firstAxis, rank), then the output.
void LinalgBuilder::convertRowOp(Operation *op, int64_t firstAxis) {
  Value input = op->getOperand(0);
  auto inType = tensorType(input);
  int64_t rank = inType.getRank();
  int64_t rowSize = 1;
  for (int64_t d = firstAxis; d < rank; ++d)
    rowSize *= inType.getDimSize(d);
  MLIRContext *ctx = b.getContext();
  auto id = b.getMultiDimIdentityMap(rank);
  // Per-row values: one f32 per row, indexed by the leading dims.
  auto perRow = RankedTensorType::get(inType.getShape().take_front(firstAxis),
                                      b.getF32Type());
  SmallVector<AffineExpr> leading;
  for (int64_t d = 0; d < firstAxis; ++d)
    leading.push_back(b.getAffineDimExpr(d));
  auto rowMap = AffineMap::get(rank, 0, leading, ctx);
  auto perRowId = b.getMultiDimIdentityMap(firstAxis);
  Operand x = operand(input, id);
  auto rowOperand = [&](Value v) { return Operand{v, rowMap, nullptr}; };
  auto rowValue = [&](ArrayRef<Operand> operands,
                      function_ref<Value(ArrayRef<Value>)> body) {
    SmallVector<Operand> ops;
    for (const Operand &o : operands)
      ops.push_back({o.tensor, perRowId, nullptr});
    return parallel(perRow, ops, body);
  };
  auto first = [](ArrayRef<Value> in) { return in[0]; };
  Type outType = RankedTensorType::get(tensorType(op->getResult(0)).getShape(),
                                       b.getF32Type());
  auto outTensor = cast<RankedTensorType>(outType);
  Value out =
      llvm::TypeSwitch<Operation *, Value>(op)
          .Case([&](g::SoftmaxOp o) {
            Value max = reduce(Combine::Max, perRow, rowMap, rank, firstAxis,
                               {x}, first);
            Value sum = reduce(
                Combine::Sum, perRow, rowMap, rank, firstAxis,
                {x, rowOperand(max)}, [&](ArrayRef<Value> in) -> Value {
                  return math::ExpOp::create(
                      b, loc, arith::SubFOp::create(b, loc, in[0], in[1]));
                });
            if (o.getLog()) {
              Value logSum = rowValue({{sum}}, [&](ArrayRef<Value> in) {
                return math::LogOp::create(b, loc, in[0]);
              });
              return parallel(
                  outTensor, {x, rowOperand(max), rowOperand(logSum)},
                  [&](ArrayRef<Value> in) -> Value {
                    Value shifted = arith::SubFOp::create(b, loc, in[0], in[1]);
                    return arith::SubFOp::create(b, loc, shifted, in[2]);
                  });
            }
            return parallel(
                outTensor, {x, rowOperand(max), rowOperand(sum)},
                [&](ArrayRef<Value> in) -> Value {
                  Value shifted = arith::SubFOp::create(b, loc, in[0], in[1]);
                  return arith::DivFOp::create(
                      b, loc, math::ExpOp::create(b, loc, shifted), in[2]);
                });
          })
          .Case([&](g::LayerNormOp o) {
            Value sum = reduce(Combine::Sum, perRow, rowMap, rank, firstAxis,
                               {x}, first);
            Value mean = rowValue({{sum}}, [&](ArrayRef<Value> in) -> Value {
              return arith::DivFOp::create(b, loc, in[0], f32(rowSize));
            });
            Value varSum =
                reduce(Combine::Sum, perRow, rowMap, rank, firstAxis,
                       {x, rowOperand(mean)}, [&](ArrayRef<Value> in) -> Value {
                         Value d = arith::SubFOp::create(b, loc, in[0], in[1]);
                         return arith::MulFOp::create(b, loc, d, d);
                       });
            double eps = o.getEpsilon().convertToDouble();
            Value inv = rowValue({{varSum}}, [&](ArrayRef<Value> in) -> Value {
              Value var = arith::DivFOp::create(b, loc, in[0], f32(rowSize));
              return math::RsqrtOp::create(
                  b, loc, arith::AddFOp::create(b, loc, var, f32(eps)));
            });
            SmallVector<Operand> operands{x, rowOperand(mean), rowOperand(inv),
                                          broadcastOperand(o.getScale(), rank)};
            if (o.getBias())
              operands.push_back(broadcastOperand(o.getBias(), rank));
            return parallel(
                outTensor, operands, [&](ArrayRef<Value> in) -> Value {
                  Value y = arith::MulFOp::create(
                      b, loc, arith::SubFOp::create(b, loc, in[0], in[1]),
                      in[2]);
                  y = arith::MulFOp::create(b, loc, y, in[3]);
                  if (in.size() > 4)
                    y = arith::AddFOp::create(b, loc, y, in[4]);
                  return y;
                });
          })
          .Case([&](g::RmsNormOp o) {
            Value sumSq =
                reduce(Combine::Sum, perRow, rowMap, rank, firstAxis, {x},
                       [&](ArrayRef<Value> in) -> Value {
                         return arith::MulFOp::create(b, loc, in[0], in[0]);
                       });
            double eps = o.getEpsilon().convertToDouble();
            Value inv = rowValue({{sumSq}}, [&](ArrayRef<Value> in) -> Value {
              Value ms = arith::DivFOp::create(b, loc, in[0], f32(rowSize));
              return math::RsqrtOp::create(
                  b, loc, arith::AddFOp::create(b, loc, ms, f32(eps)));
            });
            return parallel(
                outTensor,
                {x, rowOperand(inv), broadcastOperand(o.getScale(), rank)},
                [&](ArrayRef<Value> in) -> Value {
                  Value y = arith::MulFOp::create(b, loc, in[0], in[1]);
                  return arith::MulFOp::create(b, loc, y, in[2]);
                });
          })
          .Default([&](Operation *) -> Value {
            // reduce_sum/mean/max/min over [firstAxis, rank): the result
            // keeps the leading dims (and unit reduced dims with keep_dims).
            SmallVector<AffineExpr> exprs(rowMap.getResults());
            for (int64_t d = outTensor.getRank(); d > firstAxis; --d)
              exprs.push_back(b.getAffineConstantExpr(0));
            auto outMap = AffineMap::get(rank, 0, exprs, ctx);
            Combine kind = isa<g::ReduceMaxOp>(op)   ? Combine::Max
                           : isa<g::ReduceMinOp>(op) ? Combine::Min
                                                     : Combine::Sum;
            Value r =
                reduce(kind, outTensor, outMap, rank, firstAxis, {x}, first);
            if (!isa<g::ReduceMeanOp>(op))
              return r;
            return parallel(
                outTensor,
                {{r, b.getMultiDimIdentityMap(outTensor.getRank()), nullptr}},
                [&](ArrayRef<Value> in) -> Value {
                  return arith::DivFOp::create(b, loc, in[0], f32(rowSize));
                });
          });
  converted[op->getResult(0)] = out;
}

Value LinalgBuilder::result(Value old) {
  Value v = converted.lookup(old);
  Type element = tensorType(old).getElementType();
  if (tensorType(v).getElementType() == element)
    return v;
  // f16/bf16 results are computed in f32 and rounded once, on the store.
  auto type = RankedTensorType::get(tensorType(old).getShape(), element);
  return parallel(type,
                  {{v, b.getMultiDimIdentityMap(type.getRank()), nullptr}},
                  [&](ArrayRef<Value> in) -> Value {
                    return arith::TruncFOp::create(b, loc, element, in[0]);
                  });
}

/// Replaces the body of `fusion` by its linalg form; leaves it as it is
/// when an op has none.
void convertFusion(FusionOp fusion) {
  if (!hasLinalgForm(fusion))
    return;
  Block &block = fusion.getBlock();
  auto yield = cast<YieldOp>(block.getTerminator());
  SmallVector<Operation *> old;
  for (Operation &op : block.without_terminator())
    old.push_back(&op);
  OpBuilder b(yield);
  LinalgBuilder builder(b, fusion.getLoc());
  Value root;
  try {
    for (Operation *op : old)
      builder.convert(op);
    root = builder.result(yield.getValues().front());
  } catch (const Unsupported &) {
    // An op the scalar code rejects (e.g. integer operands of float math):
    // the elemental emitter reports it. Drop what was built, newest first.
    SmallVector<Operation *> built;
    for (Operation *op = old.back()->getNextNode(); op != yield;
         op = op->getNextNode())
      built.push_back(op);
    for (Operation *op : llvm::reverse(built))
      op->erase();
    return;
  }
  yield->setOperand(0, root);
  for (Operation *op : llvm::reverse(old))
    op->erase();
}

struct CudaFusionsToLinalgPass
    : impl::CudaFusionsToLinalgBase<CudaFusionsToLinalgPass> {
  void runOnOperation() override {
    SmallVector<FusionOp> fusions;
    getOperation().walk([&](FusionOp op) { fusions.push_back(op); });
    for (FusionOp fusion : fusions)
      convertFusion(fusion);
  }
};

} // namespace
} // namespace gaon::cuda
