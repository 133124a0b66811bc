//===- Driver.h - The "cuda" runtime driver ---------------------*- C++ -*-===//
//
// A HAL driver (gaon/runtime.h) that runs "cuda-plan" executables (Plan.h)
// on NVIDIA GPUs through the CUDA driver API and cuBLASLt, both loaded with
// dlopen at run time (no link-time dependency: binaries with this driver
// start on machines without a GPU, and device creation there fails with
// UNAVAILABLE and the reason). Registered as "cuda"; artifact targets "cuda"
// and "cuda:sm_XX". See docs/cuda-driver.md.
//
// Device options:
//   graphs=0|1          capture each (executable, pointer set) into a CUDA
//                       graph on its second run and replay it (default 1)
//   workspace_mb=N      cuBLASLt workspace per device, MiB (default 32)
//   sync_steps=0|1      synchronize and check after every step, naming the
//                       step that failed asynchronously; implies graphs=0
//                       (debugging; default 0)
//   queues_per_partition=N   (default 4)
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_RUNTIME_DRIVER_H
#define GAON_CUDA_RUNTIME_DRIVER_H

#include "gaon/runtime.h"
#include "gaon/runtime/hal.h"
#include "gaon/runtime/registry.h"
#include "gaon/runtime/status.h"

#include <cstdint>
#include <string>

namespace gaon::cuda {

inline constexpr const char *kCudaDriverName = "cuda";

/// The driver (name "cuda"); its vtable lives for the whole process.
const gaon_driver_v1_t *cudaDriver();

/// Registers the driver in `registry`; OK when it is already registered.
rt::Status
registerCudaDriver(rt::DriverRegistry &registry = rt::DriverRegistry::global());

/// OK when the CUDA driver loads and sees at least one GPU; otherwise the
/// reason (UNAVAILABLE), the same text device creation would give. For
/// tests that skip without a GPU.
rt::Status cudaAvailable();

/// Cumulative counts of one cuda device (all queues and executables).
struct CudaDeviceStats {
  uint64_t eagerRuns = 0;     ///< dispatches whose steps were issued one by one
  uint64_t graphCaptures = 0; ///< CUDA graphs captured and instantiated
  uint64_t graphLaunches = 0; ///< dispatches replayed from a graph
  uint64_t graphFallbacks = 0; ///< captures that failed (ran eagerly instead)
  uint64_t failedRuns = 0;     ///< dispatches that failed
  uint64_t matmulAlgoSelections = 0; ///< cuBLASLt heuristic queries
  uint64_t matmulAlgosTimed = 0;     ///< candidates timed (matmul_tuning=1)
  /// Distinct matmul problems whose chosen algorithm splits K.
  uint64_t matmulSplitKChosen = 0;
  /// Distinct matmul problems that run Gaon's GEMM kernel, not cuBLASLt.
  uint64_t matmulGaonGemmChosen = 0;
  int computeMajor = 0, computeMinor = 0;
  bool reportsEnergy = false;
  std::string energyUnavailableReason; ///< why not, when !reportsEnergy
};

/// True and fills `stats` when `device` is a cuda device.
bool cudaDeviceStats(const rt::Device &device, CudaDeviceStats *stats);

} // namespace gaon::cuda

#endif // GAON_CUDA_RUNTIME_DRIVER_H
