//===- CudaEmulation.h - Runs the attention kernels on the CPU ------------===//
//
// Enough of CUDA, emulated on the host, to execute attention.cu's kernels
// unchanged (compiled by the host compiler with GAON_CUDA_EMULATION): every
// CUDA thread of a CTA is a fiber (ucontext) on one OS thread, scheduled
// cooperatively at barriers, so __syncthreads, __syncwarp, shuffles and the
// warp-collective PTX the kernels use (ldmatrix, mma.sync m16n8k16,
// cp.async) behave as on the GPU. The collectives are written from the PTX
// ISA's fragment layouts, independently of how the kernels use them, so the
// kernels' index arithmetic, masking, tiling and synchronization are tested
// on any machine (CI has no GPU). Not emulated: timing, the memory model
// beyond "cp.async data lands somewhere between issue and wait".
//
// Checks, reported as errors of the launch: misaligned or out-of-range
// shared-memory addresses for ldmatrix/cp.async, cp.async still in flight
// at thread exit, barrier deadlocks. Shared memory starts as 0xff bytes
// (NaN in every element type), so reading what was never written shows up.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TEST_CUDA_KERNELS_CUDAEMULATION_H
#define GAON_TEST_CUDA_KERNELS_CUDAEMULATION_H

#include "gaon/cuda_kernels/Attention.h"
#include "gaon/cuda_kernels/Gemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#define __launch_bounds__(...)

struct GaonEmuDim3 {
  unsigned x = 0, y = 0, z = 0;
};
// The running fiber's built-in variables (set by the scheduler on resume).
inline GaonEmuDim3 threadIdx, blockIdx, blockDim, gridDim;

inline int min(int a, int b) { return a < b ? a : b; }

inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

namespace gaonEmu {

struct Barrier {
  int expected = 0, count = 0;
  unsigned generation = 0;
};

struct Copy {
  uint32_t dst;
  const void *src;
  int bytes;
  bool valid;
  uint32_t group; ///< commit group (cp.async.commit_group count when issued)
};

struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  bool done = false;
  Barrier *waitingOn = nullptr;
  unsigned waitGeneration = 0;
  std::vector<Copy> inFlight;
  uint32_t copies = 0;
  uint32_t committed = 0; ///< cp.async.commit_group calls so far
};

/// Per-lane exchange slot of a warp collective.
struct Slot {
  uint32_t u[6];
  float f;
};

constexpr size_t kStackBytes = 256 * 1024;

struct Cta {
  std::vector<unsigned char> shared;
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<Slot> slots; ///< 32 per warp
  std::vector<Fiber> fibers;
  ucontext_t scheduler;
  int current = 0;
  std::string error;
};

inline Cta *gCta = nullptr;
/// What every thread runs: the kernel applied to its parameters.
inline std::function<void()> gBody;

inline void fail(const std::string &what) {
  if (gCta->error.empty())
    gCta->error = what + " (block " + std::to_string(blockIdx.x) + "," +
                  std::to_string(blockIdx.y) + "," +
                  std::to_string(blockIdx.z) + " thread " +
                  std::to_string(gCta->current) + ")";
}

inline Fiber &self() { return gCta->fibers[gCta->current]; }

/// Arrive at `b` and wait until all its threads have.
inline void wait(Barrier &b) {
  const unsigned gen = b.generation;
  if (++b.count == b.expected) {
    b.count = 0;
    ++b.generation;
    return;
  }
  Fiber &f = self();
  f.waitingOn = &b;
  f.waitGeneration = gen;
  swapcontext(&f.context, &gCta->scheduler);
}

inline unsigned char *sharedMemory() { return gCta->shared.data(); }

inline uint32_t sharedAddress(const void *p) {
  const auto *c = static_cast<const unsigned char *>(p);
  if (c < gCta->shared.data() || c > gCta->shared.data() + gCta->shared.size())
    fail("generic address outside shared memory");
  return static_cast<uint32_t>(c - gCta->shared.data());
}

inline bool checkShared(uint32_t addr, uint32_t bytes, uint32_t align,
                        const char *what) {
  if (addr % align != 0 || size_t(addr) + bytes > gCta->shared.size()) {
    fail(std::string(what) + ": shared address " + std::to_string(addr) +
         (addr % align ? " misaligned" : " out of range"));
    return false;
  }
  return true;
}

inline void land(const Copy &c) {
  unsigned char *dst = gCta->shared.data() + c.dst;
  if (c.valid)
    std::memcpy(dst, c.src, c.bytes);
  else
    std::memset(dst, 0, c.bytes);
}

/// cp.async: lands now or at the wait (alternating by a hash), since the
/// hardware may do either.
inline void cpAsync(uint32_t dst, const void *src, int bytes, bool valid) {
  if (!checkShared(dst, bytes, bytes, "cp.async"))
    return;
  if (valid && reinterpret_cast<uintptr_t>(src) % bytes != 0) {
    fail("cp.async: misaligned global address");
    return;
  }
  Fiber &f = self();
  const Copy c{dst, src, bytes, valid, f.committed};
  if (((f.copies++ + gCta->current) * 2654435761u) & 0x100u)
    land(c);
  else
    f.inFlight.push_back(c);
}

inline void cpAsyncWaitAll() {
  Fiber &f = self();
  for (const Copy &c : f.inFlight)
    land(c);
  f.inFlight.clear();
}

inline void cpAsyncCommit() { ++self().committed; }

/// cp.async.wait_group n: every committed group but the n most recent has
/// landed; younger (and uncommitted) copies may still be in flight.
inline void cpAsyncWaitGroup(uint32_t n) {
  Fiber &f = self();
  std::vector<Copy> pending;
  for (const Copy &c : f.inFlight) {
    if (c.group + n < f.committed)
      land(c);
    else
      pending.push_back(c);
  }
  f.inFlight.swap(pending);
}

inline Slot *warpSlots() { return &gCta->slots[(gCta->current / 32) * 32]; }
inline int lane() { return gCta->current % 32; }
inline void syncWarp() { wait(gCta->warps[gCta->current / 32]); }

inline float shflXor(float v, int mask) {
  Slot *s = warpSlots();
  s[lane()].f = v;
  syncWarp();
  const float r = s[lane() ^ mask].f;
  syncWarp();
  return r;
}

inline uint16_t shared16(uint32_t addr) {
  uint16_t v = 0;
  if (checkShared(addr, 2, 2, "ldmatrix"))
    std::memcpy(&v, gCta->shared.data() + addr, 2);
  return v;
}

/// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8i..8i+7 give
/// the row addresses of matrix i; without .trans lane l receives row l/4,
/// columns 2(l%4), 2(l%4)+1 of each matrix, with .trans row 2(l%4) and
/// 2(l%4)+1 of column l/4 (lower column / row in the low half).
inline void ldmatrixX4(uint32_t (&r)[4], uint32_t addr, bool trans) {
  Slot *s = warpSlots();
  const int l = lane();
  s[l].u[0] = addr;
  syncWarp();
  for (int i = 0; i < 4; ++i) {
    for (int row = 0; row < 8; ++row)
      checkShared(s[8 * i + row].u[0], 16, 16, "ldmatrix row");
    uint32_t lo, hi;
    if (!trans) {
      const uint32_t a = s[8 * i + l / 4].u[0] + 4 * (l % 4);
      lo = shared16(a);
      hi = shared16(a + 2);
    } else {
      lo = shared16(s[8 * i + 2 * (l % 4)].u[0] + 2 * (l / 4));
      hi = shared16(s[8 * i + 2 * (l % 4) + 1].u[0] + 2 * (l / 4));
    }
    r[i] = lo | (hi << 16);
  }
  syncWarp();
}

inline float toFloat(uint16_t bits, bool bf16) {
  if (bf16) {
    const uint32_t x = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
  __half h = __ushort_as_half(bits);
  return __half2float(h);
}

/// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D = A B + C with the
/// PTX fragment layouts (g = lane / 4, t = lane % 4):
///   A 16x16: reg j holds rows g + 8 (j % 2), columns 2t + 8 (j / 2) + {0,1}
///   B 16x8:  reg j holds rows 2t + 8 j + {0,1}, column g
///   C/D:     element e is row g + 8 (e / 2), column 2t + e % 2
inline void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                bool bf16) {
  Slot *s = warpSlots();
  const int l = lane();
  for (int j = 0; j < 4; ++j)
    s[l].u[j] = a[j];
  s[l].u[4] = b0;
  s[l].u[5] = b1;
  syncWarp();
  auto elemA = [&](int row, int k) {
    const Slot &src = s[(row % 8) * 4 + (k % 8) / 2];
    const uint32_t reg = src.u[(row / 8) + 2 * (k / 8)];
    return toFloat(static_cast<uint16_t>(reg >> (16 * (k % 2))), bf16);
  };
  auto elemB = [&](int k, int col) {
    const Slot &src = s[col * 4 + (k % 8) / 2];
    const uint32_t reg = src.u[4 + k / 8];
    return toFloat(static_cast<uint16_t>(reg >> (16 * (k % 2))), bf16);
  };
  float out[4];
  for (int e = 0; e < 4; ++e) {
    const int row = l / 4 + 8 * (e / 2), col = 2 * (l % 4) + e % 2;
    float acc = 0.f;
    for (int k = 0; k < 16; ++k)
      acc = std::fma(elemA(row, k), elemB(k, col), acc);
    out[e] = d[e] + acc;
  }
  syncWarp();
  for (int e = 0; e < 4; ++e)
    d[e] = out[e];
}

inline void fiberEntry() {
  gBody();
  Fiber &f = self();
  if (!f.inFlight.empty())
    fail("cp.async still in flight when the thread exits");
  f.done = true;
  // Returning resumes uc_link (the scheduler).
}

/// A fresh start of fiberEntry on `f`'s stack, returning to the scheduler.
/// Out of line: getcontext returns twice, which would make every local of
/// its caller suspect (-Wclobbered).
[[gnu::noinline]] inline void resetFiber(Fiber &f, Cta &cta) {
  f.done = false;
  f.waitingOn = nullptr;
  f.inFlight.clear();
  f.copies = 0;
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack.get();
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = &cta.scheduler;
  makecontext(&f.context, fiberEntry, 0);
}

/// Runs `body` as every thread of a `grid` of `block` threads with
/// `sharedBytes` of dynamic shared memory, one CTA at a time, in the order
/// x, then y, then z (so with split-K the last slice arrives last); returns
/// "" or the first error.
inline std::string launchGrid(std::function<void()> body,
                              const uint32_t (&grid)[3],
                              const uint32_t (&block)[3],
                              uint32_t sharedBytes) {
  struct Launch {
    uint32_t grid[3], block[3], sharedBytes;
  } launch = {
      {grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}, sharedBytes};
  const int threads = static_cast<int>(launch.block[0]);
  if (threads % 32 != 0 || launch.block[1] != 1 || launch.block[2] != 1)
    return "emulation handles 1-D blocks of whole warps only";
  Cta cta;
  cta.fibers.resize(threads);
  for (Fiber &f : cta.fibers)
    f.stack.reset(new char[kStackBytes]);
  cta.warps.resize(threads / 32);
  cta.slots.resize(threads);
  gCta = &cta;
  gBody = std::move(body);
  gridDim = {launch.grid[0], launch.grid[1], launch.grid[2]};
  blockDim = {launch.block[0], 1, 1};
  for (unsigned bz = 0; bz < launch.grid[2]; ++bz)
    for (unsigned by = 0; by < launch.grid[1]; ++by)
      for (unsigned bx = 0; bx < launch.grid[0]; ++bx) {
        blockIdx = {bx, by, bz};
        cta.shared.assign(launch.sharedBytes, 0xff);
        cta.block = Barrier{threads, 0, 0};
        for (Barrier &w : cta.warps)
          w = Barrier{32, 0, 0};
        for (Fiber &f : cta.fibers)
          resetFiber(f, cta);
        // Random interleaving of warps (seeded per CTA, so reproducible):
        // each step advances one randomly chosen warp to its next barrier
        // or collective, so warps drift apart and a missing __syncthreads
        // shows up as a wrong result.
        std::mt19937 rng(0x9e3779b9u ^ (bx * 73856093u) ^ (by * 19349663u) ^
                         (bz * 83492791u));
        std::vector<int> runnable;
        for (;;) {
          runnable.clear();
          bool allDone = true;
          for (int w = 0; w < threads / 32; ++w) {
            bool any = false;
            for (int i = 32 * w; i < 32 * w + 32; ++i) {
              const Fiber &f = cta.fibers[i];
              allDone = allDone && f.done;
              any = any ||
                    (!f.done && (!f.waitingOn ||
                                 f.waitingOn->generation != f.waitGeneration));
            }
            if (any)
              runnable.push_back(w);
          }
          if (allDone)
            break;
          if (runnable.empty()) {
            gCta = nullptr;
            return "deadlock: threads wait at barriers that never complete "
                   "(block " +
                   std::to_string(bx) + "," + std::to_string(by) + "," +
                   std::to_string(bz) + ")";
          }
          // Runs of 1-4 steps: longer leads than one step at a time.
          const int w = runnable[rng() % runnable.size()];
          for (int steps = 1 + rng() % 4; steps > 0; --steps)
            for (int i = 32 * w; i < 32 * w + 32; ++i) {
              Fiber &f = cta.fibers[i];
              if (f.done ||
                  (f.waitingOn && f.waitingOn->generation == f.waitGeneration))
                continue;
              f.waitingOn = nullptr;
              cta.current = i;
              threadIdx = {static_cast<unsigned>(i), 0, 0};
              swapcontext(&cta.scheduler, &f.context);
            }
        }
        if (!cta.error.empty()) {
          gCta = nullptr;
          return cta.error;
        }
      }
  gCta = nullptr;
  return "";
}

/// Runs `kernel(params)` over the grid of `launch` (an AttentionLaunch or
/// GemmLaunch).
template <typename Params, typename Launch>
std::string launch(void (*kernel)(Params), const Launch &launch,
                   const Params &params) {
  return launchGrid([&] { kernel(params); }, launch.grid, launch.block,
                    launch.sharedBytes);
}

} // namespace gaonEmu

inline void __syncthreads() { gaonEmu::wait(gaonEmu::gCta->block); }
// CTAs run one after another: a fence has nothing to order, and an atomic
// is a plain read-modify-write.
inline void __threadfence() {}
inline int atomicAdd(int *address, int value) {
  const int old = *address;
  *address = old + value;
  return old;
}
inline void __syncwarp(unsigned = 0xffffffffu) { gaonEmu::syncWarp(); }
inline float __shfl_xor_sync(unsigned, float v, int mask) {
  return gaonEmu::shflXor(v, mask);
}

#endif // GAON_TEST_CUDA_KERNELS_CUDAEMULATION_H
