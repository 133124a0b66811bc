// Drivers compiled into the runtime library.
#include "gaon/runtime/registry.h"

#include "../drivers/host-ref/host_ref_driver.h"

namespace gaon::rt {

void registerBuiltinDrivers(DriverRegistry &registry) {
  (void)registry.registerDriver(*gaonHostRefDriver());
}

} // namespace gaon::rt
