//===- DataSet.cpp - Specialize a model to a backend-test data set --------===//

#include "gaon/Compiler/Onnx/OnnxImporter.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <onnx/onnx_pb.h>

using namespace llvm;

namespace gaon::onnx {

static bool isFloatType(int dataType) {
  return dataType == ::onnx::TensorProto::FLOAT ||
         dataType == ::onnx::TensorProto::DOUBLE ||
         dataType == ::onnx::TensorProto::FLOAT16 ||
         dataType == ::onnx::TensorProto::BFLOAT16;
}

/// Float vectors up to this long are bound like integer ones.
static constexpr int64_t kBoundFloats = 8;

std::string specializeToDataSet(StringRef modelPath, StringRef dataSetDir,
                                ImportOptions &options, bool bindSmall,
                                std::vector<std::string> *inputNames) {
  auto buffer = MemoryBuffer::getFile(modelPath, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return "cannot read '" + modelPath.str() + "'";
  ::onnx::ModelProto model;
  // An unparsable model is reported by the importer itself.
  if ((*buffer)->getBufferSize() > size_t(INT32_MAX) ||
      !model.ParseFromArray((*buffer)->getBufferStart(),
                            int((*buffer)->getBufferSize())))
    return "";
  StringSet<> initializers;
  for (const auto &init : model.graph().initializer())
    initializers.insert(init.name());
  int index = 0;
  for (const auto &input : model.graph().input()) {
    if (initializers.count(input.name()))
      continue;
    if (inputNames)
      inputNames->push_back(input.name());
    SmallString<256> dataPath(dataSetDir);
    sys::path::append(dataPath, "input_" + std::to_string(index++) + ".pb");
    auto data = MemoryBuffer::getFile(dataPath);
    ::onnx::TensorProto tensor;
    if (!data || !tensor.ParseFromArray((*data)->getBufferStart(),
                                        int((*data)->getBufferSize())))
      continue; // a missing input is reported when the data set is run
    SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
    const auto &type = input.type().tensor_type();
    bool isStatic =
        type.has_shape() && llvm::all_of(type.shape().dim(), [](const auto &d) {
          return d.has_dim_value();
        });
    // Operands that must be compile-time constants: scalars, integer
    // vectors (shapes, axes, bounds) and short float vectors (Resize's
    // scales and roi).
    int64_t count = shape.empty() ? 1 : shape[0];
    if (bindSmall && (shape.empty() ||
                      (shape.size() == 1 && (!isFloatType(tensor.data_type()) ||
                                             count <= kBoundFloats))))
      options.boundInputs[input.name()] = dataPath.str().str();
    else if (!isStatic)
      options.inputShapes[input.name()] = shape;
  }
  return "";
}

} // namespace gaon::onnx
