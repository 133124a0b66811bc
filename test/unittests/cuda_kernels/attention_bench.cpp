//===- attention_bench.cpp - gaon-cuda-attention-bench --------------------===//
//
// Times the fused attention kernels on the GPU (device 0) for the standard
// shapes in fp16 and bf16: median of N launches (CUDA events around each),
// TFLOPS counted as 4 B H Sq Sk D (halved for causal). Each result is also
// checked against the fp64 reference on a sample of rows.
//
//   gaon-cuda-attention-bench [--iters N] [--json PATH] [--sweep]
//
// --sweep also times the tile-shape candidates of AttentionTuning.def (a
// separate sm_90 fatbin) on the fp16 shapes, to pick the shipped variants.
// Exits 0 without a GPU (prints why), 1 when a result is wrong.
//
//===----------------------------------------------------------------------===//

#include "AttentionHarness.h"

#include "AttentionConfig.h"
#include "gaon/cuda_kernels/Attention.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

// The tuning fatbin (gaon_cuda_kernels_tuning).
extern const unsigned char gaonAttentionTuningFatbin[];
extern const uint64_t gaonAttentionTuningFatbinSize;

using namespace gaon::cuda_kernels;
using namespace gaon::cuda_kernels::test;

namespace {

struct TuningVariant {
  const char *name;
  int headDim, rows, threads;
  uint32_t sharedBytes;
};

const TuningVariant kTuning[] = {
#define GAON_ATTENTION_TC(NAME, DTYPE, DP, BM, BN, NW, QREG, GENERIC, MINB)    \
  {#NAME, DP, BM, NW * 32, tcAttentionSharedBytes(DP, BM, BN, NW)},
#include "AttentionTuning.def"
#undef GAON_ATTENTION_TC
};

struct Result {
  std::string shape, dtype, kernel;
  Problem problem;
  double ms = 0, tflops = 0, relErr = 0;
  bool ok = false;
  std::string error;
};

/// Largest relative L2 error over `rows` sampled query rows.
double sampledError(const Problem &p, ProblemData &d, float scale, int rows) {
  std::mt19937 rng(7);
  std::vector<double> want(p.headDim);
  double worst = 0;
  for (int n = 0; n < rows; ++n) {
    const int b = rng() % p.batch, h = rng() % p.heads, i = rng() % p.seqQ;
    referenceRow(p, d, scale, b, h, i, want.data());
    const size_t row =
        size_t(b * d.o.stride[0] + h * d.o.stride[1] + i * d.o.stride[2]);
    double e2 = 0, r2 = 0;
    for (int x = 0; x < p.headDim; ++x) {
      const double got = loadElement(d.o.bytes, p.dtype, row + x);
      if (!std::isfinite(got))
        return INFINITY;
      e2 += (got - want[x]) * (got - want[x]);
      r2 += want[x] * want[x];
    }
    worst = std::max(worst, r2 > 0 ? std::sqrt(e2 / r2) : std::sqrt(e2));
  }
  return worst;
}

/// Runs `kernel` with `launch` on `d` `iters` times; fills ms, tflops,
/// relErr.
void timeKernel(CudaDriver &drv, Module &m, const AttentionLaunch &launch,
                const Problem &p, ProblemData &d, int iters, Result &res) {
  res.kernel = launch.kernel;
  std::string err;
  CUfunction f = m.function(launch.kernel, &err);
  if (!f) {
    res.error = err;
    return;
  }
  const AttentionParams params = makeParams(p, d);
  for (int w = 0; w < 3; ++w) // warm up (and module/JIT load)
    if (!(err = launchAttention(drv, f, launch, params)).empty()) {
      res.error = err;
      return;
    }
  CUevent start, stop;
  drv.cuEventCreate(&start, CU_EVENT_DEFAULT);
  drv.cuEventCreate(&stop, CU_EVENT_DEFAULT);
  std::vector<float> times;
  for (int it = 0; it < iters; ++it) {
    drv.cuEventRecord(start, nullptr);
    err = launchAttention(drv, f, launch, params);
    drv.cuEventRecord(stop, nullptr);
    CUresult r = drv.cuEventSynchronize(stop);
    if (!err.empty() || r != CUDA_SUCCESS) {
      res.error = err.empty() ? drv.describe(r) : err;
      break;
    }
    float ms = 0;
    drv.cuEventElapsedTime_v2(&ms, start, stop);
    times.push_back(ms);
  }
  drv.cuEventDestroy_v2(start);
  drv.cuEventDestroy_v2(stop);
  if (!res.error.empty())
    return;
  std::sort(times.begin(), times.end());
  res.ms = times[times.size() / 2];
  res.tflops = p.flops() / (res.ms * 1e-3) / 1e12;
  CUresult r = drv.cuMemcpyDtoH_v2(d.o.bytes.data(), d.o.dev, d.o.bytes.size());
  if (r != CUDA_SUCCESS) {
    res.error = drv.describe(r);
    return;
  }
  res.relErr = sampledError(p, d, params.scale, 24);
  res.ok = res.relErr <= 1e-2;
  if (!res.ok)
    res.error =
        "wrong result (sampled rel L2 " + std::to_string(res.relErr) + ")";
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s)
    out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

void printRow(const Result &r) {
  std::printf("%-26s %-5s %-34s %9.4f %8.1f  %s\n", r.shape.c_str(),
              r.dtype.c_str(), r.kernel.c_str(), r.ms, r.tflops,
              r.ok ? "ok" : r.error.c_str());
}

} // namespace

int main(int argc, char **argv) {
  int iters = 50;
  std::string jsonPath;
  bool sweep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iters" && i + 1 < argc)
      iters = std::max(1, std::atoi(argv[++i]));
    else if (a == "--json" && i + 1 < argc)
      jsonPath = argv[++i];
    else if (a == "--sweep")
      sweep = true;
    else {
      std::fprintf(stderr, "usage: %s [--iters N] [--json PATH] [--sweep]\n",
                   argv[0]);
      return 2;
    }
  }

  CudaDriver &drv = CudaDriver::get();
  if (!drv.ok()) {
    std::printf("gaon-cuda-attention-bench: skipped, no GPU (%s)\n",
                drv.error.c_str());
    return 0;
  }
  Module mod(drv, attentionFatbin());
  if (!mod.ok()) {
    std::fprintf(stderr, "%s\n", mod.error().c_str());
    return 1;
  }
  std::printf("device: %s (sm_%d%d), median of %d\n\n", drv.deviceName.c_str(),
              drv.smMajor, drv.smMinor, iters);

  struct Shape {
    int b, h, s, d;
    bool causal;
  };
  const Shape shapes[] = {{1, 12, 128, 64, false}, {32, 12, 128, 64, false},
                          {8, 12, 512, 64, false}, {16, 12, 512, 64, true},
                          {1, 12, 1024, 64, true}, {8, 32, 1024, 128, false},
                          {16, 12, 512, 64, false}};
  std::printf("%-26s %-5s %-34s %9s %8s\n", "B x H x S x D", "dtype", "kernel",
              "ms", "TFLOPS");
  std::vector<Result> results, sweepResults;
  bool allOk = true;
  std::unique_ptr<Module> tuning;
  if (sweep && drv.smMajor == 9 && drv.smMinor == 0) {
    tuning.reset(new Module(drv, gaonAttentionTuningFatbin));
    if (!tuning->ok())
      std::printf("(--sweep: %s)\n", tuning->error().c_str());
  } else if (sweep)
    std::printf("(--sweep: the tuning fatbin is sm_90 only; skipped)\n");

  for (const Shape &s : shapes)
    for (AttentionDType t : {AttentionDType::F16, AttentionDType::BF16}) {
      Problem p;
      p.dtype = t;
      p.batch = s.b;
      p.heads = p.kvHeads = s.h;
      p.seqQ = p.seqK = s.s;
      p.headDim = s.d;
      p.causal = s.causal;
      p.seed = 42;
      ProblemData d = makeProblemData(p);
      const std::string up = upload(drv, d);
      Result r;
      r.problem = p;
      r.shape = std::to_string(s.b) + "x" + std::to_string(s.h) + "x" +
                std::to_string(s.s) + "x" + std::to_string(s.d) +
                (s.causal ? " causal" : "");
      r.dtype = dtypeName(t);
      const AttentionParams params = makeParams(p, d);
      const char *why = nullptr;
      const AttentionLaunch l = chooseAttentionLaunch(
          params, t, drv.smMajor, drv.smMinor, drv.multiprocessors, &why);
      if (!up.empty())
        r.error = up;
      else if (!l.kernel)
        r.error = why;
      else
        timeKernel(drv, mod, l, p, d, iters, r);
      allOk = allOk && r.ok;
      printRow(r);
      results.push_back(r);

      if (tuning && tuning->ok() && t == AttentionDType::F16 && up.empty()) {
        for (const TuningVariant &v : kTuning) {
          if (v.headDim != s.d)
            continue;
          AttentionLaunch tl{
              v.name,
              {static_cast<uint32_t>((s.s + v.rows - 1) / v.rows),
               static_cast<uint32_t>(s.h), static_cast<uint32_t>(s.b)},
              {static_cast<uint32_t>(v.threads), 1, 1},
              v.sharedBytes};
          Result tr;
          tr.problem = p;
          tr.shape = r.shape;
          tr.dtype = r.dtype;
          timeKernel(drv, *tuning, tl, p, d, iters, tr);
          std::printf("  sweep ");
          printRow(tr);
          sweepResults.push_back(tr);
        }
      }
      release(drv, d);
    }

  if (!jsonPath.empty()) {
    std::ofstream out(jsonPath);
    auto write = [&](const std::vector<Result> &rs) {
      for (size_t i = 0; i < rs.size(); ++i) {
        const Result &r = rs[i];
        out << "    {\"shape\": " << jsonString(r.shape)
            << ", \"batch\": " << r.problem.batch
            << ", \"heads\": " << r.problem.heads
            << ", \"seq\": " << r.problem.seqQ
            << ", \"head_dim\": " << r.problem.headDim
            << ", \"causal\": " << (r.problem.causal ? "true" : "false")
            << ", \"dtype\": " << jsonString(r.dtype)
            << ", \"kernel\": " << jsonString(r.kernel) << ", \"ms\": " << r.ms
            << ", \"tflops\": " << r.tflops
            << ", \"sampled_rel_l2\": " << r.relErr
            << ", \"ok\": " << (r.ok ? "true" : "false")
            << ", \"error\": " << jsonString(r.error) << "}"
            << (i + 1 < rs.size() ? ",\n" : "\n");
      }
    };
    out << "{\n  \"device\": " << jsonString(drv.deviceName)
        << ",\n  \"sm\": \"" << drv.smMajor << drv.smMinor
        << "\",\n  \"iters\": " << iters << ",\n  \"results\": [\n";
    write(results);
    out << "  ],\n  \"sweep\": [\n";
    write(sweepResults);
    out << "  ]\n}\n";
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", jsonPath.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", jsonPath.c_str());
  }
  return allOk ? 0 : 1;
}
