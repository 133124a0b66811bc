/*
 * The "null" driver: the smallest complete Gaon driver, and the template
 * for a new one. It is built against gaon/runtime.h only and loaded by path
 * (gaon-run --driver-lib libgaon_null_driver.so).
 *
 * Memory is host memory; executables are accepted in any format; dispatches
 * do nothing but are counted. Queues run each submission synchronously
 * inside queue_submit (a real driver hands it to hardware or a thread): the
 * host submits in dependency order, so waits are always satisfiable.
 * Counters are nominal (1 cycle and 1 nJ per dispatch) to show how a device
 * reports cycles and energy.
 */
#include "gaon/runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const gaon_host_api_v1_t *host; /* set at registration */

static gaon_status_code_t fail(gaon_status_code_t code, const char *message) {
  return host->set_error(code, message);
}

struct gaon_device {
  uint64_t memory_bytes;
  uint64_t in_use;
  pthread_mutex_t mutex;
};
struct gaon_buffer {
  uint8_t *data;
  uint64_t size;
};
struct gaon_executable {
  uint32_t entry_count;
};
struct gaon_queue {
  gaon_counters_t counters;
  pthread_mutex_t mutex;
};
struct gaon_fence {
  uint64_t value;
  pthread_mutex_t mutex;
  pthread_cond_t changed;
};

/* Devices ---------------------------------------------------------------- */

static gaon_status_code_t device_create(void *self, uint32_t ordinal,
                                        const gaon_device_options_t *options,
                                        gaon_device_t **out) {
  (void)self;
  (void)options;
  if (ordinal != 0)
    return fail(GAON_NOT_FOUND, "null: only device 0 exists");
  gaon_device_t *device = calloc(1, sizeof(*device));
  if (!device)
    return fail(GAON_OUT_OF_MEMORY, "null: no memory for a device");
  device->memory_bytes = 1ull << 30;
  pthread_mutex_init(&device->mutex, NULL);
  *out = device;
  return GAON_OK;
}

static void device_destroy(gaon_device_t *device) {
  pthread_mutex_destroy(&device->mutex);
  free(device);
}

static gaon_status_code_t device_query_properties(
    gaon_device_t *device, gaon_device_properties_t *out) {
  memset(out, 0, sizeof(*out));
  snprintf(out->name, sizeof(out->name), "null");
  out->memory_bytes = device->memory_bytes;
  out->supported_dtypes = GAON_DTYPE_BIT(GAON_DTYPE_F32) |
                          GAON_DTYPE_BIT(GAON_DTYPE_F16) |
                          GAON_DTYPE_BIT(GAON_DTYPE_I64);
  out->partition_count = 1;
  out->max_queues_per_partition = 1;
  out->min_buffer_alignment = 64;
  out->flags = GAON_DEVICE_FLAG_HOST_VISIBLE_MEMORY |
               GAON_DEVICE_FLAG_REPORTS_CYCLES |
               GAON_DEVICE_FLAG_REPORTS_ENERGY;
  return GAON_OK;
}

/* Buffers ---------------------------------------------------------------- */

static gaon_status_code_t buffer_allocate(gaon_device_t *device,
                                          const gaon_buffer_params_t *params,
                                          gaon_buffer_t **out) {
  pthread_mutex_lock(&device->mutex);
  int fits = params->size <= device->memory_bytes - device->in_use;
  if (fits)
    device->in_use += params->size;
  pthread_mutex_unlock(&device->mutex);
  if (!fits)
    return fail(GAON_OUT_OF_MEMORY, "null: out of memory");
  gaon_buffer_t *buffer = calloc(1, sizeof(*buffer));
  uint64_t rounded = (params->size + 63) / 64 * 64;
  buffer->data = rounded ? aligned_alloc(64, rounded) : NULL;
  buffer->size = params->size;
  if (rounded && !buffer->data) {
    free(buffer);
    return fail(GAON_OUT_OF_MEMORY, "null: host allocation failed");
  }
  *out = buffer;
  return GAON_OK;
}

static void buffer_free(gaon_device_t *device, gaon_buffer_t *buffer) {
  pthread_mutex_lock(&device->mutex);
  device->in_use -= buffer->size;
  pthread_mutex_unlock(&device->mutex);
  free(buffer->data);
  free(buffer);
}

static int in_range(const gaon_buffer_t *buffer, uint64_t offset,
                    uint64_t size) {
  return offset <= buffer->size && size <= buffer->size - offset;
}

static gaon_status_code_t buffer_write(gaon_device_t *device,
                                       gaon_buffer_t *buffer, uint64_t offset,
                                       const void *data, uint64_t size) {
  (void)device;
  if (!in_range(buffer, offset, size))
    return fail(GAON_OUT_OF_RANGE, "null: write out of range");
  if (size)
    memcpy(buffer->data + offset, data, size);
  return GAON_OK;
}

static gaon_status_code_t buffer_read(gaon_device_t *device,
                                      gaon_buffer_t *buffer, uint64_t offset,
                                      void *data, uint64_t size) {
  (void)device;
  if (!in_range(buffer, offset, size))
    return fail(GAON_OUT_OF_RANGE, "null: read out of range");
  if (size)
    memcpy(data, buffer->data + offset, size);
  return GAON_OK;
}

/* Executables ------------------------------------------------------------ */

static gaon_status_code_t executable_load(gaon_device_t *device,
                                          const gaon_executable_params_t *params,
                                          gaon_executable_t **out) {
  (void)device;
  gaon_executable_t *executable = calloc(1, sizeof(*executable));
  executable->entry_count = params->entry_count;
  *out = executable;
  return GAON_OK;
}

static void executable_unload(gaon_device_t *device,
                              gaon_executable_t *executable) {
  (void)device;
  free(executable);
}

/* Fences ----------------------------------------------------------------- */

static gaon_status_code_t fence_create(gaon_device_t *device, uint64_t initial,
                                       gaon_fence_t **out) {
  (void)device;
  gaon_fence_t *fence = calloc(1, sizeof(*fence));
  fence->value = initial;
  pthread_mutex_init(&fence->mutex, NULL);
  pthread_cond_init(&fence->changed, NULL);
  *out = fence;
  return GAON_OK;
}

static void fence_destroy(gaon_fence_t *fence) {
  pthread_cond_destroy(&fence->changed);
  pthread_mutex_destroy(&fence->mutex);
  free(fence);
}

static gaon_status_code_t fence_query(gaon_fence_t *fence, uint64_t *out) {
  pthread_mutex_lock(&fence->mutex);
  *out = fence->value;
  pthread_mutex_unlock(&fence->mutex);
  return GAON_OK;
}

static gaon_status_code_t fence_signal(gaon_fence_t *fence, uint64_t value) {
  pthread_mutex_lock(&fence->mutex);
  if (value > fence->value)
    fence->value = value;
  pthread_cond_broadcast(&fence->changed);
  pthread_mutex_unlock(&fence->mutex);
  return GAON_OK;
}

static gaon_status_code_t fence_wait(gaon_fence_t *fence, uint64_t value,
                                     uint64_t timeout_ns) {
  pthread_mutex_lock(&fence->mutex);
  /* A real driver honours timeout_ns with pthread_cond_timedwait. */
  (void)timeout_ns;
  while (fence->value < value)
    pthread_cond_wait(&fence->changed, &fence->mutex);
  pthread_mutex_unlock(&fence->mutex);
  return GAON_OK;
}

/* Queues ----------------------------------------------------------------- */

static gaon_status_code_t queue_create(gaon_device_t *device,
                                       uint32_t partition, gaon_queue_t **out) {
  (void)device;
  if (partition != 0)
    return fail(GAON_OUT_OF_RANGE, "null: only partition 0 exists");
  gaon_queue_t *queue = calloc(1, sizeof(*queue));
  pthread_mutex_init(&queue->mutex, NULL);
  *out = queue;
  return GAON_OK;
}

static void queue_destroy(gaon_queue_t *queue) {
  pthread_mutex_destroy(&queue->mutex);
  free(queue);
}

static gaon_status_code_t queue_submit(gaon_queue_t *queue,
                                       const gaon_submission_t *submission) {
  for (uint32_t i = 0; i < submission->wait_count; ++i)
    fence_wait(submission->waits[i].fence, submission->waits[i].value,
               GAON_TIMEOUT_INFINITE);
  for (uint32_t i = 0; i < submission->dispatch_count; ++i) {
    const gaon_dispatch_t *dispatch = &submission->dispatches[i];
    if (dispatch->entry_index >= dispatch->executable->entry_count)
      return fail(GAON_INVALID_ARGUMENT, "null: no such entry point");
  }
  pthread_mutex_lock(&queue->mutex);
  queue->counters.dispatches += submission->dispatch_count;
  queue->counters.cycles += submission->dispatch_count;
  queue->counters.energy_j += 1e-9 * submission->dispatch_count;
  pthread_mutex_unlock(&queue->mutex);
  for (uint32_t i = 0; i < submission->signal_count; ++i)
    fence_signal(submission->signals[i].fence, submission->signals[i].value);
  return GAON_OK;
}

static gaon_status_code_t queue_query_counters(gaon_queue_t *queue,
                                               gaon_counters_t *out) {
  pthread_mutex_lock(&queue->mutex);
  *out = queue->counters;
  pthread_mutex_unlock(&queue->mutex);
  return GAON_OK;
}

/* Registration ----------------------------------------------------------- */

static const gaon_driver_vtable_v1_t null_vtable = {
    .destroy_driver = NULL,
    .device_create = device_create,
    .device_destroy = device_destroy,
    .device_query_properties = device_query_properties,
    .buffer_allocate = buffer_allocate,
    .buffer_free = buffer_free,
    .buffer_write = buffer_write,
    .buffer_read = buffer_read,
    .buffer_map = NULL,
    .executable_load = executable_load,
    .executable_unload = executable_unload,
    .queue_create = queue_create,
    .queue_destroy = queue_destroy,
    .queue_submit = queue_submit,
    .queue_query_counters = queue_query_counters,
    .fence_create = fence_create,
    .fence_destroy = fence_destroy,
    .fence_query = fence_query,
    .fence_signal = fence_signal,
    .fence_wait = fence_wait,
};

GAON_DRIVER_EXPORT gaon_status_code_t
gaon_driver_register_v1(const gaon_host_api_v1_t *host_api) {
  if (!host_api || host_api->abi_version != GAON_DRIVER_ABI_VERSION)
    return GAON_FAILED_PRECONDITION;
  host = host_api;
  gaon_driver_v1_t driver = {
      .abi_version = GAON_DRIVER_ABI_VERSION,
      .name = "null",
      .description = "example driver that runs nothing",
      .self = NULL,
      .vtable = &null_vtable,
  };
  return host->register_driver(host->context, &driver);
}
