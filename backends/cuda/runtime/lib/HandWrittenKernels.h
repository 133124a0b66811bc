//===- HandWrittenKernels.h - Loading backends/cuda/kernels' fatbins -*- C++
//-*-===//
//
// The fused attention and split-K GEMM kernels are compiled by nvcc at build
// time and embedded as fatbins (backends/cuda/kernels); a device loads each
// fatbin on first use and looks kernels up by name.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_RUNTIME_HANDWRITTENKERNELS_H
#define GAON_CUDA_RUNTIME_HANDWRITTENKERNELS_H

#include "CudaApi.h"

#include <cstdint>
#include <map>
#include <string>

#ifdef GAON_CUDA_HAVE_KERNELS
#include "gaon/cuda_kernels/Gemm.h"
#endif

namespace gaon::cuda::detail {

struct CudaDevice;

/// One loaded fatbin and the functions looked up in it so far, with the
/// dynamic shared memory each is opted into.
struct KernelModule {
  struct Function {
    CUfunction function = nullptr;
    uint32_t sharedOptIn = 48 * 1024;
  };
  CUmodule module = nullptr;
  std::map<std::string, Function> functions;
};

/// Loads `fatbin` into `kernels` unless already loaded; "" or why not
/// (naming `what`, e.g. "the fused attention kernels").
std::string ensureKernelModule(CudaDevice &device, KernelModule &kernels,
                               const unsigned char *fatbin, const char *what);

/// The kernel `name` of a loaded module, opted into `sharedBytes` of
/// dynamic shared memory (never less than before); fails when the device
/// allows less.
std::string kernelFunction(CudaDevice &device, KernelModule &kernels,
                           const char *name, uint32_t sharedBytes,
                           CUfunction *out);

/// Launches kernel `name` of `kernels` with `params` (a pointer to the
/// kernel's only, by-value argument).
std::string launchKernel(CudaDevice &device, KernelModule &kernels,
                         const char *name, const uint32_t (&grid)[3],
                         const uint32_t (&block)[3], uint32_t sharedBytes,
                         void *params, CUstream stream);

#ifdef GAON_CUDA_HAVE_KERNELS
/// Arrival counters the split-K GEMM can use (one per output tile).
constexpr uint32_t kGemmCounters = 1u << 16;

/// Loads the GEMM fatbin and allocates its zeroed split-K counters; "" or
/// why the GEMM kernels cannot be used (the caller then uses cuBLASLt only).
std::string ensureGemmKernels(CudaDevice &device);

/// Enqueues one GEMM on `stream` with the device's workspace and counters.
std::string launchGemm(CudaDevice &device,
                       const gaon::cuda_kernels::GemmLaunch &launch,
                       gaon::cuda_kernels::GemmParams params, CUstream stream);
#endif

} // namespace gaon::cuda::detail

#endif // GAON_CUDA_RUNTIME_HANDWRITTENKERNELS_H
