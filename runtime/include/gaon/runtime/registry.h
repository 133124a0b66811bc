// The process-wide driver registry: drivers register by name, either built in
// (host-ref) or loaded from a shared library by path.
#ifndef GAON_RUNTIME_REGISTRY_H
#define GAON_RUNTIME_REGISTRY_H

#include "gaon/runtime.h"
#include "gaon/runtime/hal.h"
#include "gaon/runtime/status.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gaon::rt {

using DeviceOptions = std::map<std::string, std::string>;

class DriverRegistry {
public:
  // The registry used by the C API and gaon-run; built-in drivers are
  // registered on first use.
  static DriverRegistry &global();

  DriverRegistry();
  ~DriverRegistry();
  DriverRegistry(const DriverRegistry &) = delete;
  DriverRegistry &operator=(const DriverRegistry &) = delete;

  // Fails with AlreadyExists-style InvalidArgument if the name is taken.
  Status registerDriver(const gaon_driver_v1_t &driver);
  // dlopen()s `path` and calls its gaon_driver_register_v1 entry point.
  Status loadLibrary(const std::string &path);

  bool contains(const std::string &name) const;
  std::vector<std::string> names() const;
  // "a, b, c" or "(none)".
  std::string namesForMessage() const;

  Result<std::shared_ptr<Device>>
  createDevice(const std::string &driverName, uint32_t ordinal = 0,
               const DeviceOptions &options = {});
  // Creates a device for an artifact target such as "npu-sim:rngd" (driver
  // "npu-sim"). Names the target and the available drivers when none fits.
  Result<std::shared_ptr<Device>>
  createDeviceForTarget(const std::string &target,
                        const DeviceOptions &options = {});

  // "npu-sim:rngd" -> "npu-sim"; "host-ref" -> "host-ref".
  static std::string driverNameForTarget(const std::string &target);

private:
  // Owns copies of the driver's strings: a name may live on the stack of
  // the registering code.
  struct RegisteredDriver {
    gaon_driver_v1_t driver;
    std::string name, description;
  };
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<RegisteredDriver>> drivers_;
  std::vector<void *> libraries_; // never dlclose()d: vtables live there
  // Handed to driver libraries, which may keep the pointer (to call
  // set_error later): it lives as long as the registry.
  gaon_host_api_v1_t hostApi_ = {};
};

// Registers the built-in drivers (host-ref) into `registry`.
void registerBuiltinDrivers(DriverRegistry &registry);

} // namespace gaon::rt

#endif // GAON_RUNTIME_REGISTRY_H
