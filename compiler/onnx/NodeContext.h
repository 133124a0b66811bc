//===- NodeContext.h - State for converting one ONNX node -------*- C++ -*-===//
//
// Each op converter (ops/*.cpp) gets a NodeContext: typed access to the
// node's inputs and attributes, builders that fold constant operands as they
// go, and errors that name the node.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_COMPILER_ONNX_NODECONTEXT_H
#define GAON_COMPILER_ONNX_NODECONTEXT_H

#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>

namespace gaon::onnx {

using mlir::LogicalResult;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

class NodeContext {
public:
  NodeContext(const ::onnx::NodeProto &node, int64_t opset,
              mlir::OpBuilder &builder, mlir::Location loc,
              llvm::StringMap<Value> &values)
      : node(node), opset(opset), builder(builder), loc(loc), values(values) {}

  const ::onnx::NodeProto &getNode() const { return node; }
  int64_t getOpset() const { return opset; }
  mlir::OpBuilder &getBuilder() { return builder; }
  mlir::Location getLoc() const { return loc; }
  mlir::MLIRContext *getContext() { return builder.getContext(); }

  // Inputs. Optional inputs may be absent (empty name or past the end).
  int numInputs() const { return node.input_size(); }
  bool hasInput(int i) const;
  Value input(int i) const;
  RankedTensorType inputType(int i) const;
  /// The constant value of input `i`, if it is a compile-time constant.
  std::optional<graph::ConstantTensor> constantInput(int i) const;
  /// Integer values of a constant input (axes, shapes); error if not
  /// constant.
  mlir::FailureOr<llvm::SmallVector<int64_t>>
  constantInts(int i, llvm::StringRef what);

  // Attributes.
  bool hasAttr(llvm::StringRef name) const;
  int64_t attrInt(llvm::StringRef name, int64_t defaultValue) const;
  float attrFloat(llvm::StringRef name, float defaultValue) const;
  std::string attrString(llvm::StringRef name,
                         llvm::StringRef defaultValue = "") const;
  std::optional<llvm::SmallVector<int64_t>>
  attrInts(llvm::StringRef name) const;
  const ::onnx::AttributeProto *attr(llvm::StringRef name) const;

  // Outputs.
  int numOutputs() const { return node.output_size(); }
  bool hasOutput(int i) const {
    return i < node.output_size() && !node.output(i).empty();
  }
  void setOutput(int i, Value value);

  /// Error at this node: "<message> at node '<name>' (<op>)".
  mlir::InFlightDiagnostic emitError();
  /// Error returned by converters; message names the node.
  LogicalResult fail(const llvm::Twine &message);

  /// Normalizes a possibly negative axis; error when out of range.
  mlir::FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank);

  // Builders. All fold when their operands are constants.
  template <typename OpTy, typename... Args>
  Value create(Type resultType, Args &&...args) {
    return builder.createOrFold<OpTy>(loc, resultType,
                                      std::forward<Args>(args)...);
  }
  /// Elementwise op with NumPy broadcasting; comparisons give i1.
  template <typename OpTy>
  mlir::FailureOr<Value> binary(Value lhs, Value rhs,
                                bool isComparison = false);
  Value reshape(Value value, llvm::ArrayRef<int64_t> shape);
  Value transpose(Value value, llvm::ArrayRef<int64_t> perm);
  Value cast(Value value, Type elementType);
  /// A constant of `shape` filled with `value` in `elementType`.
  Value splat(Type elementType, llvm::ArrayRef<int64_t> shape, double value);
  Value constant(const graph::ConstantTensor &tensor);

private:
  const ::onnx::NodeProto &node;
  int64_t opset;
  mlir::OpBuilder &builder;
  mlir::Location loc;
  llvm::StringMap<Value> &values;
};

RankedTensorType tensorType(Value value);

/// Converts one node; emits an error and fails on bad input.
using ConvertFn = std::function<LogicalResult(NodeContext &)>;
using ConverterRegistry = llvm::StringMap<ConvertFn>;

void registerElementwiseOps(ConverterRegistry &registry);
void registerMatMulOps(ConverterRegistry &registry);
void registerReductionOps(ConverterRegistry &registry);
void registerShapeOps(ConverterRegistry &registry);
void registerGatherOps(ConverterRegistry &registry);
void registerScatterOps(ConverterRegistry &registry);
void registerSignalOps(ConverterRegistry &registry);
void registerImageOps(ConverterRegistry &registry);
void registerGridSampleOps(ConverterRegistry &registry);
void registerLossOps(ConverterRegistry &registry);
void registerRecurrentOps(ConverterRegistry &registry);
void registerResizeOps(ConverterRegistry &registry);
void registerConstantOps(ConverterRegistry &registry);
void registerQuantizeOps(ConverterRegistry &registry);

const ConverterRegistry &getConverterRegistry();

template <typename OpTy>
mlir::FailureOr<Value> NodeContext::binary(Value lhs, Value rhs,
                                           bool isComparison) {
  auto lhsType = tensorType(lhs), rhsType = tensorType(rhs);
  if (lhsType.getElementType() != rhsType.getElementType())
    return fail("operand element types differ");
  auto shape = graph::broadcastShapes(lhsType.getShape(), rhsType.getShape());
  if (mlir::failed(shape))
    return fail("operand shapes do not broadcast");
  Type element = isComparison ? builder.getI1Type() : lhsType.getElementType();
  return create<OpTy>(RankedTensorType::get(*shape, element), lhs, rhs);
}

} // namespace gaon::onnx

#endif // GAON_COMPILER_ONNX_NODECONTEXT_H
