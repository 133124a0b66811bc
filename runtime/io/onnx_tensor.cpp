// A bounds-checked reader for serialized onnx.TensorProto (protobuf wire
// format written by hand so that libprotobuf is not linked).
//
// Fields read: dims=1, data_type=2, float_data=4, int32_data=5,
// int64_data=7, name=8, raw_data=9, double_data=10, uint64_data=11, each
// repeated field packed or not. data_location=14 EXTERNAL is rejected.
#include "gaon/runtime/tensor_io.h"

#include <cstring>

namespace gaon::rt {
namespace {

Status badProto(const std::string &message) {
  return errorStatus(StatusCode::InvalidArgument,
                     "bad TensorProto: " + message);
}

class WireReader {
public:
  WireReader(const uint8_t *data, size_t size) : p_(data), end_(data + size) {}
  bool done() const { return p_ >= end_; }

  bool varint(uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_)
        return false;
      uint8_t byte = *p_++;
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        *out = value;
        return true;
      }
    }
    return false; // more than 10 bytes
  }
  bool fixed(void *out, size_t size) {
    if (static_cast<size_t>(end_ - p_) < size)
      return false;
    std::memcpy(out, p_, size);
    p_ += size;
    return true;
  }
  bool bytes(const uint8_t **out, size_t *size) {
    uint64_t length;
    if (!varint(&length) || length > static_cast<uint64_t>(end_ - p_))
      return false;
    *out = p_;
    *size = static_cast<size_t>(length);
    p_ += length;
    return true;
  }
  bool skip(uint32_t wireType) {
    uint64_t ignored;
    const uint8_t *data;
    size_t size;
    switch (wireType) {
    case 0:
      return varint(&ignored);
    case 1:
      return fixed(&ignored, 8);
    case 2:
      return bytes(&data, &size);
    case 5:
      return fixed(&ignored, 4);
    default:
      return false; // groups are not used by onnx
    }
  }

private:
  const uint8_t *p_;
  const uint8_t *end_;
};

// Reads one element of a repeated scalar field, packed (wire type 2) or not.
template <typename Fn>
bool readRepeated(WireReader &reader, uint32_t wireType, uint32_t scalarWire,
                  size_t fixedSize, Fn &&push) {
  auto readOne = [&](WireReader &r) {
    if (scalarWire == 0) {
      uint64_t value;
      if (!r.varint(&value))
        return false;
      push(value);
      return true;
    }
    uint64_t raw = 0;
    if (!r.fixed(&raw, fixedSize))
      return false;
    push(raw);
    return true;
  };
  if (wireType == scalarWire)
    return readOne(reader);
  if (wireType != 2)
    return false;
  const uint8_t *data;
  size_t size;
  if (!reader.bytes(&data, &size))
    return false;
  WireReader packed(data, size);
  while (!packed.done())
    if (!readOne(packed))
      return false;
  return true;
}

} // namespace

Result<HostTensor> parseTensorProto(const uint8_t *bytes, size_t size) {
  WireReader reader(bytes, size);
  HostTensor tensor;
  int64_t dataType = 0;
  std::vector<uint64_t> ints;    // int32_data / int64_data / uint64_data
  std::vector<uint32_t> floats;  // float_data bits
  std::vector<uint64_t> doubles; // double_data bits
  const uint8_t *raw = nullptr;
  size_t rawSize = 0;
  bool hasRaw = false;
  while (!reader.done()) {
    uint64_t key;
    if (!reader.varint(&key))
      return badProto("truncated field key");
    uint32_t field = static_cast<uint32_t>(key >> 3);
    uint32_t wire = static_cast<uint32_t>(key & 7);
    bool ok = true;
    switch (field) {
    case 1:
      ok = readRepeated(reader, wire, 0, 0, [&](uint64_t v) {
        tensor.shape.push_back(static_cast<int64_t>(v));
      });
      break;
    case 2: {
      uint64_t v;
      ok = wire == 0 && reader.varint(&v);
      dataType = static_cast<int64_t>(v);
      break;
    }
    case 4:
      ok = readRepeated(reader, wire, 5, 4, [&](uint64_t v) {
        floats.push_back(static_cast<uint32_t>(v));
      });
      break;
    case 5:
    case 7:
    case 11:
      ok = readRepeated(reader, wire, 0, 0,
                        [&](uint64_t v) { ints.push_back(v); });
      break;
    case 8: {
      const uint8_t *data;
      size_t length;
      ok = wire == 2 && reader.bytes(&data, &length);
      if (ok)
        tensor.name.assign(reinterpret_cast<const char *>(data), length);
      break;
    }
    case 9:
      ok = wire == 2 && reader.bytes(&raw, &rawSize);
      hasRaw = ok;
      break;
    case 10:
      ok = readRepeated(reader, wire, 1, 8,
                        [&](uint64_t v) { doubles.push_back(v); });
      break;
    case 14: {
      uint64_t location;
      ok = wire == 0 && reader.varint(&location);
      if (ok && location == 1)
        return badProto("external data is not supported");
      break;
    }
    default:
      ok = reader.skip(wire);
    }
    if (!ok)
      return badProto("malformed or truncated field " + std::to_string(field));
  }

  if (dataType <= 0 || dataType > 64 ||
      !isValidDType(static_cast<int32_t>(dataType)))
    return badProto("unsupported data_type " + std::to_string(dataType));
  tensor.dtype = static_cast<DType>(dataType);
  auto count = elementCount(tensor.shape);
  auto byteSize = tensorByteSize(tensor.dtype, tensor.shape);
  if (!count || !byteSize || *byteSize > (uint64_t(1) << 40))
    return badProto("invalid dims " + shapeToString(tensor.shape));
  size_t elementSize = dtypeSize(tensor.dtype);

  if (hasRaw) {
    if (rawSize != *byteSize)
      return badProto("raw_data has " + std::to_string(rawSize) +
                      " bytes, dims need " + std::to_string(*byteSize));
    tensor.data.assign(raw, raw + rawSize);
    return tensor;
  }
  tensor.data.resize(*byteSize);
  uint64_t have = 0;
  if (tensor.dtype == DType::F32) {
    have = floats.size();
    if (have == *count)
      std::memcpy(tensor.data.data(), floats.data(), *byteSize);
  } else if (tensor.dtype == DType::F64) {
    have = doubles.size();
    if (have == *count)
      std::memcpy(tensor.data.data(), doubles.data(), *byteSize);
  } else {
    // int32_data carries 8/16-bit types (f16/bf16 as bit patterns); the
    // 64-bit types come from int64_data/uint64_data.
    have = ints.size();
    if (have == *count)
      for (uint64_t i = 0; i < have; ++i)
        std::memcpy(tensor.data.data() + i * elementSize, &ints[i],
                    elementSize); // little endian: low bytes first
  }
  if (have != *count)
    return badProto("has " + std::to_string(have) + " elements, dims " +
                    shapeToString(tensor.shape) + " need " +
                    std::to_string(*count));
  return tensor;
}

Result<HostTensor> readTensorProto(const std::string &path) {
  GAON_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readWholeFile(path));
  Result<HostTensor> tensor = parseTensorProto(bytes.data(), bytes.size());
  if (!tensor.isOk())
    return Status(tensor.status().code(),
                  "'" + path + "': " + tensor.status().message());
  return tensor;
}

namespace {
void putVarint(std::vector<uint8_t> &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}
} // namespace

std::vector<uint8_t> encodeTensorProto(const HostTensor &tensor) {
  std::vector<uint8_t> out;
  for (int64_t dim : tensor.shape) {
    putVarint(out, (1 << 3) | 0);
    putVarint(out, static_cast<uint64_t>(dim));
  }
  putVarint(out, (2 << 3) | 0);
  putVarint(out, static_cast<uint64_t>(tensor.dtype));
  putVarint(out, (8 << 3) | 2);
  putVarint(out, tensor.name.size());
  out.insert(out.end(), tensor.name.begin(), tensor.name.end());
  putVarint(out, (9 << 3) | 2);
  putVarint(out, tensor.data.size());
  out.insert(out.end(), tensor.data.begin(), tensor.data.end());
  return out;
}

} // namespace gaon::rt
