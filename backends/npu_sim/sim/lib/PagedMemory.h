//===- PagedMemory.h - Sparse byte-addressed memory (internal) --*- C++ -*-===//
//
// Simulated DRAM is tens of GB and scratchpads tens of MB per core, but a run
// touches a small part: pages are allocated on first write and read as zero
// before that.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_LIB_PAGEDMEMORY_H
#define GAON_NPU_SIM_LIB_PAGEDMEMORY_H

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace gaon::npu_sim::detail {

class PagedMemory {
public:
  static constexpr uint64_t kPageBits = 16;
  static constexpr uint64_t kPageSize = 1ull << kPageBits;

  void write(uint64_t addr, const void *data, size_t bytes) {
    auto *src = static_cast<const uint8_t *>(data);
    while (bytes > 0) {
      uint64_t offset = addr & (kPageSize - 1);
      size_t chunk =
          static_cast<size_t>(std::min<uint64_t>(bytes, kPageSize - offset));
      std::memcpy(page(addr >> kPageBits) + offset, src, chunk);
      addr += chunk;
      src += chunk;
      bytes -= chunk;
    }
  }

  void read(uint64_t addr, void *data, size_t bytes) const {
    auto *dst = static_cast<uint8_t *>(data);
    while (bytes > 0) {
      uint64_t offset = addr & (kPageSize - 1);
      size_t chunk =
          static_cast<size_t>(std::min<uint64_t>(bytes, kPageSize - offset));
      auto it = pages.find(addr >> kPageBits);
      if (it == pages.end())
        std::memset(dst, 0, chunk);
      else
        std::memcpy(dst, it->second.get() + offset, chunk);
      addr += chunk;
      dst += chunk;
      bytes -= chunk;
    }
  }

private:
  uint8_t *page(uint64_t index) {
    auto &slot = pages[index];
    if (!slot) {
      slot.reset(new uint8_t[kPageSize]);
      std::memset(slot.get(), 0, kPageSize);
    }
    return slot.get();
  }

  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages;
};

} // namespace gaon::npu_sim::detail

#endif // GAON_NPU_SIM_LIB_PAGEDMEMORY_H
