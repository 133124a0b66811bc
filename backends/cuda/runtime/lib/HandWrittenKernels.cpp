//===- HandWrittenKernels.cpp - Loading backends/cuda/kernels' fatbins ----===//

#include "HandWrittenKernels.h"

#include "DriverImpl.h"

#include <algorithm>

namespace gaon::cuda::detail {

std::string ensureKernelModule(CudaDevice &device, KernelModule &kernels,
                               const unsigned char *fatbin, const char *what) {
  std::lock_guard<std::mutex> lock(device.lazyMutex);
  if (kernels.module)
    return "";
  CUresult r = device.cu->cuModuleLoadDataEx(&kernels.module, fatbin, 0,
                                             nullptr, nullptr);
  if (r != CUDA_SUCCESS) {
    kernels.module = nullptr;
    return std::string("loading ") + what + " on " + device.describe() + ": " +
           cuFailure(device, "cuModuleLoadDataEx", r);
  }
  return "";
}

std::string kernelFunction(CudaDevice &device, KernelModule &kernels,
                           const char *name, uint32_t sharedBytes,
                           CUfunction *out) {
  std::lock_guard<std::mutex> lock(device.lazyMutex);
  if (static_cast<int64_t>(sharedBytes) >
      std::max<int64_t>(device.maxSharedOptin, 48 * 1024))
    return "kernel '" + std::string(name) + "' wants " +
           std::to_string(sharedBytes) + " bytes of shared memory; " +
           device.describe() + " allows " +
           std::to_string(device.maxSharedOptin);
  auto it = kernels.functions.find(name);
  if (it == kernels.functions.end()) {
    CUfunction function = nullptr;
    CUresult r =
        device.cu->cuModuleGetFunction(&function, kernels.module, name);
    if (r != CUDA_SUCCESS)
      return "the fatbin has no kernel '" + std::string(name) +
             "': " + cuFailure(device, "cuModuleGetFunction", r);
    it =
        kernels.functions.emplace(name, KernelModule::Function{function}).first;
  }
  // Opt in to what the launches need, not the device's maximum: the
  // carveout then stays as small as the kernel allows (on the H100 this
  // measured 3% faster for the GEMM kernels, no change for attention).
  KernelModule::Function &f = it->second;
  if (sharedBytes > f.sharedOptIn) {
    CUresult r = device.cu->cuFuncSetAttribute(
        f.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
        static_cast<int>(sharedBytes));
    if (r != CUDA_SUCCESS)
      return cuFailure(device, "cuFuncSetAttribute", r);
    f.sharedOptIn = sharedBytes;
  }
  *out = f.function;
  return "";
}

std::string launchKernel(CudaDevice &device, KernelModule &kernels,
                         const char *name, const uint32_t (&grid)[3],
                         const uint32_t (&block)[3], uint32_t sharedBytes,
                         void *params, CUstream stream) {
  CUfunction function = nullptr;
  if (std::string error =
          kernelFunction(device, kernels, name, sharedBytes, &function);
      !error.empty())
    return error;
  void *kernelParams[] = {params};
  CUresult r = device.cu->cuLaunchKernel(
      function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
      sharedBytes, stream, kernelParams, nullptr);
  return r == CUDA_SUCCESS ? "" : cuFailure(device, "cuLaunchKernel", r);
}

#ifdef GAON_CUDA_HAVE_KERNELS
std::string ensureGemmKernels(CudaDevice &device) {
  if (std::string error = ensureKernelModule(device, device.gemmKernels,
                                             gaon::cuda_kernels::gemmFatbin(),
                                             "the split-K GEMM kernels");
      !error.empty())
    return error;
  std::lock_guard<std::mutex> lock(device.lazyMutex);
  if (device.gemmCounters)
    return "";
  const size_t bytes = kGemmCounters * sizeof(int32_t);
  CUresult r = device.cu->cuMemAlloc_v2(&device.gemmCounters, bytes);
  if (r == CUDA_SUCCESS)
    r = device.cu->cuMemsetD8_v2(device.gemmCounters, 0, bytes);
  if (r != CUDA_SUCCESS) {
    if (device.gemmCounters)
      device.cu->cuMemFree_v2(device.gemmCounters);
    device.gemmCounters = 0;
    return cuFailure(device, "allocating the split-K GEMM counters", r);
  }
  return "";
}

std::string launchGemm(CudaDevice &device,
                       const gaon::cuda_kernels::GemmLaunch &launch,
                       gaon::cuda_kernels::GemmParams params, CUstream stream) {
  if (launch.workspaceBytes > device.workspaceBytes ||
      launch.counters > kGemmCounters)
    return "the GEMM needs " + std::to_string(launch.workspaceBytes) +
           " bytes of workspace and " + std::to_string(launch.counters) +
           " counters";
  params.workspace = device.workspace;
  params.counters = device.gemmCounters;
  return launchKernel(device, device.gemmKernels, launch.kernel, launch.grid,
                      launch.block, launch.sharedBytes, &params, stream);
}
#endif

} // namespace gaon::cuda::detail
