// Loading artifacts onto devices and running them.
//
// A Module is one artifact loaded on one device (a tenant): it owns its
// weights buffer, its arena, its executable and its queues. Running it turns
// the program's dispatches into a dependency DAG: explicit dependencies plus
// the hazards implied by overlapping arena ranges (read-after-write,
// write-after-read, write-after-write), so results never depend on how the
// queues interleave. Independent dispatches spread over the module's queues;
// a dependency across queues becomes a wait on the producer queue's timeline
// fence.
//
// A DeviceScheduler shares one device among several modules and places each
// on a partition (an NPU core): the least loaded one, deterministically.
#ifndef GAON_RUNTIME_SCHEDULER_H
#define GAON_RUNTIME_SCHEDULER_H

#include "gaon/runtime/artifact.h"
#include "gaon/runtime/hal.h"
#include "gaon/runtime/tensor_io.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gaon::rt {

struct ModuleOptions {
  // Program to run; empty: the artifact's own target.
  std::string target;
  // Partition to run on; -1: chosen by the DeviceScheduler (or 0).
  int32_t partition = -1;
  // Queues used to overlap independent dispatches (clamped to the device's
  // queues per partition).
  uint32_t queueCount = 2;
};

struct RunStats {
  double wallSeconds = 0;
  Counters counters; // summed over the module's queues, for this run only
};

class Module {
public:
  ~Module();
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;

  static Result<std::unique_ptr<Module>>
  load(std::shared_ptr<Device> device, std::shared_ptr<const Artifact> artifact,
       const ModuleOptions &options = {});

  const ModelDesc &model() const { return artifact_->model(); }
  const ProgramDesc &program() const { return *program_; }
  uint32_t partition() const { return partition_; }
  uint32_t queueCount() const { return static_cast<uint32_t>(queues_.size()); }
  // Queue chosen for each dispatch, and each dispatch's full dependency list
  // (explicit + hazards); exposed for tests and tools.
  const std::vector<uint32_t> &dispatchQueues() const { return queueOf_; }
  const std::vector<std::vector<uint32_t>> &dispatchDependencies() const {
    return dependencies_;
  }
  uint64_t deviceBytes() const;

  // Checks names, dtypes and shapes of `inputs` against the graph inputs
  // (in any order, matched by name).
  Status checkInputs(const std::vector<HostTensor> &inputs) const;
  // Runs the program once; calls on one module are serialized.
  Result<std::vector<HostTensor>> run(const std::vector<HostTensor> &inputs,
                                      RunStats *stats = nullptr);

private:
  Module() = default;
  Status prepare(const ModuleOptions &options);
  Status buildSchedule();
  Status resetQueues();
  Result<Counters> sumCounters() const;

  struct ResolvedBinding {
    Buffer *buffer;
    uint64_t offset, length;
    Access access;
  };

  std::shared_ptr<Device> device_;
  std::shared_ptr<const Artifact> artifact_;
  const ProgramDesc *program_ = nullptr;
  uint32_t partition_ = 0;
  uint32_t queueCount_ = 1;
  std::unique_ptr<Buffer> weights_, arena_;
  std::unique_ptr<Executable> executable_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::unique_ptr<Fence>> fences_; // one timeline per queue
  std::vector<uint64_t> fenceValues_;          // last value signalled
  std::vector<std::vector<ResolvedBinding>> bindings_;
  std::vector<std::vector<gaon_binding_t>> rawBindings_;
  std::vector<std::vector<uint32_t>> dependencies_;
  std::vector<uint32_t> queueOf_;
  std::mutex runMutex_;
};

class DeviceScheduler {
public:
  explicit DeviceScheduler(std::shared_ptr<Device> device);

  const std::shared_ptr<Device> &device() const { return device_; }
  // Loads a tenant, placing it on the least loaded partition unless
  // options.partition says otherwise.
  Result<std::shared_ptr<Module>> load(std::shared_ptr<const Artifact> artifact,
                                       ModuleOptions options = {});
  // Modules currently placed on each partition.
  std::vector<uint32_t> partitionLoad() const;

private:
  std::shared_ptr<Device> device_;
  mutable std::mutex mutex_;
  std::vector<std::vector<std::weak_ptr<Module>>> placed_;
};

} // namespace gaon::rt

#endif // GAON_RUNTIME_SCHEDULER_H
