// .npy reader and writer (format versions 1.0, 2.0 and 3.0; C order only).
#include "gaon/runtime/tensor_io.h"

#include <cstring>

namespace gaon::rt {
namespace {

Status badNpy(const std::string &message) {
  return errorStatus(StatusCode::InvalidArgument, "bad .npy: " + message);
}

struct NpyType {
  const char *descr;
  DType dtype;
};
// bf16 has no numpy type: it is written as f4 (see encodeNpy).
const NpyType kNpyTypes[] = {
    {"f4", DType::F32}, {"f8", DType::F64}, {"f2", DType::F16},
    {"i1", DType::I8},  {"u1", DType::U8},  {"i2", DType::I16},
    {"u2", DType::U16}, {"i4", DType::I32}, {"u4", DType::U32},
    {"i8", DType::I64}, {"u8", DType::U64}, {"b1", DType::Bool}};

// Finds `'key':` in the header dict and returns the text after it.
std::optional<std::string> dictValue(const std::string &header,
                                     const std::string &key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    return std::nullopt;
  size_t colon = header.find(':', at);
  if (colon == std::string::npos)
    return std::nullopt;
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos)
    return std::nullopt;
  return header.substr(start);
}

} // namespace

Result<HostTensor> parseNpy(const uint8_t *bytes, size_t size) {
  static const char kMagic[] = "\x93NUMPY";
  if (size < 10 || std::memcmp(bytes, kMagic, 6) != 0)
    return badNpy("missing \\x93NUMPY magic");
  uint8_t major = bytes[6];
  size_t headerLength, headerStart;
  if (major == 1) {
    headerLength = bytes[8] | (size_t(bytes[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      return badNpy("truncated header");
    headerLength = bytes[8] | (size_t(bytes[9]) << 8) |
                   (size_t(bytes[10]) << 16) | (size_t(bytes[11]) << 24);
    headerStart = 12;
  } else {
    return badNpy("unsupported version " + std::to_string(major));
  }
  if (headerLength > size - headerStart)
    return badNpy("truncated header");
  std::string header(reinterpret_cast<const char *>(bytes) + headerStart,
                     headerLength);

  auto descr = dictValue(header, "descr");
  if (!descr || descr->size() < 5 || (*descr)[0] != '\'')
    return badNpy("no 'descr'");
  std::string type = descr->substr(1, descr->find('\'', 1) - 1);
  if (type.size() != 3)
    return badNpy("unsupported descr '" + type + "'");
  char order = type[0];
  std::string code = type.substr(1);
  HostTensor tensor;
  bool known = false;
  for (const NpyType &candidate : kNpyTypes) {
    if (code == candidate.descr) {
      tensor.dtype = candidate.dtype;
      known = true;
    }
  }
  if (!known)
    return badNpy("unsupported descr '" + type + "'");
  if (order == '>' && dtypeSize(tensor.dtype) > 1)
    return badNpy("big-endian data is not supported");

  auto fortran = dictValue(header, "fortran_order");
  if (!fortran)
    return badNpy("no 'fortran_order'");
  if (fortran->rfind("True", 0) == 0)
    return badNpy("Fortran-order arrays are not supported");

  auto shapeText = dictValue(header, "shape");
  if (!shapeText || (*shapeText)[0] != '(')
    return badNpy("no 'shape'");
  size_t close = shapeText->find(')');
  if (close == std::string::npos)
    return badNpy("unterminated shape");
  std::string dims = shapeText->substr(1, close - 1);
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t end = dims.find(',', pos);
    std::string item = dims.substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) {
      if (item.find_first_not_of("0123456789") != std::string::npos ||
          item.size() > 15)
        return badNpy("bad dimension '" + item + "'");
      tensor.shape.push_back(std::stoll(item));
    }
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  auto byteSize = tensorByteSize(tensor.dtype, tensor.shape);
  size_t dataStart = headerStart + headerLength;
  if (!byteSize || *byteSize != size - dataStart)
    return badNpy("data has " + std::to_string(size - dataStart) +
                  " bytes, shape " + shapeToString(tensor.shape) + " needs " +
                  (byteSize ? std::to_string(*byteSize) : "too many"));
  tensor.data.assign(bytes + dataStart, bytes + size);
  return tensor;
}

Result<HostTensor> readNpy(const std::string &path) {
  GAON_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, readWholeFile(path));
  Result<HostTensor> tensor = parseNpy(bytes.data(), bytes.size());
  if (!tensor.isOk())
    return Status(tensor.status().code(),
                  "'" + path + "': " + tensor.status().message());
  return tensor;
}

std::vector<uint8_t> encodeNpy(const HostTensor &input) {
  HostTensor converted;
  const HostTensor *tensor = &input;
  std::string code;
  if (input.dtype == DType::BF16) {
    // numpy has no bfloat16: widen to f4 (exact).
    converted = input;
    converted.dtype = DType::F32;
    converted.data.resize(input.elementCount() * 4);
    for (uint64_t i = 0; i < input.elementCount(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, input.data.data() + 2 * i, 2);
      float value = bf16ToFloat(bits);
      std::memcpy(converted.data.data() + 4 * i, &value, 4);
    }
    tensor = &converted;
  }
  for (const NpyType &candidate : kNpyTypes)
    if (candidate.dtype == tensor->dtype)
      code = candidate.descr;
  if (code.empty())
    code = "u1"; // fp8: raw bytes
  char order = dtypeSize(tensor->dtype) == 1 ? '|' : '<';
  std::string shape = "(";
  for (int64_t dim : tensor->shape)
    shape += std::to_string(dim) + ",";
  if (tensor->shape.size() > 1)
    shape.pop_back(); // "(5,)" keeps its comma, "(2,3)" does not
  shape += ")";
  std::string header = "{'descr': '" + std::string(1, order) + code +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<uint8_t>(header.size() & 0xff));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), tensor->data.begin(), tensor->data.end());
  return out;
}

Status writeNpy(const std::string &path, const HostTensor &tensor) {
  return writeFileAtomically(path, encodeNpy(tensor));
}

} // namespace gaon::rt
