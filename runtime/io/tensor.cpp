// File helpers, random tensors, statistics and comparisons.
#include "gaon/runtime/tensor_io.h"

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gaon::rt {

Result<std::vector<uint8_t>> readWholeFile(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errorStatus(StatusCode::NotFound,
                       "cannot open '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int error = errno;
      close(fd);
      return errorStatus(StatusCode::Unavailable,
                         "cannot read '" + path + "': " + std::strerror(error));
    }
    if (n == 0)
      break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  close(fd);
  return bytes;
}

Status writeFileAtomically(const std::string &path,
                           const std::vector<uint8_t> &bytes) {
  static std::atomic<uint64_t> counter{0};
  std::string temp = path + ".tmp." + std::to_string(getpid()) + "." +
                     std::to_string(counter++);
  FILE *file = std::fopen(temp.c_str(), "wb");
  if (!file)
    return errorStatus(StatusCode::Unavailable,
                       "cannot create '" + temp + "': " + std::strerror(errno));
  bool ok = bytes.empty() ||
            std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  ok = std::fflush(file) == 0 && ok;
  ok = std::fclose(file) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string message =
        "cannot write '" + path + "': " + std::strerror(errno);
    std::remove(temp.c_str());
    return errorStatus(StatusCode::Unavailable, message);
  }
  return Status::ok();
}

Result<HostTensor> readTensorFile(const std::string &path) {
  auto endsWith = [&](const std::string &suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) ==
               0;
  };
  if (endsWith(".npy"))
    return readNpy(path);
  if (endsWith(".pb"))
    return readTensorProto(path);
  return errorStatus(StatusCode::InvalidArgument,
                     "'" + path +
                         "': unknown tensor file type (use .npy or .pb)");
}

namespace {
uint64_t splitMix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
bool isFloat(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F64 || dtype == DType::F16 ||
         dtype == DType::BF16;
}
} // namespace

HostTensor randomTensor(const std::string &name, DType dtype,
                        const std::vector<int64_t> &shape, uint64_t seed) {
  HostTensor tensor;
  tensor.name = name;
  tensor.dtype = dtype;
  tensor.shape = shape;
  uint64_t count = elementCount(shape).value_or(0);
  size_t size = dtypeSize(dtype);
  tensor.data.resize(count * size);
  uint64_t state = seed;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t bits = splitMix64(state);
    double value;
    if (isFloat(dtype))
      value = double(bits >> 11) / double(1ull << 53) * 2.0 - 1.0;
    else if (dtype == DType::Bool)
      value = double(bits & 1);
    else
      value = double(bits % 16);
    storeFromDouble(dtype, value, tensor.data.data() + i * size);
  }
  return tensor;
}

TensorStats computeStats(const HostTensor &tensor) {
  TensorStats stats;
  size_t size = dtypeSize(tensor.dtype);
  uint64_t count = tensor.elementCount(), finite = 0;
  double sum = 0;
  bool first = true;
  for (uint64_t i = 0; i < count; ++i) {
    double value = loadAsDouble(tensor.dtype, tensor.data.data() + i * size);
    if (!std::isfinite(value)) {
      ++stats.nonFinite;
      continue;
    }
    if (first || value < stats.min)
      stats.min = value;
    if (first || value > stats.max)
      stats.max = value;
    first = false;
    sum += value;
    ++finite;
  }
  stats.mean = finite ? sum / double(finite) : 0;
  return stats;
}

TensorComparison compareTensors(const HostTensor &actual,
                                const HostTensor &expected, double rtol,
                                double atol) {
  TensorComparison result;
  if (actual.shape != expected.shape ||
      actual.elementCount() != expected.elementCount()) {
    result.shapeMatches = false;
    result.relativeL2 = INFINITY;
    result.maxAbsError = INFINITY;
    result.mismatches =
        std::max(actual.elementCount(), expected.elementCount());
    return result;
  }
  size_t aSize = dtypeSize(actual.dtype), eSize = dtypeSize(expected.dtype);
  double diffSquares = 0, refSquares = 0;
  for (uint64_t i = 0; i < actual.elementCount(); ++i) {
    double a = loadAsDouble(actual.dtype, actual.data.data() + i * aSize);
    double e = loadAsDouble(expected.dtype, expected.data.data() + i * eSize);
    double diff = std::fabs(a - e);
    if (std::isnan(a) != std::isnan(e) ||
        (!std::isnan(diff) && diff > atol + rtol * std::fabs(e)))
      ++result.mismatches;
    if (std::isnan(diff)) {
      if (std::isnan(a) != std::isnan(e))
        result.maxAbsError = INFINITY;
      continue;
    }
    result.maxAbsError = std::max(result.maxAbsError, diff);
    diffSquares += diff * diff;
    refSquares += e * e;
  }
  result.relativeL2 =
      std::sqrt(diffSquares) / std::max(std::sqrt(refSquares), 1e-30);
  return result;
}

} // namespace gaon::rt
