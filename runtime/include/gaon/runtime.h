/*
 * Gaon runtime C ABI.
 *
 * This header is the only thing a backend driver needs to see. A driver fills
 * a gaon_driver_vtable_v1_t with its functions and hands it to the host
 * through gaon_host_api_v1_t::register_driver, either from code linked into
 * the runtime or from a shared library that exports gaon_driver_register_v1.
 * Every handle type is opaque to the host: the driver defines the structs.
 *
 * Errors: every fallible call returns a gaon_status_code_t. Before returning
 * an error a driver should call host->set_error(code, message) so that the
 * host can report what went wrong (gaon_last_error_message()).
 *
 * Threading: every driver function may be called from any thread; a driver
 * must make them thread safe. Submissions to one queue execute in order.
 *
 * See docs/runtime.md for the full contract and examples/minimal_driver for
 * a complete driver in ~250 lines of C.
 */
#ifndef GAON_RUNTIME_H
#define GAON_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GAON_DRIVER_ABI_VERSION 1

#if defined(_WIN32)
#define GAON_DRIVER_EXPORT __declspec(dllexport)
#else
#define GAON_DRIVER_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef enum gaon_status_code_t {
  GAON_OK = 0,
  GAON_INVALID_ARGUMENT = 1,    /* caller passed something malformed */
  GAON_NOT_FOUND = 2,           /* no such driver/file/entry */
  GAON_OUT_OF_MEMORY = 3,       /* an allocation did not fit */
  GAON_UNIMPLEMENTED = 4,       /* the driver does not support this */
  GAON_DATA_LOSS = 5,           /* corrupted or truncated data */
  GAON_FAILED_PRECONDITION = 6, /* wrong state, version mismatch */
  GAON_OUT_OF_RANGE = 7,        /* offset/index beyond bounds */
  GAON_DEADLINE_EXCEEDED = 8,   /* a wait timed out */
  GAON_ABORTED = 9,             /* work failed on a queue; fences carry it */
  GAON_INTERNAL = 10,           /* a bug */
  GAON_UNAVAILABLE = 11,        /* device lost or busy */
} gaon_status_code_t;

/* Returns a static, human-readable name for a status code. */
const char *gaon_status_code_string(gaon_status_code_t code);

/* The message recorded by the last failing call on this thread (never NULL;
 * "" when none). Valid until the next runtime call on this thread. */
const char *gaon_last_error_message(void);

/* Records an error for the calling thread and returns `code`. */
gaon_status_code_t gaon_set_error(gaon_status_code_t code, const char *message);

/* ------------------------------------------------------------------------ */
/* Element types: numbered like onnx.TensorProto.DataType so importers and    */
/* .pb readers map them one to one.                                          */
/* ------------------------------------------------------------------------ */

typedef enum gaon_dtype_t {
  GAON_DTYPE_INVALID = 0,
  GAON_DTYPE_F32 = 1,
  GAON_DTYPE_U8 = 2,
  GAON_DTYPE_I8 = 3,
  GAON_DTYPE_U16 = 4,
  GAON_DTYPE_I16 = 5,
  GAON_DTYPE_I32 = 6,
  GAON_DTYPE_I64 = 7,
  GAON_DTYPE_BOOL = 9,
  GAON_DTYPE_F16 = 10,
  GAON_DTYPE_F64 = 11,
  GAON_DTYPE_U32 = 12,
  GAON_DTYPE_U64 = 13,
  GAON_DTYPE_BF16 = 16,
  GAON_DTYPE_F8E4M3FN = 17,
  GAON_DTYPE_F8E5M2 = 19,
} gaon_dtype_t;

/* Bit for a dtype in gaon_device_properties_t::supported_dtypes. */
#define GAON_DTYPE_BIT(dtype) (1ull << (unsigned)(dtype))

/* ------------------------------------------------------------------------ */
/* Opaque handles, defined by each driver                                    */
/* ------------------------------------------------------------------------ */

typedef struct gaon_device gaon_device_t;
typedef struct gaon_buffer gaon_buffer_t;
typedef struct gaon_executable gaon_executable_t;
typedef struct gaon_queue gaon_queue_t;
typedef struct gaon_fence gaon_fence_t;

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */
/* ------------------------------------------------------------------------ */

/* Key/value strings, used for device options and compiler options. */
typedef struct gaon_key_value_t {
  const char *key;
  const char *value;
} gaon_key_value_t;

typedef struct gaon_device_options_t {
  const gaon_key_value_t *entries;
  uint32_t entry_count;
} gaon_device_options_t;

enum gaon_device_flags_t {
  /* Buffers can be mapped into host memory (gaon_buffer_map works). */
  GAON_DEVICE_FLAG_HOST_VISIBLE_MEMORY = 1u << 0,
  /* The device can report cycles (gaon_counters_t::cycles). */
  GAON_DEVICE_FLAG_REPORTS_CYCLES = 1u << 1,
  /* The device can report energy (gaon_counters_t::energy_j). */
  GAON_DEVICE_FLAG_REPORTS_ENERGY = 1u << 2,
};

typedef struct gaon_device_properties_t {
  char name[64];             /* e.g. "host-ref", "H100 80GB", "rngd-sim" */
  uint64_t memory_bytes;     /* total allocatable device memory */
  uint64_t supported_dtypes; /* OR of GAON_DTYPE_BIT(...) */
  uint32_t partition_count;  /* independent partitions, e.g. NPU cores; >=1 */
  uint32_t max_queues_per_partition; /* >=1 */
  uint32_t min_buffer_alignment;     /* power of two, >=1 */
  uint32_t flags;                    /* OR of gaon_device_flags_t */
} gaon_device_properties_t;

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum gaon_memory_type_t {
  GAON_MEMORY_DEVICE = 0, /* device-local */
  GAON_MEMORY_HOST = 1,   /* host memory the device can read/write */
} gaon_memory_type_t;

enum gaon_buffer_usage_t {
  GAON_BUFFER_USAGE_DISPATCH = 1u << 0, /* bound to dispatches */
  GAON_BUFFER_USAGE_TRANSFER = 1u << 1, /* read/written by the host */
  GAON_BUFFER_USAGE_MAPPING = 1u << 2,  /* mapped into host memory */
  GAON_BUFFER_USAGE_CONSTANT = 1u << 3, /* written once (weights) */
};

typedef struct gaon_buffer_params_t {
  uint64_t size;      /* bytes; may be 0 */
  uint64_t alignment; /* power of two; 0 = device minimum */
  gaon_memory_type_t memory_type;
  uint32_t usage; /* OR of gaon_buffer_usage_t */
} gaon_buffer_params_t;

/* ------------------------------------------------------------------------ */
/* Executables and dispatches                                                */
/* ------------------------------------------------------------------------ */

typedef struct gaon_executable_params_t {
  const char *target;  /* e.g. "npu-sim:rngd"; the artifact's target */
  const char *format;  /* e.g. "ptx", "npu-cmd", "host-ref" */
  const uint8_t *data; /* opaque executable bytes */
  uint64_t data_size;
  const char *const *entry_names; /* entry points, by index */
  uint32_t entry_count;
} gaon_executable_params_t;

/* One buffer range bound to a dispatch. */
typedef struct gaon_binding_t {
  gaon_buffer_t *buffer;
  uint64_t offset;
  uint64_t length;
} gaon_binding_t;

typedef struct gaon_dispatch_t {
  gaon_executable_t *executable;
  uint32_t entry_index;
  const gaon_binding_t *bindings;
  uint32_t binding_count;
  const uint8_t *params; /* small constant parameter block */
  uint32_t params_size;
} gaon_dispatch_t;

/* A point on a timeline fence: reached when fence value >= value. */
typedef struct gaon_fence_point_t {
  gaon_fence_t *fence;
  uint64_t value;
} gaon_fence_point_t;

/* Work for one queue: wait for all `waits`, run `dispatches` in order, then
 * set every `signals` fence to its value. If a dispatch fails, the signal
 * fences enter a failed state and waiting on them returns the error. */
typedef struct gaon_submission_t {
  const gaon_fence_point_t *waits;
  uint32_t wait_count;
  const gaon_dispatch_t *dispatches;
  uint32_t dispatch_count;
  const gaon_fence_point_t *signals;
  uint32_t signal_count;
} gaon_submission_t;

/* Cumulative counters of one queue since its creation. */
typedef struct gaon_counters_t {
  uint64_t dispatches; /* dispatches completed */
  uint64_t cycles;     /* device cycles, if REPORTS_CYCLES */
  double energy_j;     /* joules, if REPORTS_ENERGY */
  double busy_s;       /* seconds the queue spent executing */
} gaon_counters_t;

#define GAON_TIMEOUT_INFINITE UINT64_MAX

/* ------------------------------------------------------------------------ */
/* The driver vtable                                                         */
/* ------------------------------------------------------------------------ */

typedef struct gaon_driver_vtable_v1_t {
  /* Called once when the registry is torn down; may be NULL. */
  void (*destroy_driver)(void *driver_self);

  /* Devices. `ordinal` picks one of several identical devices. */
  gaon_status_code_t (*device_create)(void *driver_self, uint32_t ordinal,
                                      const gaon_device_options_t *options,
                                      gaon_device_t **out_device);
  void (*device_destroy)(gaon_device_t *device);
  gaon_status_code_t (*device_query_properties)(
      gaon_device_t *device, gaon_device_properties_t *out_properties);

  /* Buffers. Allocation failure for lack of memory must return
   * GAON_OUT_OF_MEMORY, never abort. */
  gaon_status_code_t (*buffer_allocate)(gaon_device_t *device,
                                        const gaon_buffer_params_t *params,
                                        gaon_buffer_t **out_buffer);
  void (*buffer_free)(gaon_device_t *device, gaon_buffer_t *buffer);
  /* Synchronous host<->buffer copies; the caller orders them with fences. */
  gaon_status_code_t (*buffer_write)(gaon_device_t *device,
                                     gaon_buffer_t *buffer, uint64_t offset,
                                     const void *data, uint64_t size);
  gaon_status_code_t (*buffer_read)(gaon_device_t *device,
                                    gaon_buffer_t *buffer, uint64_t offset,
                                    void *data, uint64_t size);
  /* Optional (may be NULL): host pointer to the buffer's bytes. */
  gaon_status_code_t (*buffer_map)(gaon_device_t *device, gaon_buffer_t *buffer,
                                   void **out_ptr);

  /* Executables. The driver may keep pointers into params->data only for
   * the duration of the call. */
  gaon_status_code_t (*executable_load)(gaon_device_t *device,
                                        const gaon_executable_params_t *params,
                                        gaon_executable_t **out_executable);
  void (*executable_unload)(gaon_device_t *device,
                            gaon_executable_t *executable);

  /* Queues. `partition` < partition_count. */
  gaon_status_code_t (*queue_create)(gaon_device_t *device, uint32_t partition,
                                     gaon_queue_t **out_queue);
  void (*queue_destroy)(gaon_queue_t *queue); /* drains pending work first */
  gaon_status_code_t (*queue_submit)(gaon_queue_t *queue,
                                     const gaon_submission_t *submission);
  gaon_status_code_t (*queue_query_counters)(gaon_queue_t *queue,
                                             gaon_counters_t *out_counters);

  /* Timeline fences: a 64-bit value that only grows. */
  gaon_status_code_t (*fence_create)(gaon_device_t *device,
                                     uint64_t initial_value,
                                     gaon_fence_t **out_fence);
  void (*fence_destroy)(gaon_fence_t *fence);
  gaon_status_code_t (*fence_query)(gaon_fence_t *fence, uint64_t *out_value);
  gaon_status_code_t (*fence_signal)(gaon_fence_t *fence, uint64_t value);
  /* Blocks until value is reached; GAON_DEADLINE_EXCEEDED on timeout,
   * GAON_ABORTED (with a message) if the work that signals it failed. */
  gaon_status_code_t (*fence_wait)(gaon_fence_t *fence, uint64_t value,
                                   uint64_t timeout_ns);
} gaon_driver_vtable_v1_t;

typedef struct gaon_driver_v1_t {
  uint32_t abi_version;    /* GAON_DRIVER_ABI_VERSION */
  const char *name;        /* registry key, e.g. "cuda", "npu-sim" */
  const char *description; /* one line for listings */
  void *self;              /* passed back to device_create etc. */
  const gaon_driver_vtable_v1_t *vtable; /* must outlive the registry */
} gaon_driver_v1_t;

/* What the host gives a driver library when it registers. */
typedef struct gaon_host_api_v1_t {
  uint32_t abi_version; /* GAON_DRIVER_ABI_VERSION */
  void *context;
  gaon_status_code_t (*register_driver)(void *context,
                                        const gaon_driver_v1_t *driver);
  /* Same as gaon_set_error, reachable without linking the runtime. */
  gaon_status_code_t (*set_error)(gaon_status_code_t code, const char *message);
} gaon_host_api_v1_t;

/* A driver shared library exports this symbol (name in
 * GAON_DRIVER_REGISTER_SYMBOL); the host calls it once after dlopen. */
typedef gaon_status_code_t (*gaon_driver_register_fn_v1)(
    const gaon_host_api_v1_t *host);
#define GAON_DRIVER_REGISTER_SYMBOL "gaon_driver_register_v1"

/* ------------------------------------------------------------------------ */
/* Host-side registry (implemented by the runtime library)                   */
/* ------------------------------------------------------------------------ */

/* Registers a driver in the process-wide registry. */
gaon_status_code_t gaon_register_driver(const gaon_driver_v1_t *driver);

/* dlopen()s `path` and calls its gaon_driver_register_v1. */
gaon_status_code_t gaon_load_driver_library(const char *path);

/* Number of registered drivers and the name of one of them. */
uint32_t gaon_driver_count(void);
const char *gaon_driver_name(uint32_t index);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GAON_RUNTIME_H */
