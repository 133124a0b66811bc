// C++ view of the HAL: RAII wrappers over a driver's C vtable.
//
// Device owns the driver's device handle; buffers, queues, fences and
// executables keep their device alive through a shared_ptr, so objects can be
// destroyed in any order.
#ifndef GAON_RUNTIME_HAL_H
#define GAON_RUNTIME_HAL_H

#include "gaon/runtime.h"
#include "gaon/runtime/dtype.h"
#include "gaon/runtime/status.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gaon::rt {

class Device;

struct DeviceProperties {
  std::string name;
  uint64_t memoryBytes = 0;
  uint64_t supportedDTypes = 0;
  uint32_t partitionCount = 1;
  uint32_t maxQueuesPerPartition = 1;
  uint32_t minBufferAlignment = 1;
  uint32_t flags = 0;

  bool supports(DType dtype) const {
    return (supportedDTypes & GAON_DTYPE_BIT(static_cast<int32_t>(dtype))) != 0;
  }
  bool reportsCycles() const { return flags & GAON_DEVICE_FLAG_REPORTS_CYCLES; }
  bool reportsEnergy() const { return flags & GAON_DEVICE_FLAG_REPORTS_ENERGY; }
};

struct AllocatorStats {
  uint64_t bytesInUse = 0;
  uint64_t peakBytesInUse = 0;
  uint64_t liveAllocations = 0;
  uint64_t totalAllocations = 0;
  uint64_t failedAllocations = 0;
};

enum class MemoryType { Device = GAON_MEMORY_DEVICE, Host = GAON_MEMORY_HOST };

class Allocator;

// A device allocation; freed (and the stats updated) on destruction.
class Buffer {
public:
  ~Buffer();
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;

  uint64_t size() const { return size_; }
  MemoryType memoryType() const { return memoryType_; }
  gaon_buffer_t *handle() const { return handle_; }
  Status write(uint64_t offset, const void *data, uint64_t size);
  Status read(uint64_t offset, void *data, uint64_t size) const;

private:
  friend class Allocator;
  Buffer(std::shared_ptr<Device> device, gaon_buffer_t *handle, uint64_t size,
         MemoryType type)
      : device_(std::move(device)), handle_(handle), size_(size),
        memoryType_(type) {}
  Status checkRange(uint64_t offset, uint64_t size) const;

  std::shared_ptr<Device> device_;
  gaon_buffer_t *handle_;
  uint64_t size_;
  MemoryType memoryType_;
};

// Allocates buffers on one device, keeps statistics, and refuses
// allocations beyond the device's memory (or a lower budget) with a clean
// OutOfMemory status before the driver is even asked.
class Allocator {
public:
  struct Request {
    uint64_t size = 0;
    uint64_t alignment = 0;
    MemoryType memoryType = MemoryType::Device;
    uint32_t usage = GAON_BUFFER_USAGE_DISPATCH | GAON_BUFFER_USAGE_TRANSFER;
  };

  Result<std::unique_ptr<Buffer>> allocate(const Request &request);
  Result<std::unique_ptr<Buffer>> allocate(uint64_t size) {
    Request request;
    request.size = size;
    return allocate(request);
  }
  AllocatorStats stats() const;
  // Caps the bytes this allocator hands out (0: the device's memory size).
  void setBudget(uint64_t bytes) { budget_ = bytes; }
  uint64_t budget() const;

private:
  friend class Device;
  friend class Buffer;
  explicit Allocator(Device *device) : device_(device) {}
  void release(uint64_t size);

  Device *device_;
  mutable std::mutex mutex_;
  AllocatorStats stats_;
  std::atomic<uint64_t> budget_{0};
};

class Fence {
public:
  ~Fence();
  Fence(const Fence &) = delete;
  Fence &operator=(const Fence &) = delete;

  gaon_fence_t *handle() const { return handle_; }
  Result<uint64_t> value() const;
  Status signal(uint64_t value);
  Status wait(uint64_t value, uint64_t timeoutNs = GAON_TIMEOUT_INFINITE);

private:
  friend class Device;
  Fence(std::shared_ptr<Device> device, gaon_fence_t *handle)
      : device_(std::move(device)), handle_(handle) {}
  std::shared_ptr<Device> device_;
  gaon_fence_t *handle_;
};

struct FencePoint {
  Fence *fence = nullptr;
  uint64_t value = 0;
};

struct Counters {
  uint64_t dispatches = 0;
  uint64_t cycles = 0;
  double energyJ = 0;
  double busyS = 0;
  Counters operator-(const Counters &other) const {
    return {dispatches - other.dispatches, cycles - other.cycles,
            energyJ - other.energyJ, busyS - other.busyS};
  }
};

class Executable {
public:
  ~Executable();
  Executable(const Executable &) = delete;
  Executable &operator=(const Executable &) = delete;
  gaon_executable_t *handle() const { return handle_; }
  uint32_t entryCount() const { return entryCount_; }

private:
  friend class Device;
  Executable(std::shared_ptr<Device> device, gaon_executable_t *handle,
             uint32_t entryCount)
      : device_(std::move(device)), handle_(handle), entryCount_(entryCount) {}
  std::shared_ptr<Device> device_;
  gaon_executable_t *handle_;
  uint32_t entryCount_;
};

struct ExecutableSpec {
  std::string target;
  std::string format;
  const uint8_t *data = nullptr;
  uint64_t size = 0;
  std::vector<std::string> entryNames;
};

// Work for a queue. Dispatches reference buffers by handle; the caller keeps
// the buffers alive until the signal fences are reached.
struct Submission {
  std::vector<FencePoint> waits;
  std::vector<gaon_dispatch_t> dispatches;
  std::vector<FencePoint> signals;
};

// An in-order queue on one partition of a device.
class Queue {
public:
  ~Queue();
  Queue(const Queue &) = delete;
  Queue &operator=(const Queue &) = delete;

  uint32_t partition() const { return partition_; }
  Status submit(const Submission &submission);
  Result<Counters> counters() const;

private:
  friend class Device;
  Queue(std::shared_ptr<Device> device, gaon_queue_t *handle,
        uint32_t partition)
      : device_(std::move(device)), handle_(handle), partition_(partition) {}
  std::shared_ptr<Device> device_;
  gaon_queue_t *handle_;
  uint32_t partition_;
};

class Device : public std::enable_shared_from_this<Device> {
public:
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  // Takes ownership of a driver's device handle.
  static Result<std::shared_ptr<Device>> wrap(const gaon_driver_v1_t &driver,
                                              gaon_device_t *handle);

  const std::string &driverName() const { return driverName_; }
  const DeviceProperties &properties() const { return properties_; }
  Allocator &allocator() { return allocator_; }
  const gaon_driver_vtable_v1_t &vtable() const { return *vtable_; }
  gaon_device_t *handle() const { return handle_; }

  Result<std::unique_ptr<Queue>> createQueue(uint32_t partition = 0);
  Result<std::unique_ptr<Fence>> createFence(uint64_t initialValue = 0);
  Result<std::unique_ptr<Executable>>
  loadExecutable(const ExecutableSpec &spec);

private:
  Device(std::string driverName, const gaon_driver_vtable_v1_t *vtable,
         gaon_device_t *handle)
      : driverName_(std::move(driverName)), vtable_(vtable), handle_(handle),
        allocator_(this) {}

  std::string driverName_;
  const gaon_driver_vtable_v1_t *vtable_;
  gaon_device_t *handle_;
  DeviceProperties properties_;
  Allocator allocator_;
};

} // namespace gaon::rt

#endif // GAON_RUNTIME_HAL_H
