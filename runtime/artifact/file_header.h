// The fixed 128-byte header that starts every .gaon file, and the checksum.
// Internal to the runtime library.
#ifndef GAON_RUNTIME_ARTIFACT_FILE_HEADER_H
#define GAON_RUNTIME_ARTIFACT_FILE_HEADER_H

#include <cstddef>
#include <cstdint>

namespace gaon::rt::artifact {

constexpr char kMagic[8] = {'G', 'A', 'O', 'N', 'A', 'R', 'T', 'F'};
constexpr uint32_t kHeaderSize = 128;
// The magic and version sit at fixed offsets in every format version, so an
// old or new file is recognised and reported as such.
constexpr size_t kVersionOffset = 8;

struct FileHeader {
  uint32_t formatVersion = 0;
  uint32_t headerSize = kHeaderSize;
  uint64_t fileSize = 0;
  uint64_t metadataOffset = 0;
  uint64_t metadataSize = 0;
  uint64_t weightsOffset = 0;
  uint64_t weightsSize = 0;
  // Over the header (with this field zero) and the metadata bytes.
  uint64_t metadataChecksum = 0;
  uint64_t weightsChecksum = 0;
};

// Little-endian encoding into/out of exactly kHeaderSize bytes.
void encodeHeader(const FileHeader &header, uint8_t *out);
FileHeader decodeHeader(const uint8_t *in);
// Offset of metadataChecksum inside the encoded header.
constexpr size_t kMetadataChecksumOffset = 56;

// A fast 64-bit non-cryptographic hash (xxHash64-like) for corruption
// detection; `seed` chains several ranges.
uint64_t checksum64(const uint8_t *data, size_t size, uint64_t seed = 0);

} // namespace gaon::rt::artifact

#endif
