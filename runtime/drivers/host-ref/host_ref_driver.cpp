// host-ref: the reference CPU driver.
//
// It implements the full C vtable on the host with a handful of trivial
// kernels (copy, add, scale, fill, sleep, fail) so that queues, fences, the
// scheduler and gaon-run can be exercised end to end without hardware. It is
// also the fallback target "host-ref" for artifacts built for the host.
//
// Device options: memory_bytes (default 4 GiB), partitions (default 2),
// queues_per_partition (default 4).
#include "host_ref_driver.h"

#include "gaon/runtime/driver_fence.h"
#include "gaon/runtime/driver_queue.h"

#include "gaon/runtime.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct gaon_device {
  uint64_t memoryBytes = 4ull << 30;
  uint32_t partitions = 2;
  uint32_t queuesPerPartition = 4;
  std::mutex mutex;
  uint64_t bytesInUse = 0;
};

struct gaon_buffer {
  uint8_t *data = nullptr;
  uint64_t size = 0;
};

namespace {

enum class Kernel { Copy, AddF32, ScaleF32, FillF32, SleepUs, Fail };

const std::map<std::string, Kernel> &kernelsByName() {
  static const std::map<std::string, Kernel> kernels = {
      {"copy", Kernel::Copy},          {"add_f32", Kernel::AddF32},
      {"scale_f32", Kernel::ScaleF32}, {"fill_f32", Kernel::FillF32},
      {"sleep_us", Kernel::SleepUs},   {"fail", Kernel::Fail}};
  return kernels;
}

gaon_status_code_t fail(gaon_status_code_t code, const std::string &message) {
  return gaon_set_error(code, ("host-ref: " + message).c_str());
}

uint32_t optionValue(const gaon_device_options_t *options, const char *key,
                     uint64_t fallback, uint64_t *out) {
  *out = fallback;
  if (!options)
    return 0;
  for (uint32_t i = 0; i < options->entry_count; ++i) {
    const gaon_key_value_t &entry = options->entries[i];
    if (entry.key && entry.value && std::strcmp(entry.key, key) == 0) {
      char *end = nullptr;
      unsigned long long parsed = std::strtoull(entry.value, &end, 10);
      if (!end || *end != '\0' || end == entry.value)
        return 1;
      *out = parsed;
    }
  }
  return 0;
}

} // namespace

struct gaon_executable {
  std::vector<Kernel> entries;
};

namespace {

// A deep copy of one dispatch: the caller's arrays die after submit.
struct RecordedDispatch {
  Kernel kernel = Kernel::Copy;
  std::vector<gaon_binding_t> bindings;
  std::vector<uint8_t> params;
};

// Runs one kernel; returns "" on success or why it failed.
std::string runKernel(const RecordedDispatch &dispatch, uint64_t *cycles) {
  auto bytes = [&](size_t i) {
    return dispatch.bindings[i].buffer->data + dispatch.bindings[i].offset;
  };
  auto length = [&](size_t i) { return dispatch.bindings[i].length; };
  auto needBindings = [&](size_t n) { return dispatch.bindings.size() >= n; };
  auto paramAs = [&](auto fallback) {
    decltype(fallback) value = fallback;
    if (dispatch.params.size() >= sizeof(value))
      std::memcpy(&value, dispatch.params.data(), sizeof(value));
    return value;
  };
  switch (dispatch.kernel) {
  case Kernel::Copy: {
    if (!needBindings(2))
      return "copy needs 2 bindings (src, dst)";
    uint64_t n = std::min(length(0), length(1));
    std::memmove(bytes(1), bytes(0), n);
    *cycles += n;
    return "";
  }
  case Kernel::AddF32: {
    if (!needBindings(3))
      return "add_f32 needs 3 bindings (a, b, out)";
    uint64_t n = length(2) / 4;
    if (length(0) / 4 < n || length(1) / 4 < n)
      return "add_f32 inputs are shorter than the output";
    for (uint64_t i = 0; i < n; ++i) {
      float a, b;
      std::memcpy(&a, bytes(0) + 4 * i, 4);
      std::memcpy(&b, bytes(1) + 4 * i, 4);
      float sum = a + b;
      std::memcpy(bytes(2) + 4 * i, &sum, 4);
    }
    *cycles += n;
    return "";
  }
  case Kernel::ScaleF32: {
    if (!needBindings(2))
      return "scale_f32 needs 2 bindings (in, out)";
    float factor = paramAs(1.0f);
    uint64_t n = std::min(length(0), length(1)) / 4;
    for (uint64_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, bytes(0) + 4 * i, 4);
      v *= factor;
      std::memcpy(bytes(1) + 4 * i, &v, 4);
    }
    *cycles += n;
    return "";
  }
  case Kernel::FillF32: {
    if (!needBindings(1))
      return "fill_f32 needs 1 binding (out)";
    float value = paramAs(0.0f);
    for (uint64_t i = 0; i < length(0) / 4; ++i)
      std::memcpy(bytes(0) + 4 * i, &value, 4);
    *cycles += length(0) / 4;
    return "";
  }
  case Kernel::SleepUs: {
    uint32_t micros = paramAs(uint32_t(0));
    std::this_thread::sleep_for(std::chrono::microseconds(micros));
    *cycles += uint64_t(micros) * 1000; // a nominal 1 GHz clock
    return "";
  }
  case Kernel::Fail:
    return "the 'fail' kernel failed as asked";
  }
  return "unknown kernel";
}

gaon_status_code_t deviceCreate(void *, uint32_t ordinal,
                                const gaon_device_options_t *options,
                                gaon_device_t **out) {
  if (!out)
    return fail(GAON_INVALID_ARGUMENT, "out_device is null");
  if (ordinal != 0)
    return fail(GAON_NOT_FOUND, "there is only device 0");
  auto device = std::make_unique<gaon_device>();
  uint64_t memory, partitions, queues;
  if (optionValue(options, "memory_bytes", device->memoryBytes, &memory) ||
      optionValue(options, "partitions", device->partitions, &partitions) ||
      optionValue(options, "queues_per_partition", device->queuesPerPartition,
                  &queues))
    return fail(GAON_INVALID_ARGUMENT, "device options must be integers");
  if (partitions == 0 || partitions > 1024 || queues == 0 || queues > 1024)
    return fail(GAON_INVALID_ARGUMENT,
                "partitions and queues_per_partition must be in [1, 1024]");
  device->memoryBytes = memory;
  device->partitions = static_cast<uint32_t>(partitions);
  device->queuesPerPartition = static_cast<uint32_t>(queues);
  *out = device.release();
  return GAON_OK;
}

void deviceDestroy(gaon_device_t *device) { delete device; }

gaon_status_code_t deviceQueryProperties(gaon_device_t *device,
                                         gaon_device_properties_t *out) {
  *out = {};
  std::snprintf(out->name, sizeof(out->name), "host-ref");
  out->memory_bytes = device->memoryBytes;
  for (gaon_dtype_t dtype :
       {GAON_DTYPE_F32, GAON_DTYPE_F16, GAON_DTYPE_BF16, GAON_DTYPE_F64,
        GAON_DTYPE_I8, GAON_DTYPE_U8, GAON_DTYPE_I16, GAON_DTYPE_U16,
        GAON_DTYPE_I32, GAON_DTYPE_U32, GAON_DTYPE_I64, GAON_DTYPE_U64,
        GAON_DTYPE_BOOL})
    out->supported_dtypes |= GAON_DTYPE_BIT(dtype);
  out->partition_count = device->partitions;
  out->max_queues_per_partition = device->queuesPerPartition;
  out->min_buffer_alignment = 64;
  out->flags =
      GAON_DEVICE_FLAG_HOST_VISIBLE_MEMORY | GAON_DEVICE_FLAG_REPORTS_CYCLES;
  return GAON_OK;
}

gaon_status_code_t bufferAllocate(gaon_device_t *device,
                                  const gaon_buffer_params_t *params,
                                  gaon_buffer_t **out) {
  uint64_t alignment = params->alignment ? params->alignment : 64;
  if (alignment < 64)
    alignment = 64;
  if (alignment & (alignment - 1))
    return fail(GAON_INVALID_ARGUMENT, "alignment is not a power of two");
  {
    std::lock_guard<std::mutex> lock(device->mutex);
    if (params->size > device->memoryBytes - device->bytesInUse)
      return fail(GAON_OUT_OF_MEMORY,
                  "out of memory: " + std::to_string(params->size) +
                      " bytes requested, " +
                      std::to_string(device->memoryBytes - device->bytesInUse) +
                      " free");
    device->bytesInUse += params->size;
  }
  uint64_t rounded = (params->size + alignment - 1) / alignment * alignment;
  void *data = rounded ? std::aligned_alloc(alignment, rounded) : nullptr;
  if (rounded && !data) {
    std::lock_guard<std::mutex> lock(device->mutex);
    device->bytesInUse -= params->size;
    return fail(GAON_OUT_OF_MEMORY, "host allocation failed");
  }
  if (data)
    std::memset(data, 0, rounded); // deterministic contents for tests
  auto *buffer = new gaon_buffer;
  buffer->data = static_cast<uint8_t *>(data);
  buffer->size = params->size;
  *out = buffer;
  return GAON_OK;
}

void bufferFree(gaon_device_t *device, gaon_buffer_t *buffer) {
  if (!buffer)
    return;
  {
    std::lock_guard<std::mutex> lock(device->mutex);
    device->bytesInUse -= buffer->size;
  }
  std::free(buffer->data);
  delete buffer;
}

bool rangeInside(const gaon_buffer_t *buffer, uint64_t offset, uint64_t size) {
  return offset <= buffer->size && size <= buffer->size - offset;
}

gaon_status_code_t bufferWrite(gaon_device_t *, gaon_buffer_t *buffer,
                               uint64_t offset, const void *data,
                               uint64_t size) {
  if (!rangeInside(buffer, offset, size))
    return fail(GAON_OUT_OF_RANGE, "write past the end of a buffer");
  if (size)
    std::memcpy(buffer->data + offset, data, size);
  return GAON_OK;
}

gaon_status_code_t bufferRead(gaon_device_t *, gaon_buffer_t *buffer,
                              uint64_t offset, void *data, uint64_t size) {
  if (!rangeInside(buffer, offset, size))
    return fail(GAON_OUT_OF_RANGE, "read past the end of a buffer");
  if (size)
    std::memcpy(data, buffer->data + offset, size);
  return GAON_OK;
}

gaon_status_code_t bufferMap(gaon_device_t *, gaon_buffer_t *buffer,
                             void **out) {
  *out = buffer->data;
  return GAON_OK;
}

gaon_status_code_t executableLoad(gaon_device_t *,
                                  const gaon_executable_params_t *params,
                                  gaon_executable_t **out) {
  if (!params->format || std::strcmp(params->format, "host-ref") != 0)
    return fail(GAON_INVALID_ARGUMENT,
                std::string("executable format '") +
                    (params->format ? params->format : "") +
                    "' is not 'host-ref'");
  auto executable = std::make_unique<gaon_executable>();
  for (uint32_t i = 0; i < params->entry_count; ++i) {
    const char *name = params->entry_names[i];
    auto it = kernelsByName().find(name ? name : "");
    if (it == kernelsByName().end())
      return fail(GAON_UNIMPLEMENTED,
                  std::string("unknown kernel '") + (name ? name : "") +
                      "' (known: copy, add_f32, scale_f32, fill_f32, "
                      "sleep_us, fail)");
    executable->entries.push_back(it->second);
  }
  *out = executable.release();
  return GAON_OK;
}

void executableUnload(gaon_device_t *, gaon_executable_t *executable) {
  delete executable;
}

// The worker thread, fences and counters are the runtime's
// (gaon/runtime/driver_queue.h); host-ref adds its kernels.
class HostRefQueue final
    : public gaon::rt::driver::DispatchQueue<RecordedDispatch> {
public:
  HostRefQueue() : DispatchQueue("host-ref") {}

private:
  gaon_status_code_t resolve(const gaon_dispatch_t &dispatch, uint32_t index,
                             RecordedDispatch &out) override {
    if (!dispatch.executable ||
        dispatch.entry_index >= dispatch.executable->entries.size())
      return fail(GAON_INVALID_ARGUMENT,
                  "dispatch " + std::to_string(index) + " has no entry " +
                      std::to_string(dispatch.entry_index));
    out.kernel = dispatch.executable->entries[dispatch.entry_index];
    for (uint32_t b = 0; b < dispatch.binding_count; ++b) {
      const gaon_binding_t &binding = dispatch.bindings[b];
      if (!binding.buffer ||
          !rangeInside(binding.buffer, binding.offset, binding.length))
        return fail(GAON_OUT_OF_RANGE, "dispatch " + std::to_string(index) +
                                           " binding " + std::to_string(b) +
                                           " is outside its buffer");
      out.bindings.push_back(binding);
    }
    if (dispatch.params_size)
      out.params.assign(dispatch.params,
                        dispatch.params + dispatch.params_size);
    return GAON_OK;
  }

  // Busy time is the host's wall time in the kernel.
  gaon::rt::driver::DispatchResult run(const RecordedDispatch &dispatch,
                                       uint32_t, uint32_t) override {
    gaon::rt::driver::DispatchResult result;
    auto start = std::chrono::steady_clock::now();
    result.failure = runKernel(dispatch, &result.cycles);
    result.busyS =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    return result;
  }
};

gaon_status_code_t queueCreate(gaon_device_t *device, uint32_t partition,
                               gaon_queue_t **out) {
  if (partition >= device->partitions)
    return fail(GAON_OUT_OF_RANGE, "no partition " + std::to_string(partition));
  return gaon::rt::driver::startQueue(std::make_unique<HostRefQueue>(), out);
}

const gaon_driver_vtable_v1_t hostRefVtable = {
    /*destroy_driver=*/nullptr,
    deviceCreate,
    deviceDestroy,
    deviceQueryProperties,
    bufferAllocate,
    bufferFree,
    bufferWrite,
    bufferRead,
    bufferMap,
    executableLoad,
    executableUnload,
    queueCreate,
    gaon::rt::driver::queueDestroy,
    gaon::rt::driver::queueSubmit,
    gaon::rt::driver::queueQueryCounters,
    gaon::rt::driver::fenceCreate,
    gaon::rt::driver::fenceDestroy,
    gaon::rt::driver::fenceQuery,
    gaon::rt::driver::fenceSignal,
    gaon::rt::driver::fenceWait,
};

} // namespace

const gaon_driver_v1_t *gaonHostRefDriver() {
  static const gaon_driver_v1_t driver = {
      GAON_DRIVER_ABI_VERSION, "host-ref",
      "reference CPU driver (copy/add/scale/fill/sleep kernels)", nullptr,
      &hostRefVtable};
  return &driver;
}
