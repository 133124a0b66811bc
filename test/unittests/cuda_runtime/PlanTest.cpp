//===- PlanTest.cpp - The cuda-plan codec ---------------------------------===//
//
// Round trip of every step kind; every truncation and many random byte flips
// are either rejected or decoded (never a crash: this also runs under
// ASan/UBSan builds); semantic errors (binding, module, enum) have messages.
//
//===----------------------------------------------------------------------===//

#include "gaon/cuda_runtime/Plan.h"

#include <gtest/gtest.h>

#include <cmath>

#include <cstring>
#include <random>

using namespace gaon;
using namespace gaon::cuda;

namespace {

Plan samplePlan() {
  Plan plan;
  plan.arch = "sm_90";
  plan.modules = {".version 8.0\n.target sm_80\n", "// second module\n"};
  plan.bindingCount = 6;

  LaunchStep launch;
  launch.module = 1;
  launch.kernel = "add_f32";
  launch.grid[0] = 4;
  launch.block[0] = 256;
  launch.block[1] = 2;
  launch.sharedBytes = 1024;
  launch.args = {KernelArg::ptr({0, 0}), KernelArg::ptr({1, 4096}),
                 KernelArg::i32(-7), KernelArg::i64(1ll << 40),
                 KernelArg::f32(0.125f)};
  plan.steps.push_back(launch);

  MatmulStep mm;
  mm.dtype = rt::DType::F16;
  mm.m = 128;
  mm.n = 768;
  mm.k = 64;
  mm.batch = 3;
  mm.transA = false;
  mm.transB = true;
  mm.lda = 64;
  mm.ldb = 64;
  mm.ldd = 768;
  mm.strideA = 128 * 64;
  mm.strideB = 0;
  mm.strideD = 128 * 768;
  mm.alpha = 0.5f;
  mm.epilogue = Epilogue::BiasGelu;
  mm.a = {2, 16};
  mm.b = {3, 0};
  mm.d = {4, 32};
  mm.bias = {5, 8};
  mm.beta = 1.0f;
  mm.c = {4, 4096};
  plan.steps.push_back(mm);

  AttentionStep at;
  at.dtype = rt::DType::BF16;
  at.batch = 2;
  at.heads = 8;
  at.kvHeads = 2;
  at.seqQ = 16;
  at.seqK = 32;
  at.headDim = 64;
  at.scale = 0.125f;
  at.causal = true;
  at.hasMask = true;
  at.q = {0, 0};
  at.k = {1, 64};
  at.v = {2, 128};
  at.o = {3, 256};
  at.mask = {4, 512};
  for (int i = 0; i < 3; ++i) {
    at.qStride[i] = 1000 + i;
    at.kStride[i] = 2000 + i;
    at.vStride[i] = 3000 + i;
    at.oStride[i] = 4000 + i;
    at.maskStride[i] = i;
  }
  plan.steps.push_back(at);

  CopyStep copy;
  copy.src = {1, 100};
  copy.dst = {5, 200};
  copy.bytes = 300;
  plan.steps.push_back(copy);
  return plan;
}

void expectEqual(const Plan &a, const Plan &b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.modules, b.modules);
  EXPECT_EQ(a.bindingCount, b.bindingCount);
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    ASSERT_EQ(a.steps[i].index(), b.steps[i].index()) << "step " << i;
    // Re-encoding is a canonical comparison of every field.
    Plan one, two;
    one.steps = {a.steps[i]};
    two.steps = {b.steps[i]};
    EXPECT_EQ(encodePlan(one), encodePlan(two)) << "step " << i;
  }
}

rt::Result<Plan> decode(const std::vector<uint8_t> &bytes) {
  return decodePlan(bytes.data(), bytes.size());
}

TEST(CudaPlan, RoundTripEveryStepKind) {
  Plan plan = samplePlan();
  std::vector<uint8_t> bytes = encodePlan(plan);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
  expectEqual(plan, *decoded);

  const auto &launch = std::get<LaunchStep>(decoded->steps[0]);
  EXPECT_EQ(launch.kernel, "add_f32");
  EXPECT_EQ(launch.block[1], 2u);
  ASSERT_EQ(launch.args.size(), 5u);
  EXPECT_EQ(launch.args[1].pointer, (DevicePtr{1, 4096}));
  EXPECT_EQ(launch.args[2].integer, -7);
  EXPECT_EQ(launch.args[3].integer, 1ll << 40);
  EXPECT_EQ(launch.args[4].real, 0.125f);
  const auto &mm = std::get<MatmulStep>(decoded->steps[1]);
  EXPECT_EQ(mm.epilogue, Epilogue::BiasGelu);
  EXPECT_TRUE(mm.transB);
  EXPECT_EQ(mm.bias, (DevicePtr{5, 8}));
  EXPECT_EQ(mm.beta, 1.0f);
  EXPECT_EQ(mm.c, (DevicePtr{4, 4096}));
  EXPECT_FALSE(mm.f32Out);
  const auto &at = std::get<AttentionStep>(decoded->steps[2]);
  EXPECT_EQ(at.kvHeads, 2);
  EXPECT_EQ(at.maskStride[2], 2);
  EXPECT_TRUE(at.causal);
  EXPECT_EQ(std::get<CopyStep>(decoded->steps[3]).bytes, 300u);

  // Re-encoding the decoded plan gives the same bytes.
  EXPECT_EQ(encodePlan(*decoded), bytes);
}

TEST(CudaPlan, EmptyPlanRoundTrips) {
  Plan plan;
  auto decoded = decode(encodePlan(plan));
  ASSERT_TRUE(decoded.isOk()) << decoded.status().toString();
  EXPECT_TRUE(decoded->steps.empty());
  EXPECT_EQ(decoded->arch, "sm_90");
}

TEST(CudaPlan, DescribeStep) {
  Plan plan = samplePlan();
  EXPECT_EQ(describeStep(plan.steps[0]),
            "launch add_f32 (module 1) grid [4,1,1] block [256,2,1] smem "
            "1024, 5 args");
  EXPECT_EQ(describeStep(plan.steps[1]),
            "matmul f16 m=128 n=768 k=64 batch=3 transB epilogue=bias_gelu "
            "a=b2+16 b=b3+0 d=b4+32 + 1 * c=b4+4096");
  EXPECT_EQ(describeStep(plan.steps[2]),
            "attention bf16 batch=2 heads=8/2 seq=16x32 dim=64 causal mask");
  EXPECT_EQ(describeStep(plan.steps[3]), "copy 300 bytes b1+100 -> b5+200");
}

TEST(CudaPlan, EveryTruncationIsRejected) {
  std::vector<uint8_t> bytes = encodePlan(samplePlan());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decodePlan(bytes.data(), n);
    ASSERT_FALSE(decoded.isOk()) << "prefix of " << n << " bytes decoded";
    EXPECT_FALSE(decoded.status().message().empty());
  }
  // And a trailing byte is too.
  bytes.push_back(0);
  auto decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_NE(decoded.status().message().find("trailing"), std::string::npos)
      << decoded.status().message();
}

TEST(CudaPlan, RandomByteFlipsNeverCrash) {
  std::vector<uint8_t> original = encodePlan(samplePlan());
  std::mt19937_64 rng(1234);
  int decodedCount = 0, rejected = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<uint8_t> bytes = original;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto decoded = decode(bytes);
    if (decoded.isOk()) {
      ++decodedCount;
      // Whatever decodes is internally consistent.
      for (const Step &step : decoded->steps) {
        std::visit(
            [&](const auto &s) {
              using T = std::decay_t<decltype(s)>;
              if constexpr (std::is_same_v<T, LaunchStep>) {
                EXPECT_LT(s.module, decoded->modules.size());
                for (const KernelArg &a : s.args)
                  if (a.kind == KernelArg::Kind::Pointer) {
                    EXPECT_LT(a.pointer.binding, decoded->bindingCount);
                  }
              } else if constexpr (std::is_same_v<T, CopyStep>) {
                EXPECT_LT(s.src.binding, decoded->bindingCount);
                EXPECT_LT(s.dst.binding, decoded->bindingCount);
              } else if constexpr (std::is_same_v<T, MatmulStep>) {
                EXPECT_LT(s.d.binding, decoded->bindingCount);
                EXPECT_GT(s.m, 0);
              }
            },
            step);
        (void)describeStep(step);
      }
    } else {
      ++rejected;
      EXPECT_FALSE(decoded.status().message().empty());
    }
  }
  // Offsets, scalars and PTX text are free-form, so some flips decode.
  EXPECT_GT(rejected, 0);
  EXPECT_GT(decodedCount, 0);
}

TEST(CudaPlan, EveryByteFlippedFullyIsHandled) {
  std::vector<uint8_t> original = encodePlan(samplePlan());
  for (size_t i = 0; i < original.size(); ++i)
    for (uint8_t x : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> bytes = original;
      bytes[i] ^= x;
      auto decoded = decode(bytes);
      if (!decoded.isOk()) {
        EXPECT_FALSE(decoded.status().message().empty());
      }
    }
}

TEST(CudaPlan, HugeCountsAreRefusedBeforeAllocating) {
  std::vector<uint8_t> bytes = encodePlan(Plan());
  // Step count is the last u32.
  std::memset(bytes.data() + bytes.size() - 4, 0xff, 4);
  auto decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_EQ(decoded.status().code(), rt::StatusCode::DataLoss);
  EXPECT_NE(decoded.status().message().find("step count"), std::string::npos)
      << decoded.status().message();
}

TEST(CudaPlan, BadMagicAndVersion) {
  std::vector<uint8_t> bytes = encodePlan(samplePlan());
  bytes[0] = 'X';
  auto decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_EQ(decoded.status().code(), rt::StatusCode::DataLoss);
  EXPECT_NE(decoded.status().message().find("not a cuda-plan"),
            std::string::npos);

  bytes = encodePlan(samplePlan());
  bytes[4] = 1; // version 1 plans had no residual or f32-output fields
  decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_EQ(decoded.status().code(), rt::StatusCode::FailedPrecondition);
  EXPECT_NE(decoded.status().message().find("unsupported version 1"),
            std::string::npos)
      << decoded.status().message();
  EXPECT_FALSE(decodePlan(nullptr, 0).isOk());
}

// Expects `plan` to be refused with a message containing `needle`.
void expectRejected(const Plan &plan, const std::string &needle) {
  auto decoded = decode(encodePlan(plan));
  ASSERT_FALSE(decoded.isOk()) << "accepted; wanted '" << needle << "'";
  EXPECT_NE(decoded.status().message().find(needle), std::string::npos)
      << decoded.status().message();
}

TEST(CudaPlan, SemanticErrorsHaveMessages) {
  {
    Plan plan = samplePlan();
    std::get<LaunchStep>(plan.steps[0]).args[1].pointer.binding = 6;
    expectRejected(plan, "argument 1 uses binding 6 but the plan has 6");
  }
  {
    Plan plan = samplePlan();
    std::get<LaunchStep>(plan.steps[0]).module = 2;
    expectRejected(plan, "module 2 does not exist");
  }
  {
    Plan plan = samplePlan();
    std::get<LaunchStep>(plan.steps[0]).grid[1] = 0;
    expectRejected(plan, "grid dimension 1 is 0");
  }
  {
    Plan plan = samplePlan();
    std::get<LaunchStep>(plan.steps[0]).block[2] = 0;
    expectRejected(plan, "block dimension 2 is 0");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).epilogue = static_cast<Epilogue>(9);
    expectRejected(plan, "unknown epilogue 9");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).dtype = rt::DType::I32;
    expectRejected(plan, "is not f32, f16 or bf16");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).dtype = static_cast<rt::DType>(99);
    expectRejected(plan, "matmul dtype 99");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).bias.binding = 17;
    expectRejected(plan, "bias uses binding 17");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).c.binding = 17;
    expectRejected(plan, "c uses binding 17");
  }
  {
    // With beta 0 the residual pointer is ignored.
    Plan plan = samplePlan();
    auto &mm = std::get<MatmulStep>(plan.steps[1]);
    mm.beta = 0.0f;
    mm.c.binding = 17;
    EXPECT_TRUE(decode(encodePlan(plan)).isOk());
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).beta = INFINITY;
    expectRejected(plan, "beta is not finite");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).f32Out = true;
    expectRejected(plan, "f32 output with a bias epilogue");
  }
  {
    // Without a bias epilogue the bias pointer is ignored.
    Plan plan = samplePlan();
    auto &mm = std::get<MatmulStep>(plan.steps[1]);
    mm.epilogue = Epilogue::Gelu;
    mm.bias.binding = 17;
    EXPECT_TRUE(decode(encodePlan(plan)).isOk());
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).ldb = 10;
    expectRejected(plan, "ldb 10 is less than k 64");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).k = 0;
    expectRejected(plan, "k must be positive");
  }
  {
    Plan plan = samplePlan();
    std::get<MatmulStep>(plan.steps[1]).strideD = 0;
    expectRejected(plan, "strideD is 0 with batch 3");
  }
  {
    Plan plan = samplePlan();
    std::get<AttentionStep>(plan.steps[2]).kvHeads = 3;
    expectRejected(plan, "heads 8 is not a multiple of kvHeads 3");
  }
  {
    Plan plan = samplePlan();
    std::get<AttentionStep>(plan.steps[2]).mask.binding = 6;
    expectRejected(plan, "mask uses binding 6");
  }
  {
    Plan plan = samplePlan();
    std::get<CopyStep>(plan.steps[3]).dst.binding = 99;
    expectRejected(plan, "step 3 (copy 300 bytes b1+100 -> b99+200): dst "
                         "uses binding 99");
  }
  {
    Plan plan = samplePlan();
    plan.arch = "compute_90";
    expectRejected(plan, "arch 'compute_90' is not sm_<number>");
  }
  {
    Plan plan = samplePlan();
    plan.modules[0].clear();
    expectRejected(plan, "module 0 is empty");
  }
}

TEST(CudaPlan, BadEnumBytesAreRejected) {
  Plan plan;
  plan.bindingCount = 1;
  LaunchStep launch;
  launch.kernel = "k";
  launch.args = {KernelArg::i32(1)};
  plan.modules = {"ptx"};
  plan.steps = {launch};
  std::vector<uint8_t> bytes = encodePlan(plan);
  // The argument kind is 5 bytes from the end (kind + i32).
  bytes[bytes.size() - 5] = 7;
  auto decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_NE(decoded.status().message().find("unknown kind 7"),
            std::string::npos)
      << decoded.status().message();

  // An unknown step kind.
  plan.steps = {CopyStep{}};
  bytes = encodePlan(plan);
  bytes[bytes.size() - 33] = 9; // kind, then 2 x 12-byte pointers + u64
  decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_NE(decoded.status().message().find("unknown kind 9"),
            std::string::npos)
      << decoded.status().message();

  // A boolean that is neither 0 nor 1.
  plan.steps = {AttentionStep{}};
  std::get<AttentionStep>(plan.steps[0]).causal = true;
  bytes = encodePlan(plan);
  size_t causal = bytes.size() - 15 * 8 - 5 * 12 - 2;
  ASSERT_EQ(bytes[causal], 1);
  bytes[causal] = 2;
  decoded = decode(bytes);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_NE(decoded.status().message().find("causal is 2"), std::string::npos)
      << decoded.status().message();
}

} // namespace
