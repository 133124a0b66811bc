//===- CudaApi.cpp - dlopen()ed CUDA driver, cuBLASLt and NVML ------------===//

#include "CudaApi.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace gaon::cuda {
namespace {

using rt::Result;
using rt::Status;
using rt::StatusCode;

Status unavailable(std::string message) {
  return Status(StatusCode::Unavailable, std::move(message));
}

std::string dlerrorText() {
  const char *text = dlerror();
  return text ? text : "unknown error";
}

// Resolves `name` from `library` into `slot`; false when absent.
template <typename Fn> bool resolve(void *library, const char *name, Fn &slot) {
  dlerror();
  void *symbol = dlsym(library, name);
  slot = reinterpret_cast<Fn>(symbol);
  return symbol != nullptr;
}

struct DriverLoad {
  CudaDriverApi api;
  Status status;
};

DriverLoad loadDriver() {
  DriverLoad load;
  CudaDriverApi &api = load.api;
  // RTLD_LOCAL: nothing else in the process should bind to these symbols
  // through us.
  api.library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!api.library) {
    load.status =
        unavailable("cuda: no CUDA driver: libcuda.so.1 not found (dlopen: " +
                    dlerrorText() + "); is the NVIDIA driver installed?");
    return load;
  }
  std::string missing;
#define GAON_CUDA_RESOLVE(name)                                                \
  if (!resolve(api.library, #name, api.name))                                  \
    missing += (missing.empty() ? "" : ", ") + std::string(#name);
  GAON_CUDA_DRIVER_FUNCTIONS(GAON_CUDA_RESOLVE)
#undef GAON_CUDA_RESOLVE
  if (!resolve(api.library, "cuEventElapsedTime_v2", api.cuEventElapsedTime) &&
      !resolve(api.library, "cuEventElapsedTime", api.cuEventElapsedTime))
    missing +=
        (missing.empty() ? "" : ", ") + std::string("cuEventElapsedTime");
  if (!missing.empty()) {
    load.status = unavailable("cuda: libcuda.so.1 lacks " + missing +
                              " (driver too old for this build?)");
    return load;
  }
  CUresult result = api.cuInit(0);
  if (result != CUDA_SUCCESS) {
    load.status =
        unavailable("cuda: cuInit failed: " + cuErrorText(api, result));
    return load;
  }
  api.cuDriverGetVersion(&api.driverVersion);
  return load;
}

struct CublasLoad {
  CublasLtApi api;
  Status status;
};

std::vector<std::string> cublasCandidates() {
  std::vector<std::string> paths;
  if (const char *env = std::getenv("GAON_CUBLASLT_LIBRARY"); env && *env)
    paths.push_back(env);
  paths.push_back("libcublasLt.so.13");
  paths.push_back("libcublasLt.so");
  // The toolkit's directory is often not on the loader's path.
  std::vector<std::string> roots;
  if (const char *home = std::getenv("CUDA_HOME"); home && *home)
    roots.push_back(home);
  if (const char *home = std::getenv("CUDA_PATH"); home && *home)
    roots.push_back(home);
  roots.push_back("/usr/local/cuda");
  for (const std::string &root : roots) {
    paths.push_back(root + "/lib64/libcublasLt.so.13");
    paths.push_back(root + "/targets/x86_64-linux/lib/libcublasLt.so.13");
  }
  return paths;
}

CublasLoad loadCublas() {
  CublasLoad load;
  CublasLtApi &api = load.api;
  std::string tried;
  for (const std::string &path : cublasCandidates()) {
    api.library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (api.library) {
      api.path = path;
      break;
    }
    tried += "\n  " + path + ": " + dlerrorText();
  }
  if (!api.library) {
    load.status =
        unavailable("cuda: cuBLASLt not found (set GAON_CUBLASLT_LIBRARY to "
                    "libcublasLt.so.13); tried:" +
                    tried);
    return load;
  }
  std::string missing;
#define GAON_CUDA_RESOLVE(name)                                                \
  if (!resolve(api.library, #name, api.name))                                  \
    missing += (missing.empty() ? "" : ", ") + std::string(#name);
  GAON_CUBLASLT_FUNCTIONS(GAON_CUDA_RESOLVE)
#undef GAON_CUDA_RESOLVE
  if (!missing.empty()) {
    load.status = unavailable("cuda: " + api.path + " lacks " + missing +
                              " (cuBLASLt too old for this build?)");
    return load;
  }
  api.version = api.cublasLtGetVersion();
  return load;
}

struct NvmlLoad {
  NvmlApi api;
  Status status;
};

NvmlLoad loadNvml() {
  NvmlLoad load;
  NvmlApi &api = load.api;
  api.library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!api.library) {
    load.status = unavailable("cuda: NVML not available: libnvidia-ml.so.1 "
                              "not found (dlopen: " +
                              dlerrorText() + ")");
    return load;
  }
  bool ok = resolve(api.library, "nvmlInit_v2", api.nvmlInit_v2) &&
            resolve(api.library, "nvmlShutdown", api.nvmlShutdown) &&
            resolve(api.library, "nvmlDeviceGetHandleByIndex_v2",
                    api.nvmlDeviceGetHandleByIndex_v2) &&
            resolve(api.library, "nvmlDeviceGetHandleByPciBusId_v2",
                    api.nvmlDeviceGetHandleByPciBusId_v2) &&
            resolve(api.library, "nvmlDeviceGetTotalEnergyConsumption",
                    api.nvmlDeviceGetTotalEnergyConsumption) &&
            resolve(api.library, "nvmlDeviceGetPowerUsage",
                    api.nvmlDeviceGetPowerUsage) &&
            resolve(api.library, "nvmlErrorString", api.nvmlErrorString);
  if (!ok) {
    load.status = unavailable("cuda: libnvidia-ml.so.1 lacks an NVML "
                              "function this driver uses");
    return load;
  }
  nvml::Return result = api.nvmlInit_v2();
  if (static_cast<int>(result) != nvml::kSuccess) {
    load.status =
        unavailable("cuda: nvmlInit_v2 failed: " + nvmlErrorText(api, result));
    return load;
  }
  return load;
}

} // namespace

// Function-local statics: loaded once, thread-safe, never unloaded (other
// static destructors may still use them at exit).
rt::Result<const CudaDriverApi *> loadCudaDriverApi() {
  static const DriverLoad *load = new DriverLoad(loadDriver());
  if (!load->status.isOk())
    return load->status;
  return &load->api;
}

rt::Result<const CublasLtApi *> loadCublasLtApi() {
  static const CublasLoad *load = new CublasLoad(loadCublas());
  if (!load->status.isOk())
    return load->status;
  return &load->api;
}

rt::Result<const NvmlApi *> loadNvmlApi() {
  static const NvmlLoad *load = new NvmlLoad(loadNvml());
  if (!load->status.isOk())
    return load->status;
  return &load->api;
}

std::string cuErrorText(const CudaDriverApi &api, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  if (api.cuGetErrorName)
    api.cuGetErrorName(result, &name);
  if (api.cuGetErrorString)
    api.cuGetErrorString(result, &text);
  std::string out = name ? name : "CUresult " + std::to_string(result);
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

std::string cublasErrorText(const CublasLtApi &api, cublasStatus_t status) {
  const char *name =
      api.cublasLtGetStatusName ? api.cublasLtGetStatusName(status) : nullptr;
  const char *text = api.cublasLtGetStatusString
                         ? api.cublasLtGetStatusString(status)
                         : nullptr;
  std::string out =
      name ? name
           : "cublasStatus_t " + std::to_string(static_cast<int>(status));
  if (text && (!name || std::string(text) != name))
    out += std::string(" (") + text + ")";
  return out;
}

std::string nvmlErrorText(const NvmlApi &api, nvml::Return result) {
  std::string out = "NVML error " + std::to_string(static_cast<int>(result));
  if (api.nvmlErrorString)
    if (const char *text = api.nvmlErrorString(result))
      out += std::string(" (") + text + ")";
  return out;
}

} // namespace gaon::cuda
