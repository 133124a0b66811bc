//===- Driver.cpp - The "cuda" HAL driver ---------------------------------===//
//
// A device is the primary context of one GPU; buffers are cuMemAlloc
// allocations; each queue (the runtime's DispatchQueue, driver_queue.h) has a
// non-blocking stream and a worker thread that waits for the submission's
// fences, runs its dispatches (PlanExecutable.cpp) and synchronizes before
// signalling, so a signalled fence means the work is done. Host copies go
// through the device's own transfer stream. The CUDA libraries are dlopen()ed
// (CudaApi.h), so without a driver or GPU only device creation fails, with
// UNAVAILABLE and the reason.
//
//===----------------------------------------------------------------------===//

#include "DriverImpl.h"

#include "gaon/runtime/driver_fence.h"
#include "gaon/runtime/driver_queue.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace gaon::cuda::detail {

std::string cuFailure(const CudaDevice &device, const char *call,
                      CUresult result) {
  return std::string(call) + " failed: " + cuErrorText(*device.cu, result);
}

gaon_status_code_t statusForCuda(CUresult result) {
  switch (result) {
  case CUDA_SUCCESS:
    return GAON_OK;
  case CUDA_ERROR_OUT_OF_MEMORY:
    return GAON_OUT_OF_MEMORY;
  case CUDA_ERROR_INVALID_VALUE:
    return GAON_INVALID_ARGUMENT;
  case CUDA_ERROR_NOT_FOUND:
    return GAON_NOT_FOUND;
  case CUDA_ERROR_NO_DEVICE:
  case CUDA_ERROR_DEVICE_UNAVAILABLE:
  case CUDA_ERROR_DEVICE_NOT_LICENSED:
  case CUDA_ERROR_ECC_UNCORRECTABLE:
  case CUDA_ERROR_HARDWARE_STACK_ERROR:
  case CUDA_ERROR_LAUNCH_FAILED:
    return GAON_UNAVAILABLE;
  default:
    return GAON_INTERNAL;
  }
}

rt::Status makeCurrent(const CudaDevice &device) {
  CUresult r = device.cu->cuCtxSetCurrent(device.context);
  if (r == CUDA_SUCCESS)
    return rt::Status::ok();
  return rt::Status(static_cast<rt::StatusCode>(statusForCuda(r)),
                    "cuda: " + cuFailure(device, "cuCtxSetCurrent", r));
}

rt::Status ensureCublasLt(CudaDevice &device) {
  std::lock_guard<std::mutex> lock(device.lazyMutex);
  if (device.ltHandle)
    return rt::Status::ok();
  auto lt = loadCublasLtApi();
  if (!lt.isOk())
    return lt.status();
  GAON_RETURN_IF_ERROR(makeCurrent(device));
  cublasLtHandle_t handle = nullptr;
  cublasStatus_t st = (*lt)->cublasLtCreate(&handle);
  if (st != CUBLAS_STATUS_SUCCESS)
    return rt::Status(rt::StatusCode::Unavailable,
                      "cuda: cublasLtCreate failed: " +
                          cublasErrorText(**lt, st));
  if (device.workspaceBytes) {
    CUresult r =
        device.cu->cuMemAlloc_v2(&device.workspace, device.workspaceBytes);
    if (r != CUDA_SUCCESS) {
      (*lt)->cublasLtDestroy(handle);
      device.workspace = 0;
      return rt::Status(static_cast<rt::StatusCode>(statusForCuda(r)),
                        "cuda: allocating the cuBLASLt workspace (" +
                            std::to_string(device.workspaceBytes >> 20) +
                            " MiB; device option workspace_mb): " +
                            cuFailure(device, "cuMemAlloc_v2", r));
    }
  }
  device.lt = *lt;
  device.ltHandle = handle;
  return rt::Status::ok();
}

} // namespace gaon::cuda::detail

namespace {

using namespace gaon::cuda;
using namespace gaon::cuda::detail;

struct CudaBuffer {
  CUdeviceptr raw = 0;  ///< what cuMemAlloc returned (0 for empty buffers)
  CUdeviceptr base = 0; ///< raw, aligned up to the requested alignment
  uint64_t size = 0;
};

struct RecordedDispatch {
  CudaExecutable *executable = nullptr;
  std::vector<CUdeviceptr> bases;
};

CudaDevice *impl(gaon_device_t *h) { return reinterpret_cast<CudaDevice *>(h); }
CudaBuffer *impl(gaon_buffer_t *h) { return reinterpret_cast<CudaBuffer *>(h); }
CudaExecutable *impl(gaon_executable_t *h) {
  return reinterpret_cast<CudaExecutable *>(h);
}
gaon_device_t *handle(CudaDevice *d) {
  return reinterpret_cast<gaon_device_t *>(d);
}
gaon_buffer_t *handle(CudaBuffer *b) {
  return reinterpret_cast<gaon_buffer_t *>(b);
}
gaon_executable_t *handle(CudaExecutable *e) {
  return reinterpret_cast<gaon_executable_t *>(e);
}

gaon_status_code_t fail(gaon_status_code_t code, const std::string &message) {
  return gaon_set_error(code, ("cuda: " + message).c_str());
}

gaon_status_code_t fail(const gaon::rt::Status &status) {
  // Messages made by the driver's helpers already start with "cuda: ".
  return gaon_set_error(static_cast<gaon_status_code_t>(status.code()),
                        status.message().c_str());
}

gaon_status_code_t failCuda(const CudaDevice &device, const char *call,
                            CUresult result, const std::string &context = "") {
  return fail(statusForCuda(result), (context.empty() ? "" : context + ": ") +
                                         cuFailure(device, call, result));
}

std::string bytesText(uint64_t bytes) {
  char text[64];
  if (bytes >= (1ull << 30))
    std::snprintf(text, sizeof(text), "%llu bytes (%.2f GiB)",
                  static_cast<unsigned long long>(bytes),
                  static_cast<double>(bytes) / (1ull << 30));
  else
    std::snprintf(text, sizeof(text), "%llu bytes (%.2f MiB)",
                  static_cast<unsigned long long>(bytes),
                  static_cast<double>(bytes) / (1ull << 20));
  return text;
}

// ---------------------------------------------------------------------------
// Devices

const char *const kKnownOptions =
    "graphs, workspace_mb, sync_steps, replays, matmul_tuning, "
    "matmul_split_k, matmul_gaon_gemm, matmul_log, queues_per_partition";

bool parseUnsigned(const std::string &text, uint64_t *out) {
  if (text.empty() || text[0] == '-')
    return false;
  char *end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
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

gaon_status_code_t parseOptions(const gaon_device_options_t *options,
                                CudaDevice &device) {
  for (uint32_t i = 0; options && i < options->entry_count; ++i) {
    const gaon_key_value_t &entry = options->entries[i];
    std::string key = entry.key ? entry.key : "";
    std::string value = entry.value ? entry.value : "";
    uint64_t number = 0;
    if (key == "graphs") {
      if (!parseBool(value, &device.graphs))
        return fail(GAON_INVALID_ARGUMENT,
                    "device option graphs must be 0 or 1, got '" + value + "'");
    } else if (key == "sync_steps") {
      if (!parseBool(value, &device.syncSteps))
        return fail(GAON_INVALID_ARGUMENT,
                    "device option sync_steps must be 0 or 1, got '" + value +
                        "'");
    } else if (key == "matmul_tuning") {
      if (!parseBool(value, &device.matmulTuning))
        return fail(GAON_INVALID_ARGUMENT,
                    "device option matmul_tuning must be 0 or 1, got '" +
                        value + "'");
    } else if (key == "matmul_split_k") {
      if (!parseBool(value, &device.matmulSplitK))
        return fail(GAON_INVALID_ARGUMENT,
                    "device option matmul_split_k must be 0 or 1, got '" +
                        value + "'");
    } else if (key == "matmul_gaon_gemm") {
      if (!parseUnsigned(value, &number) || number > 2)
        return fail(GAON_INVALID_ARGUMENT,
                    "device option matmul_gaon_gemm must be 0, 1 or 2, got '" +
                        value + "'");
      device.matmulGaonGemm = static_cast<uint32_t>(number);
    } else if (key == "matmul_log") {
      if (!parseUnsigned(value, &number) || number > 2)
        return fail(GAON_INVALID_ARGUMENT,
                    "device option matmul_log must be 0, 1 or 2, got '" +
                        value + "'");
      device.matmulLog = static_cast<uint32_t>(number);
    } else if (key == "replays") {
      if (!parseUnsigned(value, &number) || number == 0 || number > 100000)
        return fail(GAON_INVALID_ARGUMENT,
                    "device option replays must be in [1, 100000], got '" +
                        value + "'");
      device.replays = static_cast<uint32_t>(number);
    } else if (key == "workspace_mb") {
      if (!parseUnsigned(value, &number) || number > 4096)
        return fail(GAON_INVALID_ARGUMENT,
                    "device option workspace_mb must be in [0, 4096], got '" +
                        value + "'");
      device.workspaceBytes = number << 20;
    } else if (key == "queues_per_partition") {
      if (!parseUnsigned(value, &number) || number == 0 || number > 64)
        return fail(GAON_INVALID_ARGUMENT,
                    "device option queues_per_partition must be in [1, 64], "
                    "got '" +
                        value + "'");
      device.queuesPerPartition = static_cast<uint32_t>(number);
    } else {
      return fail(GAON_INVALID_ARGUMENT, "unknown device option '" + key +
                                             "' (known: " + kKnownOptions +
                                             ")");
    }
  }
  return GAON_OK;
}

/// Energy through NVML, matched to the CUDA device by PCI bus id (CUDA and
/// NVML number devices differently). Optional: failures only turn it off.
void setUpEnergy(CudaDevice &device) {
  auto nvml = loadNvmlApi();
  if (!nvml.isOk()) {
    device.energyWhyNot = nvml.status().message();
    return;
  }
  const NvmlApi &api = **nvml;
  nvml::Device handle = nullptr;
  nvml::Return r =
      api.nvmlDeviceGetHandleByPciBusId_v2(device.pciBusId.c_str(), &handle);
  if (static_cast<int>(r) != nvml::kSuccess) {
    device.energyWhyNot = "nvmlDeviceGetHandleByPciBusId_v2(" +
                          device.pciBusId + "): " + nvmlErrorText(api, r);
    return;
  }
  unsigned long long mj = 0;
  r = api.nvmlDeviceGetTotalEnergyConsumption(handle, &mj);
  if (static_cast<int>(r) != nvml::kSuccess) {
    device.energyWhyNot =
        "nvmlDeviceGetTotalEnergyConsumption: " + nvmlErrorText(api, r);
    return;
  }
  device.nvml = &api;
  device.nvmlDevice = handle;
  device.reportsEnergy = true;
}

/// Holds one extra reference to each GPU's primary context for the life of
/// the process. Otherwise destroying the last device would destroy the
/// context, and cuBLASLt's (static) CUDA runtime, which attached to it,
/// would be left with a dead one; it also saves re-creating a context
/// (hundreds of milliseconds) for every device a test or tenant creates.
void keepPrimaryContext(const CudaDriverApi &cu, CUdevice dev) {
  static std::mutex mutex;
  static std::vector<CUdevice> kept;
  std::lock_guard<std::mutex> lock(mutex);
  for (CUdevice k : kept)
    if (k == dev)
      return;
  CUcontext context = nullptr;
  if (cu.cuDevicePrimaryCtxRetain(&context, dev) == CUDA_SUCCESS)
    kept.push_back(dev);
}

void releaseDevice(CudaDevice *device) {
  if (!device)
    return;
  const CudaDriverApi *cu = device->cu;
  if (device->context) {
    (void)makeCurrent(*device);
    if (device->ltHandle)
      device->lt->cublasLtDestroy(device->ltHandle);
    if (device->workspace)
      cu->cuMemFree_v2(device->workspace);
    for (KernelModule *kernels :
         {&device->attentionKernels, &device->gemmKernels})
      if (kernels->module)
        cu->cuModuleUnload(kernels->module);
    if (device->gemmCounters)
      cu->cuMemFree_v2(device->gemmCounters);
    if (device->transferStream)
      cu->cuStreamDestroy_v2(device->transferStream);
    cu->cuDevicePrimaryCtxRelease_v2(device->device);
  }
  delete device;
}

gaon_status_code_t deviceCreate(void *, uint32_t ordinal,
                                const gaon_device_options_t *options,
                                gaon_device_t **out) {
  if (!out)
    return fail(GAON_INVALID_ARGUMENT, "out_device is null");
  std::unique_ptr<CudaDevice, void (*)(CudaDevice *)> device(new CudaDevice,
                                                             releaseDevice);
  if (gaon_status_code_t code = parseOptions(options, *device); code)
    return code;
  auto api = loadCudaDriverApi();
  if (!api.isOk())
    return fail(api.status());
  const CudaDriverApi &cu = **api;
  device->cu = &cu;
  int count = 0;
  CUresult r = cu.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS)
    return fail(GAON_UNAVAILABLE, cuFailure(*device, "cuDeviceGetCount", r));
  if (count == 0)
    return fail(GAON_UNAVAILABLE, "the CUDA driver sees no GPU");
  if (ordinal >= static_cast<uint32_t>(count))
    return fail(GAON_NOT_FOUND, "no GPU " + std::to_string(ordinal) +
                                    "; the CUDA driver sees " +
                                    std::to_string(count));
  device->ordinal = static_cast<int>(ordinal);
  if ((r = cu.cuDeviceGet(&device->device, device->ordinal)) != CUDA_SUCCESS)
    return failCuda(*device, "cuDeviceGet", r);
  char name[256] = {};
  if ((r = cu.cuDeviceGetName(name, sizeof(name) - 1, device->device)) !=
      CUDA_SUCCESS)
    return failCuda(*device, "cuDeviceGetName", r);
  device->name = name;
  size_t total = 0;
  const std::pair<CUdevice_attribute, int *> attributes[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &device->ccMajor},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &device->ccMinor},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
       &device->maxSharedOptin},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &device->multiprocessors}};
  for (const auto &[attribute, value] : attributes)
    if ((r = cu.cuDeviceGetAttribute(value, attribute, device->device)) !=
        CUDA_SUCCESS)
      return failCuda(*device, "cuDeviceGetAttribute", r);
  if ((r = cu.cuDeviceTotalMem_v2(&total, device->device)) != CUDA_SUCCESS)
    return failCuda(*device, "cuDeviceTotalMem_v2", r);
  device->totalMemory = total;
  char bus[64] = {};
  if (cu.cuDeviceGetPCIBusId(bus, sizeof(bus) - 1, device->device) ==
      CUDA_SUCCESS)
    device->pciBusId = bus;
  if ((r = cu.cuDevicePrimaryCtxRetain(&device->context, device->device)) !=
      CUDA_SUCCESS) {
    device->context = nullptr;
    return failCuda(*device, "cuDevicePrimaryCtxRetain", r,
                    "GPU " + std::to_string(ordinal) + " (" + device->name +
                        ")");
  }
  keepPrimaryContext(cu, device->device);
  if (gaon::rt::Status s = makeCurrent(*device); !s.isOk())
    return fail(s);
  if ((r = cu.cuStreamCreate(&device->transferStream,
                             CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS)
    return failCuda(*device, "cuStreamCreate", r);
  if (!device->pciBusId.empty())
    setUpEnergy(*device);
  else
    device->energyWhyNot = "cuDeviceGetPCIBusId failed";
  device->stats.computeMajor = device->ccMajor;
  device->stats.computeMinor = device->ccMinor;
  device->stats.reportsEnergy = device->reportsEnergy;
  device->stats.energyUnavailableReason = device->energyWhyNot;
  *out = handle(device.release());
  return GAON_OK;
}

void deviceDestroy(gaon_device_t *device) { releaseDevice(impl(device)); }

gaon_status_code_t deviceQueryProperties(gaon_device_t *deviceHandle,
                                         gaon_device_properties_t *out) {
  CudaDevice *device = impl(deviceHandle);
  if (!device || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  *out = {};
  std::snprintf(out->name, sizeof(out->name), "%s", device->name.c_str());
  out->memory_bytes = device->totalMemory;
  // Storage and the compiler's kernels handle these; fp8 where the tensor
  // cores have it (Ada, Hopper and newer).
  const gaon_dtype_t dtypes[] = {
      GAON_DTYPE_F32, GAON_DTYPE_F16, GAON_DTYPE_BF16, GAON_DTYPE_F64,
      GAON_DTYPE_I64, GAON_DTYPE_I32, GAON_DTYPE_I16,  GAON_DTYPE_I8,
      GAON_DTYPE_U8,  GAON_DTYPE_U16, GAON_DTYPE_U32,  GAON_DTYPE_U64,
      GAON_DTYPE_BOOL};
  for (gaon_dtype_t dtype : dtypes)
    out->supported_dtypes |= GAON_DTYPE_BIT(dtype);
  if (device->ccMajor * 10 + device->ccMinor >= 89)
    out->supported_dtypes |=
        GAON_DTYPE_BIT(GAON_DTYPE_F8E4M3FN) | GAON_DTYPE_BIT(GAON_DTYPE_F8E5M2);
  out->partition_count = 1;
  out->max_queues_per_partition = device->queuesPerPartition;
  out->min_buffer_alignment = 256; // what cuMemAlloc guarantees
  out->flags = device->reportsEnergy ? GAON_DEVICE_FLAG_REPORTS_ENERGY : 0;
  return GAON_OK;
}

// ---------------------------------------------------------------------------
// Buffers

/// Runs `issue` on the transfer stream and waits for it.
template <typename Issue>
gaon_status_code_t transfer(CudaDevice &device, const char *call, Issue issue) {
  if (gaon::rt::Status s = makeCurrent(device); !s.isOk())
    return fail(s);
  std::lock_guard<std::mutex> lock(device.transferMutex);
  CUresult r = issue(device.transferStream);
  if (r != CUDA_SUCCESS) {
    (void)device.cu->cuStreamSynchronize(device.transferStream);
    return failCuda(device, call, r);
  }
  r = device.cu->cuStreamSynchronize(device.transferStream);
  if (r != CUDA_SUCCESS)
    return failCuda(device, "cuStreamSynchronize", r,
                    std::string("after ") + call);
  return GAON_OK;
}

gaon_status_code_t bufferAllocate(gaon_device_t *deviceHandle,
                                  const gaon_buffer_params_t *params,
                                  gaon_buffer_t **out) {
  CudaDevice *device = impl(deviceHandle);
  if (!device || !params || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  uint64_t alignment = params->alignment ? params->alignment : 256;
  if (alignment & (alignment - 1))
    return fail(GAON_INVALID_ARGUMENT, "alignment " +
                                           std::to_string(alignment) +
                                           " is not a power of two");
  auto buffer = std::make_unique<CudaBuffer>();
  buffer->size = params->size;
  if (params->size == 0) {
    *out = handle(buffer.release());
    return GAON_OK;
  }
  // cuMemAlloc aligns to at least 256 bytes; more is made by padding.
  uint64_t padding = alignment > 256 ? alignment - 256 : 0;
  if (params->size > UINT64_MAX - padding)
    return fail(GAON_OUT_OF_MEMORY,
                "cannot allocate " + std::to_string(params->size) + " bytes");
  if (gaon::rt::Status s = makeCurrent(*device); !s.isOk())
    return fail(s);
  CUresult r = device->cu->cuMemAlloc_v2(&buffer->raw, params->size + padding);
  if (r != CUDA_SUCCESS) {
    size_t freeBytes = 0, totalBytes = 0;
    std::string memory;
    if (device->cu->cuMemGetInfo_v2(&freeBytes, &totalBytes) == CUDA_SUCCESS)
      memory =
          "; " + bytesText(freeBytes) + " free of " + bytesText(totalBytes);
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
      return fail(GAON_OUT_OF_MEMORY, "out of device memory: cannot allocate " +
                                          bytesText(params->size) + " on " +
                                          device->describe() + memory);
    return failCuda(*device, "cuMemAlloc_v2", r,
                    "allocating " + bytesText(params->size) + memory);
  }
  buffer->base = (buffer->raw + alignment - 1) & ~(alignment - 1);
  // Zeroed like every other driver's buffers: a plan may rely on an arena
  // that starts at zero, and results must not depend on old contents.
  CUdeviceptr base = buffer->base;
  uint64_t size = params->size;
  if (gaon_status_code_t code =
          transfer(*device, "cuMemsetD8Async",
                   [&](CUstream s) {
                     return device->cu->cuMemsetD8Async(base, 0, size, s);
                   });
      code != GAON_OK) {
    device->cu->cuMemFree_v2(buffer->raw);
    return code;
  }
  *out = handle(buffer.release());
  return GAON_OK;
}

void bufferFree(gaon_device_t *deviceHandle, gaon_buffer_t *bufferHandle) {
  CudaDevice *device = impl(deviceHandle);
  CudaBuffer *buffer = impl(bufferHandle);
  if (!buffer)
    return;
  if (buffer->raw && device && makeCurrent(*device).isOk())
    device->cu->cuMemFree_v2(buffer->raw);
  delete buffer;
}

bool rangeInside(const CudaBuffer &buffer, uint64_t offset, uint64_t size) {
  return offset <= buffer.size && size <= buffer.size - offset;
}

gaon_status_code_t bufferWrite(gaon_device_t *deviceHandle,
                               gaon_buffer_t *bufferHandle, uint64_t offset,
                               const void *data, uint64_t size) {
  CudaDevice *device = impl(deviceHandle);
  CudaBuffer *buffer = impl(bufferHandle);
  if (!device || !buffer || (size && !data))
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  if (!rangeInside(*buffer, offset, size))
    return fail(GAON_OUT_OF_RANGE,
                "write of " + std::to_string(size) + " bytes at " +
                    std::to_string(offset) + " is past the end of a " +
                    std::to_string(buffer->size) + "-byte buffer");
  if (!size)
    return GAON_OK;
  return transfer(*device, "cuMemcpyHtoDAsync_v2", [&](CUstream s) {
    return device->cu->cuMemcpyHtoDAsync_v2(buffer->base + offset, data, size,
                                            s);
  });
}

gaon_status_code_t bufferRead(gaon_device_t *deviceHandle,
                              gaon_buffer_t *bufferHandle, uint64_t offset,
                              void *data, uint64_t size) {
  CudaDevice *device = impl(deviceHandle);
  CudaBuffer *buffer = impl(bufferHandle);
  if (!device || !buffer || (size && !data))
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  if (!rangeInside(*buffer, offset, size))
    return fail(GAON_OUT_OF_RANGE,
                "read of " + std::to_string(size) + " bytes at " +
                    std::to_string(offset) + " is past the end of a " +
                    std::to_string(buffer->size) + "-byte buffer");
  if (!size)
    return GAON_OK;
  return transfer(*device, "cuMemcpyDtoHAsync_v2", [&](CUstream s) {
    return device->cu->cuMemcpyDtoHAsync_v2(data, buffer->base + offset, size,
                                            s);
  });
}

// ---------------------------------------------------------------------------
// Executables

gaon_status_code_t executableLoad(gaon_device_t *deviceHandle,
                                  const gaon_executable_params_t *params,
                                  gaon_executable_t **out) {
  CudaDevice *device = impl(deviceHandle);
  if (!device || !params || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  std::string format = params->format ? params->format : "";
  if (format != kPlanFormat)
    return fail(GAON_INVALID_ARGUMENT, "executable format '" + format +
                                           "' is not '" + kPlanFormat + "'");
  std::string target = params->target ? params->target : "";
  if (!target.empty() &&
      gaon::rt::DriverRegistry::driverNameForTarget(target) != kCudaDriverName)
    return fail(GAON_INVALID_ARGUMENT,
                "target '" + target + "' is not a cuda target");
  if (params->entry_count != 1)
    return fail(GAON_INVALID_ARGUMENT,
                "a cuda-plan executable has exactly one entry (the whole "
                "plan), got " +
                    std::to_string(params->entry_count));
  if (!params->data && params->data_size)
    return fail(GAON_INVALID_ARGUMENT, "executable data is null");
  auto exe = loadPlanExecutable(*device, *params);
  if (!exe.isOk()) {
    const gaon::rt::Status &s = exe.status();
    std::string message = s.message();
    if (message.rfind("cuda: ", 0) != 0)
      message = "cuda: " + message;
    return gaon_set_error(static_cast<gaon_status_code_t>(s.code()),
                          message.c_str());
  }
  *out = handle(exe.value());
  return GAON_OK;
}

void executableUnload(gaon_device_t *, gaon_executable_t *executable) {
  destroyPlanExecutable(impl(executable));
}

// ---------------------------------------------------------------------------
// Queues

/// Whole-GPU energy in millijoules since the driver loaded; false when
/// unavailable.
bool readEnergy(const CudaDevice &device, unsigned long long *mj) {
  if (!device.reportsEnergy)
    return false;
  return static_cast<int>(device.nvml->nvmlDeviceGetTotalEnergyConsumption(
             device.nvmlDevice, mj)) == nvml::kSuccess;
}

// The worker thread, fences and counters are the runtime's
// (gaon/runtime/driver_queue.h); a cuda queue adds its stream, the events
// that time its GPU work, and the worker's context.
class CudaQueue final
    : public gaon::rt::driver::DispatchQueue<RecordedDispatch> {
public:
  explicit CudaQueue(CudaDevice *owner)
      : DispatchQueue(kCudaDriverName), device(owner) {}
  // After queueDestroy has stopped the worker: nothing uses them any more.
  ~CudaQueue() override {
    const CudaDriverApi &cu = *device->cu;
    if (!makeCurrent(*device).isOk())
      return;
    if (endEvent)
      cu.cuEventDestroy_v2(endEvent);
    if (startEvent)
      cu.cuEventDestroy_v2(startEvent);
    if (stream)
      cu.cuStreamDestroy_v2(stream);
  }

  CudaDevice *const device;
  CUstream stream = nullptr;
  CUevent startEvent = nullptr, endEvent = nullptr;

private:
  // The context is per thread; the worker issues all of this queue's work.
  std::string startWorker() override {
    gaon::rt::Status current = makeCurrent(*device);
    return current.isOk() ? "" : current.message();
  }

  gaon_status_code_t resolve(const gaon_dispatch_t &dispatch, uint32_t index,
                             RecordedDispatch &out) override {
    std::string where = "dispatch " + std::to_string(index) + ": ";
    if (!dispatch.executable)
      return fail(GAON_INVALID_ARGUMENT, where + "no executable");
    CudaExecutable *exe = impl(dispatch.executable);
    if (&executableDevice(*exe) != device)
      return fail(GAON_INVALID_ARGUMENT,
                  where + "the executable belongs to another device");
    if (dispatch.entry_index != 0)
      return fail(GAON_INVALID_ARGUMENT,
                  where + "entry " + std::to_string(dispatch.entry_index) +
                      " does not exist (a cuda-plan has one entry)");
    if (dispatch.binding_count && !dispatch.bindings)
      return fail(GAON_INVALID_ARGUMENT, where + "bindings are null");
    out.executable = exe;
    std::vector<uint64_t> lengths;
    for (uint32_t j = 0; j < dispatch.binding_count; ++j) {
      const gaon_binding_t &binding = dispatch.bindings[j];
      if (!binding.buffer)
        return fail(GAON_INVALID_ARGUMENT,
                    where + "binding " + std::to_string(j) + " has no buffer");
      const CudaBuffer &buffer = *impl(binding.buffer);
      if (!rangeInside(buffer, binding.offset, binding.length))
        return fail(GAON_OUT_OF_RANGE, where + "binding " + std::to_string(j) +
                                           " is outside its buffer");
      out.bases.push_back(buffer.base + binding.offset);
      lengths.push_back(binding.length);
    }
    if (std::string error = checkBindings(*exe, lengths); !error.empty())
      return fail(GAON_INVALID_ARGUMENT, where + error);
    return GAON_OK;
  }

  // Busy time is GPU time between events around the dispatch's work
  // (runPlan); NVML's energy counter is read before and after it (the stream
  // is idle at both points, since runPlan synchronizes).
  gaon::rt::driver::DispatchResult run(const RecordedDispatch &dispatch,
                                       uint32_t index,
                                       uint32_t count) override {
    unsigned long long energyBefore = 0, energyAfter = 0;
    bool energy = readEnergy(*device, &energyBefore);
    RunTiming timing{startEvent, endEvent, 0};
    gaon::rt::driver::DispatchResult result;
    result.failure =
        runPlan(*dispatch.executable, dispatch.bases, stream, timing);
    result.busyS = timing.seconds;
    if (energy && readEnergy(*device, &energyAfter) &&
        energyAfter >= energyBefore)
      result.energyJ = (energyAfter - energyBefore) * 1e-3;
    if (!result.failure.empty())
      result.failure =
          std::string("cuda: ") +
          (count > 1 ? "dispatch " + std::to_string(index) + ": " : "") +
          result.failure;
    return result;
  }
};

gaon_status_code_t queueCreate(gaon_device_t *deviceHandle, uint32_t partition,
                               gaon_queue_t **out) {
  CudaDevice *device = impl(deviceHandle);
  if (!device || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  if (partition != 0)
    return fail(GAON_OUT_OF_RANGE, "no partition " + std::to_string(partition) +
                                       "; a GPU has one");
  if (gaon::rt::Status s = makeCurrent(*device); !s.isOk())
    return fail(s);
  auto queue = std::make_unique<CudaQueue>(device);
  const CudaDriverApi &cu = *device->cu;
  CUresult r = cu.cuStreamCreate(&queue->stream, CU_STREAM_NON_BLOCKING);
  if (r == CUDA_SUCCESS)
    r = cu.cuEventCreate(&queue->startEvent, CU_EVENT_DEFAULT);
  if (r == CUDA_SUCCESS)
    r = cu.cuEventCreate(&queue->endEvent, CU_EVENT_DEFAULT);
  if (r != CUDA_SUCCESS) // the queue's destructor frees what was created
    return failCuda(*device, "cuStreamCreate/cuEventCreate", r);
  return gaon::rt::driver::startQueue(std::move(queue), out);
}

// Fences: the runtime's timeline fence (gaon/runtime/driver_fence.h).

const gaon_driver_vtable_v1_t cudaVtable = {
    /*destroy_driver=*/nullptr,
    deviceCreate,
    deviceDestroy,
    deviceQueryProperties,
    bufferAllocate,
    bufferFree,
    bufferWrite,
    bufferRead,
    /*buffer_map=*/nullptr, // device memory is not host-visible
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

namespace gaon::cuda {

const gaon_driver_v1_t *cudaDriver() {
  static const gaon_driver_v1_t driver = {
      GAON_DRIVER_ABI_VERSION, kCudaDriverName,
      "NVIDIA GPUs: cuda-plan executables (PTX, cuBLASLt, fused attention)",
      nullptr, &cudaVtable};
  return &driver;
}

rt::Status registerCudaDriver(rt::DriverRegistry &registry) {
  if (registry.contains(kCudaDriverName))
    return rt::Status::ok();
  rt::Status status = registry.registerDriver(*cudaDriver());
  // Another thread may have registered it in between.
  if (!status.isOk() && registry.contains(kCudaDriverName))
    return rt::Status::ok();
  return status;
}

rt::Status cudaAvailable() {
  auto api = loadCudaDriverApi();
  if (!api.isOk())
    return api.status();
  int count = 0;
  CUresult r = (*api)->cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS)
    return rt::Status(rt::StatusCode::Unavailable,
                      "cuda: cuDeviceGetCount failed: " +
                          cuErrorText(**api, r));
  if (count == 0)
    return rt::Status(rt::StatusCode::Unavailable,
                      "cuda: the CUDA driver sees no GPU");
  return rt::Status::ok();
}

bool cudaDeviceStats(const rt::Device &device, CudaDeviceStats *stats) {
  if (&device.vtable() != &cudaVtable)
    return false;
  CudaDevice *handle = impl(device.handle());
  std::lock_guard<std::mutex> lock(handle->statsMutex);
  if (stats)
    *stats = handle->stats;
  return true;
}

} // namespace gaon::cuda
