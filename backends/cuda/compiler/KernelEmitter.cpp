//===- KernelEmitter.cpp - gpu.func bodies for fusion regions -------------===//
//
// Values are computed in a "compute type": f32 for f16/bf16/f32 data, the
// integer type for integers, i1 for booleans. Loads widen, stores narrow.
// Index arithmetic uses `index` (64-bit on NVPTX), so tensors of any size
// address correctly.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"
#include "ScalarOps.h"

#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <functional>
#include <limits>
#include <map>

using namespace mlir;
namespace g = gaon::graph;

namespace gaon::cuda {

Type storageElementType(Type element) {
  if (element.isInteger(1))
    return IntegerType::get(element.getContext(), 8);
  // arith takes signless integers; ScalarOps picks the unsigned ops from
  // the graph's types.
  if (element.isUnsignedInteger())
    return IntegerType::get(element.getContext(),
                            element.getIntOrFloatBitWidth());
  return element;
}

namespace {

class Emitter : public ScalarOps {
public:
  Emitter(OpBuilder &b, Location loc, FusionOp fusion, ValueRange memrefs)
      : ScalarOps(b, loc), fusion(fusion) {
    for (auto [arg, memref] :
         llvm::zip(fusion.getBlock().getArguments(), memrefs))
      inputMemref[arg] = memref;
  }

  // --- constants and index helpers ---------------------------------------
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }

  SmallVector<Value> delinearize(Value linear, ArrayRef<int64_t> shape) {
    SmallVector<Value> out(shape.size());
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      if (d == 0) {
        out[d] = linear;
        break;
      }
      Value size = idx(shape[d]);
      out[d] = arith::RemUIOp::create(b, loc, linear, size);
      linear = arith::DivUIOp::create(b, loc, linear, size);
    }
    return out;
  }
  Value linearize(ArrayRef<Value> indices, ArrayRef<int64_t> shape) {
    Value linear = idx(0);
    for (size_t d = 0; d < shape.size(); ++d)
      linear = add(mul(linear, idx(shape[d])), indices[d]);
    return linear;
  }
  /// Index into an operand that broadcasts (numpy rules) to `indices`.
  SmallVector<Value> broadcastIndex(Value operand, ArrayRef<Value> indices) {
    ArrayRef<int64_t> shape = tensorType(operand).getShape();
    size_t offset = indices.size() - shape.size();
    SmallVector<Value> out;
    for (size_t d = 0; d < shape.size(); ++d)
      out.push_back(shape[d] == 1 ? idx(0) : indices[offset + d]);
    return out;
  }

  // --- loads and stores ---------------------------------------------------
  Value toCompute(Value stored, Type element) {
    if (element.isF16() || element.isBF16())
      return arith::ExtFOp::create(b, loc, b.getF32Type(), stored);
    if (element.isInteger(1))
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, stored,
                                   constantOf(stored.getType(), 0));
    return stored;
  }
  Value toStorage(Value v, Type element) {
    // Linalg bodies round f16/bf16 results themselves.
    if ((element.isF16() || element.isBF16()) && v.getType() != element)
      return arith::TruncFOp::create(b, loc, element, v);
    if (element.isInteger(1))
      return arith::ExtUIOp::create(b, loc, b.getI8Type(), v);
    return v;
  }
  Value load(Value memref, Value linear, Type element) {
    Value stored = memref::LoadOp::create(b, loc, memref, linear);
    // Linalg bodies widen f16/bf16 elements themselves (arith.extf).
    if (linalgBody && !element.isInteger(1))
      return stored;
    return toCompute(stored, element);
  }
  void store(Value v, Value memref, Value linear, Type element) {
    memref::StoreOp::create(b, loc, toStorage(v, element), memref, linear);
  }

  // --- elemental evaluation ---------------------------------------------
  /// The value of `v` at `indices` (one per dim of v), in compute type.
  Value element(Value v, ArrayRef<Value> indices) {
    if (Value scalar = rowScalars.lookup(v))
      return scalar;
    std::vector<const void *> key{v.getAsOpaquePointer()};
    for (Value i : indices)
      key.push_back(i.getAsOpaquePointer());
    for (auto &scope : llvm::reverse(memo))
      if (auto it = scope.find(key); it != scope.end())
        return it->second;
    Value result = compute(v, indices);
    memo.back()[key] = result;
    return result;
  }
  /// Values computed inside a region are not visible after it.
  struct Scope {
    Emitter &e;
    explicit Scope(Emitter &e) : e(e) { e.memo.emplace_back(); }
    ~Scope() { e.memo.pop_back(); }
  };

  Value compute(Value v, ArrayRef<Value> indices);
  Value computeOp(Operation *op, unsigned resultIndex, ArrayRef<Value> indices);

  // --- linalg bodies -------------------------------------------------------
  /// An index expression of a linalg indexing map. Indices and the maps'
  /// constants are never negative, so floordiv and mod are the unsigned
  /// divisions the elemental code uses (affine's signed lowering would add
  /// selects for negative values).
  Value indexExpr(AffineExpr expr, ArrayRef<Value> dims) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      return dims[dim.getPosition()];
    if (auto constant = dyn_cast<AffineConstantExpr>(expr)) {
      if (constant.getValue() < 0)
        throw Unsupported{fusion, "negative constant in an indexing map"};
      return idx(constant.getValue());
    }
    auto binary = cast<AffineBinaryOpExpr>(expr);
    Value lhs = indexExpr(binary.getLHS(), dims);
    Value rhs = indexExpr(binary.getRHS(), dims);
    switch (expr.getKind()) {
    case AffineExprKind::Add:
      return add(lhs, rhs);
    case AffineExprKind::Mul:
      return mul(lhs, rhs);
    case AffineExprKind::FloorDiv:
      return arith::DivUIOp::create(b, loc, lhs, rhs);
    case AffineExprKind::Mod:
      return arith::RemUIOp::create(b, loc, lhs, rhs);
    default:
      throw Unsupported{fusion, "unsupported indexing map"};
    }
  }
  SmallVector<Value> indexMap(AffineMap map, ArrayRef<Value> dims) {
    SmallVector<Value> out;
    for (AffineExpr expr : map.getResults())
      out.push_back(indexExpr(expr, dims));
    return out;
  }
  /// Clones the body of `generic` with its inputs' elements `args` (in
  /// order) until `until` (default: the yield) and returns what `value`
  /// (default: the yielded value) maps to. The output's block argument (the
  /// accumulator) must not be read.
  Value cloneBody(linalg::GenericOp generic, ArrayRef<Value> args,
                  Operation *until = nullptr, Value value = {}) {
    Block &body = generic.getRegion().front();
    if (!until)
      until = body.getTerminator();
    if (!value)
      value = body.getTerminator()->getOperand(0);
    IRMapping mapping;
    for (auto [arg, v] : llvm::zip(body.getArguments(), args))
      mapping.map(arg, v);
    for (Operation &op : body) {
      if (&op == until)
        break;
      mapCapturedConstants(&op, mapping, generic);
      b.clone(op, mapping);
    }
    return mapping.lookup(value);
  }
  /// Constants that `op` reads from outside its linalg body (the greedy
  /// rewriter hoists them) are cloned here; any other outside value is not
  /// expected.
  void mapCapturedConstants(Operation *op, IRMapping &mapping,
                            linalg::GenericOp generic) {
    for (Value operand : op->getOperands()) {
      if (mapping.contains(operand) ||
          operand.getParentRegion() == &generic.getRegion())
        continue;
      Operation *def = operand.getDefiningOp();
      if (!def || !def->hasTrait<OpTrait::ConstantLike>())
        throw Unsupported{generic, "linalg body reads a value it does not "
                                   "compute"};
      mapping.map(operand, b.clone(*def)->getResult(0));
    }
  }
  /// The element of a parallel generic's result at `indices`.
  Value genericElement(linalg::GenericOp generic, ArrayRef<Value> indices) {
    if (generic.getNumReductionLoops() != 0 ||
        !generic.getIndexingMapsArray().back().isIdentity())
      throw Unsupported{generic, "no elemental lowering for this linalg op"};
    SmallVector<Value> args;
    for (OpOperand *input : generic.getDpsInputOperands())
      args.push_back(
          element(input->get(),
                  indexMap(generic.getMatchingIndexingMap(input), indices)));
    return cloneBody(generic, args);
  }
  /// A loop [lo, hi) step `step` carrying `init`; `body` returns the new
  /// carried values.
  SmallVector<Value>
  loop(Value lo, Value hi, Value step, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(b, loc, lo, hi, step, init);
    OpBuilder::InsertionGuard guard(b);
    // Without carried values the builder may have added a terminator: the
    // body is built from scratch and ends with exactly one yield.
    Block *loopBody = forOp.getBody();
    if (!loopBody->empty() && isa<scf::YieldOp>(loopBody->back()))
      loopBody->back().erase();
    b.setInsertionPointToEnd(loopBody);
    Scope scope(*this);
    SmallVector<Value> next =
        body(forOp.getInductionVar(), forOp.getRegionIterArgs());
    scf::YieldOp::create(b, loc, next);
    return SmallVector<Value>(forOp.getResults());
  }

  FusionOp fusion;
  llvm::DenseMap<Value, Value> inputMemref;
  std::vector<std::map<std::vector<const void *>, Value>> memo{1};
  /// The fusion body is linalg (FusionsToLinalg.cpp): loads keep the
  /// tensor's element type, the bodies convert.
  bool linalgBody = false;
  /// Per-row values of a row kernel (one per block, whatever the indices).
  llvm::DenseMap<Value, Value> rowScalars;
};

Value Emitter::compute(Value v, ArrayRef<Value> indices) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto type = tensorType(v);
    return load(inputMemref.lookup(arg), linearize(indices, type.getShape()),
                type.getElementType());
  }
  return computeOp(v.getDefiningOp(), cast<OpResult>(v).getResultNumber(),
                   indices);
}

Value Emitter::computeOp(Operation *op, unsigned resultIndex,
                         ArrayRef<Value> indices) {
  Type resultElement = tensorType(op->getResult(resultIndex)).getElementType();

  if (auto constant = dyn_cast<g::ConstantOp>(op))
    return splatConstant(constant);
  if (auto generic = dyn_cast<linalg::GenericOp>(op))
    return genericElement(generic, indices);

  // Elementwise ops, with numpy broadcasting of their operands.
  if (isUnary(op))
    return unary(op, element(op->getOperand(0),
                             broadcastIndex(op->getOperand(0), indices)));
  if (isBinary(op)) {
    Value x =
        element(op->getOperand(0), broadcastIndex(op->getOperand(0), indices));
    Value y =
        element(op->getOperand(1), broadcastIndex(op->getOperand(1), indices));
    return binary(op, x, y, tensorType(op->getOperand(0)).getElementType());
  }

  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](g::CastOp c) -> Value {
        Value x = element(c.getInput(), indices);
        return convert(x, tensorType(c.getInput()).getElementType(),
                       resultElement);
      })
      .Case([&](g::ClampOp c) -> Value {
        return clamp(c, element(c.getInput(), indices));
      })
      .Case([&](g::SelectOp s) -> Value {
        Value c = element(s.getCondition(),
                          broadcastIndex(s.getCondition(), indices));
        Value x = element(s.getLhs(), broadcastIndex(s.getLhs(), indices));
        Value y = element(s.getRhs(), broadcastIndex(s.getRhs(), indices));
        return arith::SelectOp::create(b, loc, c, x, y);
      })
      .Case([&](g::BroadcastOp o) -> Value {
        return element(o.getInput(), broadcastIndex(o.getInput(), indices));
      })
      .Case([&](g::ReshapeOp o) -> Value {
        Value linear = linearize(indices, tensorType(o.getResult()).getShape());
        return element(
            o.getInput(),
            delinearize(linear, tensorType(o.getInput()).getShape()));
      })
      .Case([&](g::TransposeOp o) -> Value {
        ArrayRef<int64_t> perm = o.getPerm();
        SmallVector<Value> in(perm.size());
        for (size_t i = 0; i < perm.size(); ++i)
          in[perm[i]] = indices[i];
        return element(o.getInput(), in);
      })
      .Case([&](g::SliceOp o) -> Value {
        SmallVector<Value> in;
        for (size_t d = 0; d < indices.size(); ++d)
          in.push_back(add(idx(o.getStarts()[d]),
                           mul(indices[d], idx(o.getSteps()[d]))));
        return element(o.getInput(), in);
      })
      .Case([&](g::SplitOp o) -> Value {
        int64_t axis = o.getAxis(), offset = 0;
        for (unsigned r = 0; r < resultIndex; ++r)
          offset += tensorType(o.getResult(r)).getDimSize(axis);
        SmallVector<Value> in(indices);
        in[axis] = add(in[axis], idx(offset));
        return element(o.getInput(), in);
      })
      .Case([&](g::ConcatOp o) -> Value {
        // Every input read at a clamped index, then the right one selected:
        // no divergent regions, and loads stay in bounds.
        int64_t axis = o.getAxis(), offset = 0;
        Value result;
        for (Value input : o.getInputs()) {
          int64_t size = tensorType(input).getDimSize(axis);
          if (size == 0)
            continue;
          SmallVector<Value> in(indices);
          Value local =
              arith::SubIOp::create(b, loc, indices[axis], idx(offset));
          // Unsigned clamp: indices below `offset` wrap to large values.
          in[axis] = arith::MinUIOp::create(b, loc, local, idx(size - 1));
          Value v = element(input, in);
          if (!result) {
            result = v;
          } else {
            Value here = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::uge, indices[axis], idx(offset));
            result = arith::SelectOp::create(b, loc, here, v, result);
          }
          offset += size;
        }
        return result;
      })
      .Case([&](g::TileOp o) -> Value {
        auto shape = tensorType(o.getInput()).getShape();
        SmallVector<Value> in;
        for (size_t d = 0; d < indices.size(); ++d)
          in.push_back(
              arith::RemUIOp::create(b, loc, indices[d], idx(shape[d])));
        return element(o.getInput(), in);
      })
      .Case([&](g::PadOp o) -> Value {
        auto shape = tensorType(o.getInput()).getShape();
        SmallVector<Value> in;
        Value inside = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
        for (size_t d = 0; d < indices.size(); ++d) {
          Value local =
              arith::SubIOp::create(b, loc, indices[d], idx(o.getLow()[d]));
          // Negative offsets wrap around and fail the unsigned compare.
          inside = arith::AndIOp::create(
              b, loc, inside,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, local,
                                    idx(shape[d])));
          in.push_back(arith::MinUIOp::create(
              b, loc, local, idx(std::max<int64_t>(shape[d] - 1, 0))));
        }
        Value v = element(o.getInput(), in);
        return arith::SelectOp::create(
            b, loc, inside, v,
            constantOf(v.getType(), o.getValue().convertToDouble()));
      })
      .Case([&](g::TriluOp o) -> Value {
        size_t rank = indices.size();
        Value row = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                               indices[rank - 2]);
        Value col = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                               indices[rank - 1]);
        Value diff = arith::SubIOp::create(b, loc, col, row);
        Value k = arith::ConstantOp::create(
            b, loc, b.getI64IntegerAttr(int64_t(o.getK())));
        Value keep =
            arith::CmpIOp::create(b, loc,
                                  o.getUpper() ? arith::CmpIPredicate::sge
                                               : arith::CmpIPredicate::sle,
                                  diff, k);
        Value v = element(o.getInput(), indices);
        return arith::SelectOp::create(b, loc, keep, v,
                                       constantOf(v.getType(), 0));
      })
      .Case([&](g::GatherOp o) -> Value {
        int64_t axis = o.getAxis();
        auto dataShape = tensorType(o.getData()).getShape();
        int64_t indexRank = tensorType(o.getIndices()).getRank();
        Value at = element(o.getIndices(), indices.slice(axis, indexRank));
        Value pos = arith::IndexCastOp::create(b, loc, b.getIndexType(), at);
        // Negative indices count from the end; out-of-range ones clamp
        // (ONNX leaves them undefined; a clamp keeps the load in bounds).
        Value size = idx(dataShape[axis]);
        Value negative = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::slt, pos, idx(0));
        pos = arith::SelectOp::create(b, loc, negative, add(pos, size), pos);
        pos = arith::MinUIOp::create(b, loc, pos, idx(dataShape[axis] - 1));
        SmallVector<Value> in(indices.take_front(axis));
        in.push_back(pos);
        llvm::append_range(in, indices.drop_front(axis + indexRank));
        return element(o.getData(), in);
      })
      .Case([&](g::GatherElementsOp o) -> Value {
        int64_t axis = o.getAxis();
        int64_t dim = tensorType(o.getData()).getDimSize(axis);
        Value at = element(o.getIndices(), indices);
        Value pos = arith::IndexCastOp::create(b, loc, b.getIndexType(), at);
        Value negative = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::slt, pos, idx(0));
        pos =
            arith::SelectOp::create(b, loc, negative, add(pos, idx(dim)), pos);
        pos = arith::MinUIOp::create(b, loc, pos, idx(dim - 1));
        SmallVector<Value> in(indices);
        in[axis] = pos;
        return element(o.getData(), in);
      })
      .Case([&](g::GatherNdOp o) -> Value {
        auto dataShape = tensorType(o.getData()).getShape();
        auto indexShape = tensorType(o.getIndices()).getShape();
        int64_t batch = o.getBatchDims();
        int64_t depth = indexShape.back();
        int64_t outer = int64_t(indexShape.size()) - 1; // incl. batch dims
        SmallVector<Value> in(indices.take_front(batch));
        SmallVector<Value> at(indices.take_front(outer));
        at.push_back(Value());
        for (int64_t j = 0; j < depth; ++j) {
          at.back() = idx(j);
          Value pos = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                                 element(o.getIndices(), at));
          int64_t dim = dataShape[batch + j];
          Value negative = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::slt, pos, idx(0));
          pos = arith::SelectOp::create(b, loc, negative, add(pos, idx(dim)),
                                        pos);
          in.push_back(arith::MinUIOp::create(b, loc, pos, idx(dim - 1)));
        }
        llvm::append_range(in, indices.drop_front(outer));
        return element(o.getData(), in);
      })
      .Default([&](Operation *o) -> Value {
        throw Unsupported{o, "no GPU lowering for this op inside a fusion"};
      });
}

//===----------------------------------------------------------------------===//
// Schedules
//===----------------------------------------------------------------------===//

/// A row op over the innermost `rowSize` elements of its input: softmax on
/// the last axis, layer/RMS norm, float reductions over trailing axes.
struct RowRoot {
  Operation *op = nullptr;
  Value input;
  int64_t rowSize = 0, rows = 0;
  int64_t firstAxis = 0; ///< the first of the trailing axes of a row
};

std::optional<RowRoot> matchRowRoot(Operation *op) {
  auto trailing = [](ArrayRef<int64_t> axes, int64_t rank) {
    SmallVector<int64_t> sorted(axes);
    llvm::sort(sorted);
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted[i] != rank - int64_t(sorted.size()) + int64_t(i))
        return false;
    return !sorted.empty();
  };
  auto make = [&](Value input, int64_t firstAxis) -> std::optional<RowRoot> {
    auto type = tensorType(input);
    // The row kernel computes (and shares partial sums) in f32.
    if (!computeType(type.getElementType()).isF32() ||
        type.getNumElements() == 0)
      return std::nullopt;
    int64_t rowSize = 1;
    for (int64_t d = firstAxis; d < type.getRank(); ++d)
      rowSize *= type.getDimSize(d);
    return RowRoot{op, input, rowSize, type.getNumElements() / rowSize,
                   firstAxis};
  };
  return llvm::TypeSwitch<Operation *, std::optional<RowRoot>>(op)
      .Case([&](g::SoftmaxOp o) -> std::optional<RowRoot> {
        int64_t rank = tensorType(o.getInput()).getRank();
        int64_t axis = int64_t(o.getAxis()) < 0 ? int64_t(o.getAxis()) + rank
                                                : int64_t(o.getAxis());
        if (axis != rank - 1)
          return std::nullopt;
        return make(o.getInput(), axis);
      })
      .Case([&](g::LayerNormOp o) {
        int64_t rank = tensorType(o.getInput()).getRank();
        return make(o.getInput(), int64_t(o.getAxis()) < 0
                                      ? int64_t(o.getAxis()) + rank
                                      : int64_t(o.getAxis()));
      })
      .Case([&](g::RmsNormOp o) {
        int64_t rank = tensorType(o.getInput()).getRank();
        return make(o.getInput(), int64_t(o.getAxis()) < 0
                                      ? int64_t(o.getAxis()) + rank
                                      : int64_t(o.getAxis()));
      })
      .Case<g::ReduceSumOp, g::ReduceMeanOp, g::ReduceMaxOp, g::ReduceMinOp>(
          [&](auto o) -> std::optional<RowRoot> {
            int64_t rank = tensorType(o.getInput()).getRank();
            if (!trailing(o.getAxes(), rank))
              return std::nullopt;
            return make(o.getInput(), rank - int64_t(o.getAxes().size()));
          })
      .Default([](Operation *) { return std::nullopt; });
}

/// f(x, indices): a function of a row element (the row input's value x in
/// compute type and the element's indices).
using RowFn = function_ref<Value(Value, ArrayRef<Value>)>;

/// What the body of a row kernel can do: reduce over the row (every thread
/// gets the result), write each element of the row, or write the row's one
/// result (reductions).
struct RowOps {
  function_ref<Value(Combine, RowFn)> reduce;
  function_ref<void(RowFn)> write;
  function_ref<void(Value)> writeScalar;
  int64_t rowSize = 0;
};

class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, FusionOp fusion,
                gpu::GPUFuncOp func, unsigned blockSize)
      : b(b), loc(loc), fusion(fusion), func(func), blockSize(blockSize),
        e(b, loc, fusion,
          func.getArguments().take_front(fusion.getInputs().size())) {}

  LaunchShape build();

private:
  Value outputMemref(unsigned i) {
    return func.getArgument(fusion.getInputs().size() + i);
  }
  /// The thread's first element when each block covers `perThread`
  /// consecutive runs of blockSize elements.
  Value threadLinear(unsigned perThread = 1) {
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    return e.add(e.mul(bid, e.idx(int64_t(blockSize) * perThread)), tid);
  }
  unsigned elementsPerThread(int64_t count) const;
  void unrollElementwise(scf::IfOp ifOp, Value linear, Value inRange,
                         int64_t count, unsigned perThread);
  LaunchShape buildElementwise();
  LaunchShape elementwiseShape(int64_t largest, unsigned perThread = 1);
  std::optional<LaunchShape> buildLinalgElementwise();
  LaunchShape buildLinalgRow();
  LaunchShape buildRow(const RowRoot &root,
                       function_ref<void(RowOps &)> emitBody);
  void rowGraphBody(Operation *op, RowOps &ops);
  Value blockReduce(Value v, Combine kind, Value smem, unsigned threads);
  Value serialElement(Operation *root, unsigned resultIndex,
                      ArrayRef<Value> indices);

  OpBuilder &b;
  Location loc;
  FusionOp fusion;
  gpu::GPUFuncOp func;
  unsigned blockSize;
  Emitter e;
};

LaunchShape KernelBuilder::build() {
  auto yield = cast<YieldOp>(fusion.getBlock().getTerminator());
  Operation *root = yield.getValues().empty()
                        ? nullptr
                        : yield.getValues().front().getDefiningOp();
  if (isa_and_nonnull<linalg::GenericOp>(root)) {
    e.linalgBody = true;
    for (auto generic : fusion.getBlock().getOps<linalg::GenericOp>())
      if (generic.getNumReductionLoops() != 0)
        return buildLinalgRow();
    if (std::optional<LaunchShape> shape = buildLinalgElementwise())
      return *shape;
    // The generics did not fuse into one over the fusion's inputs: each
    // element is computed from the generics' bodies (elemental emission).
    return buildElementwise();
  }
  if (root && root->getNumResults() == 1)
    if (std::optional<RowRoot> row = matchRowRoot(root))
      return buildRow(*row, [&](RowOps &ops) { rowGraphBody(root, ops); });
  return buildElementwise();
}

/// One thread per element of each result, or a few for large results
/// (elementsPerThread; results may differ in size: the grid covers the
/// largest).
LaunchShape KernelBuilder::buildElementwise() {
  auto yield = cast<YieldOp>(fusion.getBlock().getTerminator());
  int64_t largest = 1;
  for (Value v : yield.getValues())
    largest = std::max(largest, tensorType(v).getNumElements());
  const unsigned perThread = elementsPerThread(largest);
  Value linear = threadLinear(perThread);
  for (auto [i, v] : llvm::enumerate(yield.getValues())) {
    auto type = tensorType(v);
    if (type.getNumElements() == 0)
      continue;
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          linear, e.idx(type.getNumElements()));
    auto ifOp = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Emitter::Scope scope(e);
    SmallVector<Value> indices = e.delinearize(linear, type.getShape());
    Operation *def = v.getDefiningOp();
    Value value =
        def && !isa<BlockArgument>(v)
            ? serialElement(def, cast<OpResult>(v).getResultNumber(), indices)
            : e.element(v, indices);
    e.store(value, outputMemref(i), linear, type.getElementType());
    if (perThread > 1) {
      unrollElementwise(ifOp, linear, inRange, type.getNumElements(),
                        perThread);
      b.setInsertionPointToEnd(&func.getBody().front());
    }
  }
  return elementwiseShape(largest, perThread);
}

/// `blockSize` threads per block, enough blocks for `largest` elements at
/// `perThread` a thread.
LaunchShape KernelBuilder::elementwiseShape(int64_t largest,
                                            unsigned perThread) {
  LaunchShape shape;
  shape.block = {int32_t(blockSize), 1, 1};
  const int64_t perBlock = int64_t(blockSize) * perThread;
  int64_t blocks = (largest + perBlock - 1) / perBlock;
  if (blocks > std::numeric_limits<int32_t>::max())
    throw Unsupported{fusion, "more than 2^31 thread blocks"};
  shape.grid = {int32_t(std::max<int64_t>(blocks, 1)), 1, 1};
  return shape;
}

/// Elements per thread of a large elementwise kernel: a thread with one
/// element has a 2-4 byte load in flight, too little to keep DRAM busy
/// (GPT-2's f16 -> f32 logits cast ran at 1.9 TB/s). Doubled up to
/// kMaxElementsPerThread while the grid keeps kMinUnrolledBlocks blocks, so
/// small kernels keep one element per thread and their full parallelism.
unsigned KernelBuilder::elementsPerThread(int64_t count) const {
  constexpr unsigned kMaxElementsPerThread = 8;
  constexpr int64_t kMinUnrolledBlocks = 2048;
  unsigned perThread = 1;
  while (perThread < kMaxElementsPerThread &&
         count / (int64_t(blockSize) * perThread * 2) >= kMinUnrolledBlocks)
    perThread *= 2;
  return perThread;
}

/// `ifOp` computes the element at `linear` (when `inRange`) and ends with
/// its one store (both elementwise schedules build it so). Makes it
/// `perThread` elements, at linear + j blockSize (coalesced for every j):
/// each element's loads and arithmetic go in an scf.if yielding its value
/// and the stores follow all of them, so that no store (which might alias
/// a later load) keeps the elements' loads from being in flight together.
void KernelBuilder::unrollElementwise(scf::IfOp ifOp, Value linear,
                                      Value inRange, int64_t count,
                                      unsigned perThread) {
  OpBuilder::InsertionGuard guard(b);
  Block *then = &ifOp.getThenRegion().front();
  auto store =
      dyn_cast_or_null<memref::StoreOp>(then->getTerminator()->getPrevNode());
  if (!store)
    throw Unsupported{fusion, "elementwise kernel that does not end with "
                              "its store"};
  Value value = store.getValueToStore();
  b.setInsertionPoint(ifOp);
  auto valueIf = scf::IfOp::create(b, loc, TypeRange{value.getType()}, inRange,
                                   /*withElseRegion=*/true);
  Block *compute = &valueIf.getThenRegion().front();
  compute->getOperations().splice(compute->end(), then->getOperations(),
                                  then->begin(), Block::iterator(store));
  b.setInsertionPointToEnd(compute);
  scf::YieldOp::create(b, loc, value);
  b.setInsertionPointToEnd(&valueIf.getElseRegion().front());
  Value zero = arith::ConstantOp::create(
      b, loc, cast<TypedAttr>(b.getZeroAttr(value.getType())));
  scf::YieldOp::create(b, loc, zero);
  store.getValueMutable().assign(valueIf.getResult(0));

  SmallVector<IRMapping> elements(perThread);
  Operation *last = valueIf;
  for (unsigned j = 1; j < perThread; ++j) {
    b.setInsertionPointAfter(last);
    Value at = e.add(linear, e.idx(int64_t(j) * blockSize));
    elements[j].map(linear, at);
    elements[j].map(inRange,
                    arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, at,
                                          e.idx(count)));
    auto next = cast<scf::IfOp>(b.clone(*valueIf, elements[j]));
    elements[j].map(valueIf.getResult(0), next.getResult(0));
    last = next;
  }
  ifOp->moveAfter(last);
  last = ifOp;
  for (unsigned j = 1; j < perThread; ++j) {
    b.setInsertionPointAfter(last);
    last = b.clone(*ifOp, elements[j]);
  }
}

/// An all-parallel linalg fusion body: upstream elementwise fusion makes
/// one linalg.generic of it, which becomes a generic on memref views of the
/// kernel's parameters and, by linalg's own lowering, an scf.parallel over
/// the result's elements. That loop is distributed here as the elemental
/// kernels are: one thread per element in row-major order (block-size
/// threads per block), the element's indices delinearized from the thread's
/// linear index, every access addressing the flat parameter at its
/// row-major linear index (the result's own element at the thread's).
/// Returns nothing (and builds nothing) when the body does not fuse into a
/// generic over the fusion's inputs.
std::optional<LaunchShape> KernelBuilder::buildLinalgElementwise() {
  MLIRContext *ctx = fusion.getContext();
  {
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(
        patterns, [](OpOperand *) { return true; });
    if (failed(applyPatternsGreedily(fusion.getBody(), std::move(patterns))))
      return std::nullopt;
  }
  auto yield = cast<YieldOp>(fusion.getBlock().getTerminator());
  Value result = yield.getValues().front();
  auto generic = result.getDefiningOp<linalg::GenericOp>();
  auto resultType = tensorType(result);
  int64_t rank = resultType.getRank();
  if (!generic || generic.getNumReductionLoops() != 0 || rank == 0 ||
      generic.getNumDpsInits() != 1 ||
      !generic.getIndexingMapsArray().back().isIdentity())
    return std::nullopt;
  for (Value input : generic.getDpsInputs()) {
    auto arg = dyn_cast<BlockArgument>(input);
    if (!arg || arg.getOwner() != &fusion.getBlock() ||
        tensorType(input).getRank() == 0)
      return std::nullopt;
  }
  Block &body = generic.getRegion().front();

  // The memref form of the generic on views of the flat parameters;
  // booleans are bytes in memory.
  auto view = [&](Value flat, RankedTensorType type) -> Value {
    if (type.getRank() == 1)
      return flat;
    auto viewType = MemRefType::get(type.getShape(),
                                    storageElementType(type.getElementType()));
    ReassociationIndices all =
        llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
    return memref::ExpandShapeOp::create(b, loc, viewType, flat,
                                         ArrayRef<ReassociationIndices>{all});
  };
  SmallVector<Value> views;
  for (Value input : generic.getDpsInputs())
    views.push_back(
        view(func.getArgument(cast<BlockArgument>(input).getArgNumber()),
             tensorType(input)));
  Value out = view(outputMemref(0), resultType);
  auto memGeneric = linalg::GenericOp::create(b, loc, views, ValueRange{out},
                                              generic.getIndexingMapsArray(),
                                              generic.getIteratorTypesArray());
  {
    OpBuilder::InsertionGuard guard(b);
    SmallVector<Type> argTypes;
    for (BlockArgument arg : body.getArguments())
      argTypes.push_back(storageElementType(arg.getType()));
    Block *memBody = b.createBlock(&memGeneric.getRegion(), {}, argTypes,
                                   SmallVector<Location>(argTypes.size(), loc));
    IRMapping mapping;
    for (auto [arg, memArg] :
         llvm::zip(body.getArguments(), memBody->getArguments()))
      mapping.map(arg, arg.getType() == memArg.getType()
                           ? memArg
                           : e.toCompute(memArg, arg.getType()));
    for (Operation &op : body.without_terminator()) {
      e.mapCapturedConstants(&op, mapping, generic);
      b.clone(op, mapping);
    }
    Value yielded = mapping.lookup(body.getTerminator()->getOperand(0));
    linalg::YieldOp::create(b, loc,
                            e.toStorage(yielded, resultType.getElementType()));
  }

  // Upstream: linalg -> scf.parallel with loads and stores at the maps.
  IRRewriter rewriter(b);
  rewriter.setInsertionPoint(memGeneric);
  FailureOr<linalg::LinalgLoops> loops = linalg::linalgOpToParallelLoops(
      rewriter, cast<linalg::LinalgOp>(memGeneric.getOperation()));
  if (failed(loops) || loops->empty())
    throw Unsupported{fusion, "linalg to loops failed"};
  auto parallel = cast<scf::ParallelOp>(loops->front());
  rewriter.eraseOp(memGeneric);
  if (parallel.getNumLoops() != size_t(rank))
    throw Unsupported{fusion, "unexpected loop nest from linalg"};

  // Ours: the loop's iterations onto threads.
  b.setInsertionPointAfter(parallel);
  int64_t count = resultType.getNumElements();
  const unsigned perThread = elementsPerThread(count);
  Value linear = threadLinear(perThread);
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                        linear, e.idx(count));
  auto ifOp = scf::IfOp::create(b, loc, inRange, /*withElse=*/false);
  Block *then = &ifOp.getThenRegion().front();
  b.setInsertionPointToStart(then);
  SmallVector<Value> indices = e.delinearize(linear, resultType.getShape());
  Block *loopBody = parallel.getBody();
  for (auto [iv, index] : llvm::zip(parallel.getInductionVars(), indices))
    iv.replaceAllUsesWith(index);
  then->getOperations().splice(b.getInsertionPoint(), loopBody->getOperations(),
                               loopBody->begin(), std::prev(loopBody->end()));
  rewriter.eraseOp(parallel);

  // The maps' index arithmetic, unsigned as in the elemental kernels.
  SmallVector<affine::AffineApplyOp> applies;
  then->walk([&](affine::AffineApplyOp op) { applies.push_back(op); });
  for (affine::AffineApplyOp apply : applies) {
    b.setInsertionPoint(apply);
    if (apply.getAffineMap().getNumSymbols() != 0)
      throw Unsupported{fusion, "symbolic indexing map"};
    SmallVector<Value> dims(apply.getMapOperands());
    apply.replaceAllUsesWith(
        e.indexExpr(apply.getAffineMap().getResult(0), dims));
    apply.erase();
  }
  // Accesses through the views address the flat parameters.
  auto flatIndex = [&](ValueRange at, ArrayRef<int64_t> shape) -> Value {
    if (llvm::equal(at, indices) && shape == resultType.getShape())
      return linear;
    return e.linearize(SmallVector<Value>(at), shape);
  };
  SmallVector<Operation *> accesses;
  then->walk([&](Operation *op) {
    if (isa<memref::LoadOp, memref::StoreOp>(op))
      accesses.push_back(op);
  });
  for (Operation *op : accesses) {
    b.setInsertionPoint(op);
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      auto expand = load.getMemRef().getDefiningOp<memref::ExpandShapeOp>();
      if (!expand)
        continue;
      Value at = flatIndex(load.getIndices(), expand.getType().getShape());
      load.replaceAllUsesWith(
          memref::LoadOp::create(b, loc, expand.getSrc(), at).getResult());
      load.erase();
    } else {
      auto store = cast<memref::StoreOp>(op);
      auto expand = store.getMemRef().getDefiningOp<memref::ExpandShapeOp>();
      if (!expand)
        continue;
      Value at = flatIndex(store.getIndices(), expand.getType().getShape());
      memref::StoreOp::create(b, loc, store.getValueToStore(), expand.getSrc(),
                              at);
      store.erase();
    }
  }
  // What the loop nest left unused: its bounds, the output's load (linalg
  // reads every operand) and the views.
  SmallVector<Operation *> ops;
  func.getBody().walk([&](Operation *op) { ops.push_back(op); });
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  if (perThread > 1)
    unrollElementwise(ifOp, linear, inRange, count, perThread);
  b.setInsertionPointToEnd(&func.getBody().front());
  return elementwiseShape(count, perThread);
}

/// A linalg row body (FusionsToLinalg's form of a row op): the reduction
/// generics reduce over the trailing `reduction` dims of one domain. The
/// row schedule (buildRow) runs them as the gaon_graph row ops: one block
/// per row, each reduction a block reduction of its body's contribution,
/// the per-row generics (mean, rsqrt, ...) once per block, and the root
/// written per element (or once per row when it is per-row).
LaunchShape KernelBuilder::buildLinalgRow() {
  Block &block = fusion.getBlock();
  auto yield = cast<YieldOp>(block.getTerminator());
  Value result = yield.getValues().front();
  SmallVector<linalg::GenericOp> reductions;
  for (auto generic : block.getOps<linalg::GenericOp>())
    if (generic.getNumReductionLoops() != 0)
      reductions.push_back(generic);
  linalg::GenericOp first = reductions.front();
  SmallVector<int64_t> domain = first.getStaticLoopRanges();
  int64_t firstAxis = first.getNumParallelLoops();
  auto fail = [&](Operation *op) {
    return Unsupported{op, "linalg row body the row schedule does not run"};
  };
  // What the row schedule assumes: every reduction has the first one's
  // domain, parallel dims then reduction dims, an f32 accumulator, and a
  // body ending in `combine(acc, contribution)`.
  SmallVector<std::pair<Combine, Operation *>> combiners;
  for (linalg::GenericOp r : reductions) {
    if (r.getStaticLoopRanges() != domain ||
        r.getNumParallelLoops() != unsigned(firstAxis) ||
        r.getNumDpsInits() != 1 ||
        !getElementTypeOrSelf(r.getResult(0).getType()).isF32())
      throw fail(r);
    for (auto [i, type] : llvm::enumerate(r.getIteratorTypesArray()))
      if ((int64_t(i) < firstAxis) != (type == utils::IteratorType::parallel))
        throw fail(r);
    Block &body = r.getRegion().front();
    Operation *combiner = body.getTerminator()->getOperand(0).getDefiningOp();
    if (!combiner || combiner->getNumOperands() != 2 ||
        combiner->getOperand(0) != body.getArguments().back())
      throw fail(r);
    std::optional<Combine> kind =
        llvm::TypeSwitch<Operation *, std::optional<Combine>>(combiner)
            .Case([](arith::AddFOp) { return Combine::Sum; })
            .Case([](arith::MaximumFOp) { return Combine::Max; })
            .Case([](arith::MinimumFOp) { return Combine::Min; })
            .Default([](Operation *) { return std::nullopt; });
    if (!kind)
      throw fail(r);
    combiners.push_back({*kind, combiner});
  }
  Value input = first.getDpsInputs().front();
  if (!first.getMatchingIndexingMap(first.getDpsInputOperand(0)).isIdentity())
    throw fail(first);
  RowRoot root;
  root.op = result.getDefiningOp();
  root.input = input;
  root.firstAxis = firstAxis;
  root.rowSize = 1;
  root.rows = 1;
  for (auto [d, size] : llvm::enumerate(domain))
    (int64_t(d) < firstAxis ? root.rows : root.rowSize) *= size;

  return buildRow(root, [&](RowOps &ops) {
    unsigned next = 0;
    for (auto generic : block.getOps<linalg::GenericOp>()) {
      if (generic.getNumReductionLoops() != 0) {
        auto [kind, combiner] = combiners[next++];
        Value reduced = ops.reduce(kind, [&](Value, ArrayRef<Value> indices) {
          SmallVector<Value> args;
          for (OpOperand *in : generic.getDpsInputOperands())
            args.push_back(e.element(
                in->get(),
                e.indexMap(generic.getMatchingIndexingMap(in), indices)));
          return e.cloneBody(generic, args, combiner, combiner->getOperand(1));
        });
        e.rowScalars[generic.getResult(0)] = reduced;
        continue;
      }
      // A generic of per-row values only (mean = sum / n, ...): computed
      // once per block, as the graph row ops compute them.
      SmallVector<Value> args;
      for (Value in : generic.getDpsInputs())
        if (Value scalar = e.rowScalars.lookup(in))
          args.push_back(scalar);
      if (args.empty() || args.size() != generic.getDpsInputs().size())
        continue;
      e.rowScalars[generic.getResult(0)] = e.cloneBody(generic, args);
    }
    if (Value scalar = e.rowScalars.lookup(result))
      return ops.writeScalar(scalar);
    if (tensorType(result).getShape() != ArrayRef<int64_t>(domain))
      throw fail(root.op);
    ops.write([&](Value, ArrayRef<Value> indices) {
      return e.element(result, indices);
    });
  });
}

/// Per-element loops for reductions and products that are not row ops; the
/// elemental form of everything else.
Value KernelBuilder::serialElement(Operation *root, unsigned resultIndex,
                                   ArrayRef<Value> indices) {
  auto reduceOver = [&](Value input, ArrayRef<int64_t> axesIn, bool keepDims,
                        Combine kind, bool mean) -> Value {
    auto inType = tensorType(input);
    int64_t rank = inType.getRank();
    SmallVector<int64_t> axes;
    for (int64_t a : axesIn)
      axes.push_back(a < 0 ? a + rank : a);
    llvm::sort(axes);
    SmallVector<int64_t> reducedShape;
    for (int64_t a : axes)
      reducedShape.push_back(inType.getDimSize(a));
    int64_t count = 1;
    for (int64_t d : reducedShape)
      count *= d;
    Type ct = computeType(inType.getElementType());
    bool isUnsigned = inType.getElementType().isUnsignedInteger();
    Value init;
    if (isa<FloatType>(ct)) {
      init = e.identity(kind, ct);
    } else {
      // The type's own extremes: max starts at its minimum and vice versa.
      unsigned width = ct.getIntOrFloatBitWidth();
      APInt lowest = isUnsigned ? APInt::getMinValue(width)
                                : APInt::getSignedMinValue(width);
      APInt highest = isUnsigned ? APInt::getMaxValue(width)
                                 : APInt::getSignedMaxValue(width);
      APInt start = kind == Combine::Max    ? lowest
                    : kind == Combine::Min  ? highest
                    : kind == Combine::Prod ? APInt(width, 1)
                                            : APInt(width, 0);
      init = arith::ConstantOp::create(b, loc, b.getIntegerAttr(ct, start));
    }
    SmallVector<Value> result = e.loop(
        e.idx(0), e.idx(count), e.idx(1), {init},
        [&](Value iv, ValueRange acc) -> SmallVector<Value> {
          SmallVector<Value> reduced = e.delinearize(iv, reducedShape);
          SmallVector<Value> in;
          size_t outPos = 0, redPos = 0;
          for (int64_t d = 0; d < rank; ++d) {
            if (redPos < axes.size() && axes[redPos] == d) {
              in.push_back(reduced[redPos++]);
              if (keepDims)
                ++outPos;
            } else {
              in.push_back(indices[outPos++]);
            }
          }
          return {e.combine(kind, acc[0], e.element(input, in), isUnsigned)};
        });
    Value r = result[0];
    if (mean)
      r = arith::DivFOp::create(b, loc, r, e.constantOf(ct, double(count)));
    return r;
  };

  return llvm::TypeSwitch<Operation *, Value>(root)
      .Case([&](g::ReduceSumOp o) {
        return reduceOver(o.getInput(), o.getAxes(), o.getKeepDims(),
                          Combine::Sum, false);
      })
      .Case([&](g::ReduceMeanOp o) {
        if (!isa<FloatType>(tensorType(o.getInput()).getElementType()))
          throw Unsupported{o, "integer mean"};
        return reduceOver(o.getInput(), o.getAxes(), o.getKeepDims(),
                          Combine::Sum, true);
      })
      .Case([&](g::ReduceMaxOp o) {
        return reduceOver(o.getInput(), o.getAxes(), o.getKeepDims(),
                          Combine::Max, false);
      })
      .Case([&](g::ReduceMinOp o) {
        return reduceOver(o.getInput(), o.getAxes(), o.getKeepDims(),
                          Combine::Min, false);
      })
      .Case([&](g::ReduceProdOp o) {
        return reduceOver(o.getInput(), o.getAxes(), o.getKeepDims(),
                          Combine::Prod, false);
      })
      .Case([&](g::ArgMaxOp o) -> Value {
        auto inType = tensorType(o.getInput());
        int64_t rank = inType.getRank();
        int64_t axis = int64_t(o.getAxis()) < 0 ? int64_t(o.getAxis()) + rank
                                                : int64_t(o.getAxis());
        Type ct = computeType(inType.getElementType());
        Value first = nullptr;
        SmallVector<Value> base;
        for (int64_t d = 0, out = 0; d < rank; ++d) {
          if (d == axis) {
            base.push_back(e.idx(0));
            if (o.getKeepDims())
              ++out;
          } else {
            base.push_back(indices[out++]);
          }
        }
        first = e.element(o.getInput(), base);
        SmallVector<Value> r = e.loop(
            e.idx(1), e.idx(inType.getDimSize(axis)), e.idx(1),
            {first, e.idx(0)},
            [&](Value iv, ValueRange acc) -> SmallVector<Value> {
              SmallVector<Value> in(base);
              in[axis] = iv;
              Value v = e.element(o.getInput(), in);
              Value better =
                  isa<FloatType>(ct)
                      ? (Value)arith::CmpFOp::create(
                            b, loc, arith::CmpFPredicate::OGT, v, acc[0])
                      : (Value)arith::CmpIOp::create(
                            b, loc,
                            inType.getElementType().isUnsignedInteger()
                                ? arith::CmpIPredicate::ugt
                                : arith::CmpIPredicate::sgt,
                            v, acc[0]);
              return {arith::SelectOp::create(b, loc, better, v, acc[0]),
                      arith::SelectOp::create(b, loc, better, iv, acc[1])};
            });
        return arith::IndexCastOp::create(b, loc, b.getI64Type(), r[1]);
      })
      .Case([&](g::CumSumOp o) -> Value {
        auto type = tensorType(o.getInput());
        int64_t rank = type.getRank();
        int64_t axis = int64_t(o.getAxis()) < 0 ? int64_t(o.getAxis()) + rank
                                                : int64_t(o.getAxis());
        int64_t n = type.getDimSize(axis);
        Value i = indices[axis];
        // Summed range [lo, hi): up to i (or from i with `reverse`),
        // excluding i itself when `exclusive`.
        Value lo, hi;
        Value one = e.idx(1);
        if (!o.getReverse()) {
          lo = e.idx(0);
          hi = o.getExclusive() ? i : e.add(i, one);
        } else {
          lo = o.getExclusive() ? e.add(i, one) : i;
          hi = e.idx(n);
        }
        Type ct = computeType(type.getElementType());
        SmallVector<Value> r =
            e.loop(lo, hi, one, {e.constantOf(ct, 0)},
                   [&](Value iv, ValueRange acc) -> SmallVector<Value> {
                     SmallVector<Value> in(indices);
                     in[axis] = iv;
                     return {e.combine(Combine::Sum, acc[0],
                                       e.element(o.getInput(), in))};
                   });
        return r[0];
      })
      .Case([&](g::MatMulOp o) -> Value {
        auto lt = tensorType(o.getLhs()), rt = tensorType(o.getRhs());
        auto resultShape = tensorType(o.getResult()).getShape();
        int64_t k = lt.getShape().back();
        size_t rank = resultShape.size();
        // numpy matmul: 1-D operands gain (and lose) a unit dimension.
        SmallVector<Value> lhsBase, rhsBase;
        bool lhsVector = lt.getRank() == 1, rhsVector = rt.getRank() == 1;
        size_t batchRank = rank - (lhsVector ? 0 : 1) - (rhsVector ? 0 : 1);
        ArrayRef<Value> batch = indices.take_front(batchRank);
        Value m = lhsVector ? Value() : indices[batchRank];
        Value n = rhsVector ? Value() : indices.back();
        auto batchIndex = [&](RankedTensorType t) {
          SmallVector<Value> out;
          int64_t tb = t.getRank() - 2;
          for (int64_t d = 0; d < tb; ++d)
            out.push_back(t.getDimSize(d) == 1 ? e.idx(0)
                                               : batch[batchRank - tb + d]);
          return out;
        };
        Type ct = computeType(lt.getElementType());
        SmallVector<Value> r =
            e.loop(e.idx(0), e.idx(k), e.idx(1), {e.constantOf(ct, 0)},
                   [&](Value kv, ValueRange acc) -> SmallVector<Value> {
                     SmallVector<Value> li =
                         lhsVector ? SmallVector<Value>{} : batchIndex(lt);
                     if (!lhsVector)
                       li.push_back(m);
                     li.push_back(kv);
                     SmallVector<Value> ri =
                         rhsVector ? SmallVector<Value>{} : batchIndex(rt);
                     ri.push_back(kv);
                     if (!rhsVector)
                       ri.push_back(n);
                     Value p = isa<FloatType>(ct)
                                   ? (Value)arith::MulFOp::create(
                                         b, loc, e.element(o.getLhs(), li),
                                         e.element(o.getRhs(), ri))
                                   : (Value)arith::MulIOp::create(
                                         b, loc, e.element(o.getLhs(), li),
                                         e.element(o.getRhs(), ri));
                     return {e.combine(Combine::Sum, acc[0], p)};
                   });
        return r[0];
      })
      .Case([&](g::SoftmaxOp o) -> Value {
        auto type = tensorType(o.getInput());
        int64_t rank = type.getRank();
        int64_t axis = int64_t(o.getAxis()) < 0 ? int64_t(o.getAxis()) + rank
                                                : int64_t(o.getAxis());
        Value n = e.idx(type.getDimSize(axis));
        auto at = [&](Value iv) {
          SmallVector<Value> in(indices);
          in[axis] = iv;
          return e.element(o.getInput(), in);
        };
        Type ct = computeType(type.getElementType());
        Value max =
            e.loop(e.idx(0), n, e.idx(1), {e.identity(Combine::Max, ct)},
                   [&](Value iv, ValueRange acc) -> SmallVector<Value> {
                     return {e.combine(Combine::Max, acc[0], at(iv))};
                   })[0];
        Value sum =
            e.loop(e.idx(0), n, e.idx(1), {e.constantOf(ct, 0)},
                   [&](Value iv, ValueRange acc) -> SmallVector<Value> {
                     Value x = arith::SubFOp::create(b, loc, at(iv), max);
                     return {arith::AddFOp::create(
                         b, loc, acc[0], math::ExpOp::create(b, loc, x))};
                   })[0];
        Value x = arith::SubFOp::create(b, loc,
                                        e.element(o.getInput(), indices), max);
        if (o.getLog())
          return arith::SubFOp::create(b, loc, x,
                                       math::LogOp::create(b, loc, sum));
        return arith::DivFOp::create(b, loc, math::ExpOp::create(b, loc, x),
                                     sum);
      })
      .Case([&](g::ConvOp o) -> Value {
        throw Unsupported{o, "convolution is not supported by the cuda "
                             "backend yet"};
      })
      .Default([&](Operation *o) -> Value {
        return e.element(o->getResult(resultIndex), indices);
      });
}

Value KernelBuilder::blockReduce(Value v, Combine kind, Value smem,
                                 unsigned threads) {
  auto warpReduce = [&](Value x) {
    for (int offset = 16; offset >= 1; offset /= 2) {
      Value off =
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(offset));
      Value width = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(32));
      auto shuffle =
          gpu::ShuffleOp::create(b, loc, x, off, width, gpu::ShuffleMode::XOR);
      x = e.combine(kind, x, shuffle.getShuffleResult());
    }
    return x;
  };
  v = warpReduce(v);
  if (threads <= 32)
    return v;
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value lane = arith::RemUIOp::create(b, loc, tid, e.idx(32));
  Value warp = arith::DivUIOp::create(b, loc, tid, e.idx(32));
  Value isLeader =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.idx(0));
  auto ifOp = scf::IfOp::create(b, loc, isLeader, false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    memref::StoreOp::create(b, loc, v, smem, warp);
  }
  gpu::BarrierOp::create(b, loc);
  unsigned warps = threads / 32;
  Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lane,
                                      e.idx(warps));
  Value partial = memref::LoadOp::create(b, loc, smem, lane);
  partial = arith::SelectOp::create(b, loc, valid, partial, e.identity(kind));
  Value total = warpReduce(partial);
  // The next reduction overwrites the shared slots.
  gpu::BarrierOp::create(b, loc);
  return total;
}

/// One block per row: each thread strides over the row, the block reduces
/// with shuffles and shared memory. When a thread has at most
/// kMaxCachedPerThread elements, it reads them once into registers and every
/// pass (max, sum, variance, write) reuses them; otherwise each pass
/// recomputes the fused producers from memory.
constexpr int64_t kMaxCachedPerThread = 8;

LaunchShape KernelBuilder::buildRow(const RowRoot &root,
                                    function_ref<void(RowOps &)> emitBody) {
  unsigned threads = 32;
  while (threads < blockSize && threads < root.rowSize)
    threads *= 2;
  Value smem = func.getWorkgroupAttributions().front();
  Value row = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value rowStart = e.mul(row, e.idx(root.rowSize));
  // Element c of the row is at the row's outer indices (delinearized once
  // per block) and c delinearized over the row's own dims (no division for
  // a row of one dim).
  auto inShape = tensorType(root.input).getShape();
  size_t firstAxis = inShape.size();
  for (int64_t size = 1; firstAxis > 0 && size < root.rowSize;)
    size *= inShape[--firstAxis];
  SmallVector<Value> outer = e.delinearize(row, inShape.take_front(firstAxis));
  auto indicesAt = [&](Value c) {
    SmallVector<Value> indices(outer);
    llvm::append_range(indices,
                       e.delinearize(c, inShape.drop_front(firstAxis)));
    return indices;
  };

  // The cached elements: column, whether it is inside the row (null when
  // every one is), indices and value.
  struct Cached {
    Value c, valid, x;
    SmallVector<Value> indices;
  };
  SmallVector<Cached> cached;
  int64_t perThread = (root.rowSize + threads - 1) / threads;
  if (perThread <= kMaxCachedPerThread) {
    bool exact = root.rowSize % threads == 0;
    for (int64_t j = 0; j < perThread; ++j) {
      Cached el;
      el.c = e.add(tid, e.idx(j * threads));
      Value at = el.c;
      if (!exact && (j + 1) * threads > root.rowSize) {
        // Past the end: read the last element (in bounds) and mask it.
        el.valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         el.c, e.idx(root.rowSize));
        at = arith::MinUIOp::create(b, loc, el.c, e.idx(root.rowSize - 1));
      }
      el.indices = indicesAt(at);
      el.x = e.element(root.input, el.indices);
      cached.push_back(std::move(el));
    }
  }

  // combine(f(x[c], indices of c)) over the row, for every thread.
  auto rowReduce = [&](Combine kind, RowFn f) -> Value {
    Value acc;
    if (!cached.empty()) {
      acc = e.identity(kind);
      for (const Cached &el : cached) {
        Value v = f(el.x, el.indices);
        if (el.valid)
          v = arith::SelectOp::create(b, loc, el.valid, v, e.identity(kind));
        acc = e.combine(kind, acc, v);
      }
    } else {
      acc = e.loop(tid, e.idx(root.rowSize), e.idx(threads), {e.identity(kind)},
                   [&](Value c, ValueRange carried) -> SmallVector<Value> {
                     SmallVector<Value> indices = indicesAt(c);
                     Value x = e.element(root.input, indices);
                     return {e.combine(kind, carried[0], f(x, indices))};
                   })[0];
    }
    return blockReduce(acc, kind, smem, threads);
  };
  Type outElement = tensorType(root.op->getResult(0)).getElementType();
  Value out = outputMemref(0);
  // Writes g(x[c], indices of c) over the row.
  auto rowWrite = [&](RowFn g) {
    if (cached.empty()) {
      e.loop(tid, e.idx(root.rowSize), e.idx(threads), {},
             [&](Value c, ValueRange) -> SmallVector<Value> {
               SmallVector<Value> indices = indicesAt(c);
               Value x = e.element(root.input, indices);
               e.store(g(x, indices), out, e.add(rowStart, c), outElement);
               return {};
             });
      return;
    }
    for (const Cached &el : cached) {
      if (!el.valid) {
        e.store(g(el.x, el.indices), out, e.add(rowStart, el.c), outElement);
        continue;
      }
      auto ifOp = scf::IfOp::create(b, loc, el.valid, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      Emitter::Scope scope(e);
      e.store(g(el.x, el.indices), out, e.add(rowStart, el.c), outElement);
    }
  };
  auto writeScalar = [&](Value v) {
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, e.idx(0));
    auto ifOp = scf::IfOp::create(b, loc, first, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    e.store(v, out, row, outElement);
  };

  RowOps ops{rowReduce, rowWrite, writeScalar, root.rowSize};
  emitBody(ops);

  LaunchShape shape;
  shape.block = {int32_t(threads), 1, 1};
  if (root.rows > std::numeric_limits<int32_t>::max())
    throw Unsupported{root.op, "more than 2^31 rows"};
  shape.grid = {int32_t(root.rows), 1, 1};
  return shape;
}

/// The row schedule of a gaon_graph row op (matchRowRoot).
void KernelBuilder::rowGraphBody(Operation *op, RowOps &ops) {
  auto identity = [](Value x, ArrayRef<Value>) { return x; };
  Value n = e.f32(double(ops.rowSize));
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](g::SoftmaxOp o) {
        Value max = ops.reduce(Combine::Max, identity);
        Value sum =
            ops.reduce(Combine::Sum, [&](Value x, ArrayRef<Value>) -> Value {
              return math::ExpOp::create(b, loc,
                                         arith::SubFOp::create(b, loc, x, max));
            });
        Value logSum =
            o.getLog() ? (Value)math::LogOp::create(b, loc, sum) : Value();
        ops.write([&](Value x, ArrayRef<Value>) -> Value {
          Value shifted = arith::SubFOp::create(b, loc, x, max);
          if (o.getLog())
            return arith::SubFOp::create(b, loc, shifted, logSum);
          return arith::DivFOp::create(
              b, loc, math::ExpOp::create(b, loc, shifted), sum);
        });
      })
      .Case([&](g::LayerNormOp o) {
        Value mean = arith::DivFOp::create(
            b, loc, ops.reduce(Combine::Sum, identity), n);
        Value var = arith::DivFOp::create(
            b, loc,
            ops.reduce(Combine::Sum,
                       [&](Value x, ArrayRef<Value>) -> Value {
                         Value d = arith::SubFOp::create(b, loc, x, mean);
                         return arith::MulFOp::create(b, loc, d, d);
                       }),
            n);
        Value inv = math::RsqrtOp::create(
            b, loc,
            arith::AddFOp::create(b, loc, var,
                                  e.f32(o.getEpsilon().convertToDouble())));
        ops.write([&](Value x, ArrayRef<Value> indices) -> Value {
          Value y = arith::MulFOp::create(
              b, loc, arith::SubFOp::create(b, loc, x, mean), inv);
          y = arith::MulFOp::create(
              b, loc, y,
              e.element(o.getScale(), e.broadcastIndex(o.getScale(), indices)));
          if (o.getBias())
            y = arith::AddFOp::create(
                b, loc, y,
                e.element(o.getBias(), e.broadcastIndex(o.getBias(), indices)));
          return y;
        });
      })
      .Case([&](g::RmsNormOp o) {
        Value ms = arith::DivFOp::create(
            b, loc,
            ops.reduce(Combine::Sum,
                       [&](Value x, ArrayRef<Value>) -> Value {
                         return arith::MulFOp::create(b, loc, x, x);
                       }),
            n);
        Value inv = math::RsqrtOp::create(
            b, loc,
            arith::AddFOp::create(b, loc, ms,
                                  e.f32(o.getEpsilon().convertToDouble())));
        ops.write([&](Value x, ArrayRef<Value> indices) -> Value {
          Value y = arith::MulFOp::create(b, loc, x, inv);
          return arith::MulFOp::create(
              b, loc, y,
              e.element(o.getScale(), e.broadcastIndex(o.getScale(), indices)));
        });
      })
      .Case([&](g::ReduceSumOp) {
        ops.writeScalar(ops.reduce(Combine::Sum, identity));
      })
      .Case([&](g::ReduceMeanOp) {
        ops.writeScalar(arith::DivFOp::create(
            b, loc, ops.reduce(Combine::Sum, identity), n));
      })
      .Case([&](g::ReduceMaxOp) {
        ops.writeScalar(ops.reduce(Combine::Max, identity));
      })
      .Case([&](g::ReduceMinOp) {
        ops.writeScalar(ops.reduce(Combine::Min, identity));
      });
}

} // namespace

std::optional<int64_t> rowOpFirstAxis(Operation *op) {
  if (std::optional<RowRoot> row = matchRowRoot(op))
    return row->firstAxis;
  return std::nullopt;
}

FailureOr<LaunchShape> emitFusionKernel(FusionOp fusion,
                                        gpu::GPUModuleOp gpuModule,
                                        StringRef name, unsigned blockSize) {
  OpBuilder b(fusion.getContext());
  Location loc = fusion.getLoc();
  SmallVector<Type> argTypes;
  auto flat = [](Value v) {
    auto type = tensorType(v);
    return MemRefType::get({type.getNumElements()},
                           storageElementType(type.getElementType()));
  };
  for (Value input : fusion.getInputs())
    argTypes.push_back(flat(input));
  for (Value result : fusion.getResults())
    argTypes.push_back(flat(result));

  b.setInsertionPointToEnd(gpuModule.getBody());
  auto shared = MemRefType::get(
      {32}, b.getF32Type(), MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(b.getContext(),
                                 gpu::GPUDialect::getWorkgroupAddressSpace()));
  auto func =
      gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(argTypes, {}),
                             TypeRange{shared}, TypeRange{});
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  b.setInsertionPointToStart(&func.getBody().front());
  try {
    // Unsigned data runs as signless integers through the ops that move
    // it or pick their unsigned form from the graph's types (elementwise
    // math, casts, clamps, compares, reductions, argmax; a cumsum's wrapping
    // add is the same); the row ops (float only) and the others do not.
    fusion.getBody().walk([](Operation *op) {
      if (ScalarOps::isUnary(op) || ScalarOps::isBinary(op) ||
          isa<g::ReduceSumOp, g::ReduceMaxOp, g::ReduceMinOp, g::ReduceProdOp,
              g::ArgMaxOp, g::CumSumOp>(op) ||
          isa<g::CastOp, g::ClampOp, g::ConstantOp, g::SelectOp, g::ReshapeOp,
              g::TransposeOp, g::BroadcastOp, g::SliceOp, g::ConcatOp,
              g::TileOp, g::SplitOp, g::GatherOp, g::GatherElementsOp,
              g::GatherNdOp, g::PadOp, g::TriluOp, YieldOp>(op))
        return;
      for (Type type :
           llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes()))
        if (getElementTypeOrSelf(type).isUnsignedInteger())
          throw Unsupported{op, "unsigned integer operands are not supported "
                                "by this op on the cuda target"};
    });
    KernelBuilder builder(b, loc, fusion, func, blockSize);
    LaunchShape shape = builder.build();
    gpu::ReturnOp::create(b, loc);
    func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
        {shape.block[0], shape.block[1], shape.block[2]}));
    return shape;
  } catch (const Unsupported &u) {
    func.erase();
    u.op->emitOpError() << "cannot run on the cuda target: " << u.what;
    return failure();
  }
}

} // namespace gaon::cuda
