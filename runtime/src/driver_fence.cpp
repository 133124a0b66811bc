// Timeline fences for in-tree drivers (see driver_fence.h).
#include "gaon/runtime/driver_fence.h"

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace gaon::rt::driver {
namespace {

struct TimelineFence {
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t value = 0;
  bool failed = false;
  std::string failure;
};

TimelineFence *impl(gaon_fence_t *h) {
  return reinterpret_cast<TimelineFence *>(h);
}

gaon_status_code_t fail(gaon_status_code_t code, const std::string &message) {
  return gaon_set_error(code, message.c_str());
}

} // namespace

gaon_status_code_t fenceCreate(gaon_device_t *, uint64_t initial,
                               gaon_fence_t **out) {
  if (!out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  auto *fence = new TimelineFence;
  fence->value = initial;
  *out = reinterpret_cast<gaon_fence_t *>(fence);
  return GAON_OK;
}

void fenceDestroy(gaon_fence_t *fence) { delete impl(fence); }

gaon_status_code_t fenceQuery(gaon_fence_t *handle, uint64_t *out) {
  TimelineFence *fence = impl(handle);
  if (!fence || !out)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  std::lock_guard<std::mutex> lock(fence->mutex);
  if (fence->failed)
    return fail(GAON_ABORTED, fence->failure);
  *out = fence->value;
  return GAON_OK;
}

gaon_status_code_t fenceSignal(gaon_fence_t *handle, uint64_t value) {
  TimelineFence *fence = impl(handle);
  if (!fence)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  {
    std::lock_guard<std::mutex> lock(fence->mutex);
    if (value < fence->value)
      return fail(GAON_INVALID_ARGUMENT,
                  "fence values only grow: " + std::to_string(value) + " < " +
                      std::to_string(fence->value));
    fence->value = value;
  }
  fence->changed.notify_all();
  return GAON_OK;
}

gaon_status_code_t fenceWait(gaon_fence_t *handle, uint64_t value,
                             uint64_t timeoutNs) {
  TimelineFence *fence = impl(handle);
  if (!fence)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  std::unique_lock<std::mutex> lock(fence->mutex);
  auto ready = [&] { return fence->failed || fence->value >= value; };
  if (timeoutNs == GAON_TIMEOUT_INFINITE) {
    fence->changed.wait(lock, ready);
  } else if (!fence->changed.wait_for(lock, std::chrono::nanoseconds(timeoutNs),
                                      ready)) {
    return fail(GAON_DEADLINE_EXCEEDED,
                "fence did not reach " + std::to_string(value) + " in time");
  }
  if (fence->failed)
    return fail(GAON_ABORTED, fence->failure);
  return GAON_OK;
}

void reachFencePoint(const gaon_fence_point_t &point,
                     const std::string &failure) {
  TimelineFence *fence = impl(point.fence);
  {
    std::lock_guard<std::mutex> lock(fence->mutex);
    if (!failure.empty()) {
      if (!fence->failed) {
        fence->failed = true;
        fence->failure = failure;
      }
    } else if (point.value > fence->value) {
      fence->value = point.value;
    }
  }
  fence->changed.notify_all();
}

std::string waitFencePoint(const gaon_fence_point_t &point) {
  TimelineFence *fence = impl(point.fence);
  std::unique_lock<std::mutex> lock(fence->mutex);
  fence->changed.wait(
      lock, [&] { return fence->failed || fence->value >= point.value; });
  return fence->failed ? fence->failure : "";
}

} // namespace gaon::rt::driver
