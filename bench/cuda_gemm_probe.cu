//===- cuda_gemm_probe.cu - Where the time of a few-row GEMM goes ---------===//
//
// Built and run on the GPU machine by bench/cuda_gemm_probe.py. It includes
// backends/cuda/kernels/gemm.cu and times, for transformer GEMMs at 128
// rows:
//   - an empty kernel and a weight-streaming read kernel of the same grids
//     (what launch and DRAM alone cost);
//   - every tile shape and split of Gaon's GEMM, once per launch after an
//     L2 flush (as the driver's tuner times) and back to back in a CUDA
//     graph over rotating weights that do not fit in L2 (as a model runs);
//   - with -DPROBE_TRACE, per-CTA %globaltimer stamps at the kernel's probe
//     points (start, main loop done, split-K exchange done, end).
// Output: one JSON object per line on stdout.
//
//===----------------------------------------------------------------------===//

#include "cuda_probe_util.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#ifdef PROBE_TRACE
constexpr int kMaxTraceCtas = 8192;
__device__ unsigned long long gTrace[kMaxTraceCtas][5];
#define GAON_GEMM_MARK(point)                                                  \
  do {                                                                         \
    if (threadIdx.x == 0) {                                                    \
      const int cta =                                                          \
          blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);      \
      if (cta < kMaxTraceCtas) {                                               \
        gTrace[cta][point] = globalTimer();                                    \
        if (point == 0)                                                        \
          gTrace[cta][4] = smId();                                             \
      }                                                                        \
    }                                                                          \
  } while (0)
#endif

#include "../backends/cuda/kernels/gemm.cu"

extern "C" __global__ void probeEmpty() {}

#define PROBE_KERNELS(BM, BN, WM, WN)                                          \
  extern "C" __global__ void __launch_bounds__(WM *WN * 32)                    \
      probe_nn_m##BM##n##BN##w##WM##WN(GemmParams p) {                         \
    gemm<__half, __half, false, BM, BN, WM, WN>(p);                            \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(WM *WN * 32)                    \
      probe_nt_m##BM##n##BN##w##WM##WN(GemmParams p) {                         \
    gemm<__half, __half, true, BM, BN, WM, WN>(p);                             \
  }
PROBE_KERNELS(16, 64, 1, 4)
PROBE_KERNELS(64, 64, 2, 4)

/// Reads `bytes` from `src`, split evenly over the grid, 16 bytes a thread
/// per step: what streaming a weight costs with this many CTAs.
extern "C" __global__ void probeStream(const int4 *src, size_t n16, int *sink) {
  const size_t per = (n16 + gridDim.x - 1) / gridDim.x;
  const size_t begin = blockIdx.x * per;
  const size_t end = min(n16, begin + per);
  int acc = 0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    int4 v = __ldcs(src + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x7fffffff)
    *sink = acc;
}

namespace {

using gaon::cuda_kernels::gemmSharedBytes;

struct Tile {
  int bm, bn, warps;
  const void *nnKernel, *ntKernel;
};

#define GAON_GEMM_TILE(INDEX, BM, BN, WM, WN)                                  \
  Tile{BM, BN, WM * WN,                                                        \
       reinterpret_cast<const void *>(&gaon_gemm_f16_o16_nn_m##BM##n##BN),     \
       reinterpret_cast<const void *>(&gaon_gemm_f16_o16_nt_m##BM##n##BN)},
// Candidate tiles not (yet) in GemmVariants.def: fewer rows per CTA or
// more warps per CTA, for more warps per scheduler at M = 128.
#define PROBE_TILE(BM, BN, WM, WN)                                             \
  Tile{BM, BN, WM * WN,                                                        \
       reinterpret_cast<const void *>(&probe_nn_m##BM##n##BN##w##WM##WN),      \
       reinterpret_cast<const void *>(&probe_nt_m##BM##n##BN##w##WM##WN)},
const Tile kTiles[] = {
#include "../backends/cuda/kernels/GemmVariants.def"
    PROBE_TILE(16, 64, 1, 4) PROBE_TILE(64, 64, 2, 4)};
#undef GAON_GEMM_TILE

struct Problem {
  const char *name;
  int m, n, k;
  int epilogue; // GemmEpilogue
  bool residual;
};

const Problem kProblems[] = {
    {"qkv 128x2304x768", 128, 2304, 768, 1, false},
    {"out 128x768x768", 128, 768, 768, 1, true},
    {"ffn_up 128x3072x768", 128, 3072, 768, 2, false},
    {"ffn_down 128x768x3072", 128, 768, 3072, 1, true},
};

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Buffers {
  char *flush = nullptr; // 256 MB, written to evict L2
  std::vector<void *> weights;
  void *a = nullptr, *c = nullptr, *d = nullptr, *bias = nullptr;
  void *workspace = nullptr;
  int *counters = nullptr;
  int *sink = nullptr;
};

constexpr size_t kFlushBytes = 256u << 20;
constexpr int kGraphLaunches = 48;
constexpr uint32_t kMaxShared = 227 * 1024; // per block on sm_90

/// Times `launch(i)` once after an L2 flush (median of 15), and as a CUDA
/// graph of kGraphLaunches launches (i = 0..47, per launch, median of 10).
template <typename F>
void timeBoth(Buffers &buf, cudaStream_t s, F launch, float &singleUs,
              float &graphUs) {
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  std::vector<float> single;
  for (int r = 0; r < 16; ++r) {
    CHECK(cudaMemsetAsync(buf.flush, r, kFlushBytes, s));
    CHECK(cudaEventRecord(e0, s));
    launch(r % kGraphLaunches);
    CHECK(cudaEventRecord(e1, s));
    CHECK(cudaEventSynchronize(e1));
    float ms;
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    if (r > 0)
      single.push_back(ms * 1e3f);
  }
  singleUs = median(single);

  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < kGraphLaunches; ++i)
    launch(i);
  CHECK(cudaStreamEndCapture(s, &graph));
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  std::vector<float> per;
  for (int r = 0; r < 11; ++r) {
    CHECK(cudaEventRecord(e0, s));
    CHECK(cudaGraphLaunch(exec, s));
    CHECK(cudaEventRecord(e1, s));
    CHECK(cudaEventSynchronize(e1));
    float ms;
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    if (r > 0)
      per.push_back(ms * 1e3f / kGraphLaunches);
  }
  graphUs = median(per);
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(graph));
  CHECK(cudaEventDestroy(e0));
  CHECK(cudaEventDestroy(e1));
}

void launchGemm(Buffers &buf, cudaStream_t s, const Tile &tile, bool bt,
                const Problem &pb, int splits, int weight) {
  GemmParams p{};
  p.a = reinterpret_cast<uint64_t>(buf.a);
  p.b = reinterpret_cast<uint64_t>(buf.weights[weight]);
  p.bias = reinterpret_cast<uint64_t>(buf.bias);
  p.c = pb.residual ? reinterpret_cast<uint64_t>(buf.c) : 0;
  p.d = reinterpret_cast<uint64_t>(buf.d);
  p.workspace = reinterpret_cast<uint64_t>(buf.workspace);
  p.counters = reinterpret_cast<uint64_t>(buf.counters);
  p.m = pb.m;
  p.n = pb.n;
  p.k = pb.k;
  const int stagesK = (pb.k + kGemmBK - 1) / kGemmBK;
  p.kSlice = ((stagesK + splits - 1) / splits) * kGemmBK;
  p.lda = pb.k;
  p.ldb = bt ? pb.k : pb.n;
  p.ldc = p.ldd = pb.n;
  p.epilogue = pb.epilogue;
  p.alpha = 1.0f;
  p.beta = pb.residual ? 1.0f : 0.0f;
  dim3 grid((pb.n + tile.bn - 1) / tile.bn, (pb.m + tile.bm - 1) / tile.bm,
            splits);
  void *args[] = {&p};
  CHECK(cudaLaunchKernel(bt ? tile.ntKernel : tile.nnKernel, grid,
                         dim3(tile.warps * 32), args,
                         gemmSharedBytes(tile.bm, tile.bn, bt), s));
}

#ifdef PROBE_TRACE
void printTrace(const char *what, int ctas) {
  std::vector<unsigned long long> t(kMaxTraceCtas * 5);
  CHECK(cudaMemcpyFromSymbol(t.data(), gTrace, t.size() * 8));
  unsigned long long t0 = ~0ull, tEnd = 0;
  for (int c = 0; c < ctas; ++c)
    t0 = std::min(t0, t[c * 5]);
  std::vector<float> start, loop, exch, epi;
  for (int c = 0; c < ctas; ++c) {
    const unsigned long long *r = &t[c * 5];
    start.push_back((r[0] - t0) * 1e-3f);
    loop.push_back((r[1] - r[0]) * 1e-3f);
    if (r[2] >= r[1])
      exch.push_back((r[2] - r[1]) * 1e-3f);
    if (r[3] >= r[0]) {
      epi.push_back((r[3] - std::max(r[1], r[2] >= r[1] ? r[2] : r[1])) *
                    1e-3f);
      tEnd = std::max(tEnd, r[3]);
    }
    tEnd = std::max(tEnd, std::max(r[1], r[2]));
  }
  auto mx = [](const std::vector<float> &v) {
    return v.empty() ? 0.0f : *std::max_element(v.begin(), v.end());
  };
  auto md = [](const std::vector<float> &v) {
    return v.empty() ? 0.0f : median(v);
  };
  printf("{\"trace\": \"%s\", \"ctas\": %d, \"start_spread_us\": %.3f, "
         "\"loop_med_us\": %.3f, \"loop_max_us\": %.3f, \"exch_med_us\": "
         "%.3f, \"exch_max_us\": %.3f, \"epi_med_us\": %.3f, \"epi_max_us\": "
         "%.3f, \"span_us\": %.3f}\n",
         what, ctas, mx(start), md(loop), mx(loop), md(exch), mx(exch), md(epi),
         mx(epi), (tEnd - t0) * 1e-3f);
}
#endif

} // namespace

int main() {
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  Buffers buf;
  CHECK(cudaMalloc(&buf.flush, kFlushBytes));
  const size_t maxWeight = 3072u * 768u * 2u;
  for (int i = 0; i < kGraphLaunches; ++i) {
    void *w;
    CHECK(cudaMalloc(&w, maxWeight));
    CHECK(cudaMemset(w, 0x11, maxWeight));
    buf.weights.push_back(w);
  }
  CHECK(cudaMalloc(&buf.a, 128 * 3072 * 2));
  CHECK(cudaMemset(buf.a, 0x11, 128 * 3072 * 2));
  CHECK(cudaMalloc(&buf.c, 128 * 3072 * 2));
  CHECK(cudaMemset(buf.c, 0, 128 * 3072 * 2));
  CHECK(cudaMalloc(&buf.d, 128 * 3072 * 2));
  CHECK(cudaMalloc(&buf.bias, 3072 * 2));
  CHECK(cudaMemset(buf.bias, 0, 3072 * 2));
  CHECK(cudaMalloc(&buf.workspace, 64u << 20));
  CHECK(cudaMalloc(&buf.counters, 65536 * 4));
  CHECK(cudaMemset(buf.counters, 0, 65536 * 4));
  CHECK(cudaMalloc(&buf.sink, 4));
  for (const Tile &t : kTiles)
    for (bool bt : {false, true})
      if (gemmSharedBytes(t.bm, t.bn, bt) <= kMaxShared)
        CHECK(cudaFuncSetAttribute(bt ? t.ntKernel : t.nnKernel,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   gemmSharedBytes(t.bm, t.bn, bt)));

#ifndef PROBE_TRACE
  float single, graph;
  timeBoth(
      buf, s, [&](int) { probeEmpty<<<132, 128, 0, s>>>(); }, single, graph);
  printf("{\"kind\": \"empty\", \"ctas\": 132, \"single_us\": %.3f, "
         "\"graph_us\": %.3f}\n",
         single, graph);
  for (const Problem &pb : kProblems) {
    const size_t bytes = size_t(pb.n) * pb.k * 2;
    for (int ctas : {48, 132, 264, 528}) {
      timeBoth(
          buf, s,
          [&](int i) {
            probeStream<<<ctas, 128, 0, s>>>(
                static_cast<const int4 *>(buf.weights[i]), bytes / 16,
                buf.sink);
          },
          single, graph);
      printf("{\"kind\": \"stream\", \"problem\": \"%s\", \"ctas\": %d, "
             "\"single_us\": %.3f, \"graph_us\": %.3f, \"graph_tbps\": "
             "%.3f}\n",
             pb.name, ctas, single, graph, bytes / (graph * 1e-6) / 1e12);
    }
  }
#endif
  for (const Problem &pb : kProblems)
    for (const Tile &t : kTiles)
      for (bool bt : {false, true})
        for (int splits : {1, 2, 3, 4, 6, 8, 12, 16}) {
          const int tiles =
              ((pb.n + t.bn - 1) / t.bn) * ((pb.m + t.bm - 1) / t.bm);
          if (tiles * splits > 4 * 132 || pb.k / kGemmBK < splits ||
              gemmSharedBytes(t.bm, t.bn, bt) > kMaxShared)
            continue;
#ifndef PROBE_TRACE
          float single, graph;
          timeBoth(
              buf, s, [&](int i) { launchGemm(buf, s, t, bt, pb, splits, i); },
              single, graph);
          printf("{\"kind\": \"gemm\", \"problem\": \"%s\", \"tile\": "
                 "\"%dx%dw%d\", \"bt\": %d, \"splits\": %d, \"ctas\": %d, "
                 "\"single_us\": %.3f, \"graph_us\": %.3f, \"bk\": %d, "
                 "\"stages\": %d}\n",
                 pb.name, t.bm, t.bn, t.warps, bt ? 1 : 0, splits,
                 tiles * splits, single, graph, kGemmBK, kGemmStages);
#else
          CHECK(cudaMemsetAsync(buf.flush, 1, kFlushBytes, s));
          launchGemm(buf, s, t, bt, pb, splits, 0);
          CHECK(cudaStreamSynchronize(s));
          char what[128];
          snprintf(what, sizeof what, "%s %dx%d bt%d split%d bk%d st%d",
                   pb.name, t.bm, t.bn, bt ? 1 : 0, splits, kGemmBK,
                   kGemmStages);
          printTrace(what, tiles * splits);
#endif
        }
  CHECK(cudaStreamSynchronize(s));
  return 0;
}
