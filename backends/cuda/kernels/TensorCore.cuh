//===- TensorCore.cuh - Shared memory, cp.async, ldmatrix, mma.sync -----===//
//
// The warp-level building blocks of the hand-written tensor-core kernels
// (attention.cu, gemm.cu). With GAON_CUDA_EMULATION each inline-PTX piece
// has an emulated twin (test/unittests/cuda_kernels/CudaEmulation.h), so the
// kernels run on the CPU in CI.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_CUDA_KERNELS_TENSORCORE_CUH
#define GAON_CUDA_KERNELS_TENSORCORE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#ifdef GAON_CUDA_EMULATION
#define GAON_DYNAMIC_SHARED(name) unsigned char *name = gaonEmu::sharedMemory()
#else
#define GAON_DYNAMIC_SHARED(name)                                              \
  extern __shared__ __align__(16) unsigned char name[]
#endif

namespace {

__device__ __forceinline__ uint32_t smemAddr(const void *p) {
#ifdef GAON_CUDA_EMULATION
  return gaonEmu::sharedAddress(p);
#else
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
#endif
}

// cp.async with a source size of 0 writes zeros: rows past the sequence end
// and columns past the head dim become 0 (never garbage that could be NaN,
// which 0 * NaN in P.V would spread).
__device__ __forceinline__ void cpAsync16(uint32_t dst, const void *src,
                                          bool valid) {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::cpAsync(dst, src, 16, valid);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst),
               "l"(src), "r"(valid ? 16 : 0)
               : "memory");
#endif
}

__device__ __forceinline__ void cpAsync4(uint32_t dst, const void *src,
                                         bool valid) {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::cpAsync(dst, src, 4, valid);
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst),
               "l"(src), "r"(valid ? 4 : 0)
               : "memory");
#endif
}

__device__ __forceinline__ void cpAsyncCommit() {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::cpAsyncCommit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

/// Waits for every committed group of this thread's copies but the N most
/// recent.
template <int N> __device__ __forceinline__ void cpAsyncWaitGroup() {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::cpAsyncWaitGroup(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

__device__ __forceinline__ void cpAsyncWaitAll() {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::cpAsyncWaitAll();
#else
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], uint32_t addr) {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::ldmatrixX4(r, addr, false);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
#endif
}

__device__ __forceinline__ void ldmatrixX4Trans(uint32_t (&r)[4],
                                                uint32_t addr) {
#ifdef GAON_CUDA_EMULATION
  gaonEmu::ldmatrixX4(r, addr, true);
#else
  asm volatile(
      "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "r"(addr));
#endif
}
/// Per-dtype pieces of the tensor-core kernel.
template <typename T> struct TcType;

template <> struct TcType<__half> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &h, 4); // no type punning through pointers
    return r;
  }
  static __device__ __forceinline__ float toFloat(__half x) {
    return __half2float(x);
  }
  static __device__ __forceinline__ __half zero() {
    return __ushort_as_half(0);
  }
  // D += A * B, 16x8x16, fp32 accumulators.
  static __device__ __forceinline__ void
  mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef GAON_CUDA_EMULATION
    gaonEmu::mma(d, a, b0, b1, false);
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
  }
};

template <> struct TcType<__nv_bfloat16> {
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &h, 4); // no type punning through pointers
    return r;
  }
  static __device__ __forceinline__ float toFloat(__nv_bfloat16 x) {
    return __bfloat162float(x);
  }
  static __device__ __forceinline__ __nv_bfloat16 zero() {
    return __ushort_as_bfloat16(0);
  }
  static __device__ __forceinline__ void
  mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef GAON_CUDA_EMULATION
    gaonEmu::mma(d, a, b0, b1, true);
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
  }
};

} // namespace

#endif // GAON_CUDA_KERNELS_TENSORCORE_CUH
