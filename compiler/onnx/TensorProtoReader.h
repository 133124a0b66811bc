//===- TensorProtoReader.h - onnx.TensorProto to constants ------*- C++ -*-===//

#ifndef GAON_COMPILER_ONNX_TENSORPROTOREADER_H
#define GAON_COMPILER_ONNX_TENSORPROTOREADER_H

#include "gaon/Dialect/Graph/ConstantTensor.h"

#include "mlir/IR/BuiltinTypes.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace gaon::onnx {

/// The MLIR element type of an ONNX TensorProto data type, or null.
mlir::Type getElementType(mlir::MLIRContext *context, int dataType);
/// Readable name of an ONNX data type ("FLOAT", "INT64", ...).
std::string getDataTypeName(int dataType);
/// The ONNX data type of an MLIR element type (0 if none).
int getOnnxDataType(mlir::Type elementType);

/// Reads a TensorProto (inline or external data next to `modelDir`). On
/// failure, returns nullopt and sets `error`.
std::optional<graph::ConstantTensor>
readTensorProto(mlir::MLIRContext *context, const ::onnx::TensorProto &tensor,
                llvm::StringRef modelDir, std::string &error);

/// Like readTensorProto, straight to an attribute: large raw or external
/// weights are copied once, into a dense_resource blob named `blobName`.
/// Returns null and sets `error` on failure.
mlir::ElementsAttr readTensorProtoAttr(mlir::MLIRContext *context,
                                       const ::onnx::TensorProto &tensor,
                                       llvm::StringRef modelDir,
                                       llvm::StringRef blobName,
                                       std::string &error);

} // namespace gaon::onnx

#endif // GAON_COMPILER_ONNX_TENSORPROTOREADER_H
