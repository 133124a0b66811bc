//===- GraphOps.cpp - gaon.graph verifiers --------------------------------===//

#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;

namespace gaon::graph {

FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> lhs,
                                                ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t l = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t r = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (l != r && l != 1 && r != 1)
      return failure();
    result[i] = l == 1 ? r : l;
  }
  return result;
}

static RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s + "]";
}

static LogicalResult verifyResultShape(Operation *op,
                                       ArrayRef<int64_t> expected) {
  auto actual = tensorType(op->getResult(0)).getShape();
  if (actual != expected)
    return op->emitOpError("result shape ")
           << shapeString(actual) << " does not match the expected "
           << shapeString(expected);
  return success();
}

static LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank,
                                StringRef what = "axis") {
  if (axis < 0 || axis >= rank)
    return op->emitOpError()
           << what << " " << axis << " is out of range for rank " << rank;
  return success();
}

LogicalResult verifyBinaryOp(Operation *op, bool isComparison) {
  auto lhs = tensorType(op->getOperand(0));
  auto rhs = tensorType(op->getOperand(1));
  auto result = tensorType(op->getResult(0));
  if (lhs.getElementType() != rhs.getElementType())
    return op->emitOpError("operand element types differ: ")
           << lhs.getElementType() << " vs " << rhs.getElementType();
  Type expectedElement = isComparison
                             ? Type(IntegerType::get(op->getContext(), 1))
                             : lhs.getElementType();
  if (result.getElementType() != expectedElement)
    return op->emitOpError("result element type must be ") << expectedElement;
  auto shape = broadcastShapes(lhs.getShape(), rhs.getShape());
  if (failed(shape))
    return op->emitOpError("operand shapes ")
           << shapeString(lhs.getShape()) << " and "
           << shapeString(rhs.getShape()) << " do not broadcast";
  return verifyResultShape(op, *shape);
}

LogicalResult verifyReduceOp(Operation *op, ArrayRef<int64_t> axes,
                             bool keepDims) {
  auto input = tensorType(op->getOperand(0));
  int64_t rank = input.getRank();
  SmallVector<bool> reduced(rank, false);
  for (int64_t axis : axes) {
    if (failed(verifyAxis(op, axis, rank)))
      return failure();
    if (reduced[axis])
      return op->emitOpError("axis ") << axis << " is repeated";
    reduced[axis] = true;
  }
  SmallVector<int64_t> expected;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      expected.push_back(input.getDimSize(i));
    else if (keepDims)
      expected.push_back(1);
  }
  if (tensorType(op->getResult(0)).getElementType() != input.getElementType())
    return op->emitOpError("result element type must match the input");
  return verifyResultShape(op, expected);
}

LogicalResult SelectOp::verify() {
  if (!getCondition().getType().getElementType().isInteger(1))
    return emitOpError("condition must have i1 elements");
  if (getLhs().getType().getElementType() !=
          getRhs().getType().getElementType() ||
      getLhs().getType().getElementType() !=
          getResult().getType().getElementType())
    return emitOpError("value and result element types must match");
  auto shape = broadcastShapes(getLhs().getType().getShape(),
                               getRhs().getType().getShape());
  if (succeeded(shape))
    shape = broadcastShapes(getCondition().getType().getShape(), *shape);
  if (failed(shape))
    return emitOpError("operand shapes do not broadcast");
  return verifyResultShape(*this, *shape);
}

LogicalResult MatMulOp::verify() {
  auto lhs = getLhs().getType(), rhs = getRhs().getType();
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return emitOpError("operands must have rank >= 2");
  int64_t k = lhs.getShape().back();
  if (k != rhs.getShape()[rhs.getRank() - 2])
    return emitOpError("contraction sizes differ: lhs ")
           << shapeString(lhs.getShape()) << " rhs "
           << shapeString(rhs.getShape());
  bool integer = lhs.getElementType().isInteger();
  if (lhs.getElementType() != rhs.getElementType() ||
      (!integer &&
       getResult().getType().getElementType() != lhs.getElementType()))
    return emitOpError("element types must match (integer products may "
                       "widen the result)");
  auto batch =
      broadcastShapes(lhs.getShape().drop_back(2), rhs.getShape().drop_back(2));
  if (failed(batch))
    return emitOpError("batch dimensions do not broadcast");
  batch->push_back(lhs.getShape()[lhs.getRank() - 2]);
  batch->push_back(rhs.getShape().back());
  return verifyResultShape(*this, *batch);
}

LogicalResult ConvOp::verify() {
  auto input = getInput().getType(), weight = getWeight().getType();
  int64_t rank = input.getRank(), spatial = rank - 2;
  if (rank < 3 || weight.getRank() != rank)
    return emitOpError("input and weight must have the same rank >= 3");
  if (int64_t(getStrides().size()) != spatial ||
      int64_t(getDilations().size()) != spatial ||
      int64_t(getPads().size()) != 2 * spatial)
    return emitOpError("strides/dilations need one value per spatial "
                       "dimension, pads two");
  int64_t groups = getGroups();
  if (groups < 1 || input.getDimSize(1) != weight.getDimSize(1) * groups ||
      weight.getDimSize(0) % groups != 0)
    return emitOpError("channel counts do not match the group count");
  if (getBias() &&
      getBias().getType().getShape() != ArrayRef<int64_t>{weight.getDimSize(0)})
    return emitOpError("bias shape ")
           << shapeString(getBias().getType().getShape())
           << " is not the output channel count [" << weight.getDimSize(0)
           << "]";
  SmallVector<int64_t> expected = {input.getDimSize(0), weight.getDimSize(0)};
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t padded =
        input.getDimSize(2 + i) + getPads()[i] + getPads()[i + spatial];
    int64_t window = getDilations()[i] * (weight.getDimSize(2 + i) - 1) + 1;
    if (getStrides()[i] < 1 || padded < window)
      return emitOpError("window does not fit the padded input");
    expected.push_back((padded - window) / getStrides()[i] + 1);
  }
  return verifyResultShape(*this, expected);
}

LogicalResult ArgMaxOp::verify() {
  auto input = getInput().getType();
  if (failed(verifyAxis(*this, getAxis(), input.getRank())))
    return failure();
  if (!getResult().getType().getElementType().isInteger(64))
    return emitOpError("result must have i64 elements");
  SmallVector<int64_t> expected;
  for (int64_t i = 0; i < input.getRank(); ++i)
    if (i != getAxis())
      expected.push_back(input.getDimSize(i));
    else if (getKeepDims())
      expected.push_back(1);
  return verifyResultShape(*this, expected);
}

LogicalResult SoftmaxOp::verify() {
  return verifyAxis(*this, getAxis(), getInput().getType().getRank());
}

// Norm parameters must broadcast to the normalized trailing dimensions.
static LogicalResult verifyNormParam(Operation *op, Value param, int64_t axis,
                                     RankedTensorType input) {
  auto normalized = input.getShape().drop_front(axis);
  auto shape = broadcastShapes(normalized, tensorType(param).getShape());
  if (failed(shape) || ArrayRef<int64_t>(*shape) != normalized)
    return op->emitOpError("parameter shape ")
           << shapeString(tensorType(param).getShape())
           << " does not broadcast to the normalized shape "
           << shapeString(normalized);
  return success();
}

LogicalResult LayerNormOp::verify() {
  auto input = getInput().getType();
  if (failed(verifyAxis(*this, getAxis(), input.getRank())) ||
      failed(verifyNormParam(*this, getScale(), getAxis(), input)) ||
      (getBias() &&
       failed(verifyNormParam(*this, getBias(), getAxis(), input))))
    return failure();
  if (getResult().getType() != input)
    return emitOpError("result type must match the input");
  return success();
}

LogicalResult RmsNormOp::verify() {
  auto input = getInput().getType();
  if (failed(verifyAxis(*this, getAxis(), input.getRank())) ||
      failed(verifyNormParam(*this, getScale(), getAxis(), input)))
    return failure();
  if (getResult().getType() != input)
    return emitOpError("result type must match the input");
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto input = getInput().getType(), result = getResult().getType();
  if (input.getElementType() != result.getElementType())
    return emitOpError("element types must match");
  if (input.hasStaticShape() && result.hasStaticShape() &&
      input.getNumElements() != result.getNumElements())
    return emitOpError("element counts differ: ")
           << shapeString(input.getShape()) << " vs "
           << shapeString(result.getShape());
  return success();
}

LogicalResult TransposeOp::verify() {
  auto input = getInput().getType();
  ArrayRef<int64_t> perm = getPerm();
  if (int64_t(perm.size()) != input.getRank())
    return emitOpError("perm needs one entry per dimension");
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> expected;
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || seen[p])
      return emitOpError("perm is not a permutation");
    seen[p] = true;
    expected.push_back(input.getDimSize(p));
  }
  return verifyResultShape(*this, expected);
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one input");
  auto first = tensorType(getInputs().front());
  if (failed(verifyAxis(*this, getAxis(), first.getRank())))
    return failure();
  SmallVector<int64_t> expected(first.getShape());
  expected[getAxis()] = 0;
  for (Value input : getInputs()) {
    auto type = tensorType(input);
    if (type.getRank() != first.getRank() ||
        type.getElementType() != first.getElementType())
      return emitOpError("inputs must share rank and element type");
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (i != getAxis() && type.getDimSize(i) != first.getDimSize(i))
        return emitOpError("inputs differ outside the concat axis");
    expected[getAxis()] += type.getDimSize(getAxis());
  }
  return verifyResultShape(*this, expected);
}

LogicalResult SliceOp::verify() {
  auto input = getInput().getType(), result = getResult().getType();
  int64_t rank = input.getRank();
  if (int64_t(getStarts().size()) != rank || int64_t(getSteps().size()) != rank)
    return emitOpError("starts and steps need one entry per dimension");
  if (result.getRank() != rank)
    return emitOpError("result rank must match the input");
  for (int64_t i = 0; i < rank; ++i) {
    int64_t start = getStarts()[i], step = getSteps()[i];
    int64_t count = result.getDimSize(i), dim = input.getDimSize(i);
    if (step == 0)
      return emitOpError("step of dimension ") << i << " is zero";
    if (count == 0)
      continue;
    int64_t last = start + (count - 1) * step;
    if (start < 0 || start >= dim || last < 0 || last >= dim)
      return emitOpError("slice of dimension ")
             << i << " (start " << start << ", step " << step << ", " << count
             << " elements) leaves the input of size " << dim;
  }
  return success();
}

LogicalResult SplitOp::verify() {
  auto input = getInput().getType();
  if (failed(verifyAxis(*this, getAxis(), input.getRank())))
    return failure();
  int64_t total = 0;
  for (Value result : getResults()) {
    auto type = tensorType(result);
    if (type.getRank() != input.getRank() ||
        type.getElementType() != input.getElementType())
      return emitOpError("results must share the input's rank and type");
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (i != getAxis() && type.getDimSize(i) != input.getDimSize(i))
        return emitOpError("results differ from the input outside the axis");
    total += type.getDimSize(getAxis());
  }
  if (total != input.getDimSize(getAxis()))
    return emitOpError("result sizes sum to ")
           << total << ", not the input's " << input.getDimSize(getAxis());
  return success();
}

LogicalResult BroadcastOp::verify() {
  auto input = getInput().getType(), result = getResult().getType();
  auto shape = broadcastShapes(input.getShape(), result.getShape());
  if (failed(shape) || ArrayRef<int64_t>(*shape) != result.getShape() ||
      input.getElementType() != result.getElementType())
    return emitOpError("cannot broadcast ")
           << shapeString(input.getShape()) << " to "
           << shapeString(result.getShape());
  return success();
}

LogicalResult TileOp::verify() {
  auto input = getInput().getType();
  if (int64_t(getRepeats().size()) != input.getRank())
    return emitOpError("repeats need one entry per dimension");
  SmallVector<int64_t> expected;
  for (auto [dim, repeat] : llvm::zip(input.getShape(), getRepeats()))
    expected.push_back(dim * repeat);
  return verifyResultShape(*this, expected);
}

LogicalResult PadOp::verify() {
  auto input = getInput().getType();
  if (int64_t(getLow().size()) != input.getRank() ||
      int64_t(getHigh().size()) != input.getRank())
    return emitOpError("low/high need one entry per dimension");
  SmallVector<int64_t> expected;
  for (int64_t i = 0; i < input.getRank(); ++i)
    expected.push_back(input.getDimSize(i) + getLow()[i] + getHigh()[i]);
  return verifyResultShape(*this, expected);
}

LogicalResult GatherOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType();
  if (failed(verifyAxis(*this, getAxis(), data.getRank())))
    return failure();
  if (!indices.getElementType().isInteger())
    return emitOpError("indices must be integers");
  SmallVector<int64_t> expected(data.getShape().take_front(getAxis()));
  llvm::append_range(expected, indices.getShape());
  llvm::append_range(expected, data.getShape().drop_front(getAxis() + 1));
  return verifyResultShape(*this, expected);
}

LogicalResult GatherElementsOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType();
  if (failed(verifyAxis(*this, getAxis(), data.getRank())))
    return failure();
  if (indices.getRank() != data.getRank() ||
      !indices.getElementType().isInteger())
    return emitOpError("indices must be integers of the data's rank");
  return verifyResultShape(*this, indices.getShape());
}

LogicalResult GatherNdOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType();
  int64_t batchDims = getBatchDims();
  if (indices.getRank() < 1 || !indices.getElementType().isInteger())
    return emitOpError("indices must be integers of rank >= 1");
  int64_t depth = indices.getShape().back();
  if (batchDims < 0 || batchDims + depth > data.getRank())
    return emitOpError("index depth ") << depth << " with " << batchDims
                                       << " batch dims exceeds the data rank";
  if (batchDims >= indices.getRank() ||
      indices.getShape().take_front(batchDims) !=
          data.getShape().take_front(batchDims))
    return emitOpError("the first ")
           << batchDims << " (batch) dimensions of indices "
           << shapeString(indices.getShape()) << " and data "
           << shapeString(data.getShape()) << " differ";
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(batchDims + depth));
  return verifyResultShape(*this, expected);
}

LogicalResult TriluOp::verify() {
  if (getInput().getType().getRank() < 2)
    return emitOpError("input must have rank >= 2");
  return success();
}

LogicalResult AttentionOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return emitOpError("query, key and value must be [B, H, S, D]");
  if (k.getShape().take_front(3) != v.getShape().take_front(3))
    return emitOpError("key and value differ in batch, heads or length");
  if (q.getDimSize(0) != k.getDimSize(0) || q.getDimSize(3) != k.getDimSize(3))
    return emitOpError("query and key batch or head size differ");
  if (k.getDimSize(1) == 0 || q.getDimSize(1) % k.getDimSize(1) != 0)
    return emitOpError("query heads must be a multiple of key/value heads");
  if (getMask()) {
    SmallVector<int64_t> scores = {q.getDimSize(0), q.getDimSize(1),
                                   q.getDimSize(2), k.getDimSize(2)};
    auto shape = broadcastShapes(tensorType(getMask()).getShape(), scores);
    if (failed(shape) || ArrayRef<int64_t>(*shape) != ArrayRef(scores))
      return emitOpError("mask does not broadcast to the scores");
  }
  return verifyResultShape(*this, {q.getDimSize(0), q.getDimSize(1),
                                   q.getDimSize(2), v.getDimSize(3)});
}

} // namespace gaon::graph

#define GET_OP_CLASSES
#include "gaon/Dialect/Graph/GraphOps.cpp.inc"
