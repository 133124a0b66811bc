//===- Driver.cpp - The npu-sim HAL driver --------------------------------===//
//
// Buffers live in host memory (accounted against the chip's DRAM). An
// executable owns one Simulator (its own simulated DRAM, sparse). A dispatch
// runs the whole stream: Read/ReadWrite bindings are copied into simulated
// DRAM (skipped when the buffer has not been written since the last copy and
// the stream never writes that DRAM range), the simulator runs, and
// Write/ReadWrite bindings are copied back. Each queue is the runtime's
// DispatchQueue (gaon/runtime/driver_queue.h): a worker thread, like host-ref.
//
//===----------------------------------------------------------------------===//

#include "gaon/npu_sim_runtime/Driver.h"
#include "gaon/npu_sim_runtime/Executable.h"

#include "gaon/npu_sim/Simulator.h"
#include "gaon/runtime/driver_fence.h"
#include "gaon/runtime/driver_queue.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

using gaon::npu_sim::ChipDesc;
using gaon::npu_sim::SimError;
using gaon::npu_sim_runtime::NpuBinding;
using gaon::npu_sim_runtime::NpuExecutable;
using gaon::npu_sim_runtime::NpuSimDeviceStats;

// The driver's objects have internal linkage and are handed to the host as
// the opaque gaon_*_t handles by pointer casts. (Defining the global
// `struct gaon_device` etc., as host-ref does, would clash with any other
// driver linked into the same binary: two definitions of one class, whose
// inline members and destructors the linker merges.)
namespace {

struct SimDevice {
  ChipDesc chip;
  uint64_t memoryBytes = 0;
  uint32_t queuesPerPartition = 4;
  bool timingOnly = false;
  std::string tracePath;

  std::mutex mutex; // guards everything below
  uint64_t bytesInUse = 0;
  NpuSimDeviceStats stats;
  std::string lastReport;
};

struct SimBuffer {
  uint8_t *data = nullptr;
  uint64_t size = 0;
  uint64_t serial = 0; // unique per allocation, never reused
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> mapped{false}; // host may write behind our back
};

struct SimExecutable {
  SimDevice *device = nullptr;
  NpuExecutable exe;
  std::unique_ptr<gaon::npu_sim::Simulator> sim;
  // Bindings whose DRAM range some DMA of the stream may write: never
  // assumed to still hold what was copied in.
  std::vector<bool> volatileRange;
  struct Copied {
    bool valid = false;
    uint64_t serial = 0, offset = 0, generation = 0;
  };
  std::mutex mutex; // one run at a time per simulator
  std::vector<Copied> copied;
};

SimDevice *impl(gaon_device_t *h) { return reinterpret_cast<SimDevice *>(h); }
SimBuffer *impl(gaon_buffer_t *h) { return reinterpret_cast<SimBuffer *>(h); }
const SimBuffer *impl(const gaon_buffer_t *h) {
  return reinterpret_cast<const SimBuffer *>(h);
}
SimExecutable *impl(gaon_executable_t *h) {
  return reinterpret_cast<SimExecutable *>(h);
}

std::atomic<uint64_t> nextBufferSerial{1};

gaon_status_code_t fail(gaon_status_code_t code, const std::string &message) {
  return gaon_set_error(code, ("npu-sim: " + message).c_str());
}

std::string hex(uint64_t v) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%llx", (unsigned long long)v);
  return text;
}

// A dispatch resolved against its executable: one buffer range per
// NpuBinding, in the executable's binding order.
struct RecordedDispatch {
  SimExecutable *executable = nullptr;
  std::vector<gaon_binding_t> ranges;
};

bool writeFileAtomically(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return false;
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out)
      return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

// Runs the whole stream once. Called on a queue's worker thread. Only a
// successful run adds to the queue's counters; busy time is simulated.
gaon::rt::driver::DispatchResult runDispatch(const RecordedDispatch &dispatch) {
  gaon::rt::driver::DispatchResult result;
  SimExecutable *exec = dispatch.executable;
  SimDevice *device = exec->device;
  const NpuExecutable &exe = exec->exe;
  const bool functional = !device->timingOnly;
  uint64_t copiedIn = 0, skipped = 0, copiedOut = 0;
  uint64_t bindingsIn = 0, bindingsSkipped = 0;
  bool traced = false;
  std::string reportJson;

  std::lock_guard<std::mutex> lock(exec->mutex);
  try {
    if (functional) {
      for (size_t j = 0; j < exe.bindings.size(); ++j) {
        const NpuBinding &b = exe.bindings[j];
        if (b.access == NpuBinding::Write)
          continue;
        const gaon_binding_t &range = dispatch.ranges[j];
        SimBuffer *buffer = impl(range.buffer);
        uint64_t generation = buffer->generation.load();
        SimExecutable::Copied &last = exec->copied[j];
        if (last.valid && !exec->volatileRange[j] && !buffer->mapped &&
            last.serial == buffer->serial && last.offset == range.offset &&
            last.generation == generation) {
          skipped += b.bytes;
          ++bindingsSkipped;
          continue;
        }
        last.valid = false;
        exec->sim->writeDram(b.dramAddr, buffer->data + range.offset, b.bytes);
        last = {true, buffer->serial, range.offset, generation};
        copiedIn += b.bytes;
        ++bindingsIn;
      }
    }
    gaon::npu_sim::RunOptions options;
    options.functional = functional;
    options.trace = !device->tracePath.empty();
    gaon::npu_sim::Report report = exec->sim->run(exe.stream, options);
    if (functional) {
      for (size_t j = 0; j < exe.bindings.size(); ++j) {
        const NpuBinding &b = exe.bindings[j];
        if (b.access == NpuBinding::Read)
          continue;
        const gaon_binding_t &range = dispatch.ranges[j];
        SimBuffer *buffer = impl(range.buffer);
        exec->sim->readDram(b.dramAddr, buffer->data + range.offset, b.bytes);
        buffer->generation.fetch_add(1);
        copiedOut += b.bytes;
      }
    }
    if (options.trace) {
      if (!writeFileAtomically(device->tracePath, exec->sim->traceJson()))
        throw SimError("cannot write the trace to '" + device->tracePath + "'");
      traced = true;
    }
    result.cycles = static_cast<uint64_t>(std::llround(report.cycles));
    result.energyJ = report.energy.totalJ;
    result.busyS = report.seconds;

    nlohmann::json json = nlohmann::json::parse(
        gaon::npu_sim::reportToJson(report, -1), nullptr, false);
    if (json.is_discarded() || !json.is_object())
      json = nlohmann::json::object();
    json["driver"] = {{"mode", functional ? "functional" : "timing-only"},
                      {"chip", device->chip.name},
                      {"bindings_copied_in", bindingsIn},
                      {"bindings_skipped", bindingsSkipped},
                      {"bytes_copied_in", copiedIn},
                      {"bytes_skipped", skipped},
                      {"bytes_copied_out", copiedOut},
                      {"trace", traced ? nlohmann::json(device->tracePath)
                                       : nlohmann::json()}};
    reportJson = json.dump();
  } catch (const std::exception &e) {
    result = {std::string("npu-sim: ") + e.what()};
    // A failed run may have left DRAM half written: copy everything next time.
    for (auto &entry : exec->copied)
      entry.valid = false;
  }

  std::lock_guard<std::mutex> deviceLock(device->mutex);
  NpuSimDeviceStats &stats = device->stats;
  if (result.failure.empty()) {
    ++stats.runs;
    device->lastReport = std::move(reportJson);
  } else {
    ++stats.failedRuns;
  }
  stats.bindingsCopiedIn += bindingsIn;
  stats.bindingsSkipped += bindingsSkipped;
  stats.bytesCopiedIn += copiedIn;
  stats.bytesSkipped += skipped;
  stats.bytesCopiedOut += copiedOut;
  stats.tracesWritten += traced;
  return result;
}

gaon_device_t *handle(SimDevice *d) {
  return reinterpret_cast<gaon_device_t *>(d);
}
gaon_buffer_t *handle(SimBuffer *b) {
  return reinterpret_cast<gaon_buffer_t *>(b);
}
gaon_executable_t *handle(SimExecutable *e) {
  return reinterpret_cast<gaon_executable_t *>(e);
}

// ---------------------------------------------------------------------------
// Devices

const char *const kKnownOptions =
    "chip, target, timing-only, trace, memory_bytes, queues_per_partition";

bool parseUnsigned(const char *text, uint64_t *out) {
  if (!text || !*text || *text == '-')
    return false;
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 0);
  if (errno || !end || *end)
    return false;
  *out = v;
  return true;
}

bool parseBool(const std::string &text, bool *out) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") {
    *out = true;
    return true;
  }
  if (text == "0" || text == "false" || text == "no" || text == "off") {
    *out = false;
    return true;
  }
  return false;
}

gaon_status_code_t deviceCreate(void *, uint32_t ordinal,
                                const gaon_device_options_t *options,
                                gaon_device_t **out) {
  if (!out)
    return fail(GAON_INVALID_ARGUMENT, "out_device is null");
  if (ordinal != 0)
    return fail(GAON_NOT_FOUND, "there is only device 0");
  std::string chipName, target;
  bool haveChip = false;
  uint64_t memoryBytes = 0, queues = 4;
  bool haveMemory = false;
  auto device = std::make_unique<SimDevice>();
  for (uint32_t i = 0; options && i < options->entry_count; ++i) {
    const gaon_key_value_t &entry = options->entries[i];
    std::string key = entry.key ? entry.key : "";
    std::string value = entry.value ? entry.value : "";
    if (key == "chip") {
      chipName = value;
      haveChip = true;
    } else if (key == "target") {
      target = value;
    } else if (key == "timing-only" || key == "timing_only") {
      if (!parseBool(value, &device->timingOnly))
        return fail(GAON_INVALID_ARGUMENT,
                    "device option timing-only must be 0 or 1, got '" + value +
                        "'");
    } else if (key == "trace") {
      device->tracePath = value;
    } else if (key == "memory_bytes") {
      if (!parseUnsigned(entry.value, &memoryBytes))
        return fail(GAON_INVALID_ARGUMENT,
                    "device option memory_bytes must be an unsigned integer, "
                    "got '" +
                        value + "'");
      haveMemory = true;
    } else if (key == "queues_per_partition") {
      if (!parseUnsigned(entry.value, &queues) || queues == 0 || queues > 64)
        return fail(GAON_INVALID_ARGUMENT,
                    "device option queues_per_partition must be in [1, 64], "
                    "got '" +
                        value + "'");
    } else {
      return fail(GAON_INVALID_ARGUMENT, "unknown device option '" + key +
                                             "' (known: " + kKnownOptions +
                                             ")");
    }
  }
  if (!target.empty() && !haveChip) {
    std::string driver = target.substr(0, target.find(':'));
    if (driver != gaon::npu_sim_runtime::kNpuSimDriverName)
      return fail(GAON_INVALID_ARGUMENT,
                  "target '" + target + "' is not an npu-sim target");
    if (target.find(':') != std::string::npos)
      chipName = target.substr(target.find(':') + 1);
  }
  try {
    device->chip = gaon::npu_sim::loadChip(chipName); // "" = rngd
  } catch (const std::exception &e) {
    return fail(GAON_NOT_FOUND, e.what());
  }
  device->memoryBytes = device->chip.dram.bytes;
  if (haveMemory) {
    if (memoryBytes > device->chip.dram.bytes)
      return fail(GAON_INVALID_ARGUMENT,
                  "memory_bytes " + std::to_string(memoryBytes) +
                      " exceeds the DRAM of chip '" + device->chip.name +
                      "' (" + std::to_string(device->chip.dram.bytes) + ")");
    device->memoryBytes = memoryBytes;
  }
  device->queuesPerPartition = static_cast<uint32_t>(queues);
  *out = handle(device.release());
  return GAON_OK;
}

void deviceDestroy(gaon_device_t *device) { delete impl(device); }

gaon_status_code_t deviceQueryProperties(gaon_device_t *deviceHandle,
                                         gaon_device_properties_t *out) {
  SimDevice *device = impl(deviceHandle);
  if (!device || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  *out = {};
  std::snprintf(out->name, sizeof(out->name), "npu-sim:%s",
                device->chip.name.c_str());
  out->memory_bytes = device->memoryBytes;
  // fp32, int32, int64 and bool always (vector unit, accumulators, indices,
  // masks), and the narrow integers the vector unit and DMA store (uint8
  // activations of quantized models); the others where the tensor unit
  // runs them.
  using gaon::npu_sim::DType;
  out->supported_dtypes =
      GAON_DTYPE_BIT(GAON_DTYPE_F32) | GAON_DTYPE_BIT(GAON_DTYPE_I32) |
      GAON_DTYPE_BIT(GAON_DTYPE_I64) | GAON_DTYPE_BIT(GAON_DTYPE_BOOL) |
      GAON_DTYPE_BIT(GAON_DTYPE_U8) | GAON_DTYPE_BIT(GAON_DTYPE_I16) |
      GAON_DTYPE_BIT(GAON_DTYPE_U16) | GAON_DTYPE_BIT(GAON_DTYPE_U32);
  const std::pair<DType, gaon_dtype_t> mapped[] = {
      {DType::BF16, GAON_DTYPE_BF16},
      {DType::F16, GAON_DTYPE_F16},
      {DType::FP8, GAON_DTYPE_F8E4M3FN},
      {DType::I8, GAON_DTYPE_I8}};
  for (const auto &[sim, rt] : mapped)
    if (device->chip.tensor.macsPerCycle[static_cast<int>(sim)] > 0)
      out->supported_dtypes |= GAON_DTYPE_BIT(rt);
  out->partition_count = device->chip.cores;
  out->max_queues_per_partition = device->queuesPerPartition;
  out->min_buffer_alignment = 64;
  out->flags = GAON_DEVICE_FLAG_HOST_VISIBLE_MEMORY |
               GAON_DEVICE_FLAG_REPORTS_CYCLES |
               GAON_DEVICE_FLAG_REPORTS_ENERGY;
  return GAON_OK;
}

// ---------------------------------------------------------------------------
// Buffers

gaon_status_code_t bufferAllocate(gaon_device_t *deviceHandle,
                                  const gaon_buffer_params_t *params,
                                  gaon_buffer_t **out) {
  SimDevice *device = impl(deviceHandle);
  if (!device || !params || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  uint64_t alignment = params->alignment ? params->alignment : 64;
  if (alignment & (alignment - 1))
    return fail(GAON_INVALID_ARGUMENT, "alignment " +
                                           std::to_string(alignment) +
                                           " is not a power of two");
  alignment = std::max<uint64_t>(alignment, 64);
  {
    std::lock_guard<std::mutex> lock(device->mutex);
    uint64_t free = device->memoryBytes - device->bytesInUse;
    if (params->size > free)
      return fail(GAON_OUT_OF_MEMORY,
                  "out of memory: " + std::to_string(params->size) +
                      " bytes requested, " + std::to_string(free) +
                      " free of " + std::to_string(device->memoryBytes) +
                      " (chip '" + device->chip.name + "' DRAM)");
    device->bytesInUse += params->size;
  }
  uint64_t rounded =
      params->size ? (params->size + alignment - 1) / alignment * alignment : 0;
  void *data = nullptr;
  if (rounded && rounded >= params->size)
    data = std::aligned_alloc(alignment, rounded);
  if (params->size && !data) {
    std::lock_guard<std::mutex> lock(device->mutex);
    device->bytesInUse -= params->size;
    return fail(GAON_OUT_OF_MEMORY, "host allocation of " +
                                        std::to_string(params->size) +
                                        " bytes failed");
  }
  if (data)
    std::memset(data, 0, rounded);
  auto *buffer = new SimBuffer;
  buffer->data = static_cast<uint8_t *>(data);
  buffer->size = params->size;
  buffer->serial = nextBufferSerial.fetch_add(1);
  *out = handle(buffer);
  return GAON_OK;
}

void bufferFree(gaon_device_t *deviceHandle, gaon_buffer_t *bufferHandle) {
  SimDevice *device = impl(deviceHandle);
  SimBuffer *buffer = impl(bufferHandle);
  if (!buffer)
    return;
  {
    std::lock_guard<std::mutex> lock(device->mutex);
    device->bytesInUse -= buffer->size;
  }
  std::free(buffer->data);
  delete buffer;
}

bool rangeInside(const gaon_buffer_t *bufferHandle, uint64_t offset,
                 uint64_t size) {
  const SimBuffer *buffer = impl(bufferHandle);
  return offset <= buffer->size && size <= buffer->size - offset;
}

gaon_status_code_t bufferWrite(gaon_device_t *, gaon_buffer_t *bufferHandle,
                               uint64_t offset, const void *data,
                               uint64_t size) {
  SimBuffer *buffer = impl(bufferHandle);
  if (!buffer || (size && !data))
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  if (!rangeInside(bufferHandle, offset, size))
    return fail(GAON_OUT_OF_RANGE,
                "write of " + std::to_string(size) + " bytes at " +
                    std::to_string(offset) + " is past the end of a " +
                    std::to_string(buffer->size) + "-byte buffer");
  if (size)
    std::memcpy(buffer->data + offset, data, size);
  buffer->generation.fetch_add(1);
  return GAON_OK;
}

gaon_status_code_t bufferRead(gaon_device_t *, gaon_buffer_t *bufferHandle,
                              uint64_t offset, void *data, uint64_t size) {
  SimBuffer *buffer = impl(bufferHandle);
  if (!buffer || (size && !data))
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  if (!rangeInside(bufferHandle, offset, size))
    return fail(GAON_OUT_OF_RANGE,
                "read of " + std::to_string(size) + " bytes at " +
                    std::to_string(offset) + " is past the end of a " +
                    std::to_string(buffer->size) + "-byte buffer");
  if (size)
    std::memcpy(data, buffer->data + offset, size);
  return GAON_OK;
}

gaon_status_code_t bufferMap(gaon_device_t *, gaon_buffer_t *bufferHandle,
                             void **out) {
  SimBuffer *buffer = impl(bufferHandle);
  if (!buffer || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  buffer->mapped = true; // writes through the pointer are invisible to us
  *out = buffer->data;
  return GAON_OK;
}

// ---------------------------------------------------------------------------
// Executables

// Highest DRAM byte (exclusive) a DMA may write, generously (overestimates
// only cost a re-copy).
void dmaDramWrites(const gaon::npu_sim::DmaCmd &dma,
                   std::vector<std::pair<uint64_t, uint64_t>> &ranges) {
  if (dma.dst.space != gaon::npu_sim::MemSpace::Dram)
    return;
  auto sat = [](long double v) -> uint64_t {
    return v >= 1.8e19L ? UINT64_MAX : static_cast<uint64_t>(v);
  };
  long double rowStride = dma.dstRowStride ? dma.dstRowStride : dma.rowBytes;
  long double planeStride = std::max<long double>(
      dma.dstPlaneStride, rowStride * static_cast<long double>(dma.rows));
  long double end = static_cast<long double>(dma.dst.addr) +
                    planeStride * (dma.planes ? dma.planes - 1 : 0) +
                    rowStride * (dma.rows ? dma.rows - 1 : 0) + dma.rowBytes;
  ranges.emplace_back(dma.dst.addr, sat(end));
}

gaon_status_code_t executableLoad(gaon_device_t *deviceHandle,
                                  const gaon_executable_params_t *params,
                                  gaon_executable_t **out) {
  SimDevice *device = impl(deviceHandle);
  using namespace gaon::npu_sim_runtime;
  if (!device || !params || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  std::string format = params->format ? params->format : "";
  if (format != kNpuExecutableFormat)
    return fail(GAON_INVALID_ARGUMENT, "executable format '" + format +
                                           "' is not '" + kNpuExecutableFormat +
                                           "'");
  if (params->entry_count != 1)
    return fail(GAON_INVALID_ARGUMENT,
                "an npu-sim executable has exactly one entry (the whole "
                "stream), got " +
                    std::to_string(params->entry_count));
  if (!params->data && params->data_size)
    return fail(GAON_INVALID_ARGUMENT, "executable data is null");
  auto exec = std::make_unique<SimExecutable>();
  exec->device = device;
  try {
    exec->exe =
        decodeExecutable(params->data, static_cast<size_t>(params->data_size));
  } catch (const std::exception &e) {
    std::string message = e.what();
    return fail(message.rfind("unsupported", 0) == 0 ? GAON_FAILED_PRECONDITION
                                                     : GAON_DATA_LOSS,
                message);
  }
  ChipDesc chip;
  try {
    chip = resolveChip(exec->exe.chipJson);
  } catch (const std::exception &e) {
    return fail(GAON_INVALID_ARGUMENT,
                std::string("the executable's chip: ") + e.what());
  }
  std::string difference = compareChips(chip, device->chip);
  if (!difference.empty() || chip.name != device->chip.name) {
    std::string message = "the executable was compiled for chip '" + chip.name +
                          "' but this device simulates chip '" +
                          device->chip.name + "'";
    if (!difference.empty())
      message += " (first difference: " + difference + ")";
    if (chip.name != device->chip.name)
      message += "; create the device with chip=" + chip.name +
                 " (gaon-run: --device-option chip=" + chip.name + ")";
    return fail(GAON_FAILED_PRECONDITION, message);
  }
  try {
    validateExecutable(exec->exe, device->chip);
  } catch (const std::exception &e) {
    return fail(GAON_INVALID_ARGUMENT, e.what());
  }
  std::vector<std::pair<uint64_t, uint64_t>> written;
  for (const auto &program : exec->exe.stream.cores)
    for (const auto &instr : program)
      if (const auto *dma = std::get_if<gaon::npu_sim::DmaCmd>(&instr.cmd))
        dmaDramWrites(*dma, written);
  for (const NpuBinding &b : exec->exe.bindings) {
    bool hit = false;
    for (const auto &[begin, end] : written)
      if (b.bytes && begin < b.dramAddr + b.bytes && b.dramAddr < end) {
        hit = true;
        break;
      }
    exec->volatileRange.push_back(hit);
  }
  exec->copied.resize(exec->exe.bindings.size());
  try {
    exec->sim = std::make_unique<gaon::npu_sim::Simulator>(device->chip);
  } catch (const std::exception &e) {
    return fail(GAON_INTERNAL, e.what());
  }
  *out = handle(exec.release());
  return GAON_OK;
}

void executableUnload(gaon_device_t *, gaon_executable_t *executable) {
  delete impl(executable);
}

// ---------------------------------------------------------------------------
// Queues

// Matches a dispatch's bindings to the executable's; "" or why not.
std::string resolveDispatch(const gaon_dispatch_t &dispatch, uint32_t index,
                            RecordedDispatch &out) {
  using namespace gaon::npu_sim_runtime;
  std::string where = "dispatch " + std::to_string(index) + ": ";
  if (!dispatch.executable)
    return where + "no executable";
  if (dispatch.entry_index != 0)
    return where + "entry " + std::to_string(dispatch.entry_index) +
           " does not exist (an npu-sim executable has one entry)";
  if (dispatch.binding_count && !dispatch.bindings)
    return where + "bindings are null";
  if (dispatch.params_size && !dispatch.params)
    return where + "params are null";
  const NpuExecutable &exe = impl(dispatch.executable)->exe;
  const uint32_t count = dispatch.binding_count;
  std::vector<uint32_t> ids;
  if (dispatch.params_size == 0) {
    // Positional: binding i is NpuExecutable::bindings[i].
    if (count != exe.bindings.size())
      return where + "binds " + std::to_string(count) +
             " buffers but the executable has " +
             std::to_string(exe.bindings.size()) +
             " bindings (and the dispatch carries no tensor ids to match)";
    for (const NpuBinding &b : exe.bindings)
      ids.push_back(b.tensorId);
  } else {
    try {
      ids = decodeDispatchParams(dispatch.params, dispatch.params_size, count);
    } catch (const std::exception &e) {
      return where + e.what();
    }
  }
  out.executable = impl(dispatch.executable);
  out.ranges.assign(exe.bindings.size(), gaon_binding_t{nullptr, 0, 0});
  std::vector<bool> seen(exe.bindings.size(), false);
  for (uint32_t i = 0; i < count; ++i) {
    size_t j = 0;
    while (j < exe.bindings.size() && exe.bindings[j].tensorId != ids[i])
      ++j;
    if (j == exe.bindings.size())
      return where + "binding " + std::to_string(i) + " is tensor " +
             std::to_string(ids[i]) +
             ", which the executable does not use (extra binding)";
    if (seen[j])
      return where + "tensor " + std::to_string(ids[i]) + " is bound twice";
    seen[j] = true;
    const gaon_binding_t &binding = dispatch.bindings[i];
    const NpuBinding &b = exe.bindings[j];
    if (!binding.buffer)
      return where + "binding " + std::to_string(i) + " has no buffer";
    if (binding.length != b.bytes)
      return where + "tensor " + std::to_string(b.tensorId) + " is bound to " +
             std::to_string(binding.length) +
             " bytes but the executable expects " + std::to_string(b.bytes);
    if (!rangeInside(binding.buffer, binding.offset, binding.length))
      return where + "binding " + std::to_string(i) + " is outside its buffer";
    out.ranges[j] = binding;
  }
  for (size_t j = 0; j < exe.bindings.size(); ++j)
    if (!seen[j]) {
      const NpuBinding &b = exe.bindings[j];
      return where + "missing binding for tensor " +
             std::to_string(b.tensorId) + " (" + accessName(b.access) + ", " +
             std::to_string(b.bytes) + " bytes at dram " + hex(b.dramAddr) +
             ")";
    }
  return "";
}

// The worker thread, fences and counters are the runtime's
// (gaon/runtime/driver_queue.h); npu-sim resolves bindings and runs the
// simulator.
class SimQueue final
    : public gaon::rt::driver::DispatchQueue<RecordedDispatch> {
public:
  explicit SimQueue(SimDevice *device)
      : DispatchQueue(gaon::npu_sim_runtime::kNpuSimDriverName),
        device_(device) {}

private:
  gaon_status_code_t resolve(const gaon_dispatch_t &dispatch, uint32_t index,
                             RecordedDispatch &out) override {
    std::string error = resolveDispatch(dispatch, index, out);
    if (!error.empty())
      return fail(GAON_INVALID_ARGUMENT, error);
    if (out.executable->device != device_)
      return fail(GAON_INVALID_ARGUMENT,
                  "dispatch " + std::to_string(index) +
                      ": the executable belongs to another device");
    return GAON_OK;
  }

  gaon::rt::driver::DispatchResult run(const RecordedDispatch &dispatch,
                                       uint32_t, uint32_t) override {
    return runDispatch(dispatch);
  }

  SimDevice *const device_;
};

gaon_status_code_t queueCreate(gaon_device_t *deviceHandle, uint32_t partition,
                               gaon_queue_t **out) {
  SimDevice *device = impl(deviceHandle);
  if (!device || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  if (partition >= device->chip.cores)
    return fail(GAON_OUT_OF_RANGE,
                "no partition " + std::to_string(partition) + "; chip '" +
                    device->chip.name + "' has " +
                    std::to_string(device->chip.cores) + " cores");
  return gaon::rt::driver::startQueue(std::make_unique<SimQueue>(device), out);
}

// Fences: the runtime's timeline fence (gaon/runtime/driver_fence.h).

const gaon_driver_vtable_v1_t npuSimVtable = {
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

SimDevice *asNpuSim(const gaon::rt::Device &device) {
  if (&device.vtable() != &npuSimVtable)
    return nullptr;
  return impl(device.handle());
}

} // namespace

namespace gaon::npu_sim_runtime {

const gaon_driver_v1_t *npuSimDriver() {
  static const gaon_driver_v1_t driver = {
      GAON_DRIVER_ABI_VERSION, kNpuSimDriverName,
      "NPU simulator (gaon_npu_sim): cycles, energy, functional results",
      nullptr, &npuSimVtable};
  return &driver;
}

rt::Status registerNpuSimDriver(rt::DriverRegistry &registry) {
  if (registry.contains(kNpuSimDriverName))
    return rt::Status::ok();
  rt::Status status = registry.registerDriver(*npuSimDriver());
  // Another thread may have registered it in between.
  if (!status.isOk() && registry.contains(kNpuSimDriverName))
    return rt::Status::ok();
  return status;
}

void addTargetDeviceOptions(const std::string &target,
                            rt::DeviceOptions &options) {
  if (rt::DriverRegistry::driverNameForTarget(target) != kNpuSimDriverName)
    return;
  if (options.count("chip") || options.count("target"))
    return;
  options["target"] = target;
}

bool npuSimDeviceStats(const rt::Device &device, NpuSimDeviceStats *stats) {
  SimDevice *handle = asNpuSim(device);
  if (!handle)
    return false;
  std::lock_guard<std::mutex> lock(handle->mutex);
  if (stats)
    *stats = handle->stats;
  return true;
}

std::string npuSimLastReportJson(const rt::Device &device) {
  SimDevice *handle = asNpuSim(device);
  if (!handle)
    return "";
  std::lock_guard<std::mutex> lock(handle->mutex);
  return handle->lastReport;
}

std::string npuSimChipName(const rt::Device &device) {
  SimDevice *handle = asNpuSim(device);
  return handle ? handle->chip.name : "";
}

} // namespace gaon::npu_sim_runtime
