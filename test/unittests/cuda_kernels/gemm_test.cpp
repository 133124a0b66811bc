//===- gemm_test.cpp - gemm.cu's kernels on a GPU -------------------------===//
//
// Every entry point of the split-K GEMM (tile shapes x input/output types x
// B layouts) on transformer-sized problems, split 1, 4 and 12 ways, against
// the fp64 reference (GemmHarness.h); each problem runs twice to check that
// the arrival counters come back to zero and the result is deterministic.
// Skipped without a GPU; gemm_emulation_test.cpp covers the logic in CI.
//
//===----------------------------------------------------------------------===//

#include "AttentionHarness.h"
#include "CudaDriver.h"
#include "GemmHarness.h"

#include "gaon/cuda_kernels/Gemm.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using namespace gaon::cuda_kernels;
using namespace gaon::cuda_kernels::test;

namespace {

struct Case {
  GemmProblem problem;
  int tile = 0;
  std::string name() const {
    return problem.describe() + "_tile" + std::to_string(tile);
  }
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name(); }

std::vector<Case> cases() {
  std::vector<Case> all;
  uint64_t seed = 100;
  forEachGemmEntryPoint([&](int tile, GemmShape shape) {
    // BERT's FFN up-projection (bias + GELU), and its down-projection
    // with the residual, at 128 tokens; then 77 tokens (ragged M).
    GemmProblem p;
    p.shape = shape;
    p.m = 128;
    p.n = 3072;
    p.k = 768;
    p.seed = seed++;
    p.epilogue = shape.f32Out ? GemmEpilogue::Gelu : GemmEpilogue::BiasGelu;
    all.push_back({p, tile});
    p.m = 77;
    p.n = 768;
    p.k = 3072;
    p.seed = seed++;
    p.epilogue = GemmEpilogue::None;
    p.beta = 1.0f;
    all.push_back({p, tile});
  });
  return all;
}

struct DeviceBuffer {
  CudaDriver &drv;
  CUdeviceptr ptr = 0;
  DeviceBuffer(CudaDriver &drv, size_t bytes, const void *host = nullptr)
      : drv(drv) {
    if (drv.cuMemAlloc_v2(&ptr, bytes) != CUDA_SUCCESS)
      ptr = 0;
    else if (host)
      drv.cuMemcpyHtoD_v2(ptr, host, bytes);
  }
  ~DeviceBuffer() {
    if (ptr)
      drv.cuMemFree_v2(ptr);
  }
};

Module *gemmModule(CudaDriver &drv) {
  static std::unique_ptr<Module> m(new Module(drv, gemmFatbin()));
  return m.get();
}

class GemmKernel : public ::testing::TestWithParam<Case> {};

TEST_P(GemmKernel, MatchesReference) {
  CudaDriver &drv = CudaDriver::get();
  if (!drv.ok())
    GTEST_SKIP() << "no GPU: " << drv.error;
  Module *m = gemmModule(drv);
  ASSERT_TRUE(m->ok()) << m->error();
  const GemmProblem &p = GetParam().problem;
  const GemmData original = makeGemmData(p);
  for (int splits : {1, 4, 12}) {
    GemmData data = original;
    DeviceBuffer a(drv, data.a.size() * 2, data.a.data()),
        b(drv, data.b.size() * 2, data.b.data()),
        bias(drv, data.bias.size() * 2, data.bias.data()),
        c(drv, data.c.size(), data.c.data()),
        d(drv, data.d.size(), data.d.data());
    GemmParams params =
        gemmParams(p, a.ptr, b.ptr, bias.ptr, c.ptr, d.ptr, 0, 0);
    const char *why = nullptr;
    GemmLaunch launch =
        chooseGemmLaunch(params, p.shape, GetParam().tile, splits, &why);
    ASSERT_NE(launch.kernel, nullptr) << why;
    std::vector<int> zeros(std::max<uint32_t>(launch.counters, 1), 0);
    DeviceBuffer workspace(drv, std::max<uint64_t>(launch.workspaceBytes, 4)),
        counters(drv, zeros.size() * 4, zeros.data());
    params.workspace = workspace.ptr;
    params.counters = counters.ptr;
    std::string err;
    CUfunction f = m->function(launch.kernel, &err);
    ASSERT_NE(f, nullptr) << err;
    std::vector<unsigned char> first;
    for (int run = 0; run < 2; ++run) {
      ASSERT_EQ(launchKernel(drv, f, launch, params), "");
      CUresult r = drv.cuCtxSynchronize();
      ASSERT_EQ(r, CUDA_SUCCESS) << launch.kernel << ": " << drv.describe(r);
      ASSERT_EQ(drv.cuMemcpyDtoH_v2(data.d.data(), d.ptr, data.d.size()),
                CUDA_SUCCESS);
      EXPECT_EQ(compareGemm(p, data), "")
          << launch.kernel << " split " << splits;
      if (run == 0)
        first = data.d;
      else
        EXPECT_EQ(data.d, first) << launch.kernel << ": not deterministic";
    }
    ASSERT_EQ(drv.cuMemcpyDtoH_v2(zeros.data(), counters.ptr, zeros.size() * 4),
              CUDA_SUCCESS);
    for (int v : zeros)
      EXPECT_EQ(v, 0) << launch.kernel << ": counters not reset";
  }
}

INSTANTIATE_TEST_SUITE_P(AllKernels, GemmKernel, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return info.param.name();
                         });

} // namespace
