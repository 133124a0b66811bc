//===- CudaDriver.h - Minimal CUDA driver API loader for the kernel tests -===//
//
// The attention test and bench must build and start on machines without a
// GPU (the build machine, CI), so they dlopen libcuda.so.1 instead of
// linking it, resolving only the dozen driver functions they use (types
// from cuda.h). Independent of the runtime's loader on purpose: the kernels
// are tested on their own.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TEST_CUDA_KERNELS_CUDADRIVER_H
#define GAON_TEST_CUDA_KERNELS_CUDADRIVER_H

#include <cuda.h>

#include <dlfcn.h>

#include <cstdio>
#include <string>

namespace gaon::cuda_kernels::test {

// (member, symbols tried in order): versioned names first, as cuda.h maps
// them; the plain name is the fallback for older drivers.
#define GAON_TEST_CUDA_FUNCTIONS(X)                                            \
  X(cuInit, "cuInit", nullptr)                                                 \
  X(cuGetErrorString, "cuGetErrorString", nullptr)                             \
  X(cuDeviceGet, "cuDeviceGet", nullptr)                                       \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr)                     \
  X(cuDeviceGetName, "cuDeviceGetName", nullptr)                               \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr)             \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", nullptr)                               \
  X(cuCtxSynchronize, "cuCtxSynchronize", nullptr)                             \
  X(cuModuleLoadData, "cuModuleLoadData", nullptr)                             \
  X(cuModuleGetFunction, "cuModuleGetFunction", nullptr)                       \
  X(cuFuncSetAttribute, "cuFuncSetAttribute", nullptr)                         \
  X(cuLaunchKernel, "cuLaunchKernel", nullptr)                                 \
  X(cuMemAlloc_v2, "cuMemAlloc_v2", nullptr)                                   \
  X(cuMemFree_v2, "cuMemFree_v2", nullptr)                                     \
  X(cuMemcpyHtoD_v2, "cuMemcpyHtoD_v2", nullptr)                               \
  X(cuMemcpyDtoH_v2, "cuMemcpyDtoH_v2", nullptr)                               \
  X(cuEventCreate, "cuEventCreate", nullptr)                                   \
  X(cuEventRecord, "cuEventRecord", nullptr)                                   \
  X(cuEventSynchronize, "cuEventSynchronize", nullptr)                         \
  X(cuEventElapsedTime_v2, "cuEventElapsedTime_v2", "cuEventElapsedTime")      \
  X(cuEventDestroy_v2, "cuEventDestroy_v2", "cuEventDestroy")

/// The driver functions, a context on device 0, and what went wrong if
/// there is none (`error`, e.g. "libcuda.so.1: cannot open shared object").
struct CudaDriver {
#define GAON_TEST_CUDA_MEMBER(name, sym, alt) decltype(&::name) name = nullptr;
  GAON_TEST_CUDA_FUNCTIONS(GAON_TEST_CUDA_MEMBER)
#undef GAON_TEST_CUDA_MEMBER
  CUdevice device = 0;
  CUcontext context = nullptr;
  int smMajor = 0, smMinor = 0;
  int multiprocessors = 0;
  std::string deviceName;
  std::string error; ///< empty when usable

  bool ok() const { return error.empty(); }

  /// "CUDA_ERROR_... : description" for `r`.
  std::string describe(CUresult r) const {
    const char *s = nullptr;
    if (cuGetErrorString && cuGetErrorString(r, &s) == CUDA_SUCCESS && s)
      return s;
    return "CUresult " + std::to_string(static_cast<int>(r));
  }

  /// Loaded once per process; check ok() before use.
  static CudaDriver &get() {
    static CudaDriver d = load();
    return d;
  }

private:
  static CudaDriver load() {
    CudaDriver d;
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *e = dlerror();
      d.error = e ? e : "dlopen(libcuda.so.1) failed";
      return d;
    }
    auto sym = [&](const char *a, const char *b) -> void * {
      void *p = dlsym(lib, a);
      if (!p && b)
        p = dlsym(lib, b);
      return p;
    };
#define GAON_TEST_CUDA_RESOLVE(name, s, alt)                                   \
  d.name = reinterpret_cast<decltype(&::name)>(sym(s, alt));                   \
  if (!d.name) {                                                               \
    d.error = std::string("libcuda.so.1 lacks ") + s;                          \
    return d;                                                                  \
  }
    GAON_TEST_CUDA_FUNCTIONS(GAON_TEST_CUDA_RESOLVE)
#undef GAON_TEST_CUDA_RESOLVE
    CUresult r = d.cuInit(0);
    if (r == CUDA_SUCCESS)
      r = d.cuDeviceGet(&d.device, 0);
    if (r == CUDA_SUCCESS)
      r = d.cuDevicePrimaryCtxRetain(&d.context, d.device);
    if (r == CUDA_SUCCESS)
      r = d.cuCtxSetCurrent(d.context);
    if (r == CUDA_SUCCESS)
      r = d.cuDeviceGetAttribute(
          &d.smMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d.device);
    if (r == CUDA_SUCCESS)
      r = d.cuDeviceGetAttribute(
          &d.smMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d.device);
    if (r == CUDA_SUCCESS)
      r = d.cuDeviceGetAttribute(&d.multiprocessors,
                                 CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                 d.device);
    char name[256] = {0};
    if (r == CUDA_SUCCESS)
      r = d.cuDeviceGetName(name, sizeof(name) - 1, d.device);
    if (r != CUDA_SUCCESS) {
      d.error = "no usable CUDA device: " + d.describe(r);
      return d;
    }
    d.deviceName = name;
    return d;
  }
};

} // namespace gaon::cuda_kernels::test

#endif // GAON_TEST_CUDA_KERNELS_CUDADRIVER_H
