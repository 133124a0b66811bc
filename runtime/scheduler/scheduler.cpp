// DeviceScheduler: several tenants on one device, placed on partitions.
#include "gaon/runtime/scheduler.h"

#include <algorithm>

namespace gaon::rt {

DeviceScheduler::DeviceScheduler(std::shared_ptr<Device> device)
    : device_(std::move(device)),
      placed_(device_->properties().partitionCount) {}

std::vector<uint32_t> DeviceScheduler::partitionLoad() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint32_t> load;
  for (const auto &modules : placed_) {
    uint32_t alive = 0;
    for (const auto &module : modules)
      alive += !module.expired();
    load.push_back(alive);
  }
  return load;
}

Result<std::shared_ptr<Module>>
DeviceScheduler::load(std::shared_ptr<const Artifact> artifact,
                      ModuleOptions options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (options.partition < 0) {
    // Least loaded partition by live modules; ties go to the lowest index
    // so that placement is reproducible.
    size_t best = 0, bestLoad = SIZE_MAX;
    for (size_t p = 0; p < placed_.size(); ++p) {
      auto &modules = placed_[p];
      modules.erase(std::remove_if(modules.begin(), modules.end(),
                                   [](const std::weak_ptr<Module> &m) {
                                     return m.expired();
                                   }),
                    modules.end());
      if (modules.size() < bestLoad) {
        bestLoad = modules.size();
        best = p;
      }
    }
    options.partition = static_cast<int32_t>(best);
  }
  GAON_ASSIGN_OR_RETURN(std::unique_ptr<Module> loaded,
                        Module::load(device_, std::move(artifact), options));
  std::shared_ptr<Module> module(std::move(loaded));
  placed_[module->partition()].push_back(module);
  return module;
}

} // namespace gaon::rt
