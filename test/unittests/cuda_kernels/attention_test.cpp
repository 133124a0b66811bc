//===- attention_test.cpp - The fused attention kernels vs an fp64 reference
//===//
//
// The launch-choice tests run everywhere. The kernel tests need a GPU and
// libcuda.so.1 (loaded with dlopen) and are skipped without them; each runs
// one problem on the kernel chooseAttentionLaunch picks and compares with
// referenceAttention: relative L2 <= 1e-5 in fp32, <= 1e-2 in fp16/bf16; no
// NaN/inf anywhere; fully masked rows exactly 0; row padding of o untouched.
//
//===----------------------------------------------------------------------===//

#include "AttentionHarness.h"

#include "gaon/cuda_kernels/Attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace gaon::cuda_kernels;
using namespace gaon::cuda_kernels::test;

namespace {

//===----------------------------------------------------------------------===//
// Launch choice (no GPU needed)
//===----------------------------------------------------------------------===//

AttentionParams shape(int b, int h, int hkv, int sq, int sk, int d) {
  AttentionParams p{};
  p.q = p.k = p.v = p.o = 0x10000; // 16-byte aligned, never dereferenced
  p.batch = b;
  p.heads = h;
  p.kvHeads = hkv;
  p.seqQ = sq;
  p.seqK = sk;
  p.headDim = d;
  p.scale = 1.0f / std::sqrt(float(d));
  const int64_t qkv[3] = {int64_t(h) * sq * d, int64_t(sq) * d, d};
  const int64_t kv[3] = {int64_t(hkv) * sk * d, int64_t(sk) * d, d};
  for (int i = 0; i < 3; ++i) {
    p.qStride[i] = p.oStride[i] = qkv[i];
    p.kStride[i] = p.vStride[i] = kv[i];
  }
  return p;
}

std::string chosen(const AttentionParams &p, AttentionDType t, int major = 9,
                   int minor = 0, int multiprocessors = 0) {
  const char *why = nullptr;
  AttentionLaunch l =
      chooseAttentionLaunch(p, t, major, minor, multiprocessors, &why);
  if (!l.kernel)
    return std::string("none: ") + (why ? why : "(no reason)");
  return l.kernel;
}

TEST(AttentionLaunch, PicksSpecializedKernels) {
  EXPECT_EQ(chosen(shape(16, 12, 12, 512, 512, 64), AttentionDType::F16),
            "gaon_attention_f16_d64");
  EXPECT_EQ(chosen(shape(8, 32, 32, 1024, 1024, 128), AttentionDType::BF16),
            "gaon_attention_bf16_d128");
  EXPECT_EQ(chosen(shape(8, 32, 8, 1024, 1024, 128), AttentionDType::F16, 8, 0),
            "gaon_attention_f16_d128");
}

// With the SM count, the query tile shrinks until the grid gives every SM
// two CTAs.
TEST(AttentionLaunch, ShrinksQueryTilesForSmallGrids) {
  // 16 x 12 x 4 = 768 CTAs of 128 rows: plenty for 132 SMs.
  EXPECT_EQ(
      chosen(shape(16, 12, 12, 512, 512, 64), AttentionDType::F16, 9, 0, 132),
      "gaon_attention_f16_d64");
  // BERT-base at 1 x 128: 12 CTAs of 128 rows, 24 of 64, 48 of 32, 96 of
  // 16: the smallest tile, the closest to filling the SMs.
  EXPECT_EQ(
      chosen(shape(1, 12, 12, 128, 128, 64), AttentionDType::F16, 9, 0, 132),
      "gaon_attention_f16_d64_m16");
  // 1 x 12 x 1024: 96 CTAs of 128 rows, 192 of 64, 384 of 32 (two waves).
  EXPECT_EQ(
      chosen(shape(1, 12, 12, 1024, 1024, 64), AttentionDType::BF16, 9, 0, 132),
      "gaon_attention_bf16_d64_m32");
  // 4 x 12 x 1024: 384 CTAs of 128 rows.
  EXPECT_EQ(
      chosen(shape(4, 12, 12, 1024, 1024, 64), AttentionDType::F16, 9, 0, 132),
      "gaon_attention_f16_d64");
  // Causal: 64-row tiles at most, with or without the SM count (GPT-2 at
  // 16 x 512; head dim 128 likewise).
  AttentionParams causal = shape(16, 12, 12, 512, 512, 64);
  causal.causal = 1;
  EXPECT_EQ(chosen(causal, AttentionDType::F16, 9, 0, 132),
            "gaon_attention_f16_d64_m64");
  EXPECT_EQ(chosen(causal, AttentionDType::BF16),
            "gaon_attention_bf16_d64_m64");
  causal = shape(8, 32, 8, 1024, 1024, 128);
  causal.causal = 1;
  EXPECT_EQ(chosen(causal, AttentionDType::F16, 9, 0, 132),
            "gaon_attention_f16_d128_m64");
  EXPECT_EQ(
      chosen(shape(1, 8, 8, 256, 256, 128), AttentionDType::F16, 9, 0, 108),
      "gaon_attention_f16_d128_m16");
  // A known SM count also takes short queries (decode) to a specialized
  // kernel, where unknown keeps the generic 64-row one.
  EXPECT_EQ(chosen(shape(2, 4, 4, 1, 130, 64), AttentionDType::F16, 9, 0, 132),
            "gaon_attention_f16_d64_m16");
  EXPECT_EQ(chosen(shape(2, 4, 4, 1, 130, 64), AttentionDType::F16),
            "gaon_attention_f16_any64");
  const char *why = nullptr;
  AttentionLaunch l = chooseAttentionLaunch(
      shape(1, 12, 12, 128, 128, 64), AttentionDType::F16, 9, 0, 132, &why);
  EXPECT_EQ(l.grid[0], 8u);    // 128 rows / 16 per CTA
  EXPECT_EQ(l.block[0], 128u); // 4 warps, each with its own 32 of 128 keys
}

TEST(AttentionLaunch, FallsBackToGenericKernels) {
  // Head dims without a specialized kernel.
  EXPECT_EQ(chosen(shape(2, 2, 2, 77, 77, 80), AttentionDType::F16),
            "gaon_attention_f16_any128");
  EXPECT_EQ(chosen(shape(1, 2, 2, 100, 100, 36), AttentionDType::BF16),
            "gaon_attention_bf16_any64");
  EXPECT_EQ(chosen(shape(1, 2, 2, 100, 100, 256), AttentionDType::F16),
            "gaon_attention_f16_any256");
  // Short query blocks (decode).
  EXPECT_EQ(chosen(shape(2, 4, 4, 1, 130, 64), AttentionDType::F16),
            "gaon_attention_f16_any64");
  // Rows that cannot be moved in 16-byte pieces.
  AttentionParams p = shape(1, 2, 2, 128, 128, 64);
  p.kStride[2] = 67;
  EXPECT_EQ(chosen(p, AttentionDType::F16), "gaon_attention_f16_any64");
  p = shape(1, 2, 2, 128, 128, 64);
  p.q += 2;
  EXPECT_EQ(chosen(p, AttentionDType::F16), "gaon_attention_f16_any64");
}

TEST(AttentionLaunch, Fp32) {
  EXPECT_EQ(chosen(shape(1, 2, 2, 128, 128, 64), AttentionDType::F32),
            "gaon_attention_f32_d64");
  EXPECT_EQ(chosen(shape(1, 2, 2, 128, 128, 80), AttentionDType::F32),
            "gaon_attention_f32_d128");
  EXPECT_EQ(chosen(shape(1, 2, 2, 128, 128, 200), AttentionDType::F32),
            "gaon_attention_f32_d256");
}

TEST(AttentionLaunch, Shape) {
  const char *why = nullptr;
  AttentionLaunch l = chooseAttentionLaunch(shape(16, 12, 12, 512, 512, 64),
                                            AttentionDType::F16, 9, 0, 0, &why);
  ASSERT_NE(l.kernel, nullptr);
  EXPECT_EQ(why, nullptr);
  EXPECT_EQ(l.grid[0], 4u); // 512 rows / 128 per CTA
  EXPECT_EQ(l.grid[1], 12u);
  EXPECT_EQ(l.grid[2], 16u);
  EXPECT_EQ(l.block[0], 256u);
  EXPECT_EQ(l.block[1], 1u);
  EXPECT_EQ(l.block[2], 1u);
  EXPECT_GT(l.sharedBytes, 0u);
  // Every variant fits the smallest opt-in limit of the supported GPUs.
  for (AttentionDType t :
       {AttentionDType::F32, AttentionDType::F16, AttentionDType::BF16})
    for (int d : {8, 36, 64, 80, 128, 200, 256})
      for (int s : {1, 200}) {
        l = chooseAttentionLaunch(shape(1, 1, 1, s, s, d), t, 8, 6, 108, &why);
        ASSERT_NE(l.kernel, nullptr) << d;
        EXPECT_LE(l.sharedBytes, 99u * 1024) << l.kernel;
      }
}

TEST(AttentionLaunch, Unsupported) {
  EXPECT_EQ(chosen(shape(1, 2, 2, 16, 16, 264), AttentionDType::F16),
            "none: attention head dim > 256 is not supported");
  EXPECT_EQ(chosen(shape(1, 6, 4, 16, 16, 64), AttentionDType::F16),
            "none: attention heads must be a multiple of kvHeads "
            "(grouped-query attention)");
  EXPECT_NE(chosen(shape(1, 2, 2, 16, 16, 64), AttentionDType::F16, 7, 5)
                .find("compute capability 8.0"),
            std::string::npos);
  EXPECT_EQ(
      chosen(shape(1, 2, 2, 0, 16, 64), AttentionDType::F32).rfind("none: ", 0),
      0u);
  AttentionParams p = shape(1, 2, 2, 16, 16, 64);
  p.v = 0;
  EXPECT_EQ(chosen(p, AttentionDType::F32).rfind("none: ", 0), 0u);
  // whyNot may be null.
  AttentionLaunch l = chooseAttentionLaunch(
      shape(1, 2, 2, 16, 16, 300), AttentionDType::F32, 9, 0, 0, nullptr);
  EXPECT_EQ(l.kernel, nullptr);
}

TEST(AttentionLaunch, EmbeddedFatbin) {
  const unsigned char *f = attentionFatbin();
  ASSERT_NE(f, nullptr);
  ASSERT_GT(attentionFatbinSize(), 1024u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f) % 8, 0u);
  const unsigned char magic[4] = {0x50, 0xed, 0x55, 0xba}; // fatbin header
  EXPECT_EQ(std::memcmp(f, magic, 4), 0);
  // Every kernel the chooser can name is in the image (the fatbin is not
  // compressed, so the ELF symbol names are plain).
  const std::string image(reinterpret_cast<const char *>(f),
                          attentionFatbinSize());
  for (AttentionDType t :
       {AttentionDType::F32, AttentionDType::F16, AttentionDType::BF16})
    for (int d : {64, 80, 128, 200, 256})
      for (int s : {1, 200})
        for (int mp : {0, 3, 132}) { // 128-, 64- and 16-row tiles at s 200
          const char *why = nullptr;
          AttentionLaunch l =
              chooseAttentionLaunch(shape(1, 1, 1, s, s, d), t, 9, 0, mp, &why);
          ASSERT_NE(l.kernel, nullptr);
          EXPECT_NE(image.find(std::string(l.kernel) + '\0'), std::string::npos)
              << l.kernel;
        }
}

//===----------------------------------------------------------------------===//
// Kernels on a GPU
//===----------------------------------------------------------------------===//

struct Case {
  std::string name;
  Problem problem;
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
  p.seed = 0x9e3779b97f4a7c15ull ^ (uint64_t(sq) << 20) ^ (uint64_t(d) << 8) ^
           uint64_t(t);
  return p;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (AttentionDType t :
       {AttentionDType::F32, AttentionDType::F16, AttentionDType::BF16}) {
    const std::string n = dtypeName(t);
    auto add = [&](const std::string &name, Problem p) {
      all.push_back({n + "_" + name, p});
    };
    add("d64", make(t, 2, 3, 3, 128, 128, 64));
    add("d128_s200", make(t, 1, 2, 2, 200, 200, 128));
    add("d80_s77", make(t, 2, 2, 2, 77, 77, 80));
    add("decode_sq1", make(t, 2, 4, 4, 1, 130, 64));
    Problem p = make(t, 1, 2, 2, 1, 77, 128);
    p.causal = true;
    add("decode_sq1_causal_d128", p);
    p = make(t, 1, 2, 2, 130, 130, 64);
    p.causal = true;
    add("causal_s130", p);
    p = make(t, 1, 2, 2, 100, 300, 64);
    p.causal = true;
    add("causal_sq100_sk300", p);
    p = make(t, 1, 2, 2, 150, 40, 64);
    p.causal = true; // query rows 0..109 see no key: all zeros
    add("causal_sq150_sk40", p);
    p = make(t, 1, 2, 2, 300, 50, 64);
    add("sq300_sk50", p);
    p = make(t, 1, 1, 1, 5, 1, 64);
    add("sk1", p);
    p = make(t, 2, 4, 4, 96, 96, 64);
    p.mask = MaskKind::PerKey;
    p.maskInfFraction = 0.2;
    add("mask_b11k", p);
    p = make(t, 2, 2, 2, 77, 77, 64);
    p.mask = MaskKind::Full;
    add("mask_full_s77", p);
    p = make(t, 2, 2, 2, 130, 130, 128);
    p.mask = MaskKind::PerRow;
    p.causal = true;
    add("mask_11qk_causal_d128", p);
    p = make(t, 1, 2, 2, 70, 70, 64);
    p.mask = MaskKind::Full;
    p.maskInfFraction = 0.1;
    p.fullyMaskedRow = 5;
    add("fully_masked_row", p);
    p = make(t, 2, 2, 2, 130, 200, 128);
    p.mask = MaskKind::PerRow;
    p.fullyMaskedRow = 129;
    add("fully_masked_row_d128", p);
    p = make(t, 2, 8, 2, 130, 130, 64);
    p.causal = true;
    add("gqa_causal", p);
    p = make(t, 1, 8, 2, 96, 96, 128);
    p.mask = MaskKind::PerKey;
    p.maskInfFraction = 0.1;
    add("gqa_mask_d128", p);
    p = make(t, 2, 4, 4, 130, 130, 64);
    p.bshd = true;
    add("bshd", p);
    p = make(t, 2, 2, 2, 160, 160, 128);
    p.bshd = true;
    p.causal = true;
    add("bshd_causal_d128", p);
    p = make(t, 1, 2, 2, 100, 100, 64);
    p.rowPad = 3; // rows not 16-byte aligned
    add("pad3", p);
    p = make(t, 1, 2, 2, 100, 100, 64);
    p.rowPad = 8;
    add("pad8", p);
    add("d36", make(t, 1, 2, 2, 50, 50, 36));
    add("d8", make(t, 1, 1, 1, 33, 33, 8));
    add("d100", make(t, 1, 2, 2, 65, 65, 100));
    add("d256", make(t, 1, 2, 2, 70, 70, 256));
    p = make(t, 1, 1, 1, 90, 90, 200);
    p.causal = true;
    add("d200_causal", p);
    p = make(t, 1, 2, 2, 1024, 1024, 64);
    p.causal = true;
    add("causal_s1024", p);
  }
  return all;
}

/// The module, loaded once per process from the embedded fatbin.
Module *module(CudaDriver &drv) {
  static std::unique_ptr<Module> m(new Module(drv, attentionFatbin()));
  return m.get();
}

class AttentionKernel : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionKernel, MatchesReference) {
  CudaDriver &drv = CudaDriver::get();
  if (!drv.ok())
    GTEST_SKIP() << "no GPU: " << drv.error;
  Module *m = module(drv);
  ASSERT_TRUE(m->ok()) << m->error();
  const Problem &p = GetParam().problem;
  // Without the SM count: the largest query tiles; with it: what the driver
  // runs (smaller tiles for these small grids). Fresh buffers each time.
  for (int multiprocessors : {0, drv.multiprocessors}) {
    ProblemData d = makeProblemData(p);
    struct Release {
      CudaDriver &drv;
      ProblemData &d;
      ~Release() { release(drv, d); }
    } guard{drv, d};
    ASSERT_EQ(upload(drv, d), "");
    const AttentionParams params = makeParams(p, d);
    const char *why = nullptr;
    const AttentionLaunch l = chooseAttentionLaunch(
        params, p.dtype, drv.smMajor, drv.smMinor, multiprocessors, &why);
    ASSERT_NE(l.kernel, nullptr) << why;
    std::string err;
    CUfunction f = m->function(l.kernel, &err);
    ASSERT_NE(f, nullptr) << err;
    ASSERT_EQ(launchAttention(drv, f, l, params), "");
    CUresult r = drv.cuCtxSynchronize();
    ASSERT_EQ(r, CUDA_SUCCESS) << l.kernel << ": " << drv.describe(r);
    r = drv.cuMemcpyDtoH_v2(d.o.bytes.data(), d.o.dev, d.o.bytes.size());
    ASSERT_EQ(r, CUDA_SUCCESS) << drv.describe(r);

    const Comparison c = compareWithReference(p, d, params.scale);
    EXPECT_EQ(c.nonFinite, 0u) << l.kernel;
    EXPECT_EQ(c.padChanged, 0u) << l.kernel << " wrote into row padding";
    EXPECT_EQ(c.maskedNonZero, 0u)
        << l.kernel << ": fully masked rows must be 0";
    EXPECT_LE(c.relL2, tolerance(p.dtype))
        << l.kernel << " on " << p.describe();
    std::printf("  %-28s %-40s rel L2 %.3g\n", l.kernel, p.describe().c_str(),
                c.relL2);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, AttentionKernel, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

} // namespace
