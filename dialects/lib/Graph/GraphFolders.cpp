//===- GraphFolders.cpp - gaon.graph constant folding ---------------------===//
//
// Folders evaluate ops whose operands are constants. This is what removes the
// shape arithmetic of TorchScript exports (Shape -> Gather -> Concat ->
// Reshape chains): the importer builds ops with createOrFold, so every value
// computable at compile time becomes a constant as soon as it is built.
//
//===----------------------------------------------------------------------===//

#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <cstring>

using namespace mlir;

namespace gaon::graph {
namespace {

RankedTensorType resultType(Operation *op, unsigned index = 0) {
  return cast<RankedTensorType>(op->getResult(index).getType());
}

std::optional<ConstantTensor> constantOf(Attribute attr, int64_t maxElements) {
  auto elements = dyn_cast_or_null<ElementsAttr>(attr);
  if (!elements || elements.getNumElements() > maxElements)
    return std::nullopt;
  return ConstantTensor::fromAttr(attr);
}

/// For each element of `resultShape`, the linear index of the element of a
/// tensor of `shape` that NumPy broadcasting reads.
SmallVector<int64_t> broadcastIndices(ArrayRef<int64_t> resultShape,
                                      ArrayRef<int64_t> shape) {
  int64_t rank = resultShape.size(), offset = rank - int64_t(shape.size());
  SmallVector<int64_t> srcStrides = computeStrides(shape);
  SmallVector<int64_t> strides(rank, 0);
  for (int64_t i = 0; i < int64_t(shape.size()); ++i)
    strides[offset + i] = shape[i] == 1 ? 0 : srcStrides[i];
  int64_t total = 1;
  for (int64_t d : resultShape)
    total *= d;
  SmallVector<int64_t> indices(total);
  SmallVector<int64_t> counter(rank, 0);
  int64_t src = 0;
  for (int64_t i = 0; i < total; ++i) {
    indices[i] = src;
    for (int64_t d = rank - 1; d >= 0; --d) {
      src += strides[d];
      if (++counter[d] < resultShape[d])
        break;
      src -= strides[d] * counter[d];
      counter[d] = 0;
    }
  }
  return indices;
}

/// Copies element `from` of `src` to element `to` of `dst` (same type).
void copyElement(const ConstantTensor &src, int64_t from, ConstantTensor &dst,
                 int64_t to) {
  int64_t bytes = src.getElementBytes();
  std::memcpy(&dst.bytes()[to * bytes], &src.bytes()[from * bytes], bytes);
}

/// Builds a tensor of `type` whose element i is element map[i] of `src`.
ConstantTensor gatherElements(const ConstantTensor &src, RankedTensorType type,
                              ArrayRef<int64_t> map) {
  ConstantTensor result(type);
  for (auto [to, from] : llvm::enumerate(map))
    copyElement(src, from, result, to);
  return result;
}

/// Visits every multi-index of `shape` in row-major order.
template <typename Fn> void forEachIndex(ArrayRef<int64_t> shape, Fn fn) {
  int64_t total = 1;
  for (int64_t d : shape)
    total *= d;
  SmallVector<int64_t> index(shape.size(), 0);
  for (int64_t linear = 0; linear < total; ++linear) {
    fn(linear, ArrayRef<int64_t>(index));
    for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
}

double applyFloat(BinaryKind kind, double a, double b) {
  switch (kind) {
  case BinaryKind::Add:
    return a + b;
  case BinaryKind::Sub:
    return a - b;
  case BinaryKind::Mul:
    return a * b;
  case BinaryKind::Div:
    return a / b;
  case BinaryKind::Pow:
    return std::pow(a, b);
  case BinaryKind::Max:
    return std::max(a, b);
  case BinaryKind::Min:
    return std::min(a, b);
  case BinaryKind::Mod:
    return std::fmod(a, b);
  case BinaryKind::And:
    return (a != 0) && (b != 0);
  case BinaryKind::Or:
    return (a != 0) || (b != 0);
  case BinaryKind::Xor:
    return (a != 0) != (b != 0);
  case BinaryKind::Equal:
    return a == b;
  case BinaryKind::Less:
    return a < b;
  case BinaryKind::LessEqual:
    return a <= b;
  case BinaryKind::Greater:
    return a > b;
  case BinaryKind::GreaterEqual:
    return a >= b;
  }
  return 0;
}

std::optional<int64_t> applyInt(BinaryKind kind, int64_t a, int64_t b) {
  switch (kind) {
  case BinaryKind::Div:
    if (b == 0)
      return std::nullopt; // leave undefined behaviour to run time
    return a / b;
  case BinaryKind::Mod: {
    if (b == 0)
      return std::nullopt;
    int64_t r = a % b; // integer Mod takes the divisor's sign, as in Python
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
  }
  case BinaryKind::Pow: {
    if (b < 0)
      return std::nullopt;
    int64_t r = 1;
    for (int64_t i = 0; i < b; ++i)
      r *= a;
    return r;
  }
  case BinaryKind::Add:
    return a + b;
  case BinaryKind::Sub:
    return a - b;
  case BinaryKind::Mul:
    return a * b;
  case BinaryKind::Max:
    return std::max(a, b);
  case BinaryKind::Min:
    return std::min(a, b);
  case BinaryKind::And:
    return a & b;
  case BinaryKind::Or:
    return a | b;
  case BinaryKind::Xor:
    return a ^ b;
  case BinaryKind::Equal:
    return a == b;
  case BinaryKind::Less:
    return a < b;
  case BinaryKind::LessEqual:
    return a <= b;
  case BinaryKind::Greater:
    return a > b;
  case BinaryKind::GreaterEqual:
    return a >= b;
  }
  return std::nullopt;
}

double applyUnary(UnaryKind kind, double x) {
  switch (kind) {
  case UnaryKind::Neg:
    return -x;
  case UnaryKind::Abs:
    return std::fabs(x);
  case UnaryKind::Exp:
    return std::exp(x);
  case UnaryKind::Log:
    return std::log(x);
  case UnaryKind::Sqrt:
    return std::sqrt(x);
  case UnaryKind::Rsqrt:
    return 1.0 / std::sqrt(x);
  case UnaryKind::Reciprocal:
    return 1.0 / x;
  case UnaryKind::Tanh:
    return std::tanh(x);
  case UnaryKind::Erf:
    return std::erf(x);
  case UnaryKind::Sigmoid:
    return 1.0 / (1.0 + std::exp(-x));
  case UnaryKind::Relu:
    return x > 0 ? x : 0;
  case UnaryKind::Silu:
    return x / (1.0 + std::exp(-x));
  case UnaryKind::Sin:
    return std::sin(x);
  case UnaryKind::Cos:
    return std::cos(x);
  case UnaryKind::Floor:
    return std::floor(x);
  case UnaryKind::Ceil:
    return std::ceil(x);
  case UnaryKind::Round:
    return std::nearbyint(x); // ties to even
  case UnaryKind::Sign:
    return double((x > 0) - (x < 0));
  case UnaryKind::Not:
    return x == 0;
  }
  return x;
}

} // namespace

OpFoldResult foldBinaryOp(Operation *op, BinaryKind kind, Attribute lhsAttr,
                          Attribute rhsAttr) {
  auto lhs = constantOf(lhsAttr, kMaxFoldArithElements);
  auto rhs = constantOf(rhsAttr, kMaxFoldArithElements);
  RankedTensorType type = resultType(op);
  if (!lhs || !rhs || type.getNumElements() > kMaxFoldArithElements)
    return {};
  ConstantTensor result(type);
  auto lhsMap = broadcastIndices(type.getShape(), lhs->getShape());
  auto rhsMap = broadcastIndices(type.getShape(), rhs->getShape());
  bool isFloat = lhs->isFloat();
  for (int64_t i = 0, e = type.getNumElements(); i < e; ++i) {
    if (isFloat) {
      result.setDouble(i, applyFloat(kind, lhs->getDouble(lhsMap[i]),
                                     rhs->getDouble(rhsMap[i])));
      continue;
    }
    auto value = applyInt(kind, lhs->getInt(lhsMap[i]), rhs->getInt(rhsMap[i]));
    if (!value)
      return {};
    result.setInt(i, *value);
  }
  return result.toAttr();
}

OpFoldResult foldUnaryOp(Operation *op, UnaryKind kind, Attribute inputAttr) {
  auto input = constantOf(inputAttr, kMaxFoldArithElements);
  if (!input)
    return {};
  ConstantTensor result(resultType(op));
  for (int64_t i = 0, e = input->getNumElements(); i < e; ++i) {
    if (input->isFloat())
      result.setDouble(i, applyUnary(kind, input->getDouble(i)));
    else if (kind == UnaryKind::Not)
      result.setInt(i, input->getInt(i) == 0);
    else if (kind == UnaryKind::Neg)
      result.setInt(i, -input->getInt(i));
    else if (kind == UnaryKind::Abs)
      result.setInt(i, std::abs(input->getInt(i)));
    else if (kind == UnaryKind::Sign)
      result.setInt(i, (input->getInt(i) > 0) - (input->getInt(i) < 0));
    else
      result.setDouble(i, applyUnary(kind, double(input->getInt(i))));
  }
  return result.toAttr();
}

OpFoldResult foldReduceOp(Operation *op, ReduceKind kind, Attribute inputAttr,
                          ArrayRef<int64_t> axes) {
  auto input = constantOf(inputAttr, kMaxFoldArithElements);
  if (!input)
    return {};
  RankedTensorType type = resultType(op);
  // Accumulate into the kept-dims shape; the result's row-major order is the
  // same whether or not the reduced dimensions are kept.
  SmallVector<int64_t> keptShape(input->getShape());
  for (int64_t axis : axes)
    keptShape[axis] = 1;
  auto keptStrides = computeStrides(keptShape);
  int64_t outCount = type.getNumElements();
  auto outIndex = [&](ArrayRef<int64_t> idx) {
    int64_t out = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      out += (keptShape[d] == 1 ? 0 : idx[d]) * keptStrides[d];
    return out;
  };
  if (!input->isFloat() && kind != ReduceKind::Mean) {
    ConstantTensor result(type);
    // Integers reduce exactly, wrapping like numpy: double sums and
    // products lose their low bits past 2^53.
    bool isUnsigned = input->isUnsigned();
    SmallVector<uint64_t> bits(outCount, kind == ReduceKind::Prod ? 1 : 0);
    auto less = [&](uint64_t a, uint64_t b) {
      return isUnsigned ? a < b : int64_t(a) < int64_t(b);
    };
    SmallVector<bool> seen(outCount, false);
    forEachIndex(input->getShape(), [&](int64_t linear, ArrayRef<int64_t> idx) {
      int64_t out = outIndex(idx);
      uint64_t x = uint64_t(input->getInt(linear));
      uint64_t &a = bits[out];
      if (!seen[out] && (kind == ReduceKind::Max || kind == ReduceKind::Min))
        a = x;
      seen[out] = true;
      if (kind == ReduceKind::Sum)
        a += x;
      else if (kind == ReduceKind::Prod)
        a *= x;
      else if (kind == ReduceKind::Max ? less(a, x) : less(x, a))
        a = x;
    });
    for (int64_t i = 0; i < outCount; ++i)
      result.setInt(i, int64_t(bits[i]));
    return result.toAttr();
  }
  SmallVector<double> acc(outCount, 0), count(outCount, 0);
  SmallVector<bool> seen(outCount, false);
  forEachIndex(input->getShape(), [&](int64_t linear, ArrayRef<int64_t> idx) {
    int64_t out = outIndex(idx);
    double x = input->getDouble(linear);
    double &a = acc[out];
    if (!seen[out]) {
      a = kind == ReduceKind::Prod                               ? 1.0
          : (kind == ReduceKind::Max || kind == ReduceKind::Min) ? x
                                                                 : 0.0;
      seen[out] = true;
    }
    switch (kind) {
    case ReduceKind::Sum:
    case ReduceKind::Mean:
      a += x;
      break;
    case ReduceKind::Max:
      a = std::max(a, x);
      break;
    case ReduceKind::Min:
      a = std::min(a, x);
      break;
    case ReduceKind::Prod:
      a *= x;
      break;
    }
    count[out] += 1;
  });
  ConstantTensor result(type);
  for (int64_t i = 0; i < outCount; ++i)
    result.setDouble(i, kind == ReduceKind::Mean && count[i] > 0
                            ? acc[i] / count[i]
                            : acc[i]);
  return result.toAttr();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

namespace {

/// Whether every element of `value` is an integer (or an infinity or NaN,
/// which no cast of it to an integer type can represent either way). Looks
/// through the ops that QuantizeLinear decomposes into.
bool isIntegerValued(Value value, int depth = 0) {
  if (depth > 8)
    return false;
  if (!isa<FloatType>(cast<RankedTensorType>(value.getType()).getElementType()))
    return true;
  Operation *op = value.getDefiningOp();
  if (!op)
    return false;
  if (isa<RoundOp, FloorOp, CeilOp>(op))
    return true;
  if (isa<AddOp, SubOp, ClampOp>(op))
    return llvm::all_of(op->getOperands(), [&](Value operand) {
      return isIntegerValued(operand, depth + 1);
    });
  if (auto cast = dyn_cast<CastOp>(op))
    return isIntegerValued(cast.getInput(), depth + 1);
  if (auto constant = dyn_cast<ConstantOp>(op)) {
    auto tensor = constantOf(constant.getValue(), 1 << 16);
    if (!tensor)
      return false;
    for (int64_t i = 0, e = tensor->getNumElements(); i < e; ++i) {
      double v = tensor->getDouble(i);
      if (std::isfinite(v) && v != std::nearbyint(v))
        return false;
    }
    return true;
  }
  return false;
}

/// Whether `value` (a float tensor) holds integers within `type`'s range:
/// a clamp to bounds inside the range of an integer-valued tensor.
bool fitsExactlyIn(Value value, IntegerType type) {
  auto clamp = value.getDefiningOp<ClampOp>();
  if (!clamp || !isIntegerValued(clamp.getInput()))
    return false;
  unsigned bits = type.getWidth();
  if (bits > 32)
    return false;
  double lo = type.isUnsigned() ? 0 : -std::ldexp(1.0, bits - 1);
  double hi = type.isUnsigned() ? std::ldexp(1.0, bits) - 1
                                : std::ldexp(1.0, bits - 1) - 1;
  double min = clamp.getMin().convertToDouble();
  double max = clamp.getMax().convertToDouble();
  return min >= lo && max <= hi && min == std::nearbyint(min) &&
         max == std::nearbyint(max);
}

} // namespace

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  // float -> int -> the same float type is the identity when the value
  // already is an integer in the int type's range: the round trip between
  // a QuantizeLinear and a DequantizeLinear.
  if (auto inner = getInput().getDefiningOp<CastOp>()) {
    auto integer = dyn_cast<IntegerType>(getInput().getType().getElementType());
    if (integer && inner.getInput().getType() == getType() &&
        fitsExactlyIn(inner.getInput(), integer))
      return inner.getInput();
  }
  auto input = constantOf(adaptor.getInput(), kMaxFoldArithElements);
  if (!input)
    return {};
  ConstantTensor result(getType());
  bool toBool = getType().getElementType().isInteger(1);
  for (int64_t i = 0, e = input->getNumElements(); i < e; ++i) {
    if (toBool)
      result.setInt(i, input->getDouble(i) != 0);
    else if (input->isFloat() || result.isFloat())
      result.setDouble(i, input->getDouble(i));
    else
      result.setInt(i, input->getInt(i));
  }
  return result.toAttr();
}

OpFoldResult SelectOp::fold(FoldAdaptor adaptor) {
  RankedTensorType type = getType();
  if (auto cond = dyn_cast_or_null<SplatElementsAttr>(adaptor.getCondition())) {
    Value chosen = cond.getSplatValue<bool>() ? getLhs() : getRhs();
    if (chosen.getType() == type)
      return chosen;
  }
  auto cond = constantOf(adaptor.getCondition(), kMaxFoldArithElements);
  auto lhs = constantOf(adaptor.getLhs(), kMaxFoldArithElements);
  auto rhs = constantOf(adaptor.getRhs(), kMaxFoldArithElements);
  if (!cond || !lhs || !rhs || type.getNumElements() > kMaxFoldArithElements)
    return {};
  auto condMap = broadcastIndices(type.getShape(), cond->getShape());
  auto lhsMap = broadcastIndices(type.getShape(), lhs->getShape());
  auto rhsMap = broadcastIndices(type.getShape(), rhs->getShape());
  ConstantTensor result(type);
  for (int64_t i = 0, e = type.getNumElements(); i < e; ++i) {
    if (cond->getInt(condMap[i]))
      copyElement(*lhs, lhsMap[i], result, i);
    else
      copyElement(*rhs, rhsMap[i], result, i);
  }
  return result.toAttr();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  // reshape(reshape(x)) only depends on x's elements.
  if (auto producer = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(producer.getInput());
    return getResult();
  }
  auto input = constantOf(adaptor.getInput(), kMaxFoldDataElements);
  if (!input)
    return {};
  return ConstantTensor::fromBytes(getType(), input->bytes())->toAttr();
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  if (llvm::equal(getPerm(), llvm::seq<int64_t>(0, getPerm().size())))
    return getInput();
  auto input = constantOf(adaptor.getInput(), kMaxFoldDataElements);
  if (!input)
    return {};
  auto inStrides = computeStrides(input->getShape());
  SmallVector<int64_t> map;
  map.reserve(input->getNumElements());
  forEachIndex(getType().getShape(), [&](int64_t, ArrayRef<int64_t> idx) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      src += idx[d] * inStrides[getPerm()[d]];
    map.push_back(src);
  });
  return gatherElements(*input, getType(), map).toAttr();
}

OpFoldResult ConcatOp::fold(FoldAdaptor adaptor) {
  if (getInputs().size() == 1)
    return getInputs().front();
  // Every input constant before any is copied.
  if (!llvm::all_of(adaptor.getInputs(), [](Attribute attr) {
        return isa_and_nonnull<ElementsAttr>(attr);
      }))
    return {};
  SmallVector<ConstantTensor> inputs;
  for (Attribute attr : adaptor.getInputs()) {
    auto input = constantOf(attr, kMaxFoldDataElements);
    if (!input)
      return {};
    inputs.push_back(std::move(*input));
  }
  RankedTensorType type = getType();
  int64_t axis = getAxis();
  // Row-major: the output is, for each outer index, each input's inner block.
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= type.getDimSize(d);
  ConstantTensor result(type);
  char *out = result.bytes().data();
  for (int64_t o = 0; o < outer; ++o)
    for (const ConstantTensor &input : inputs) {
      int64_t block = input.getNumElements() / std::max<int64_t>(outer, 1) *
                      input.getElementBytes();
      std::memcpy(out, input.bytes().data() + o * block, block);
      out += block;
    }
  return result.toAttr();
}

// Element map of a strided slice.
static SmallVector<int64_t> sliceMap(ArrayRef<int64_t> inShape,
                                     ArrayRef<int64_t> outShape,
                                     ArrayRef<int64_t> starts,
                                     ArrayRef<int64_t> steps) {
  auto inStrides = computeStrides(inShape);
  SmallVector<int64_t> map;
  forEachIndex(outShape, [&](int64_t, ArrayRef<int64_t> idx) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      src += (starts[d] + idx[d] * steps[d]) * inStrides[d];
    map.push_back(src);
  });
  return map;
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType() &&
      llvm::all_of(getStarts(), [](int64_t s) { return s == 0; }) &&
      llvm::all_of(getSteps(), [](int64_t s) { return s == 1; }))
    return getInput();
  auto input = constantOf(adaptor.getInput(), kMaxFoldDataElements);
  if (!input)
    return {};
  return gatherElements(*input, getType(),
                        sliceMap(input->getShape(), getType().getShape(),
                                 getStarts(), getSteps()))
      .toAttr();
}

LogicalResult SplitOp::fold(FoldAdaptor adaptor,
                            SmallVectorImpl<OpFoldResult> &results) {
  if (getNumResults() == 1 && getResult(0).getType() == getInput().getType()) {
    results.push_back(getInput());
    return success();
  }
  auto input = constantOf(adaptor.getInput(), kMaxFoldDataElements);
  if (!input)
    return failure();
  int64_t offset = 0, rank = input->getShape().size();
  for (Value result : getResults()) {
    auto type = cast<RankedTensorType>(result.getType());
    SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
    starts[getAxis()] = offset;
    offset += type.getDimSize(getAxis());
    results.push_back(gatherElements(*input, type,
                                     sliceMap(input->getShape(),
                                              type.getShape(), starts, steps))
                          .toAttr());
  }
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto splat = dyn_cast_or_null<SplatElementsAttr>(adaptor.getInput()))
    return SplatElementsAttr::get(getType(), splat.getSplatValue<Attribute>());
  if (getType().getNumElements() > kMaxFoldArithElements)
    return {};
  auto input = constantOf(adaptor.getInput(), kMaxFoldDataElements);
  if (!input)
    return {};
  return gatherElements(
             *input, getType(),
             broadcastIndices(getType().getShape(), input->getShape()))
      .toAttr();
}

OpFoldResult TileOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  auto input = constantOf(adaptor.getInput(), kMaxFoldArithElements);
  if (!input || getType().getNumElements() > kMaxFoldArithElements)
    return {};
  auto inStrides = computeStrides(input->getShape());
  SmallVector<int64_t> map;
  forEachIndex(getType().getShape(), [&](int64_t, ArrayRef<int64_t> idx) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d)
      src += (idx[d] % input->getShape()[d]) * inStrides[d];
    map.push_back(src);
  });
  return gatherElements(*input, getType(), map).toAttr();
}

// Normalizes a possibly negative index; nullopt when out of range.
static std::optional<int64_t> normalizeIndex(int64_t index, int64_t size) {
  if (index < 0)
    index += size;
  if (index < 0 || index >= size)
    return std::nullopt;
  return index;
}

OpFoldResult GatherOp::fold(FoldAdaptor adaptor) {
  // Indices first: copying an embedding table (94 MB for BERT-base) to
  // find runtime token ids cost a second per compile.
  auto indices = constantOf(adaptor.getIndices(), kMaxFoldArithElements);
  if (!indices || getType().getNumElements() > kMaxFoldArithElements)
    return {};
  auto data = constantOf(adaptor.getData(), kMaxFoldDataElements);
  if (!data)
    return {};
  int64_t axis = getAxis(), axisSize = data->getShape()[axis];
  int64_t inner = 1, outer = 1;
  for (int64_t d = axis + 1; d < int64_t(data->getShape().size()); ++d)
    inner *= data->getShape()[d];
  for (int64_t d = 0; d < axis; ++d)
    outer *= data->getShape()[d];
  SmallVector<int64_t> map;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < indices->getNumElements(); ++i) {
      auto index = normalizeIndex(indices->getInt(i), axisSize);
      if (!index)
        return {}; // out-of-range indices are reported at run time
      for (int64_t j = 0; j < inner; ++j)
        map.push_back((o * axisSize + *index) * inner + j);
    }
  return gatherElements(*data, getType(), map).toAttr();
}

OpFoldResult GatherElementsOp::fold(FoldAdaptor adaptor) {
  auto data = constantOf(adaptor.getData(), kMaxFoldArithElements);
  auto indices = constantOf(adaptor.getIndices(), kMaxFoldArithElements);
  if (!data || !indices)
    return {};
  auto dataStrides = computeStrides(data->getShape());
  SmallVector<int64_t> map;
  bool ok = true;
  forEachIndex(
      getType().getShape(), [&](int64_t linear, ArrayRef<int64_t> idx) {
        int64_t src = 0;
        for (size_t d = 0; d < idx.size(); ++d) {
          int64_t coord = idx[d];
          if (int64_t(d) == getAxis()) {
            auto index =
                normalizeIndex(indices->getInt(linear), data->getShape()[d]);
            ok &= index.has_value();
            coord = index.value_or(0);
          }
          src += coord * dataStrides[d];
        }
        map.push_back(src);
      });
  if (!ok)
    return {};
  return gatherElements(*data, getType(), map).toAttr();
}

OpFoldResult GatherNdOp::fold(FoldAdaptor adaptor) {
  auto data = constantOf(adaptor.getData(), kMaxFoldArithElements);
  auto indices = constantOf(adaptor.getIndices(), kMaxFoldArithElements);
  if (!data || !indices)
    return {};
  ArrayRef<int64_t> dataShape = data->getShape();
  ArrayRef<int64_t> indexShape = indices->getShape();
  int64_t batchDims = getBatchDims(), depth = indexShape.back();
  auto dataStrides = computeStrides(dataShape);
  int64_t batchCount = 1, tuplesPerBatch = 1, inner = 1;
  for (int64_t d = 0; d < batchDims; ++d)
    batchCount *= dataShape[d];
  for (int64_t d = batchDims; d + 1 < int64_t(indexShape.size()); ++d)
    tuplesPerBatch *= indexShape[d];
  for (int64_t d = batchDims + depth; d < int64_t(dataShape.size()); ++d)
    inner *= dataShape[d];
  int64_t batchStride = batchDims ? dataStrides[batchDims - 1] : 0;
  SmallVector<int64_t> map;
  for (int64_t b = 0; b < batchCount; ++b)
    for (int64_t t = 0; t < tuplesPerBatch; ++t) {
      int64_t base = b * batchStride;
      for (int64_t k = 0; k < depth; ++k) {
        auto index = normalizeIndex(
            indices->getInt((b * tuplesPerBatch + t) * depth + k),
            dataShape[batchDims + k]);
        if (!index)
          return {};
        base += *index * dataStrides[batchDims + k];
      }
      for (int64_t j = 0; j < inner; ++j)
        map.push_back(base + j);
    }
  return gatherElements(*data, getType(), map).toAttr();
}

OpFoldResult CumSumOp::fold(FoldAdaptor adaptor) {
  auto input = constantOf(adaptor.getInput(), kMaxFoldArithElements);
  if (!input)
    return {};
  ArrayRef<int64_t> shape = input->getShape();
  // cumsum has no verifier: an out-of-range axis must not be folded.
  int64_t axis = getAxis();
  if (axis < 0 || axis >= int64_t(shape.size()))
    return {};
  int64_t n = shape[axis];
  int64_t stride = computeStrides(shape)[axis];
  ConstantTensor result(getType());
  forEachIndex(shape, [&](int64_t linear, ArrayRef<int64_t> idx) {
    if (idx[axis] != 0)
      return;
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      int64_t k = getReverse() ? n - 1 - j : j;
      int64_t at = linear + k * stride;
      double x = input->getDouble(at);
      if (!getExclusive())
        sum += x;
      result.setDouble(at, sum);
      if (getExclusive())
        sum += x;
    }
  });
  return result.toAttr();
}

OpFoldResult TriluOp::fold(FoldAdaptor adaptor) {
  auto input = constantOf(adaptor.getInput(), kMaxFoldArithElements);
  if (!input)
    return {};
  ArrayRef<int64_t> shape = input->getShape();
  // getK() is the attribute's uint64_t view: compare as signed.
  int64_t rank = shape.size(), k = int64_t(getK());
  ConstantTensor result(getType());
  forEachIndex(shape, [&](int64_t linear, ArrayRef<int64_t> idx) {
    int64_t row = idx[rank - 2], col = idx[rank - 1];
    bool keep = getUpper() ? col - row >= k : col - row <= k;
    if (keep)
      copyElement(*input, linear, result, linear);
  });
  return result.toAttr();
}

} // namespace gaon::graph
