//===- CudaApi.h - CUDA driver, cuBLASLt and NVML loaded at run time -*- C++
//-*-===//
//
// Gaon binaries must start on machines without a GPU (the build machine, CI),
// so nothing links libcuda, libcublasLt or libnvidia-ml. Instead the first
// use dlopen()s them and resolves every function this backend calls into a
// table of pointers typed from the real headers. A missing library or symbol
// is an error message, not a loader failure.
//
//   Result<const CudaDriverApi *> api = loadCudaDriverApi();  // + cuInit(0)
//   if (!api) ... api.status().message() ...
//   CUresult r = (*api)->cuMemAlloc_v2(&ptr, bytes);
//   std::string why = cuErrorText(**api, r); // "CUDA_ERROR_X (description)"
//
// The tables are loaded once per process (thread-safe) and never unloaded.
// Member names are the exported (versioned) symbol names, so the table
// bypasses cuda.h's `#define cuMemAlloc cuMemAlloc_v2` style remapping.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_RUNTIME_CUDAAPI_H
#define GAON_CUDA_RUNTIME_CUDAAPI_H

#include "gaon/runtime/status.h"

#include <cublasLt.h>
#include <cuda.h>

#include <string>

#if __has_include(<nvml.h>)
#include <nvml.h>
#define GAON_CUDA_HAVE_NVML_H 1
#endif

namespace gaon::cuda {

// X-lists of (member = exported symbol) names.
#define GAON_CUDA_DRIVER_FUNCTIONS(X)                                          \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDeviceGetPCIBusId)                                                       \
  X(cuDeviceTotalMem_v2)                                                       \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease_v2)                                              \
  X(cuCtxSetCurrent)                                                           \
  X(cuMemAlloc_v2)                                                             \
  X(cuMemFree_v2)                                                              \
  X(cuMemGetInfo_v2)                                                           \
  X(cuMemcpyHtoD_v2)                                                           \
  X(cuMemcpyDtoH_v2)                                                           \
  X(cuMemcpyHtoDAsync_v2)                                                      \
  X(cuMemcpyDtoHAsync_v2)                                                      \
  X(cuMemcpyDtoDAsync_v2)                                                      \
  X(cuMemsetD8_v2)                                                             \
  X(cuMemsetD8Async)                                                           \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuLaunchKernel)                                                            \
  X(cuFuncSetAttribute)                                                        \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy_v2)                                                        \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamBeginCapture_v2)                                                   \
  X(cuStreamEndCapture)                                                        \
  X(cuGraphInstantiateWithFlags)                                               \
  X(cuGraphLaunch)                                                             \
  X(cuGraphExecDestroy)                                                        \
  X(cuGraphDestroy)                                                            \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy_v2)                                                         \
  X(cuEventRecord)                                                             \
  X(cuEventSynchronize)                                                        \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)

#define GAON_CUBLASLT_FUNCTIONS(X)                                             \
  X(cublasLtCreate)                                                            \
  X(cublasLtDestroy)                                                           \
  X(cublasLtGetVersion)                                                        \
  X(cublasLtGetStatusName)                                                     \
  X(cublasLtGetStatusString)                                                   \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatmulDescDestroy)                                                 \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutSetAttribute)                                          \
  X(cublasLtMatrixLayoutDestroy)                                               \
  X(cublasLtMatmulPreferenceCreate)                                            \
  X(cublasLtMatmulPreferenceSetAttribute)                                      \
  X(cublasLtMatmulPreferenceDestroy)                                           \
  X(cublasLtMatmulAlgoGetHeuristic)                                            \
  X(cublasLtMatmulAlgoCapGetAttribute)                                         \
  X(cublasLtMatmulAlgoConfigGetAttribute)                                      \
  X(cublasLtMatmulAlgoConfigSetAttribute)                                      \
  X(cublasLtMatmulAlgoCheck)                                                   \
  X(cublasLtMatmul)

/// The CUDA driver API (libcuda.so.1).
struct CudaDriverApi {
#define GAON_CUDA_MEMBER(name) decltype(&::name) name = nullptr;
  GAON_CUDA_DRIVER_FUNCTIONS(GAON_CUDA_MEMBER)
  /// cuEventElapsedTime_v2 where the driver has it (CUDA >= 12.8), else the
  /// original cuEventElapsedTime: same signature.
  decltype(&::cuEventElapsedTime_v2) cuEventElapsedTime = nullptr;
  int driverVersion = 0; ///< cuDriverGetVersion, e.g. 13000
  void *library = nullptr;
};

/// cuBLASLt (libcublasLt.so.13, else libcublasLt.so).
struct CublasLtApi {
  GAON_CUBLASLT_FUNCTIONS(GAON_CUDA_MEMBER)
#undef GAON_CUDA_MEMBER
  size_t version = 0; ///< cublasLtGetVersion
  std::string path;   ///< the library that was loaded
  void *library = nullptr;
};

/// NVML types: from nvml.h when the toolkit has it, else the few
/// declarations used here, which match nvml.h's ABI (an enum return code,
/// an opaque device pointer).
namespace nvml {
#ifdef GAON_CUDA_HAVE_NVML_H
using Return = nvmlReturn_t;
using Device = nvmlDevice_t;
#else
using Return = int;
struct DeviceSt;
using Device = DeviceSt *;
#endif
inline constexpr int kSuccess = 0;
} // namespace nvml

/// NVML (libnvidia-ml.so.1), used only for energy and power readings.
struct NvmlApi {
  nvml::Return (*nvmlInit_v2)() = nullptr;
  nvml::Return (*nvmlShutdown)() = nullptr;
  nvml::Return (*nvmlDeviceGetHandleByIndex_v2)(unsigned int,
                                                nvml::Device *) = nullptr;
  nvml::Return (*nvmlDeviceGetHandleByPciBusId_v2)(const char *,
                                                   nvml::Device *) = nullptr;
  /// Millijoules since the driver was loaded (Volta and newer).
  nvml::Return (*nvmlDeviceGetTotalEnergyConsumption)(
      nvml::Device, unsigned long long *) = nullptr;
  /// Milliwatts.
  nvml::Return (*nvmlDeviceGetPowerUsage)(nvml::Device,
                                          unsigned int *) = nullptr;
  const char *(*nvmlErrorString)(nvml::Return) = nullptr;
  void *library = nullptr;
};

/// Loads libcuda.so.1 and calls cuInit(0), once per process. Errors are
/// UNAVAILABLE: "cuda: no CUDA driver: libcuda.so.1 not found (dlopen: ...)",
/// "cuda: cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is
/// detected)", or a missing symbol (driver too old).
rt::Result<const CudaDriverApi *> loadCudaDriverApi();

/// Loads cuBLASLt, once per process. Tries $GAON_CUBLASLT_LIBRARY, then
/// libcublasLt.so.13, libcublasLt.so, and the toolkit's lib64 directories
/// ($CUDA_HOME, /usr/local/cuda); the error lists every attempt.
rt::Result<const CublasLtApi *> loadCublasLtApi();

/// Loads NVML and calls nvmlInit_v2, once per process (never shut down).
/// Optional: callers turn energy reporting off when this fails.
rt::Result<const NvmlApi *> loadNvmlApi();

/// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for `result`.
std::string cuErrorText(const CudaDriverApi &api, CUresult result);

/// "CUBLAS_STATUS_NOT_SUPPORTED (...)" for `status`.
std::string cublasErrorText(const CublasLtApi &api, cublasStatus_t status);

/// "NVML error N (text)" for `result`.
std::string nvmlErrorText(const NvmlApi &api, nvml::Return result);

} // namespace gaon::cuda

#endif // GAON_CUDA_RUNTIME_CUDAAPI_H
