// The built-in reference CPU driver (registered as "host-ref").
#ifndef GAON_RUNTIME_DRIVERS_HOST_REF_DRIVER_H
#define GAON_RUNTIME_DRIVERS_HOST_REF_DRIVER_H

#include "gaon/runtime.h"

const gaon_driver_v1_t *gaonHostRefDriver();

#endif
