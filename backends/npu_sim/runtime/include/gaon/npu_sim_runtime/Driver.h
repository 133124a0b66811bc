//===- Driver.h - The npu-sim runtime driver ---------------------*- C++
//-*-===//
//
// A HAL driver (gaon/runtime.h) that runs npu-sim executables
// (Executable.h) on the NPU simulator. Registered as "npu-sim"; artifact
// targets "npu-sim" and "npu-sim:<preset>". See docs/npu-sim-driver.md.
//
// Device options:
//   chip=<preset|path.json>   chip to simulate (default: from `target`, else
//                             rngd)
//   target=npu-sim[:<preset>] the artifact target; picks the chip
//   timing-only=0|1           skip arithmetic and data movement (default 0)
//   trace=<path.json>         write the Perfetto trace of every run there
//   memory_bytes=N            allocatable bytes (default and max: chip DRAM)
//   queues_per_partition=N    (default 4)
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_SIM_RUNTIME_DRIVER_H
#define GAON_NPU_SIM_RUNTIME_DRIVER_H

#include "gaon/runtime.h"
#include "gaon/runtime/hal.h"
#include "gaon/runtime/registry.h"
#include "gaon/runtime/status.h"

#include <cstdint>
#include <string>

namespace gaon::npu_sim_runtime {

/// The driver (name "npu-sim"); its vtable lives for the whole process.
const gaon_driver_v1_t *npuSimDriver();

/// Registers the driver in `registry`; OK when it is already registered.
rt::Status registerNpuSimDriver(
    rt::DriverRegistry &registry = rt::DriverRegistry::global());

/// For an artifact target "npu-sim:<preset>", adds target=<target> to
/// `options` unless they already name a chip or target, so that the device
/// simulates the chip the artifact was compiled for. Other targets: no-op.
void addTargetDeviceOptions(const std::string &target,
                            rt::DeviceOptions &options);

/// Cumulative counts of one npu-sim device (all queues and executables).
struct NpuSimDeviceStats {
  uint64_t runs = 0;             ///< dispatches run (each = whole stream)
  uint64_t failedRuns = 0;       ///< runs that raised a simulator error
  uint64_t bindingsCopiedIn = 0; ///< Read/ReadWrite bindings copied to DRAM
  uint64_t bindingsSkipped = 0;  ///< ... skipped: unchanged since last copy
  uint64_t bytesCopiedIn = 0;
  uint64_t bytesSkipped = 0;
  uint64_t bytesCopiedOut = 0; ///< Write/ReadWrite bindings copied back
  uint64_t tracesWritten = 0;
};

/// True and fills `stats` when `device` is an npu-sim device.
bool npuSimDeviceStats(const rt::Device &device, NpuSimDeviceStats *stats);

/// The last run's report on an npu-sim device as a JSON object (the
/// simulator's reportToJson plus a "driver" object with this run's copy
/// counts, mode and trace path); "" when `device` is not an npu-sim device
/// or nothing ran yet.
std::string npuSimLastReportJson(const rt::Device &device);

/// Name of the chip an npu-sim device simulates ("" for other devices).
std::string npuSimChipName(const rt::Device &device);

} // namespace gaon::npu_sim_runtime

#endif // GAON_NPU_SIM_RUNTIME_DRIVER_H
