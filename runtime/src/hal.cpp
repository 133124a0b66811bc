// RAII wrappers over the driver vtable (see gaon/runtime/hal.h).
#include "gaon/runtime/hal.h"

#include <cstring>

namespace gaon::rt {

//===----------------------------------------------------------------------===//
// Buffer
//===----------------------------------------------------------------------===//

Buffer::~Buffer() {
  device_->vtable().buffer_free(device_->handle(), handle_);
  device_->allocator().release(size_);
}

Status Buffer::checkRange(uint64_t offset, uint64_t size) const {
  if (offset > size_ || size > size_ - offset)
    return errorStatus(StatusCode::OutOfRange,
                       "buffer range [" + std::to_string(offset) + ", +" +
                           std::to_string(size) + ") exceeds buffer size " +
                           std::to_string(size_));
  return Status::ok();
}

Status Buffer::write(uint64_t offset, const void *data, uint64_t size) {
  GAON_RETURN_IF_ERROR(checkRange(offset, size));
  if (size == 0)
    return Status::ok();
  return Status::fromDriver(device_->vtable().buffer_write(
                                device_->handle(), handle_, offset, data, size),
                            "buffer write failed");
}

Status Buffer::read(uint64_t offset, void *data, uint64_t size) const {
  GAON_RETURN_IF_ERROR(checkRange(offset, size));
  if (size == 0)
    return Status::ok();
  return Status::fromDriver(device_->vtable().buffer_read(
                                device_->handle(), handle_, offset, data, size),
                            "buffer read failed");
}

//===----------------------------------------------------------------------===//
// Allocator
//===----------------------------------------------------------------------===//

uint64_t Allocator::budget() const {
  uint64_t budget = budget_.load();
  return budget ? budget : device_->properties().memoryBytes;
}

Result<std::unique_ptr<Buffer>> Allocator::allocate(const Request &request) {
  if (request.alignment & (request.alignment - 1))
    return errorStatus(StatusCode::InvalidArgument,
                       "buffer alignment " + std::to_string(request.alignment) +
                           " is not a power of two");
  uint64_t limit = budget();
  {
    // Reserve first so that concurrent allocations cannot overshoot.
    std::lock_guard<std::mutex> lock(mutex_);
    if (limit != 0 &&
        (request.size > limit || stats_.bytesInUse > limit - request.size)) {
      ++stats_.failedAllocations;
      return errorStatus(StatusCode::OutOfMemory,
                         "out of memory on device '" +
                             device_->properties().name + "': requested " +
                             std::to_string(request.size) + " bytes with " +
                             std::to_string(stats_.bytesInUse) + " of " +
                             std::to_string(limit) + " bytes in use");
    }
    stats_.bytesInUse += request.size;
  }
  gaon_buffer_params_t params = {};
  params.size = request.size;
  params.alignment = request.alignment;
  params.memory_type = static_cast<gaon_memory_type_t>(request.memoryType);
  params.usage = request.usage;
  gaon_buffer_t *handle = nullptr;
  gaon_status_code_t code =
      device_->vtable().buffer_allocate(device_->handle(), &params, &handle);
  std::lock_guard<std::mutex> lock(mutex_);
  if (code != GAON_OK || !handle) {
    stats_.bytesInUse -= request.size;
    ++stats_.failedAllocations;
    return Status::fromDriver(code == GAON_OK ? GAON_INTERNAL : code,
                              "allocating " + std::to_string(request.size) +
                                  " bytes on device '" +
                                  device_->properties().name + "' failed");
  }
  stats_.peakBytesInUse = std::max(stats_.peakBytesInUse, stats_.bytesInUse);
  ++stats_.liveAllocations;
  ++stats_.totalAllocations;
  return std::unique_ptr<Buffer>(new Buffer(device_->shared_from_this(), handle,
                                            request.size, request.memoryType));
}

void Allocator::release(uint64_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.bytesInUse -= size;
  --stats_.liveAllocations;
}

AllocatorStats Allocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

//===----------------------------------------------------------------------===//
// Fence, Executable, Queue
//===----------------------------------------------------------------------===//

Fence::~Fence() { device_->vtable().fence_destroy(handle_); }

Result<uint64_t> Fence::value() const {
  uint64_t value = 0;
  GAON_RETURN_IF_ERROR(Status::fromDriver(
      device_->vtable().fence_query(handle_, &value), "fence query failed"));
  return value;
}

Status Fence::signal(uint64_t value) {
  return Status::fromDriver(device_->vtable().fence_signal(handle_, value),
                            "fence signal failed");
}

Status Fence::wait(uint64_t value, uint64_t timeoutNs) {
  return Status::fromDriver(
      device_->vtable().fence_wait(handle_, value, timeoutNs),
      "waiting for fence value " + std::to_string(value));
}

Executable::~Executable() {
  device_->vtable().executable_unload(device_->handle(), handle_);
}

Queue::~Queue() { device_->vtable().queue_destroy(handle_); }

Status Queue::submit(const Submission &submission) {
  std::vector<gaon_fence_point_t> waits, signals;
  for (const FencePoint &point : submission.waits)
    waits.push_back({point.fence->handle(), point.value});
  for (const FencePoint &point : submission.signals)
    signals.push_back({point.fence->handle(), point.value});
  gaon_submission_t raw = {};
  raw.waits = waits.data();
  raw.wait_count = static_cast<uint32_t>(waits.size());
  raw.dispatches = submission.dispatches.data();
  raw.dispatch_count = static_cast<uint32_t>(submission.dispatches.size());
  raw.signals = signals.data();
  raw.signal_count = static_cast<uint32_t>(signals.size());
  return Status::fromDriver(device_->vtable().queue_submit(handle_, &raw),
                            "queue submission failed");
}

Result<Counters> Queue::counters() const {
  gaon_counters_t raw = {};
  if (!device_->vtable().queue_query_counters)
    return Counters{};
  GAON_RETURN_IF_ERROR(
      Status::fromDriver(device_->vtable().queue_query_counters(handle_, &raw),
                         "querying queue counters failed"));
  return Counters{raw.dispatches, raw.cycles, raw.energy_j, raw.busy_s};
}

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

namespace {
// Every entry a driver must fill; optional ones (buffer_map,
// queue_query_counters, destroy_driver) are left out.
bool hasRequiredEntries(const gaon_driver_vtable_v1_t &v) {
  return v.device_create && v.device_destroy && v.device_query_properties &&
         v.buffer_allocate && v.buffer_free && v.buffer_write &&
         v.buffer_read && v.executable_load && v.executable_unload &&
         v.queue_create && v.queue_destroy && v.queue_submit &&
         v.fence_create && v.fence_destroy && v.fence_query && v.fence_signal &&
         v.fence_wait;
}
} // namespace

bool driverVtableIsComplete(const gaon_driver_vtable_v1_t &vtable) {
  return hasRequiredEntries(vtable);
}

Result<std::shared_ptr<Device>> Device::wrap(const gaon_driver_v1_t &driver,
                                             gaon_device_t *handle) {
  std::shared_ptr<Device> device(
      new Device(driver.name ? driver.name : "", driver.vtable, handle));
  gaon_device_properties_t raw = {};
  GAON_RETURN_IF_ERROR(Status::fromDriver(
      driver.vtable->device_query_properties(handle, &raw),
      "querying properties of a '" + device->driverName_ + "' device"));
  raw.name[sizeof(raw.name) - 1] = '\0';
  DeviceProperties &props = device->properties_;
  props.name = raw.name;
  props.memoryBytes = raw.memory_bytes;
  props.supportedDTypes = raw.supported_dtypes;
  props.partitionCount = std::max<uint32_t>(1, raw.partition_count);
  props.maxQueuesPerPartition =
      std::max<uint32_t>(1, raw.max_queues_per_partition);
  props.minBufferAlignment = std::max<uint32_t>(1, raw.min_buffer_alignment);
  props.flags = raw.flags;
  return device;
}

Device::~Device() { vtable_->device_destroy(handle_); }

Result<std::unique_ptr<Queue>> Device::createQueue(uint32_t partition) {
  if (partition >= properties_.partitionCount)
    return errorStatus(StatusCode::OutOfRange,
                       "partition " + std::to_string(partition) +
                           " does not exist; device '" + properties_.name +
                           "' has " +
                           std::to_string(properties_.partitionCount));
  gaon_queue_t *handle = nullptr;
  GAON_RETURN_IF_ERROR(Status::fromDriver(
      vtable_->queue_create(handle_, partition, &handle), "creating a queue"));
  return std::unique_ptr<Queue>(
      new Queue(shared_from_this(), handle, partition));
}

Result<std::unique_ptr<Fence>> Device::createFence(uint64_t initialValue) {
  gaon_fence_t *handle = nullptr;
  GAON_RETURN_IF_ERROR(
      Status::fromDriver(vtable_->fence_create(handle_, initialValue, &handle),
                         "creating a fence"));
  return std::unique_ptr<Fence>(new Fence(shared_from_this(), handle));
}

Result<std::unique_ptr<Executable>>
Device::loadExecutable(const ExecutableSpec &spec) {
  std::vector<const char *> names;
  for (const std::string &name : spec.entryNames)
    names.push_back(name.c_str());
  gaon_executable_params_t params = {};
  params.target = spec.target.c_str();
  params.format = spec.format.c_str();
  params.data = spec.data;
  params.data_size = spec.size;
  params.entry_names = names.data();
  params.entry_count = static_cast<uint32_t>(names.size());
  gaon_executable_t *handle = nullptr;
  GAON_RETURN_IF_ERROR(
      Status::fromDriver(vtable_->executable_load(handle_, &params, &handle),
                         "loading a '" + spec.format +
                             "' executable for target '" + spec.target + "'"));
  return std::unique_ptr<Executable>(new Executable(
      shared_from_this(), handle, static_cast<uint32_t>(names.size())));
}

} // namespace gaon::rt
