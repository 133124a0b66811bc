//===- OnnxImporter.cpp - ONNX protobuf to gaon.graph ---------------------===//

#include "gaon/Compiler/Onnx/OnnxImporter.h"

#include "NodeContext.h"
#include "TensorProtoReader.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

using namespace mlir;

namespace gaon::onnx {

// The newest default-domain opset whose semantics the converters follow.
static constexpr int64_t kNewestKnownOpset = 21;

std::string parseInputShape(StringRef text, ImportOptions &options) {
  SmallVector<StringRef> entries;
  text.split(entries, ',', -1, /*KeepEmpty=*/false);
  for (StringRef entry : entries) {
    auto [name, dims] = entry.split('=');
    name = name.trim();
    if (name.empty() || dims.empty())
      return ("--input-shape expects name=DxDx..., got '" + entry + "'").str();
    SmallVector<int64_t> shape;
    SmallVector<StringRef> parts;
    dims.split(parts, 'x');
    for (StringRef part : parts) {
      int64_t dim;
      if (dims == "scalar")
        break;
      if (part.trim().getAsInteger(10, dim) || dim < 0)
        return ("--input-shape for '" + name + "': '" + part +
                "' is not a non-negative integer dimension")
            .str();
      shape.push_back(dim);
    }
    options.inputShapes[name] = shape;
  }
  return "";
}

std::string parseBoundInput(StringRef text, ImportOptions &options) {
  auto [name, file] = text.split('=');
  if (name.trim().empty() || file.trim().empty())
    return ("--bind-input expects name=file.pb, got '" + text + "'").str();
  options.boundInputs[name.trim()] = file.trim().str();
  return "";
}

namespace {

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + (d < 0 ? std::string("?") : std::to_string(d));
  return s.empty() ? "scalar" : s;
}

class GraphImporter {
public:
  GraphImporter(MLIRContext &context, StringRef path,
                const ImportOptions &options)
      : context(context), path(path), options(options), builder(&context) {
    modelDir = llvm::sys::path::parent_path(path).str();
    if (modelDir.empty())
      modelDir = ".";
  }

  OwningOpRef<ModuleOp> run();

private:
  LogicalResult error(const Twine &message) {
    mlir::emitError(FileLineColLoc::get(&context, path, 0, 0)) << message;
    return failure();
  }
  LogicalResult loadModel();
  FailureOr<RankedTensorType> inputType(const ::onnx::ValueInfoProto &info,
                                        SmallVector<std::string> &dimNames);
  ElementsAttr readInitializer(const ::onnx::TensorProto &tensor,
                               std::string &message);
  LogicalResult importInitializers();
  LogicalResult importBoundInputs();
  LogicalResult importNode(const ::onnx::NodeProto &node, int index);
  LogicalResult importIf(const ::onnx::NodeProto &node, const std::string &name,
                         Location loc);

  MLIRContext &context;
  std::string path, modelDir;
  const ImportOptions &options;
  OpBuilder builder;
  ::onnx::ModelProto model;
  int64_t opset = 0;
  llvm::StringMap<Value> values;
  /// Location index of nodes imported from subgraphs (after the main graph's).
  int nextSubgraphNode = 1 << 20;
};

LogicalResult GraphImporter::loadModel() {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return error("cannot open ONNX model '" + path +
                 "': " + buffer.getError().message());
  size_t size = (*buffer)->getBufferSize();
  if (size > size_t(INT32_MAX))
    return error("ONNX model '" + path +
                 "' is larger than 2 GiB; store its weights as external data");
  google::protobuf::io::CodedInputStream stream(
      reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart()),
      int(size));
  stream.SetTotalBytesLimit(INT32_MAX);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
    return error("cannot parse '" + path +
                 "' as an ONNX model: the file is truncated or is not an ONNX "
                 "protobuf");
  if (!model.has_graph())
    return error("ONNX model '" + path + "' has no graph");
  for (const auto &import : model.opset_import())
    if (import.domain().empty() || import.domain() == "ai.onnx")
      opset = import.version();
  if (opset > kNewestKnownOpset)
    mlir::emitWarning(FileLineColLoc::get(&context, path, 0, 0))
        << "model uses opset " << opset << "; converting with the semantics "
        << "of opset " << kNewestKnownOpset << ", the newest known";
  return success();
}

FailureOr<RankedTensorType>
GraphImporter::inputType(const ::onnx::ValueInfoProto &info,
                         SmallVector<std::string> &dimNames) {
  const std::string &name = info.name();
  if (!info.type().has_tensor_type())
    return error("unsupported input type: graph input '" + name +
                 "' is not a tensor (sequences, maps and optionals are not "
                 "supported)");
  const auto &tensor = info.type().tensor_type();
  Type element = getElementType(&context, tensor.elem_type());
  if (!element)
    return error("unsupported input type: graph input '" + name +
                 "' has element type " + getDataTypeName(tensor.elem_type()));
  SmallVector<int64_t> modelShape;
  bool dynamic = false;
  for (const auto &dim : tensor.shape().dim()) {
    bool known = dim.has_dim_value() && dim.dim_value() >= 0;
    modelShape.push_back(known ? dim.dim_value() : ShapedType::kDynamic);
    dimNames.push_back(dim.has_dim_param() ? dim.dim_param() : "");
    dynamic |= !known;
  }
  auto given = options.inputShapes.find(name);
  if (given == options.inputShapes.end()) {
    if (dynamic) {
      std::string names, example;
      for (auto [i, dim] : llvm::enumerate(modelShape)) {
        names += (i ? ", " : "") +
                 (dimNames[i].empty()
                      ? (dim < 0 ? std::string("?") : std::to_string(dim))
                      : dimNames[i]);
        example += (i ? "x" : "") + std::to_string(dim < 0 ? 1 : dim);
      }
      return error("graph input '" + name + "' has dynamic dimensions [" +
                   names + "]; fix them with --input-shape " + name +
                   "=DxD..., for example --input-shape " + name + "=" +
                   example);
    }
    return RankedTensorType::get(modelShape, element);
  }
  ArrayRef<int64_t> shape = given->second;
  if (tensor.has_shape() && shape.size() != modelShape.size())
    return error("--input-shape " + name + "=" + shapeString(shape) +
                 " has rank " + Twine(shape.size()) +
                 ", but the model's input "
                 "has rank " +
                 Twine(modelShape.size()) + " [" + shapeString(modelShape) +
                 "]");
  for (auto [i, dim] : llvm::enumerate(modelShape))
    if (dim != ShapedType::kDynamic && dim != shape[i])
      return error("--input-shape " + name + "=" + shapeString(shape) +
                   " conflicts with the model's static dimension " + Twine(i) +
                   " of size " + Twine(dim));
  return RankedTensorType::get(shape, element);
}

ElementsAttr GraphImporter::readInitializer(const ::onnx::TensorProto &tensor,
                                            std::string &message) {
  std::string blobName = tensor.name();
  for (char &c : blobName)
    if (!llvm::isAlnum(c) && c != '_' && c != '.')
      c = '_';
  return readTensorProtoAttr(&context, tensor, modelDir, blobName, message);
}

LogicalResult GraphImporter::importInitializers() {
  auto &initializers = *model.mutable_graph()->mutable_initializer();
  for (auto &initializer : initializers) {
    std::string message;
    ElementsAttr value = readInitializer(initializer, message);
    if (!value)
      return error("initializer: " + message);
    values[initializer.name()] = graph::ConstantOp::create(
        builder, NameLoc::get(builder.getStringAttr(initializer.name())),
        value);
    // The blob holds the data now; release the protobuf's copy.
    std::string().swap(*initializer.mutable_raw_data());
  }
  return success();
}

LogicalResult GraphImporter::importBoundInputs() {
  for (const auto &entry : options.boundInputs) {
    StringRef name = entry.getKey();
    const ::onnx::ValueInfoProto *info = nullptr;
    for (const auto &input : model.graph().input())
      if (input.name() == name)
        info = &input;
    if (!info)
      return error("--bind-input names '" + name +
                   "', which is not an input of the model");
    auto buffer = llvm::MemoryBuffer::getFile(entry.getValue());
    ::onnx::TensorProto proto;
    if (!buffer || !proto.ParseFromArray((*buffer)->getBufferStart(),
                                         int((*buffer)->getBufferSize())))
      return error("--bind-input " + name + ": cannot read '" +
                   entry.getValue() + "' as a serialized TensorProto");
    std::string message;
    auto tensor = readTensorProto(&context, proto, modelDir, message);
    if (!tensor)
      return error("--bind-input " + name + ": " + message);
    Type declared =
        getElementType(&context, info->type().tensor_type().elem_type());
    if (declared && declared != tensor->getType().getElementType())
      return error("--bind-input " + name + ": the file holds " +
                   getDataTypeName(proto.data_type()) +
                   " but the input is declared " +
                   getDataTypeName(info->type().tensor_type().elem_type()));
    values[name] = graph::ConstantOp::create(
        builder, NameLoc::get(builder.getStringAttr(name)), tensor->toAttr());
  }
  return success();
}

LogicalResult GraphImporter::importNode(const ::onnx::NodeProto &node,
                                        int index) {
  std::string name = node.name().empty()
                         ? node.op_type() + "_" + std::to_string(index)
                         : node.name();
  Location loc = NameLoc::get(builder.getStringAttr(name),
                              FileLineColLoc::get(&context, path, index, 0));
  auto nodeError = [&](const Twine &message) {
    mlir::emitError(loc) << message;
    return failure();
  };
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    return nodeError("unsupported ONNX op '" + node.domain() + "." +
                     node.op_type() + "' at node '" + name +
                     "': only the default domain is supported");
  if (opset <= 0)
    return nodeError("node '" + name + "' (" + node.op_type() +
                     ") uses the default ONNX domain, which the model does not "
                     "import (opset_import)");
  if (node.op_type() == "If")
    return importIf(node, name, loc);
  const ConverterRegistry &registry = getConverterRegistry();
  auto converter = registry.find(node.op_type());
  if (converter == registry.end())
    return nodeError("unsupported ONNX op '" + node.op_type() + "' (opset " +
                     Twine(opset) + ") at node '" + name + "'");
  for (const std::string &input : node.input())
    if (!input.empty() && !values.count(input))
      return nodeError("node '" + name + "' (" + node.op_type() +
                       ") uses undefined value '" + input + "'");
  ::onnx::NodeProto named = node;
  named.set_name(name);
  NodeContext ctx(named, opset, builder, loc, values);
  return converter->second(ctx);
}

// Exporters emit `If` for Python branches on tensor sizes (DeBERTa's
// relative positions branch on whether the key and query lengths differ).
// With static shapes the condition folds to a constant while importing, so
// the taken branch is imported in place of the node: its nodes see the
// enclosing graph's values, and its outputs become the node's. A condition
// that depends on the inputs' data would need control flow, which the graph
// dialect does not have: that is an error naming the node.
LogicalResult GraphImporter::importIf(const ::onnx::NodeProto &node,
                                      const std::string &name, Location loc) {
  auto nodeError = [&](const Twine &message) {
    mlir::emitError(loc) << message;
    return failure();
  };
  std::string where =
      "at node '" + name + "' (If, opset " + std::to_string(opset) + ")";
  if (node.input_size() != 1 || node.input(0).empty())
    return nodeError("If takes one condition input " + where);
  Value cond = values.lookup(node.input(0));
  if (!cond)
    return nodeError("node '" + name + "' (If) uses undefined value '" +
                     node.input(0) + "'");
  Attribute attr;
  std::optional<graph::ConstantTensor> value;
  if (matchPattern(cond, m_Constant(&attr)))
    value = graph::ConstantTensor::fromAttr(attr);
  if (!value)
    return nodeError("the condition of If " + where +
                     " must be a compile-time constant; it depends on the "
                     "model's inputs (data-dependent control flow is not "
                     "supported; where it comes from shapes, fix them with "
                     "--input-shape)");
  if (value->getType().getNumElements() != 1)
    return nodeError("the condition of If " + where +
                     " must have one element, not " +
                     Twine(value->getType().getNumElements()));
  bool taken = value->getDouble(0) != 0.0;
  const char *branchName = taken ? "then_branch" : "else_branch";
  const ::onnx::GraphProto *branch = nullptr;
  for (const auto &attribute : node.attribute())
    if (attribute.name() == branchName && attribute.has_g())
      branch = &attribute.g();
  if (!branch)
    return nodeError("If " + where + " has no " + branchName + " graph");
  if (branch->output_size() != node.output_size())
    return nodeError("the " + Twine(branchName) + " of If " + where + " has " +
                     Twine(branch->output_size()) + " outputs, the node " +
                     Twine(node.output_size()));
  for (const auto &initializer : branch->initializer()) {
    std::string message;
    ElementsAttr tensor = readInitializer(initializer, message);
    if (!tensor)
      return nodeError("initializer of the " + Twine(branchName) + " of If " +
                       where + ": " + message);
    values[initializer.name()] = graph::ConstantOp::create(
        builder, NameLoc::get(builder.getStringAttr(initializer.name())),
        tensor);
  }
  for (const auto &inner : branch->node())
    if (failed(importNode(inner, nextSubgraphNode++)))
      return failure();
  for (auto [i, output] : llvm::enumerate(branch->output())) {
    Value result = values.lookup(output.name());
    if (!result)
      return nodeError("the " + Twine(branchName) + " of If " + where +
                       " never computes its output '" + output.name() + "'");
    if (!node.output(i).empty())
      values[node.output(i)] = result;
  }
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  if (failed(loadModel()))
    return nullptr;
  const ::onnx::GraphProto &graph = model.graph();
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(FileLineColLoc::get(&context, path, 0, 0));
  (*module)->setAttr("gaon.source", builder.getStringAttr(path));
  (*module)->setAttr("gaon.opset", builder.getI64IntegerAttr(opset));
  if (!model.producer_name().empty())
    (*module)->setAttr("gaon.producer",
                       builder.getStringAttr(model.producer_name() + " " +
                                             model.producer_version()));

  llvm::StringSet<> initializerNames;
  for (const auto &init : graph.initializer())
    initializerNames.insert(init.name());
  // Inputs bound to constants are not function arguments.
  llvm::StringSet<> boundNames;
  for (const auto &entry : options.boundInputs)
    boundNames.insert(entry.getKey());
  for (const auto &entry : options.inputShapes) {
    bool found = llvm::any_of(graph.input(), [&](const auto &info) {
      return info.name() == entry.getKey() &&
             !initializerNames.count(info.name());
    });
    if (!found) {
      std::string names;
      for (const auto &info : graph.input())
        if (!initializerNames.count(info.name()))
          names += (names.empty() ? "" : ", ") + info.name();
      (void)error("--input-shape names '" + entry.getKey() +
                  "', which is not an input of the model (inputs: " + names +
                  ")");
      return nullptr;
    }
  }

  SmallVector<Type> argTypes;
  SmallVector<const ::onnx::ValueInfoProto *> args;
  SmallVector<SmallVector<std::string>> argDimNames;
  for (const auto &info : graph.input()) {
    if (initializerNames.count(info.name()) || boundNames.count(info.name()))
      continue; // IR < 4 lists initializers as inputs too
    SmallVector<std::string> dimNames;
    auto type = inputType(info, dimNames);
    if (failed(type))
      return nullptr;
    argTypes.push_back(*type);
    args.push_back(&info);
    argDimNames.push_back(dimNames);
  }

  builder.setInsertionPointToEnd(module->getBody());
  auto func =
      func::FuncOp::create(builder, module->getLoc(), options.functionName,
                           builder.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);
  for (auto [i, info] : llvm::enumerate(args)) {
    values[info->name()] = body->getArgument(i);
    func.setArgAttr(i, "gaon.name", builder.getStringAttr(info->name()));
    if (llvm::any_of(argDimNames[i], [](auto &n) { return !n.empty(); })) {
      SmallVector<StringRef> names(argDimNames[i].begin(),
                                   argDimNames[i].end());
      func.setArgAttr(i, "gaon.dim_names", builder.getStrArrayAttr(names));
    }
  }

  if (failed(importInitializers()) || failed(importBoundInputs()))
    return nullptr;
  for (auto [index, node] : llvm::enumerate(graph.node()))
    if (failed(importNode(node, index)))
      return nullptr;

  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (const auto &output : graph.output()) {
    Value value = values.lookup(output.name());
    if (!value) {
      (void)error("graph output '" + output.name() + "' is never computed");
      return nullptr;
    }
    auto type = tensorType(value);
    if (output.type().has_tensor_type()) {
      const auto &declared = output.type().tensor_type();
      Type element = getElementType(&context, declared.elem_type());
      if (element && element != type.getElementType()) {
        (void)error("graph output '" + output.name() + "' is declared " +
                    getDataTypeName(declared.elem_type()) + " but computes " +
                    getDataTypeName(getOnnxDataType(type.getElementType())));
        return nullptr;
      }
    }
    results.push_back(value);
    resultTypes.push_back(type);
  }
  func::ReturnOp::create(builder, module->getLoc(), results);
  func.setType(builder.getFunctionType(argTypes, resultTypes));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "gaon.name", builder.getStringAttr(output.name()));
  return module;
}

} // namespace

OwningOpRef<ModuleOp> importOnnxModel(MLIRContext &context, StringRef path,
                                      const ImportOptions &options) {
  context.loadDialect<graph::GraphDialect, func::FuncDialect>();
  GraphImporter importer(context, path, options);
  return importer.run();
}

const ConverterRegistry &getConverterRegistry() {
  static const ConverterRegistry registry = [] {
    ConverterRegistry r;
    registerElementwiseOps(r);
    registerMatMulOps(r);
    registerReductionOps(r);
    registerShapeOps(r);
    registerGatherOps(r);
    registerScatterOps(r);
    registerSignalOps(r);
    registerImageOps(r);
    registerGridSampleOps(r);
    registerLossOps(r);
    registerRecurrentOps(r);
    registerResizeOps(r);
    registerConstantOps(r);
    registerQuantizeOps(r);
    return r;
  }();
  return registry;
}

std::vector<std::string> getSupportedOpTypes() {
  std::vector<std::string> names;
  for (const auto &entry : getConverterRegistry())
    names.push_back(entry.getKey().str());
  names.push_back("If"); // GraphImporter::importIf
  llvm::sort(names);
  return names;
}

} // namespace gaon::onnx
