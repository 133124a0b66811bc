// Header encoding and the checksum used by .gaon files.
#include "file_header.h"

#include <cstring>

namespace gaon::rt::artifact {
namespace {

void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= uint32_t(p[i]) << (8 * i);
  return v;
}
uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= uint64_t(p[i]) << (8 * i);
  return v;
}

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ull;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

} // namespace

void encodeHeader(const FileHeader &h, uint8_t *out) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kMagic, 8);
  put32(out + 8, h.formatVersion);
  put32(out + 12, h.headerSize);
  put64(out + 16, h.fileSize);
  put64(out + 24, h.metadataOffset);
  put64(out + 32, h.metadataSize);
  put64(out + 40, h.weightsOffset);
  put64(out + 48, h.weightsSize);
  put64(out + kMetadataChecksumOffset, h.metadataChecksum);
  put64(out + 64, h.weightsChecksum);
}

FileHeader decodeHeader(const uint8_t *in) {
  FileHeader h;
  h.formatVersion = get32(in + 8);
  h.headerSize = get32(in + 12);
  h.fileSize = get64(in + 16);
  h.metadataOffset = get64(in + 24);
  h.metadataSize = get64(in + 32);
  h.weightsOffset = get64(in + 40);
  h.weightsSize = get64(in + 48);
  h.metadataChecksum = get64(in + kMetadataChecksumOffset);
  h.weightsChecksum = get64(in + 64);
  return h;
}

uint64_t checksum64(const uint8_t *data, size_t size, uint64_t seed) {
  uint64_t hash = seed + kPrime3 + size;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word = get64(data + i);
    hash ^= rotl(word * kPrime2, 31) * kPrime1;
    hash = rotl(hash, 27) * kPrime1 + kPrime3;
  }
  for (; i < size; ++i) {
    hash ^= data[i] * kPrime3;
    hash = rotl(hash, 11) * kPrime1;
  }
  hash ^= hash >> 33;
  hash *= kPrime2;
  hash ^= hash >> 29;
  hash *= kPrime3;
  hash ^= hash >> 32;
  return hash;
}

} // namespace gaon::rt::artifact
