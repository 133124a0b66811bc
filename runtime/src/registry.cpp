// Driver registry: by-name lookup, dlopen() of driver libraries, C API.
#include "gaon/runtime/registry.h"

#include <dlfcn.h>

#include <algorithm>

namespace gaon::rt {

bool driverVtableIsComplete(const gaon_driver_vtable_v1_t &vtable);

namespace {
gaon_status_code_t hostRegisterDriver(void *context,
                                      const gaon_driver_v1_t *driver) {
  auto *registry = static_cast<DriverRegistry *>(context);
  if (!driver)
    return gaon_set_error(GAON_INVALID_ARGUMENT, "driver is null");
  Status status = registry->registerDriver(*driver);
  if (!status.isOk())
    return gaon_set_error(static_cast<gaon_status_code_t>(status.code()),
                          status.message().c_str());
  return GAON_OK;
}
} // namespace

DriverRegistry &DriverRegistry::global() {
  // Leaked on purpose: drivers may be used from static destructors.
  static DriverRegistry *registry = [] {
    auto *created = new DriverRegistry;
    registerBuiltinDrivers(*created);
    return created;
  }();
  return *registry;
}

DriverRegistry::DriverRegistry() {
  hostApi_.abi_version = GAON_DRIVER_ABI_VERSION;
  hostApi_.context = this;
  hostApi_.register_driver = hostRegisterDriver;
  hostApi_.set_error = gaon_set_error;
}

DriverRegistry::~DriverRegistry() {
  for (auto &entry : drivers_)
    if (entry.second->driver.vtable->destroy_driver)
      entry.second->driver.vtable->destroy_driver(entry.second->driver.self);
}

Status DriverRegistry::registerDriver(const gaon_driver_v1_t &driver) {
  if (driver.abi_version != GAON_DRIVER_ABI_VERSION)
    return errorStatus(StatusCode::FailedPrecondition,
                       "driver ABI version " +
                           std::to_string(driver.abi_version) +
                           " is not supported (runtime ABI version " +
                           std::to_string(GAON_DRIVER_ABI_VERSION) + ")");
  if (!driver.name || !*driver.name)
    return errorStatus(StatusCode::InvalidArgument, "driver has no name");
  if (!driver.vtable || !driverVtableIsComplete(*driver.vtable))
    return errorStatus(StatusCode::InvalidArgument,
                       "driver '" + std::string(driver.name) +
                           "' has an incomplete vtable");
  std::lock_guard<std::mutex> lock(mutex_);
  std::string name = driver.name;
  if (drivers_.count(name))
    return errorStatus(StatusCode::InvalidArgument,
                       "a driver named '" + name + "' is already registered");
  auto stored = std::make_unique<RegisteredDriver>();
  stored->name = name;
  stored->description = driver.description ? driver.description : "";
  stored->driver = driver;
  stored->driver.name = stored->name.c_str();
  stored->driver.description = stored->description.c_str();
  drivers_[name] = std::move(stored);
  return Status::ok();
}

Status DriverRegistry::loadLibrary(const std::string &path) {
  // RTLD_LOCAL keeps two drivers' symbols apart.
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *error = dlerror();
    return errorStatus(StatusCode::NotFound,
                       "cannot load driver library '" + path +
                           "': " + (error ? error : "unknown error"));
  }
  auto entry = reinterpret_cast<gaon_driver_register_fn_v1>(
      dlsym(library, GAON_DRIVER_REGISTER_SYMBOL));
  if (!entry) {
    dlclose(library);
    return errorStatus(StatusCode::NotFound, "driver library '" + path +
                                                 "' does not export " +
                                                 GAON_DRIVER_REGISTER_SYMBOL);
  }
  gaon_set_error(GAON_OK, "");
  gaon_status_code_t code = entry(&hostApi_);
  if (code != GAON_OK)
    return Status::fromDriver(code, "driver library '" + path +
                                        "' failed to register");
  std::lock_guard<std::mutex> lock(mutex_);
  libraries_.push_back(library);
  return Status::ok();
}

bool DriverRegistry::contains(const std::string &name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return drivers_.count(name) != 0;
}

std::vector<std::string> DriverRegistry::names() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> result;
  for (const auto &entry : drivers_)
    result.push_back(entry.first);
  return result;
}

std::string DriverRegistry::namesForMessage() const {
  std::vector<std::string> all = names();
  if (all.empty())
    return "(none)";
  std::string text;
  for (const std::string &name : all)
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

Result<std::shared_ptr<Device>>
DriverRegistry::createDevice(const std::string &driverName, uint32_t ordinal,
                             const DeviceOptions &options) {
  gaon_driver_v1_t driver;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = drivers_.find(driverName);
    if (it == drivers_.end())
      return errorStatus(StatusCode::NotFound,
                         "no driver named '" + driverName + "'");
    driver = it->second->driver;
  }
  std::vector<gaon_key_value_t> entries;
  for (const auto &option : options)
    entries.push_back({option.first.c_str(), option.second.c_str()});
  gaon_device_options_t rawOptions = {entries.data(),
                                      static_cast<uint32_t>(entries.size())};
  gaon_device_t *handle = nullptr;
  gaon_set_error(GAON_OK, "");
  GAON_RETURN_IF_ERROR(Status::fromDriver(
      driver.vtable->device_create(driver.self, ordinal, &rawOptions, &handle),
      "creating device " + std::to_string(ordinal) + " of driver '" +
          driverName + "'"));
  return Device::wrap(driver, handle);
}

std::string DriverRegistry::driverNameForTarget(const std::string &target) {
  return target.substr(0, target.find(':'));
}

Result<std::shared_ptr<Device>>
DriverRegistry::createDeviceForTarget(const std::string &target,
                                      const DeviceOptions &options) {
  std::string driverName = driverNameForTarget(target);
  if (!contains(driverName))
    return errorStatus(StatusCode::NotFound,
                       "no driver registered for target '" + target +
                           "' (wanted driver '" + driverName +
                           "'); available drivers: " + namesForMessage() +
                           ". Load one with --driver-lib <path.so>.");
  return createDevice(driverName, 0, options);
}

} // namespace gaon::rt

using gaon::rt::DriverRegistry;

extern "C" gaon_status_code_t gaon_register_driver(const gaon_driver_v1_t *d) {
  if (!d)
    return gaon_set_error(GAON_INVALID_ARGUMENT, "driver is null");
  gaon::rt::Status status = DriverRegistry::global().registerDriver(*d);
  if (!status.isOk())
    return gaon_set_error(static_cast<gaon_status_code_t>(status.code()),
                          status.message().c_str());
  return GAON_OK;
}

extern "C" gaon_status_code_t gaon_load_driver_library(const char *path) {
  if (!path)
    return gaon_set_error(GAON_INVALID_ARGUMENT, "path is null");
  gaon::rt::Status status = DriverRegistry::global().loadLibrary(path);
  if (!status.isOk())
    return gaon_set_error(static_cast<gaon_status_code_t>(status.code()),
                          status.message().c_str());
  return GAON_OK;
}

extern "C" uint32_t gaon_driver_count(void) {
  return static_cast<uint32_t>(DriverRegistry::global().names().size());
}

extern "C" const char *gaon_driver_name(uint32_t index) {
  // Copied per thread: the registry may change between calls.
  static thread_local std::string name;
  std::vector<std::string> names = DriverRegistry::global().names();
  if (index >= names.size())
    return nullptr;
  name = names[index];
  return name.c_str();
}
