// Timeline fences for in-tree drivers.
//
// Every in-process driver (host-ref, npu-sim, cuda) completes its work on
// host threads and needs the same fence: a value that only grows, a sticky
// failure that waiters receive, and a condition variable. The vtable entries
// below plug straight into gaon_driver_vtable_v1_t; the queue side signals
// and waits on fence points with reachFencePoint / waitFencePoint.
#ifndef GAON_RUNTIME_DRIVER_FENCE_H
#define GAON_RUNTIME_DRIVER_FENCE_H

#include "gaon/runtime.h"

#include <cstdint>
#include <string>

namespace gaon::rt::driver {

gaon_status_code_t fenceCreate(gaon_device_t *device, uint64_t initial,
                               gaon_fence_t **out);
void fenceDestroy(gaon_fence_t *fence);
gaon_status_code_t fenceQuery(gaon_fence_t *fence, uint64_t *out);
gaon_status_code_t fenceSignal(gaon_fence_t *fence, uint64_t value);
gaon_status_code_t fenceWait(gaon_fence_t *fence, uint64_t value,
                             uint64_t timeoutNs);

/// Raises the fence to point.value, or with a non-empty `failure` puts it in
/// the failed state (the first failure sticks).
void reachFencePoint(const gaon_fence_point_t &point,
                     const std::string &failure);
/// Blocks until the point is reached; returns the fence's failure text if it
/// failed, "" otherwise.
std::string waitFencePoint(const gaon_fence_point_t &point);

} // namespace gaon::rt::driver

#endif // GAON_RUNTIME_DRIVER_FENCE_H
