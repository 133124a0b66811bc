//===- MatmulAlgos.cpp - Choosing cuBLASLt algorithms ---------------------===//

#include "MatmulAlgos.h"

#include "DriverImpl.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

namespace gaon::cuda::detail {
namespace {

/// Candidates asked of the heuristic, and timed runs per candidate (after
/// one warm-up run): enough to separate split-K and tile variants, a few
/// milliseconds per distinct problem.
constexpr int kCandidates = 32;
constexpr int kTimedRuns = 5;

/// Events and an L2-sized scratch buffer for one tuning session, released
/// by the destructor whatever happens.
class TimingScope {
public:
  TimingScope(CudaDevice &device) : device(device) {}
  ~TimingScope() {
    const CudaDriverApi &cu = *device.cu;
    if (start)
      cu.cuEventDestroy_v2(start);
    if (end)
      cu.cuEventDestroy_v2(end);
    if (flush)
      cu.cuMemFree_v2(flush);
  }

  std::string init() {
    const CudaDriverApi &cu = *device.cu;
    CUresult r = cu.cuEventCreate(&start, CU_EVENT_DEFAULT);
    if (r == CUDA_SUCCESS)
      r = cu.cuEventCreate(&end, CU_EVENT_DEFAULT);
    if (r != CUDA_SUCCESS)
      return cuFailure(device, "cuEventCreate", r);
    // Twice the L2: writing it evicts the operands, as a forward's weights
    // are cold when their matmul runs. Optional: without the memory the
    // candidates are timed warm.
    int l2 = 0;
    if (cu.cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE,
                                device.device) == CUDA_SUCCESS &&
        l2 > 0) {
      flushBytes = 2 * static_cast<size_t>(l2);
      if (cu.cuMemAlloc_v2(&flush, flushBytes) != CUDA_SUCCESS) {
        flush = 0;
        flushBytes = 0;
      }
    }
    return "";
  }

  /// Microseconds of one run of `issue` on `stream`, L2 flushed before; a
  /// negative value when `issue` failed.
  template <typename Issue>
  double time(CUstream stream, Issue issue, std::string *error) {
    const CudaDriverApi &cu = *device.cu;
    if (flush)
      cu.cuMemsetD8Async(flush, static_cast<unsigned char>(++fill), flushBytes,
                         stream);
    cu.cuEventRecord(start, stream);
    if (!issue())
      return -1.0;
    cu.cuEventRecord(end, stream);
    CUresult r = cu.cuEventSynchronize(end);
    float ms = 0;
    if (r == CUDA_SUCCESS)
      r = cu.cuEventElapsedTime(&ms, start, end);
    if (r != CUDA_SUCCESS) {
      *error = cuFailure(device, "timing a cuBLASLt candidate", r);
      return -1.0;
    }
    return ms * 1e3;
  }

private:
  CudaDevice &device;
  CUevent start = nullptr, end = nullptr;
  CUdeviceptr flush = 0;
  size_t flushBytes = 0;
  unsigned fill = 0;
};

std::string heuristic(CudaDevice &device, const MatmulProblem &p, int wanted,
                      std::vector<cublasLtMatmulHeuristicResult_t> *out) {
  const CublasLtApi &lt = *device.lt;
  cublasLtMatmulPreference_t preference = nullptr;
  cublasStatus_t st = lt.cublasLtMatmulPreferenceCreate(&preference);
  if (st != CUBLAS_STATUS_SUCCESS)
    return "cublasLtMatmulPreferenceCreate failed: " + cublasErrorText(lt, st);
  uint64_t workspace = device.workspaceBytes;
  const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> alignments[] =
      {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, p.alignA},
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, p.alignB},
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, p.alignC},
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, p.alignD}};
  st = lt.cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
      sizeof(workspace));
  for (const auto &[attribute, value] : alignments)
    if (st == CUBLAS_STATUS_SUCCESS)
      st = lt.cublasLtMatmulPreferenceSetAttribute(preference, attribute,
                                                   &value, sizeof(value));
  out->assign(static_cast<size_t>(wanted), {});
  int count = 0;
  if (st == CUBLAS_STATUS_SUCCESS)
    st = lt.cublasLtMatmulAlgoGetHeuristic(
        device.ltHandle, p.desc, p.layoutA, p.layoutB, p.layoutD, p.layoutD,
        preference, wanted, out->data(), &count);
  lt.cublasLtMatmulPreferenceDestroy(preference);
  {
    std::lock_guard<std::mutex> lock(device.statsMutex);
    ++device.stats.matmulAlgoSelections;
  }
  if (st != CUBLAS_STATUS_SUCCESS)
    return "cublasLtMatmulAlgoGetHeuristic failed: " + cublasErrorText(lt, st);
  out->resize(static_cast<size_t>(std::max(count, 0)));
  out->erase(std::remove_if(out->begin(), out->end(),
                            [&](const cublasLtMatmulHeuristicResult_t &r) {
                              return r.state != CUBLAS_STATUS_SUCCESS ||
                                     r.workspaceSize > workspace;
                            }),
             out->end());
  if (out->empty())
    return "cuBLASLt has no algorithm for this matmul (" + p.description +
           ", workspace " + std::to_string(workspace) + " bytes)";
  return "";
}

/// Split-K variants worth timing for a candidate: more CTAs for a
/// latency-bound problem, each K slice at least 128 long.
constexpr uint32_t kSplits[] = {2, 3, 4, 6, 8, 12, 16};
constexpr int64_t kMinSliceK = 128;
/// Split-K variants are made from this many leading candidates: the
/// heuristic's later ones repeat the same kernels with other tiles.
constexpr size_t kSplitSources = 8;

template <typename T>
bool capability(const CublasLtApi &lt, const cublasLtMatmulAlgo_t &algo,
                cublasLtMatmulAlgoCapAttributes_t attribute, T *value) {
  size_t written = 0;
  return lt.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, value,
                                              sizeof(T), &written) ==
             CUBLAS_STATUS_SUCCESS &&
         written == sizeof(T);
}

uint32_t splitKOf(const CublasLtApi &lt, const cublasLtMatmulAlgo_t &algo) {
  uint32_t split = 1;
  size_t written = 0;
  if (lt.cublasLtMatmulAlgoConfigGetAttribute(
          &algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split, sizeof(split),
          &written) != CUBLAS_STATUS_SUCCESS)
    return 1;
  return std::max<uint32_t>(split, 1);
}

/// Appends to `candidates` the split-K variants of its first candidates
/// that cuBLASLt accepts for `p` within the workspace; duplicates (equal
/// algorithm configurations) are skipped.
void addSplitKVariants(
    CudaDevice &device, const MatmulProblem &p,
    std::vector<cublasLtMatmulHeuristicResult_t> *candidates) {
  const CublasLtApi &lt = *device.lt;
  auto known = [&](const cublasLtMatmulAlgo_t &algo) {
    return std::any_of(candidates->begin(), candidates->end(),
                       [&](const cublasLtMatmulHeuristicResult_t &r) {
                         return std::memcmp(&r.algo, &algo, sizeof(algo)) == 0;
                       });
  };
  size_t sources = std::min(candidates->size(), kSplitSources);
  for (size_t i = 0; i < sources; ++i) {
    cublasLtMatmulAlgo_t base = (*candidates)[i].algo;
    int32_t supported = 0;
    uint32_t schemes = 0;
    if (!capability(lt, base, CUBLASLT_ALGO_CAP_SPLITK_SUPPORT, &supported) ||
        !supported ||
        !capability(lt, base, CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK,
                    &schemes) ||
        splitKOf(lt, base) > 1)
      continue;
    // Reduce in a workspace in the compute type (f32) where the kernel can:
    // in-place reduction accumulates in the output type.
    uint32_t scheme = CUBLASLT_REDUCTION_SCHEME_NONE;
    for (uint32_t preferred : {uint32_t(CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE),
                               uint32_t(CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE),
                               uint32_t(CUBLASLT_REDUCTION_SCHEME_INPLACE)})
      if (schemes & preferred) {
        scheme = preferred;
        break;
      }
    if (scheme == CUBLASLT_REDUCTION_SCHEME_NONE)
      continue;
    for (uint32_t split : kSplits) {
      if (p.k < static_cast<int64_t>(split) * kMinSliceK)
        break;
      cublasLtMatmulAlgo_t algo = base;
      cublasLtMatmulHeuristicResult_t result = {};
      if (lt.cublasLtMatmulAlgoConfigSetAttribute(
              &algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split, sizeof(split)) !=
              CUBLAS_STATUS_SUCCESS ||
          lt.cublasLtMatmulAlgoConfigSetAttribute(
              &algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &scheme,
              sizeof(scheme)) != CUBLAS_STATUS_SUCCESS ||
          lt.cublasLtMatmulAlgoCheck(device.ltHandle, p.desc, p.layoutA,
                                     p.layoutB, p.layoutD, p.layoutD, &algo,
                                     &result) != CUBLAS_STATUS_SUCCESS ||
          result.workspaceSize > device.workspaceBytes || known(algo))
        continue;
      result.algo = algo;
      result.state = CUBLAS_STATUS_SUCCESS;
      candidates->push_back(result);
    }
  }
}

/// Something that can run the matmul, and what choosing it records.
struct Candidate {
  std::function<bool(CUstream)> issue; ///< enqueues one run; false: cannot
  ChosenMatmulAlgo choice;
};

std::vector<Candidate> cublasLtCandidates(
    CudaDevice &device, const MatmulProblem &p,
    const std::vector<cublasLtMatmulHeuristicResult_t> &results) {
  std::vector<Candidate> candidates;
  for (const cublasLtMatmulHeuristicResult_t &result : results) {
    Candidate c;
    c.choice.algo = result.algo;
    c.choice.workspaceBytes = result.workspaceSize;
    c.issue = [&device, &p, result](CUstream stream) {
      const CublasLtApi &lt = *device.lt;
      return lt.cublasLtMatmul(
                 device.ltHandle, p.desc, &p.alpha,
                 reinterpret_cast<const void *>(p.a), p.layoutA,
                 reinterpret_cast<const void *>(p.b), p.layoutB, &p.beta,
                 reinterpret_cast<const void *>(p.c), p.layoutD,
                 reinterpret_cast<void *>(p.d), p.layoutD, &result.algo,
                 reinterpret_cast<void *>(device.workspace),
                 result.workspaceSize, stream) == CUBLAS_STATUS_SUCCESS;
    };
    candidates.push_back(std::move(c));
  }
  return candidates;
}

#ifdef GAON_CUDA_HAVE_KERNELS
/// Splits of K tried per tile shape of Gaon's GEMM.
constexpr int kGemmSplits[] = {1, 2, 3, 4, 6, 8, 12, 16};

/// Gaon's GEMM kernels for `p`: every tile shape and split that launches
/// at most 4 CTAs per SM within the workspace.
void addGemmCandidates(CudaDevice &device, const MatmulProblem &p,
                       std::vector<Candidate> *candidates) {
  if (!p.gemmEligible || !ensureGemmKernels(device).empty())
    return;
  const int64_t sms = std::max(device.multiprocessors, 1);
  for (int tile = 0; tile < gaon::cuda_kernels::gemmTileCount(); ++tile)
    for (int splits : kGemmSplits) {
      gaon::cuda_kernels::GemmParams params = p.gemm;
      gaon::cuda_kernels::GemmLaunch launch =
          gaon::cuda_kernels::chooseGemmLaunch(params, p.gemmShape, tile,
                                               splits, nullptr);
      if (!launch.kernel || launch.workspaceBytes > device.workspaceBytes ||
          launch.counters > kGemmCounters)
        continue;
      const int64_t tiles = int64_t(launch.grid[0]) * launch.grid[1];
      if (tiles * splits > 4 * sms)
        continue;
      Candidate c;
      c.choice.gemmTile = tile;
      c.choice.gemmSplits = splits;
      c.issue = [&device, launch, params](CUstream stream) {
        return launchGemm(device, launch, params, stream).empty();
      };
      candidates->push_back(std::move(c));
    }
}
#endif

/// The fastest candidate by median time; `out` unchanged when none ran.
std::string timeCandidates(CudaDevice &device, CUstream stream,
                           const std::vector<Candidate> &candidates,
                           ChosenMatmulAlgo *out) {
  TimingScope scope(device);
  if (std::string error = scope.init(); !error.empty())
    return error;
  double best = -1.0;
  for (const Candidate &candidate : candidates) {
    auto issue = [&] { return candidate.issue(stream); };
    std::vector<double> times;
    std::string error;
    for (int run = 0; run <= kTimedRuns; ++run) {
      double us = scope.time(stream, issue, &error);
      if (!error.empty())
        return error; // the stream or context is broken: stop
      if (us < 0)
        break; // this candidate does not run here: skip it
      if (run > 0)
        times.push_back(us);
    }
    {
      std::lock_guard<std::mutex> lock(device.statsMutex);
      ++device.stats.matmulAlgosTimed;
    }
    if (times.size() != static_cast<size_t>(kTimedRuns))
      continue;
    std::nth_element(times.begin(), times.begin() + kTimedRuns / 2,
                     times.end());
    double median = times[kTimedRuns / 2];
    if (device.matmulLog >= 2)
      std::fprintf(
          stderr, "gaon cuda:   candidate %s: %.2f us\n",
          candidate.choice.gemmTile >= 0
              ? ("gaon gemm tile " + std::to_string(candidate.choice.gemmTile) +
                 " split " + std::to_string(candidate.choice.gemmSplits))
                    .c_str()
              : "cublasLt",
          median);
    if (best < 0 || median < best) {
      best = median;
      *out = candidate.choice;
      out->microseconds = median;
    }
  }
  return "";
}

} // namespace

std::string chooseMatmulAlgo(CudaDevice &device, const MatmulProblem &problem,
                             CUstream stream, ChosenMatmulAlgo *out) {
  std::lock_guard<std::mutex> lock(device.matmulAlgoMutex);
  if (auto it = device.matmulAlgos.find(problem.signature);
      it != device.matmulAlgos.end()) {
    *out = it->second;
    return "";
  }
  std::vector<cublasLtMatmulHeuristicResult_t> candidates;
  if (std::string error = heuristic(
          device, problem, device.matmulTuning ? kCandidates : 1, &candidates);
      !error.empty())
    return error;
  if (device.matmulTuning && device.matmulSplitK)
    addSplitKVariants(device, problem, &candidates);
  std::vector<Candidate> all = cublasLtCandidates(device, problem, candidates);
#ifdef GAON_CUDA_HAVE_KERNELS
  if (device.matmulTuning && device.matmulGaonGemm) {
    std::vector<Candidate> gemms;
    addGemmCandidates(device, problem, &gemms);
    if (device.matmulGaonGemm == 2 && !gemms.empty())
      all.clear();
    for (Candidate &c : gemms)
      all.push_back(std::move(c));
  }
#endif
  ChosenMatmulAlgo chosen = all.front().choice;
  if (all.size() > 1)
    if (std::string error = timeCandidates(device, stream, all, &chosen);
        !error.empty())
      return error;
  chosen.candidates = static_cast<int>(all.size());
  chosen.splitK = chosen.gemmTile >= 0
                      ? chosen.gemmSplits
                      : static_cast<int>(splitKOf(*device.lt, chosen.algo));
  {
    std::lock_guard<std::mutex> lock(device.statsMutex);
    device.stats.matmulSplitKChosen += chosen.splitK > 1;
    device.stats.matmulGaonGemmChosen += chosen.gemmTile >= 0;
  }
  if (device.matmulLog)
    std::fprintf(stderr,
                 "gaon cuda: matmul %s: %d candidates, %s tile %d, split-K %d, "
                 "%.2f us\n",
                 problem.description.c_str(), chosen.candidates,
                 chosen.gemmTile >= 0 ? "gaon gemm" : "cublasLt",
                 chosen.gemmTile, chosen.splitK, chosen.microseconds);
  device.matmulAlgos.emplace(problem.signature, chosen);
  *out = chosen;
  return "";
}

} // namespace gaon::cuda::detail
