//===- attention_emulation_test.cpp - The kernels on the CPU emulation ----===//
//
// Runs attention.cu's kernels through CudaEmulation.h (no GPU needed) on
// small problems that cover every variant chooseAttentionLaunch picks and
// every tuning candidate, and compares with the fp64 reference at the same
// tolerances as the GPU test. This is what tests the kernels' logic in CI;
// attention_test.cpp adds the real hardware on a GPU machine.
//
//===----------------------------------------------------------------------===//

#include "AttentionHarness.h"
#include "EmulatedKernels.h"

#include "gaon/cuda_kernels/Attention.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

using namespace gaon::cuda_kernels;
using namespace gaon::cuda_kernels::test;

namespace {

struct Case {
  std::string name;
  Problem problem;
  int multiprocessors = 0; ///< passed to chooseAttentionLaunch
};

// Readable, deterministic test parameter text (the default dumps bytes).
void PrintTo(const Case &c, std::ostream *os) { *os << c.problem.describe(); }

Problem make(AttentionDType t, int b, int h, int hkv, int sq, int sk, int d) {
  Problem p;
  p.dtype = t;
  p.batch = b;
  p.heads = h;
  p.kvHeads = hkv;
  p.seqQ = sq;
  p.seqK = sk;
  p.headDim = d;
  p.seed = 0x2545f4914f6cdd1dull ^ (uint64_t(sq) << 24) ^ (uint64_t(sk) << 12) ^
           (uint64_t(d) << 4) ^ uint64_t(t);
  return p;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (AttentionDType t :
       {AttentionDType::F32, AttentionDType::F16, AttentionDType::BF16}) {
    const std::string n = dtypeName(t);
    auto add = [&](const std::string &name, Problem p, int mp = 0) {
      all.push_back({n + "_" + name, p, mp});
    };
    // Specialized kernels (fp16/bf16: seqQ > 64, aligned, D = 64 / 128).
    Problem p = make(t, 1, 2, 2, 130, 130, 64);
    p.mask = MaskKind::PerKey;
    p.maskInfFraction = 0.2;
    add("d64_mask_b11k", p);
    p = make(t, 1, 4, 2, 100, 140, 64);
    p.causal = true;
    add("d64_gqa_causal_sq100_sk140", p);
    p = make(t, 1, 2, 2, 70, 70, 128);
    p.bshd = true;
    p.mask = MaskKind::Full;
    p.fullyMaskedRow = 3;
    add("d128_bshd_mask_full_masked_row", p);
    p = make(t, 1, 1, 1, 300, 40, 64);
    p.causal = true; // the first query block has no key tile at all
    add("d64_causal_sq300_sk40", p);
    // A negative scale: max(scale s) is not scale max(s), so the scale
    // cannot move into the exponent; with and without a per-key mask.
    p = make(t, 1, 2, 2, 130, 130, 64);
    p.scale = -0.3;
    add("d64_negative_scale", p);
    p.mask = MaskKind::PerKey;
    add("d64_negative_scale_mask_b11k", p);
    // Smaller query tiles for small grids (fp16/bf16): the largest tile
    // that gives each of `mp` SMs two CTAs, else the smallest (16 rows).
    p = make(t, 1, 2, 2, 130, 130, 64);
    p.mask = MaskKind::PerKey;
    p.maskInfFraction = 0.2;
    add("d64_mask_m64", p, 3); // 4 CTAs of 128 rows, 6 of 64
    add("d64_mask_m32", p, 5); // 6 of 64 rows, 10 of 32 (split keys)
    p = make(t, 1, 4, 2, 100, 140, 64);
    p.causal = true;
    add("d64_gqa_causal_m16", p, 132);
    p = make(t, 1, 2, 2, 70, 70, 128);
    p.bshd = true;
    p.mask = MaskKind::Full;
    p.fullyMaskedRow = 3;
    add("d128_bshd_mask_m64", p, 2); // 2 of 128 rows, 4 of 64
    p = make(t, 2, 2, 2, 1, 77, 128);
    add("decode_d128_m16", p, 132);
    // Generic kernels.
    p = make(t, 2, 2, 2, 1, 77, 128);
    add("decode_d128", p);
    p = make(t, 1, 2, 2, 40, 50, 80);
    p.mask = MaskKind::PerRow;
    p.causal = true;
    add("d80_mask_11qk_causal", p);
    p = make(t, 1, 1, 1, 40, 40, 64);
    p.rowPad = 3;
    add("d64_pad3", p);
    add("d36", make(t, 1, 1, 1, 20, 33, 36));
    add("d200", make(t, 1, 1, 1, 20, 40, 200));
  }
  return all;
}

const EmulatedKernel *findKernel(const std::vector<EmulatedKernel> &ks,
                                 const char *name) {
  for (const EmulatedKernel &k : ks)
    if (std::strcmp(k.name, name) == 0)
      return &k;
  return nullptr;
}

/// Runs `p` on the emulated `kernel` with `launch`; checks like the GPU test.
void runAndCompare(const Problem &p, void (*kernel)(AttentionParams),
                   const AttentionLaunch &launch) {
  ProblemData d = makeProblemData(p);
  for (Tensor *t : {&d.q, &d.k, &d.v, &d.o, &d.mask})
    t->dev =
        t->bytes.empty() ? 0 : reinterpret_cast<uintptr_t>(t->bytes.data());
  const AttentionParams params = makeParams(p, d);
  ASSERT_EQ(runEmulated(kernel, launch, params), "") << launch.kernel;
  const Comparison c = compareWithReference(p, d, params.scale);
  EXPECT_EQ(c.nonFinite, 0u) << launch.kernel;
  EXPECT_EQ(c.padChanged, 0u) << launch.kernel << " wrote into row padding";
  EXPECT_EQ(c.maskedNonZero, 0u)
      << launch.kernel << ": fully masked rows must be 0";
  // Tighter than the GPU test's 1e-2: the emulation's errors are the
  // kernels' rounding alone (typically 2.5e-4 fp16, 2e-3 bf16, 3e-7 fp32),
  // so a few wrong elements must not hide under the tolerance.
  const double tol = p.dtype == AttentionDType::F32   ? 1e-5
                     : p.dtype == AttentionDType::F16 ? 1.5e-3
                                                      : 6e-3;
  EXPECT_LE(c.relL2, tol) << launch.kernel << " on " << p.describe();
  std::printf("  %-32s %-44s rel L2 %.3g\n", launch.kernel,
              p.describe().c_str(), c.relL2);
}

class EmulatedAttention : public ::testing::TestWithParam<Case> {};

TEST_P(EmulatedAttention, MatchesReference) {
  const Problem &p = GetParam().problem;
  ProblemData probe = makeProblemData(p);
  // Only the shape and alignment matter for the choice; host buffers from
  // malloc are 16-byte aligned like device ones.
  for (Tensor *t : {&probe.q, &probe.k, &probe.v, &probe.o})
    t->dev = reinterpret_cast<uintptr_t>(t->bytes.data());
  const char *why = nullptr;
  const AttentionLaunch l = chooseAttentionLaunch(
      makeParams(p, probe), p.dtype, 9, 0, GetParam().multiprocessors, &why);
  ASSERT_NE(l.kernel, nullptr) << why;
  const EmulatedKernel *k = findKernel(emulatedKernels(), l.kernel);
  ASSERT_NE(k, nullptr) << l.kernel;
  runAndCompare(p, k->fn, l);
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatedAttention, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

TEST(EmulatedAttention, CasesCoverEveryShippedKernel) {
  std::set<std::string> used;
  for (const Case &c : cases()) {
    ProblemData d = makeProblemData(c.problem);
    for (Tensor *t : {&d.q, &d.k, &d.v, &d.o})
      t->dev = reinterpret_cast<uintptr_t>(t->bytes.data());
    const char *why = nullptr;
    const AttentionLaunch l =
        chooseAttentionLaunch(makeParams(c.problem, d), c.problem.dtype, 9, 0,
                              c.multiprocessors, &why);
    if (l.kernel)
      used.insert(l.kernel);
  }
  for (const EmulatedKernel &k : emulatedKernels())
    EXPECT_TRUE(used.count(k.name)) << k.name << " is not exercised";
}

/// Each tuning candidate on a ragged causal problem of its head dim.
class EmulatedTuningKernel : public ::testing::TestWithParam<EmulatedKernel> {};

TEST_P(EmulatedTuningKernel, MatchesReference) {
  const EmulatedKernel &k = GetParam();
  // Two query blocks of the 128-row shapes, a partial key tile.
  Problem p = make(AttentionDType::F16, 1, 1, 1, 130, 150, k.headDim);
  p.causal = true;
  p.mask = MaskKind::PerKey;
  p.maskInfFraction = 0.1;
  AttentionLaunch l{k.name,
                    {static_cast<uint32_t>((p.seqQ + k.rows - 1) / k.rows),
                     static_cast<uint32_t>(p.heads),
                     static_cast<uint32_t>(p.batch)},
                    {static_cast<uint32_t>(k.threads), 1, 1},
                    k.sharedBytes};
  runAndCompare(p, k.fn, l);
}

INSTANTIATE_TEST_SUITE_P(
    Tuning, EmulatedTuningKernel, ::testing::ValuesIn(emulatedTuningKernels()),
    [](const ::testing::TestParamInfo<EmulatedKernel> &info) {
      return std::string(info.param.name);
    });

} // namespace
