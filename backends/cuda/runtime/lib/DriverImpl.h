//===- DriverImpl.h - The cuda driver's internal objects --------*- C++ -*-===//
//
// Shared by Driver.cpp (the vtable: devices, buffers, queues, fences) and
// PlanExecutable.cpp (loading a plan and issuing its steps). Everything is in
// gaon::cuda::detail: in-tree drivers share one binary, and global handle
// structs of the same name would violate the one-definition rule.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_RUNTIME_DRIVERIMPL_H
#define GAON_CUDA_RUNTIME_DRIVERIMPL_H

#include "CudaApi.h"
#include "HandWrittenKernels.h"
#include "MatmulAlgos.h"

#include "gaon/cuda_runtime/Driver.h"
#include "gaon/cuda_runtime/Plan.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gaon::cuda::detail {

struct CudaDevice {
  const CudaDriverApi *cu = nullptr;
  int ordinal = 0;
  CUdevice device = 0;
  CUcontext context = nullptr; ///< the primary context (shared with cudart)
  std::string name;
  int ccMajor = 0, ccMinor = 0;
  uint64_t totalMemory = 0;
  int maxSharedOptin = 0; ///< dynamic shared memory a kernel may opt into
  int multiprocessors = 0;
  std::string pciBusId;

  // Options.
  bool graphs = true;
  bool syncSteps = false;
  /// Benchmarking: a captured graph is replayed this many times back to
  /// back per dispatch, so that busy time and NVML energy (coarse) cover a
  /// long stretch of GPU work; counters then hold `replays` forwards.
  uint32_t replays = 1;
  uint64_t workspaceBytes = 32ull << 20;
  uint32_t queuesPerPartition = 4;
  /// Time cuBLASLt's candidates instead of taking its first (MatmulAlgos.h).
  bool matmulTuning = true;
  /// With tuning: also time split-K variants of the candidates that allow
  /// them (MatmulAlgos.h).
  bool matmulSplitK = true;
  /// Print each chosen algorithm (1), and every candidate's time (2), to
  /// stderr (for tuning work).
  uint32_t matmulLog = 0;
  /// With tuning: also time the split-K GEMM kernels (HandWrittenKernels.h)
  /// (1), or time only them where they apply (2, for studying the kernel).
  /// Off by default: on the H100 they are 1.3-2x slower than cuBLASLt
  /// (docs/cuda-gemm-kernel.md).
  uint32_t matmulGaonGemm = 0;

  /// Host <-> device copies and memsets: a non-blocking stream of its own,
  /// synchronized by each call, so that nothing ever uses the legacy default
  /// stream (which would break concurrent stream capture).
  CUstream transferStream = nullptr;
  std::mutex transferMutex;

  // NVML (optional).
  const NvmlApi *nvml = nullptr;
  nvml::Device nvmlDevice = nullptr;
  bool reportsEnergy = false;
  std::string energyWhyNot;

  // Created on first use, under lazyMutex.
  std::mutex lazyMutex;
  const CublasLtApi *lt = nullptr;
  cublasLtHandle_t ltHandle = nullptr;
  CUdeviceptr workspace = 0;
  KernelModule attentionKernels, gemmKernels;
  CUdeviceptr gemmCounters = 0; ///< HandWrittenKernels.h

  /// Chosen cuBLASLt algorithms by problem signature, for all executables.
  std::mutex matmulAlgoMutex;
  std::map<std::string, ChosenMatmulAlgo> matmulAlgos;

  /// Held from the first step to the final synchronize of every dispatch
  /// whose executable uses the (single, per device) cuBLASLt workspace.
  std::mutex workspaceMutex;

  std::mutex statsMutex;
  CudaDeviceStats stats;

  std::string smName() const {
    return "sm_" + std::to_string(ccMajor * 10 + ccMinor);
  }
  /// "NVIDIA H100 80GB HBM3 (sm_90)".
  std::string describe() const { return name + " (" + smName() + ")"; }
};

/// "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
std::string cuFailure(const CudaDevice &device, const char *call,
                      CUresult result);

/// A HAL status code for a CUDA error.
gaon_status_code_t statusForCuda(CUresult result);

/// Makes the device's primary context current on the calling thread.
rt::Status makeCurrent(const CudaDevice &device);

/// Loads cuBLASLt, creates the device's handle and workspace (once).
rt::Status ensureCublasLt(CudaDevice &device);

struct CudaExecutable;

/// Loads a cuda-plan executable: decodes, checks the arch, loads the PTX,
/// resolves kernels, prepares cuBLASLt descriptors and the attention kernel.
/// The caller owns the result: destroyPlanExecutable.
rt::Result<CudaExecutable *>
loadPlanExecutable(CudaDevice &device, const gaon_executable_params_t &params);

void destroyPlanExecutable(CudaExecutable *executable);

/// Checks a dispatch's bindings against the plan (count, lengths); "" when
/// fine.
std::string checkBindings(const CudaExecutable &executable,
                          const std::vector<uint64_t> &lengths);

CudaDevice &executableDevice(const CudaExecutable &executable);

/// Events a queue lends runPlan to time the GPU work; `seconds` accumulates
/// the time between them.
struct RunTiming {
  CUevent start = nullptr, end = nullptr;
  double seconds = 0;
};

/// Runs the plan once on `stream` with binding i at `bases[i]`, eagerly or
/// through a CUDA graph (see docs/cuda-driver.md), and waits for it. ""
/// on success, else what failed, naming the step where it is known.
std::string runPlan(CudaExecutable &executable,
                    const std::vector<CUdeviceptr> &bases, CUstream stream,
                    RunTiming &timing);

} // namespace gaon::cuda::detail

#endif // GAON_CUDA_RUNTIME_DRIVERIMPL_H
