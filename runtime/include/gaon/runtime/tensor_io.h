// Host tensors and the files they come from: .npy (read/write) and
// serialized onnx.TensorProto .pb (read; a hand-written, bounds-checked
// protobuf wire-format reader, so no libprotobuf is linked).
#ifndef GAON_RUNTIME_TENSOR_IO_H
#define GAON_RUNTIME_TENSOR_IO_H

#include "gaon/runtime/dtype.h"
#include "gaon/runtime/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gaon::rt {

struct HostTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; // dense, row-major, little endian

  uint64_t elementCount() const {
    return dtypeSize(dtype) ? data.size() / dtypeSize(dtype) : 0;
  }
};

Result<HostTensor> parseNpy(const uint8_t *bytes, size_t size);
Result<HostTensor> readNpy(const std::string &path);
std::vector<uint8_t> encodeNpy(const HostTensor &tensor);
// Temp file + rename.
Status writeNpy(const std::string &path, const HostTensor &tensor);

Result<HostTensor> parseTensorProto(const uint8_t *bytes, size_t size);
Result<HostTensor> readTensorProto(const std::string &path);
// Serializes float/int tensors as TensorProto with raw_data (for tests and
// tools that need to produce .pb files).
std::vector<uint8_t> encodeTensorProto(const HostTensor &tensor);

// Picks the reader by extension: .npy or .pb.
Result<HostTensor> readTensorFile(const std::string &path);

Result<std::vector<uint8_t>> readWholeFile(const std::string &path);
// Writes `path` through a temporary file and rename().
Status writeFileAtomically(const std::string &path,
                           const std::vector<uint8_t> &bytes);

// Deterministic pseudo-random contents: floats in [-1, 1), integers in
// [0, 16), booleans 0/1.
HostTensor randomTensor(const std::string &name, DType dtype,
                        const std::vector<int64_t> &shape, uint64_t seed);

struct TensorStats {
  double min = 0, max = 0, mean = 0;
  uint64_t nonFinite = 0; // NaN or Inf elements, left out of min/max/mean
};
TensorStats computeStats(const HostTensor &tensor);

struct TensorComparison {
  double relativeL2 = 0; // ||a - e|| / max(||e||, tiny)
  double maxAbsError = 0;
  uint64_t mismatches = 0; // |a - e| > atol + rtol * |e|
  bool shapeMatches = true;
};
TensorComparison compareTensors(const HostTensor &actual,
                                const HostTensor &expected, double rtol,
                                double atol);

} // namespace gaon::rt

#endif // GAON_RUNTIME_TENSOR_IO_H
