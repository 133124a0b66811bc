//===- cuda_probe_util.cuh - Shared pieces of the GPU probes -------------===//
//
// Included by bench/cuda_gemm_probe.cu and bench/cuda_attention_probe.cu
// (built with nvcc on the GPU machine): a CUDA runtime call check and the
// %globaltimer / %smid reads their traced builds stamp.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_BENCH_CUDA_PROBE_UTIL_CUH
#define GAON_BENCH_CUDA_PROBE_UTIL_CUH

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

/// Exits with the call, its place and CUDA's message when it fails.
#define CHECK(x)                                                               \
  do {                                                                         \
    cudaError_t e = (x);                                                       \
    if (e != cudaSuccess) {                                                    \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x,                \
              cudaGetErrorString(e));                                          \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/// Nanoseconds, comparable across SMs.
__device__ __forceinline__ unsigned long long globalTimer() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ unsigned smId() {
  unsigned r;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(r));
  return r;
}

#endif // GAON_BENCH_CUDA_PROBE_UTIL_CUH
