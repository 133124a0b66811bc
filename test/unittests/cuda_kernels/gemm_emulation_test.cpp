//===- gemm_emulation_test.cpp - gemm.cu's kernels on the CPU -------------===//
//
// Compiles gemm.cu with the host compiler against CudaEmulation.h and runs
// every entry point (every tile shape, input type, output type and B
// layout) on small problems with ragged edges (M, N not multiples of the
// tile, K not a multiple of the pipeline stage), split 1 and several ways
// along K, with each epilogue; compares with the fp64 reference
// (GemmHarness.h). gemm_test.cpp runs the same on a GPU.
//
//===----------------------------------------------------------------------===//

#define GAON_CUDA_EMULATION 1
#include "CudaEmulation.h"

#include "gemm.cu"

#include "GemmHarness.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

using namespace gaon::cuda_kernels;
using namespace gaon::cuda_kernels::test;

namespace {

/// Every entry point of gemm.cu by name.
const std::map<std::string, void (*)(GemmParams)> &entryPoints() {
  static const std::map<std::string, void (*)(GemmParams)> kernels = {
#define GAON_GEMM_ONE(IN, OUT, LAYOUT, BM, BN)                                 \
  {"gaon_gemm_" #IN "_" #OUT "_" #LAYOUT "_m" #BM "n" #BN,                     \
   &::gaon_gemm_##IN##_##OUT##_##LAYOUT##_m##BM##n##BN},
#define GAON_GEMM_TILE(INDEX, BM, BN, WARPS_M, WARPS_N)                        \
  GAON_GEMM_ONE(f16, o16, nn, BM, BN)                                          \
  GAON_GEMM_ONE(f16, o16, nt, BM, BN)                                          \
  GAON_GEMM_ONE(f16, o32, nn, BM, BN)                                          \
  GAON_GEMM_ONE(f16, o32, nt, BM, BN)                                          \
  GAON_GEMM_ONE(bf16, o16, nn, BM, BN)                                         \
  GAON_GEMM_ONE(bf16, o16, nt, BM, BN)                                         \
  GAON_GEMM_ONE(bf16, o32, nn, BM, BN)                                         \
  GAON_GEMM_ONE(bf16, o32, nt, BM, BN)
#include "GemmVariants.def"
#undef GAON_GEMM_TILE
#undef GAON_GEMM_ONE
  };
  return kernels;
}

struct Case {
  GemmProblem problem;
  int tile = 0, splits = 1;
  std::string name() const {
    return problem.describe() + "_tile" + std::to_string(tile) + "_split" +
           std::to_string(splits);
  }
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name(); }

std::vector<Case> cases() {
  std::vector<Case> all;
  uint64_t seed = 1;
  forEachGemmEntryPoint([&](int tile, GemmShape shape) {
    // Ragged M, N and K (K = 4.25 pipeline stages): bias + GELU
    // (input-type outputs; cuBLASLt has no bias with f32 outputs
    // either) unsplit, and a residual with ReLU split 3 ways.
    GemmProblem p;
    p.shape = shape;
    p.m = 70;
    p.n = 72;
    p.k = 136;
    p.seed = seed++;
    p.epilogue = shape.f32Out ? GemmEpilogue::Gelu : GemmEpilogue::BiasGelu;
    all.push_back({p, tile, 1});
    p.seed = seed++;
    p.epilogue = GemmEpilogue::Relu;
    p.alpha = 0.5f;
    p.beta = 1.0f;
    all.push_back({p, tile, 3});
  });
  return all;
}

class GemmEmulation : public ::testing::TestWithParam<Case> {};

TEST_P(GemmEmulation, MatchesReference) {
  const Case &c = GetParam();
  const GemmProblem &p = c.problem;
  GemmData data = makeGemmData(p);
  // Workspace and counters sized from the launch.
  GemmParams params =
      gemmParams(p, reinterpret_cast<uint64_t>(data.a.data()),
                 reinterpret_cast<uint64_t>(data.b.data()),
                 reinterpret_cast<uint64_t>(data.bias.data()),
                 reinterpret_cast<uint64_t>(data.c.data()),
                 reinterpret_cast<uint64_t>(data.d.data()), 0, 0);
  const char *whyNot = nullptr;
  GemmLaunch launch =
      chooseGemmLaunch(params, p.shape, c.tile, c.splits, &whyNot);
  ASSERT_NE(launch.kernel, nullptr) << (whyNot ? whyNot : "");
  EXPECT_EQ(launch.grid[2], static_cast<uint32_t>(c.splits));
  std::vector<float> workspace(launch.workspaceBytes / sizeof(float));
  std::vector<int> counters(launch.counters, 0);
  params.workspace = reinterpret_cast<uint64_t>(workspace.data());
  params.counters = reinterpret_cast<uint64_t>(counters.data());
  auto it = entryPoints().find(launch.kernel);
  ASSERT_NE(it, entryPoints().end()) << launch.kernel;

  ASSERT_EQ(gaonEmu::launch(it->second, launch, params), "");
  EXPECT_EQ(compareGemm(p, data), "");
  // The last slice of each tile resets its counter for the next launch,
  // and a second run gives the same bytes.
  for (int v : counters)
    EXPECT_EQ(v, 0);
  std::vector<unsigned char> first = data.d;
  ASSERT_EQ(gaonEmu::launch(it->second, launch, params), "");
  EXPECT_EQ(data.d, first);
}

INSTANTIATE_TEST_SUITE_P(AllKernels, GemmEmulation,
                         ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return info.param.name();
                         });

/// What chooseGemmLaunch refuses, with its reason.
TEST(GemmLaunchChoice, RejectsWhatTheKernelsCannotRun) {
  GemmProblem p;
  p.m = 128;
  p.n = 768;
  p.k = 768;
  const uint64_t base = 1 << 20; // 16-byte aligned fake addresses
  auto params = [&] {
    return gemmParams(p, base, base, base, base, base, base, base);
  };
  const char *why = nullptr;
  GemmParams ok = params();
  GemmLaunch launch = chooseGemmLaunch(ok, p.shape, 0, 4, &why);
  ASSERT_NE(launch.kernel, nullptr) << why;
  EXPECT_STREQ(launch.kernel, "gaon_gemm_f16_o16_nn_m32n32");
  EXPECT_EQ(ok.kSlice, 192); // 12 stages of 64 in 4 slices
  EXPECT_EQ(launch.grid[0], 24u);
  EXPECT_EQ(launch.grid[1], 4u);
  EXPECT_EQ(launch.grid[2], 4u);
  EXPECT_EQ(launch.counters, 96u);
  EXPECT_EQ(launch.workspaceBytes, 4ull * 128 * 768 * 4);

  GemmParams misaligned = params();
  misaligned.b += 2;
  EXPECT_EQ(chooseGemmLaunch(misaligned, p.shape, 0, 1, &why).kernel, nullptr);
  EXPECT_STREQ(why, "operands must be 16-byte aligned");

  GemmParams oddK = params();
  oddK.k = 770;
  EXPECT_EQ(chooseGemmLaunch(oddK, p.shape, 0, 1, &why).kernel, nullptr);
  EXPECT_STREQ(why, "N and K must be multiples of 8");

  GemmParams tooSplit = params();
  EXPECT_EQ(chooseGemmLaunch(tooSplit, p.shape, 0, 13, &why).kernel, nullptr);
  EXPECT_STREQ(why, "more K slices than pipeline stages");

  GemmParams badTile = params();
  EXPECT_EQ(chooseGemmLaunch(badTile, p.shape, gemmTileCount(), 1, &why).kernel,
            nullptr);
  EXPECT_STREQ(why, "no such tile shape");
}

} // namespace
