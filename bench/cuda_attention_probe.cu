//===- cuda_attention_probe.cu - Where the fused attention's time goes ----===//
//
// Built and run on the GPU machine by bench/cuda_attention_probe.py. It
// includes backends/cuda/kernels/attention.cu (the shipped d64 variants plus
// the candidate tiles below) and times each on the transformer shapes the
// models run, with Q, K and V as the head ranges of one packed [B, S, 3, H,
// D] projection and the output as [B, S, H, D] (what the compiled models
// pass): once per launch (CUDA events around it) and back to back in a CUDA
// graph. With -DPROBE_TRACE, thread 0 of every CTA stamps %globaltimer at
// the kernel's probe points (start, each round's tile ready and done, loop
// done, end). Every result is compared with the shipped 64-row kernel's.
// Output: one JSON object per line on stdout.
//
//===----------------------------------------------------------------------===//

#include "cuda_probe_util.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#ifdef PROBE_TRACE
constexpr int kMaxTraceCtas = 8192, kMaxRounds = 64;
constexpr int kTraceWords = 4 + 2 * kMaxRounds;
// Per CTA: start, loop done, end, smid | rounds << 32, then per round the
// times its tile was ready and done.
__device__ unsigned long long gTrace[kMaxTraceCtas][kTraceWords];
__device__ __forceinline__ void probeMark(int point, int round) {
  const int cta =
      blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  if (cta >= kMaxTraceCtas)
    return;
  unsigned long long *t = gTrace[cta];
  const unsigned long long now = globalTimer();
  if (point == 0) {
    t[0] = now;
    t[3] = smId();
  } else if (point == 1 && round < kMaxRounds) {
    t[4 + 2 * round] = now;
  } else if (point == 2 && round < kMaxRounds) {
    t[5 + 2 * round] = now;
  } else if (point == 3) {
    t[1] = now;
    t[3] |= static_cast<unsigned long long>(round) << 32;
  } else if (point == 4) {
    t[2] = now;
  }
}
#define GAON_ATTENTION_MARK(point, round)                                      \
  do {                                                                         \
    if (threadIdx.x == 0)                                                      \
      probeMark(point, round);                                                 \
  } while (0)
#endif

// -DPROBE_ATTENTION_SOURCE="path" times another version of the kernels
// (the probe's --baseline).
#ifdef PROBE_ATTENTION_SOURCE
#include PROBE_ATTENTION_SOURCE
#else
#include "../backends/cuda/kernels/attention.cu"
#endif

// Candidate tiles (name, dtype, head dim, rows, keys per group, warps, Q in
// registers, generic, min blocks per SM), next to the shipped variants.
GAON_ATTENTION_TC(probe_m64n32w8, F16, 64, 64, 32, 8, 1, 0, 2)
GAON_ATTENTION_TC(probe_m64n64w8, F16, 64, 64, 64, 8, 1, 0, 2)
GAON_ATTENTION_TC(probe_m32n32w4, F16, 64, 32, 32, 4, 1, 0, 3)
GAON_ATTENTION_TC(probe_m32n32w8, F16, 64, 32, 32, 8, 1, 0, 2)
GAON_ATTENTION_TC(probe_m16n32w4, F16, 64, 16, 32, 4, 1, 0, 2)
GAON_ATTENTION_TC(probe_m128n32w8, F16, 64, 128, 32, 8, 1, 0, 2)
// Two m16 tiles per warp: each K/V fragment read from shared memory feeds
// two mma (half the shared-memory traffic per FLOP).
GAON_ATTENTION_TC(probe_m64n64w2, F16, 64, 64, 64, 2, 1, 0, 4)
GAON_ATTENTION_TC(probe_m64n32w2, F16, 64, 64, 32, 2, 1, 0, 4)
GAON_ATTENTION_TC(probe_m128n64w4, F16, 64, 128, 64, 4, 1, 0, 2)
GAON_ATTENTION_TC(probe_m128n32w4, F16, 64, 128, 32, 4, 1, 0, 2)
GAON_ATTENTION_TC(probe_m32n64w1, F16, 64, 32, 64, 1, 1, 0, 8)
// The shipped 64-row tile held to 128 registers (four CTAs per SM).
GAON_ATTENTION_TC(probe_m64n64w4b4, F16, 64, 64, 64, 4, 1, 0, 4)

namespace {

using Kernel = void (*)(const AttentionParams);

struct Variant {
  const char *name;
  Kernel fn;
  int rows, keys, warps;
};

#define VARIANT(NAME, BM, BN, NW)                                              \
  { #NAME, NAME, BM, BN, NW }
const Variant kVariants[] = {
    VARIANT(gaon_attention_f16_d64_m64, 64, 64, 4), // reference
    VARIANT(gaon_attention_f16_d64, 128, 64, 8),
    VARIANT(gaon_attention_f16_d64_m32, 32, 64, 4),
    VARIANT(gaon_attention_f16_d64_m16, 16, 16, 4),
    VARIANT(probe_m64n32w8, 64, 32, 8),
    VARIANT(probe_m64n64w8, 64, 64, 8),
    VARIANT(probe_m32n32w4, 32, 32, 4),
    VARIANT(probe_m32n32w8, 32, 32, 8),
    VARIANT(probe_m16n32w4, 16, 32, 4),
    VARIANT(probe_m128n32w8, 128, 32, 8),
    VARIANT(probe_m64n64w2, 64, 64, 2),
    VARIANT(probe_m64n32w2, 64, 32, 2),
    VARIANT(probe_m128n64w4, 128, 64, 4),
    VARIANT(probe_m128n32w4, 128, 32, 4),
    VARIANT(probe_m32n64w1, 32, 64, 1),
    VARIANT(probe_m64n64w4b4, 64, 64, 4),
};
#undef VARIANT

struct Shape {
  int b, h, s;
  bool causal, mask; // mask: a [B, 1, 1, S] padding mask (BERT's)
};

const Shape kShapes[] = {
    {1, 12, 128, false, false},  {1, 12, 128, true, false},
    {1, 12, 1024, true, false},  {16, 12, 512, true, false},
    {32, 12, 128, false, false}, {8, 12, 512, false, false},
    {1, 12, 128, false, true},   {32, 12, 128, false, true},
    {8, 12, 512, false, true}};

std::string shapeName(const Shape &s) {
  return std::to_string(s.b) + "x" + std::to_string(s.h) + "x" +
         std::to_string(s.s) + "x64" + (s.causal ? " causal" : "") +
         (s.mask ? " mask" : "");
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint32_t sharedBytes(const Variant &v) {
  return gaon::cuda_kernels::tcAttentionSharedBytes(64, v.rows, v.keys,
                                                    v.warps);
}

void launch(const Variant &v, const AttentionParams &p, cudaStream_t st) {
  dim3 grid((p.seqQ + v.rows - 1) / v.rows, p.heads, p.batch);
  v.fn<<<grid, v.warps * 32, sharedBytes(v), st>>>(p);
}

#ifdef PROBE_TRACE
/// Summary of one traced launch: launch spread, per-CTA span, per-round
/// wait (tile ready after the previous round) and compute, merge + store.
void printTrace(const std::string &shape, const Variant &v, int ctas) {
  std::vector<unsigned long long> t(size_t(ctas) * kTraceWords);
  CHECK(cudaMemcpyFromSymbol(t.data(), gTrace, t.size() * 8));
  unsigned long long t0 = ~0ull, t1 = 0;
  double wait = 0, work = 0, tail = 0;
  long roundsSeen = 0;
  std::vector<float> spans;
  int longest = 0;
  unsigned long long longestSpan = 0;
  for (int c = 0; c < ctas; ++c) {
    const unsigned long long *x = &t[size_t(c) * kTraceWords];
    t0 = std::min(t0, x[0]);
    t1 = std::max(t1, x[2]);
    spans.push_back((x[2] - x[0]) * 1e-3f);
    if (x[2] - x[0] > longestSpan) {
      longestSpan = x[2] - x[0];
      longest = c;
    }
    const int rounds = std::min<int>(int(x[3] >> 32), kMaxRounds);
    unsigned long long prev = x[0];
    for (int r = 0; r < rounds; ++r) {
      wait += (x[4 + 2 * r] - prev) * 1e-3;
      work += (x[5 + 2 * r] - x[4 + 2 * r]) * 1e-3;
      prev = x[5 + 2 * r];
    }
    roundsSeen += rounds;
    tail += (x[2] - x[1]) * 1e-3;
  }
  unsigned long long lastStart = 0;
  for (int c = 0; c < ctas; ++c)
    lastStart = std::max(lastStart, t[size_t(c) * kTraceWords]);
  const unsigned long long *L = &t[size_t(longest) * kTraceWords];
  std::printf("{\"kind\": \"trace\", \"shape\": \"%s\", \"kernel\": \"%s\", "
              "\"ctas\": %d, \"span_us\": %.2f, \"start_spread_us\": %.2f, "
              "\"cta_med_us\": %.2f, \"cta_max_us\": %.2f, "
              "\"wait_per_round_us\": %.3f, \"work_per_round_us\": %.3f, "
              "\"tail_us\": %.3f, \"longest_start_us\": %.2f, "
              "\"longest_rounds\": %d}\n",
              shape.c_str(), v.name, ctas, (t1 - t0) * 1e-3,
              (lastStart - t0) * 1e-3, median(spans), longestSpan * 1e-3,
              roundsSeen ? wait / roundsSeen : 0.0,
              roundsSeen ? work / roundsSeen : 0.0, tail / ctas,
              (L[0] - t0) * 1e-3, int(L[3] >> 32));
}
#endif

} // namespace

// Usage: probe [SHAPE [KERNEL]]: only shapes whose name contains SHAPE and
// kernels named KERNEL (e.g. for Nsight Compute on one launch).
int main(int argc, char **argv) {
  const std::string onlyShape = argc > 1 ? argv[1] : "",
                    onlyKernel = argc > 2 ? argv[2] : "";
  for (const Variant &v : kVariants)
    CHECK(cudaFuncSetAttribute(
        v.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, sharedBytes(v)));
  cudaStream_t st;
  CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const Shape &s : kShapes) {
    if (shapeName(s).find(onlyShape) == std::string::npos)
      continue;
    const int B = s.b, H = s.h, S = s.s, D = 64;
    const size_t qkvElems = size_t(B) * S * 3 * H * D,
                 oElems = size_t(B) * S * H * D;
    std::vector<__half> hqkv(qkvElems);
    for (auto &x : hqkv)
      x = __float2half(nd(rng));
    __half *qkv, *o;
    CHECK(cudaMalloc(&qkv, qkvElems * 2));
    CHECK(cudaMalloc(&o, oElems * 2));
    CHECK(cudaMemcpy(qkv, hqkv.data(), qkvElems * 2, cudaMemcpyHostToDevice));
    AttentionParams p{};
    p.q = reinterpret_cast<uint64_t>(qkv);
    p.k = p.q + H * D * 2;
    p.v = p.q + 2 * H * D * 2;
    p.o = reinterpret_cast<uint64_t>(o);
    p.batch = B;
    p.heads = p.kvHeads = H;
    p.seqQ = p.seqK = S;
    p.headDim = D;
    p.causal = s.causal;
    p.scale = 0.125f;
    for (int64_t *st3 : {p.qStride, p.kStride, p.vStride}) {
      st3[0] = int64_t(S) * 3 * H * D;
      st3[1] = D;
      st3[2] = 3 * H * D;
    }
    __half *mask = nullptr;
    if (s.mask) {
      // The last eighth of every sequence is padding.
      std::vector<__half> hmask(size_t(B) * S);
      for (size_t i = 0; i < hmask.size(); ++i)
        hmask[i] = __float2half(i % S >= S - S / 8 ? -10000.f : 0.f);
      CHECK(cudaMalloc(&mask, hmask.size() * 2));
      CHECK(cudaMemcpy(mask, hmask.data(), hmask.size() * 2,
                       cudaMemcpyHostToDevice));
      p.mask = reinterpret_cast<uint64_t>(mask);
      p.maskStride[0] = S;
    }
    p.oStride[0] = int64_t(S) * H * D;
    p.oStride[1] = D;
    p.oStride[2] = H * D;
    std::vector<__half> ref(oElems), got(oElems);
    for (const Variant &v : kVariants) {
      if (!onlyKernel.empty() && onlyKernel != v.name && &v != &kVariants[0])
        continue;
      CHECK(cudaMemsetAsync(o, 0, oElems * 2, st));
      for (int w = 0; w < 3; ++w)
        launch(v, p, st);
      CHECK(cudaStreamSynchronize(st));
      CHECK(cudaGetLastError());
      CHECK(cudaMemcpy(got.data(), o, oElems * 2, cudaMemcpyDeviceToHost));
      if (&v == &kVariants[0])
        ref = got;
      double maxDiff = 0;
      for (size_t i = 0; i < oElems; ++i)
        maxDiff = std::max<double>(
            maxDiff, std::fabs(__half2float(got[i]) - __half2float(ref[i])));
      std::vector<float> single;
      for (int r = 0; r < 30; ++r) {
        CHECK(cudaEventRecord(e0, st));
        launch(v, p, st);
        CHECK(cudaEventRecord(e1, st));
        CHECK(cudaEventSynchronize(e1));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        single.push_back(ms * 1e3f);
      }
      constexpr int kInGraph = 20;
      cudaGraph_t g;
      cudaGraphExec_t ge;
      CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      for (int i = 0; i < kInGraph; ++i)
        launch(v, p, st);
      CHECK(cudaStreamEndCapture(st, &g));
      CHECK(cudaGraphInstantiate(&ge, g, 0));
      CHECK(cudaGraphLaunch(ge, st));
      std::vector<float> graph;
      for (int r = 0; r < 11; ++r) {
        CHECK(cudaEventRecord(e0, st));
        CHECK(cudaGraphLaunch(ge, st));
        CHECK(cudaEventRecord(e1, st));
        CHECK(cudaEventSynchronize(e1));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        graph.push_back(ms * 1e3f / kInGraph);
      }
      CHECK(cudaGraphExecDestroy(ge));
      CHECK(cudaGraphDestroy(g));
      const int ctas = ((S + v.rows - 1) / v.rows) * H * B;
      std::printf("{\"kind\": \"gaon\", \"shape\": \"%s\", \"kernel\": \"%s\", "
                  "\"ctas\": %d, \"single_us\": %.2f, \"graph_us\": %.2f, "
                  "\"max_diff\": %.4g}\n",
                  shapeName(s).c_str(), v.name, ctas, median(single),
                  median(graph), maxDiff);
#ifdef PROBE_TRACE
      launch(v, p, st);
      CHECK(cudaStreamSynchronize(st));
      printTrace(shapeName(s), v, std::min(ctas, kMaxTraceCtas));
#endif
      std::fflush(stdout);
    }
    CHECK(cudaFree(qkv));
    CHECK(cudaFree(o));
    CHECK(cudaFree(mask));
  }
  return 0;
}
