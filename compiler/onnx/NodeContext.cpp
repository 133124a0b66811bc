//===- NodeContext.cpp - State for converting one ONNX node ---------------===//

#include "NodeContext.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;

namespace gaon::onnx {

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

bool NodeContext::hasInput(int i) const {
  return i < node.input_size() && !node.input(i).empty();
}

Value NodeContext::input(int i) const {
  if (!hasInput(i))
    return nullptr;
  return values.lookup(node.input(i));
}

RankedTensorType NodeContext::inputType(int i) const {
  return tensorType(input(i));
}

std::optional<graph::ConstantTensor> NodeContext::constantInput(int i) const {
  Attribute attr;
  if (!hasInput(i) || !matchPattern(input(i), m_Constant(&attr)))
    return std::nullopt;
  return graph::ConstantTensor::fromAttr(attr);
}

FailureOr<SmallVector<int64_t>> NodeContext::constantInts(int i,
                                                          StringRef what) {
  auto value = constantInput(i);
  if (!value) {
    (void)fail(Twine(what) + " (input " + Twine(i) +
               ") must be a compile-time constant; its value depends on the "
               "model's inputs");
    return failure();
  }
  return value->getInts();
}

const ::onnx::AttributeProto *NodeContext::attr(StringRef name) const {
  for (const auto &attribute : node.attribute())
    if (attribute.name() == name)
      return &attribute;
  return nullptr;
}

bool NodeContext::hasAttr(StringRef name) const { return attr(name); }

int64_t NodeContext::attrInt(StringRef name, int64_t defaultValue) const {
  const auto *a = attr(name);
  return a && a->has_i() ? a->i() : defaultValue;
}

float NodeContext::attrFloat(StringRef name, float defaultValue) const {
  const auto *a = attr(name);
  return a && a->has_f() ? a->f() : defaultValue;
}

std::string NodeContext::attrString(StringRef name,
                                    StringRef defaultValue) const {
  const auto *a = attr(name);
  return a && a->has_s() ? a->s() : defaultValue.str();
}

std::optional<SmallVector<int64_t>>
NodeContext::attrInts(StringRef name) const {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

void NodeContext::setOutput(int i, Value value) {
  if (hasOutput(i))
    values[node.output(i)] = value;
}

InFlightDiagnostic NodeContext::emitError() { return mlir::emitError(loc); }

LogicalResult NodeContext::fail(const Twine &message) {
  mlir::emitError(loc) << message << " at node '" << node.name() << "' ("
                       << node.op_type() << ", opset " << opset << ")";
  return failure();
}

FailureOr<int64_t> NodeContext::normalizeAxis(int64_t axis, int64_t rank) {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank) {
    fail("axis " + Twine(axis) + " is out of range for rank " + Twine(rank));
    return failure();
  }
  return normalized;
}

Value NodeContext::reshape(Value value, ArrayRef<int64_t> shape) {
  auto type = RankedTensorType::get(shape, tensorType(value).getElementType());
  return create<graph::ReshapeOp>(type, value);
}

Value NodeContext::transpose(Value value, ArrayRef<int64_t> perm) {
  auto type = tensorType(value);
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return create<graph::TransposeOp>(
      RankedTensorType::get(shape, type.getElementType()), value,
      builder.getDenseI64ArrayAttr(perm));
}

Value NodeContext::cast(Value value, Type elementType) {
  auto type = tensorType(value);
  if (type.getElementType() == elementType)
    return value;
  return create<graph::CastOp>(type.clone(elementType), value);
}

Value NodeContext::splat(Type elementType, ArrayRef<int64_t> shape,
                         double value) {
  graph::ConstantTensor scalar(RankedTensorType::get({}, elementType));
  scalar.setDouble(0, value);
  auto dense = mlir::cast<DenseElementsAttr>(scalar.toAttr());
  auto type = RankedTensorType::get(shape, elementType);
  return graph::ConstantOp::create(
      builder, loc,
      DenseElementsAttr::get(type, dense.getSplatValue<Attribute>()));
}

Value NodeContext::constant(const graph::ConstantTensor &tensor) {
  return graph::ConstantOp::create(builder, loc, tensor.toAttr());
}

} // namespace gaon::onnx
