//===- TensorProtoReader.cpp - onnx.TensorProto to constants --------------===//

#include "TensorProtoReader.h"

#include "gaon/Compiler/Onnx/OnnxImporter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;

namespace gaon::onnx {

Type getElementType(MLIRContext *context, int dataType) {
  Builder b(context);
  switch (dataType) {
  case ::onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case ::onnx::TensorProto::UINT8:
    return IntegerType::get(context, 8, IntegerType::Unsigned);
  case ::onnx::TensorProto::INT8:
    return b.getI8Type();
  case ::onnx::TensorProto::UINT16:
    return IntegerType::get(context, 16, IntegerType::Unsigned);
  case ::onnx::TensorProto::INT16:
    return b.getI16Type();
  case ::onnx::TensorProto::INT32:
    return b.getI32Type();
  case ::onnx::TensorProto::INT64:
    return b.getI64Type();
  case ::onnx::TensorProto::BOOL:
    return b.getI1Type();
  case ::onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case ::onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case ::onnx::TensorProto::UINT32:
    return IntegerType::get(context, 32, IntegerType::Unsigned);
  case ::onnx::TensorProto::UINT64:
    return IntegerType::get(context, 64, IntegerType::Unsigned);
  case ::onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  default:
    return nullptr;
  }
}

std::string getDataTypeName(int dataType) {
  if (::onnx::TensorProto::DataType_IsValid(dataType))
    return ::onnx::TensorProto::DataType_Name(
        ::onnx::TensorProto::DataType(dataType));
  return "unknown data type " + std::to_string(dataType);
}

int getOnnxDataType(Type type) {
  for (int dt = 1; dt <= 16; ++dt)
    if (Type t = getElementType(type.getContext(), dt); t && t == type)
      return dt;
  return 0;
}

namespace {

/// Copies typed repeated fields into element storage.
template <typename Field>
bool copyRepeated(const Field &field, graph::ConstantTensor &tensor,
                  bool asBits) {
  if (field.size() != tensor.getNumElements())
    return false;
  for (int64_t i = 0; i < tensor.getNumElements(); ++i) {
    if (asBits) { // fp16/bf16 stored as their bit patterns in int32_data
      uint64_t bits = uint64_t(field.Get(i));
      std::memcpy(&tensor.bytes()[i * tensor.getElementBytes()], &bits,
                  tensor.getElementBytes());
    } else if (tensor.isFloat()) {
      tensor.setDouble(i, double(field.Get(i)));
    } else {
      tensor.setInt(i, int64_t(field.Get(i)));
    }
  }
  return true;
}

bool readExternal(const ::onnx::TensorProto &proto, StringRef modelDir,
                  MutableArrayRef<char> dst, std::string &error) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &entry : proto.external_data()) {
    const std::string &key = entry.key();
    if (key == "location")
      location = entry.value();
    else if (key == "offset" || key == "length") {
      char *end = nullptr;
      long long v = std::strtoll(entry.value().c_str(), &end, 10);
      if (!end || *end || v < 0) {
        error = "external data " + key + " '" + entry.value() +
                "' is not a non-negative integer";
        return false;
      }
      (key == "offset" ? offset : length) = v;
    }
  }
  if (location.empty()) {
    error = "external data has no location";
    return false;
  }
  // Data must stay next to the model, as ONNX requires.
  if (llvm::sys::path::is_absolute(location) ||
      StringRef(location).contains("..")) {
    error = "external data location '" + location +
            "' must be a relative path inside the model's directory";
    return false;
  }
  SmallString<256> path(modelDir);
  llvm::sys::path::append(path, location);
  // Read straight into the tensor's storage: mapping the data file and
  // copying out of it touched every page twice (a second per BERT-base).
  llvm::Expected<llvm::sys::fs::file_t> file =
      llvm::sys::fs::openNativeFileForRead(path);
  if (!file) {
    error = "cannot read external data file '" + std::string(path) +
            "': " + llvm::toString(file.takeError());
    return false;
  }
  auto closeFile =
      llvm::make_scope_exit([&] { llvm::sys::fs::closeFile(*file); });
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(*file, status)) {
    error = "cannot read external data file '" + std::string(path) +
            "': " + ec.message();
    return false;
  }
  int64_t expected = int64_t(dst.size());
  int64_t fileSize = int64_t(status.getSize());
  if (length >= 0 && length != expected) {
    error = "external data length " + std::to_string(length) +
            " does not match the tensor's " + std::to_string(expected) +
            " bytes";
    return false;
  }
  if (offset > fileSize || fileSize - offset < expected) {
    error = "external data file '" + std::string(path) + "' is too short (" +
            std::to_string(fileSize) + " bytes; need " +
            std::to_string(expected) + " at offset " + std::to_string(offset) +
            ")";
    return false;
  }
  for (int64_t done = 0; done < expected;) {
    llvm::Expected<size_t> got = llvm::sys::fs::readNativeFileSlice(
        *file, dst.slice(done), uint64_t(offset + done));
    if (!got || *got == 0) {
      error = "cannot read external data file '" + std::string(path) + "'" +
              (got ? std::string(": unexpected end of file")
                   : ": " + llvm::toString(got.takeError()));
      return false;
    }
    done += int64_t(*got);
  }
  return true;
}

/// The tensor type of `proto`, after checking its data type and dimensions.
std::optional<RankedTensorType> protoType(MLIRContext *context,
                                          const ::onnx::TensorProto &proto,
                                          std::string &error) {
  Type element = getElementType(context, proto.data_type());
  if (!element) {
    error = "tensor '" + proto.name() + "' has unsupported data type " +
            getDataTypeName(proto.data_type());
    return std::nullopt;
  }
  SmallVector<int64_t> shape;
  int64_t count = 1;
  for (int64_t dim : proto.dims()) {
    if (dim < 0 || (dim > 0 && count > (int64_t(1) << 40) / dim)) {
      error = "tensor '" + proto.name() + "' has an invalid dimension " +
              std::to_string(dim);
      return std::nullopt;
    }
    shape.push_back(dim);
    count *= dim;
  }
  return RankedTensorType::get(shape, element);
}

} // namespace

std::optional<graph::ConstantTensor>
readTensorProto(MLIRContext *context, const ::onnx::TensorProto &proto,
                StringRef modelDir, std::string &error) {
  auto type = protoType(context, proto, error);
  if (!type)
    return std::nullopt;
  Type element = type->getElementType();
  int64_t count = type->getNumElements();
  graph::ConstantTensor tensor(*type);
  int64_t bytes = int64_t(tensor.bytes().size());
  bool ok = true;
  if (proto.data_location() == ::onnx::TensorProto::EXTERNAL) {
    ok = readExternal(proto, modelDir, tensor.bytes(), error);
    if (!ok)
      error = "tensor '" + proto.name() + "': " + error;
    return ok ? std::optional(std::move(tensor)) : std::nullopt;
  }
  if (proto.has_raw_data()) {
    const std::string &raw = proto.raw_data();
    if (element.isInteger(1)) { // bools are one byte each in raw_data
      ok = int64_t(raw.size()) == count;
      if (ok)
        for (int64_t i = 0; i < count; ++i)
          tensor.setInt(i, raw[i] != 0);
    } else {
      ok = int64_t(raw.size()) == bytes;
      if (ok)
        std::memcpy(tensor.bytes().data(), raw.data(), bytes);
    }
  } else if (count == 0) {
    ok = true;
  } else {
    bool halfBits = element.isF16() || element.isBF16();
    switch (proto.data_type()) {
    case ::onnx::TensorProto::FLOAT:
      ok = copyRepeated(proto.float_data(), tensor, false);
      break;
    case ::onnx::TensorProto::DOUBLE:
      ok = copyRepeated(proto.double_data(), tensor, false);
      break;
    case ::onnx::TensorProto::INT64:
      ok = copyRepeated(proto.int64_data(), tensor, false);
      break;
    case ::onnx::TensorProto::UINT32:
    case ::onnx::TensorProto::UINT64:
      ok = copyRepeated(proto.uint64_data(), tensor, false);
      break;
    default:
      ok = copyRepeated(proto.int32_data(), tensor, halfBits);
      break;
    }
  }
  if (!ok) {
    error = "tensor '" + proto.name() +
            "' holds the wrong amount of data for "
            "its shape";
    return std::nullopt;
  }
  return tensor;
}

ElementsAttr readTensorProtoAttr(MLIRContext *context,
                                 const ::onnx::TensorProto &proto,
                                 StringRef modelDir, StringRef blobName,
                                 std::string &error) {
  auto type = protoType(context, proto, error);
  if (!type)
    return nullptr;
  bool external = proto.data_location() == ::onnx::TensorProto::EXTERNAL;
  int64_t elementBytes = (type->getElementTypeBitWidth() + 7) / 8;
  int64_t bytes = type->getNumElements() * elementBytes;
  // Large raw or external weights go straight into their blob: one copy.
  if ((external || proto.has_raw_data()) &&
      !type->getElementType().isInteger(1) &&
      type->getNumElements() > graph::kMaxInlineElements) {
    AsmResourceBlob blob = HeapAsmResourceBlob::allocate(
        bytes, std::max<int64_t>(elementBytes, 8), /*dataIsMutable=*/true);
    if (external) {
      if (!readExternal(proto, modelDir, blob.getMutableData(), error)) {
        error = "tensor '" + proto.name() + "': " + error;
        return nullptr;
      }
    } else {
      if (int64_t(proto.raw_data().size()) != bytes) {
        error = "tensor '" + proto.name() +
                "' holds the wrong amount of data for its shape";
        return nullptr;
      }
      std::memcpy(blob.getMutableData().data(), proto.raw_data().data(), bytes);
    }
    return DenseResourceElementsAttr::get(*type, blobName, std::move(blob));
  }
  auto tensor = readTensorProto(context, proto, modelDir, error);
  return tensor ? tensor->toAttr(blobName) : nullptr;
}

std::optional<graph::ConstantTensor>
readTensorFile(MLIRContext &context, StringRef path, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot read '" + path.str() + "': " + buffer.getError().message();
    return std::nullopt;
  }
  ::onnx::TensorProto proto;
  if ((*buffer)->getBufferSize() > size_t(INT32_MAX) ||
      !proto.ParseFromArray((*buffer)->getBufferStart(),
                            int((*buffer)->getBufferSize()))) {
    error = "'" + path.str() + "' is not a serialized onnx.TensorProto";
    return std::nullopt;
  }
  return readTensorProto(&context, proto, llvm::sys::path::parent_path(path),
                         error);
}

} // namespace gaon::onnx
