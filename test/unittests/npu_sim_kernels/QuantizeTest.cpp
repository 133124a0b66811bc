//===- QuantizeTest.cpp - int8 quantization and int8 matmuls --------------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

// The quantize kernel's arithmetic step by step as the vector unit does it
// (fp32, Scale in double): m = max|x| + 1e-30, inv = 127 * (1 / m), q =
// round_half_even(x * inv).
struct QuantRef {
  std::vector<int> q;
  float scale = 0;
};
QuantRef refQuantize(const std::vector<float> &x) {
  float mx = 0;
  for (float v : x)
    mx = std::max(mx, std::fabs(v));
  float m = float(double(mx) + 1e-30f);
  float inv = float(double(1.0f / m) * 127.0);
  QuantRef r;
  for (float v : x)
    r.q.push_back(int(std::nearbyint(std::clamp(v * inv, -128.0f, 127.0f))));
  r.scale = float(double(m) * double(1.0f / 127.0f));
  return r;
}

// Whole tensors on tiny (rows streamed through two slots: 1 MiB of
// scratchpad) and rngd (resident rows), rows split over every core or over
// fewer cores than there are (3 rows): each int8 value is the reference's
// (a tie may round either way after fp32 products: at most one step, and
// rarely), the largest magnitude becomes +-127, and the dequant scale is
// weight scale * m / 127.
TEST(Quantize, MatchesReference) {
  struct Case {
    std::string preset;
    std::vector<int64_t> shape;
  };
  for (const Case &c : {Case{"tiny", {3, 200}}, Case{"tiny", {64, 3000}},
                        Case{"rngd", {128, 768}}, Case{"rngd", {2, 37, 96}}}) {
    Harness h(c.preset);
    Tensor x = h.input(DType::BF16, c.shape, -3.0f, 2.0f);
    Tensor w = h.alloc(DType::F32, {1});
    h.write(w, {0.25f});
    Tensor q = h.alloc(DType::I8, c.shape), dq = h.alloc(DType::F32, {1});
    h.emitter.quantize(x, w, q, dq);
    h.run();
    QuantRef ref = refQuantize(h.read(x));
    std::vector<float> got = h.read(q);
    int64_t off = 0, peak = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      int d = std::abs(int(got[i]) - ref.q[i]);
      EXPECT_LE(d, 1) << c.preset << " element " << i;
      off += d != 0;
      peak = std::max<int64_t>(peak, std::abs(int(got[i])));
    }
    EXPECT_LE(off, int64_t(got.size()) / 1000) << c.preset;
    EXPECT_EQ(peak, 127) << c.preset;
    EXPECT_FLOAT_EQ(h.read(dq)[0], 0.25f * ref.scale) << c.preset;
  }
}

// An all-zero tensor quantizes to zeros (no division by zero), and the
// kernel refuses an int8 input or a mis-shaped result.
TEST(Quantize, ZerosAndBadOperands) {
  Harness h("rngd");
  Tensor x = h.alloc(DType::BF16, {16, 64});
  h.write(x, std::vector<float>(16 * 64, 0.0f));
  Tensor w = h.alloc(DType::F32, {1});
  h.write(w, {1.0f});
  Tensor q = h.alloc(DType::I8, {16, 64}), dq = h.alloc(DType::F32, {1});
  h.emitter.quantize(x, w, q, dq);
  h.run();
  for (float v : h.read(q))
    EXPECT_EQ(v, 0.0f);
  EXPECT_FALSE(std::isnan(h.read(dq)[0]));
  Harness bad("rngd");
  Tensor xi = bad.alloc(DType::I8, {4, 4}), qi = bad.alloc(DType::I8, {4, 4}),
         q2 = bad.alloc(DType::I8, {4, 5}), xb = bad.alloc(DType::BF16, {4, 4});
  Tensor one = bad.alloc(DType::F32, {1});
  EXPECT_THROW(bad.emitter.quantize(xi, one, qi, one), KernelError);
  EXPECT_THROW(bad.emitter.quantize(xb, one, q2, one), KernelError);
}

// int8 x int8 -> int32 on the tensor unit, then the epilogue: out =
// act(dequant * C + bias) + residual, exact products (int32 accumulation;
// the K-split forms add their partial sums in fp32), in each form the
// matmul kernel takes: plain tiles (folded rows), tiles in row chunks (an
// activation over resident A), and K split in pairs by column halves and
// by row chunks. Without a dequant scale int8 operands are refused.
TEST(Quantize, Int8MatmulEveryForm) {
  struct Case {
    int64_t M, K, N;
    std::vector<int64_t> tile;
    Split split;
    Activation act;
  };
  for (const Case &c :
       {Case{600, 200, 300, {256, 128, 128}, Split::Rows, Activation::None},
        Case{512, 256, 512, {256, 256, 128}, Split::Rows, Activation::Gelu},
        Case{128, 512, 300, {128, 76, 128, 2}, Split::Cols, Activation::None},
        Case{600,
             512,
             300,
             {512, 128, 128, 2},
             Split::Rows,
             Activation::None}}) {
    Harness h("rngd");
    Tensor a = h.input(DType::I8, {c.M, c.K}, -127.0f, 127.0f),
           b = h.input(DType::I8, {c.K, c.N}, -127.0f, 127.0f);
    Tensor bias = h.input(DType::BF16, {c.N}),
           res = h.input(DType::BF16, {c.M, c.N});
    Tensor dq = h.alloc(DType::F32, {1});
    const float scale = 1.0f / 40000.0f;
    h.write(dq, {scale});
    Tensor out = h.alloc(DType::BF16, {c.M, c.N});
    Epilogue ep;
    ep.bias = bias;
    ep.activation = c.act;
    if (c.act == Activation::None)
      ep.residual = res;
    ep.dequant = dq;
    Schedule s;
    s.tile = c.tile;
    s.split = c.split;
    s.cores = 8;
    s.buffers = {1, 2, 2};
    h.emitter.matmul(a, b, out, ep, &s);
    int64_t int8Matmuls = 0;
    for (const auto &program : h.stream.cores)
      for (const Instr &instr : program)
        if (auto *mm = std::get_if<MatmulCmd>(&instr.cmd)) {
          EXPECT_EQ(mm->inType, DType::I8);
          EXPECT_EQ(mm->outType, DType::I32);
          ++int8Matmuls;
        }
    EXPECT_GT(int8Matmuls, 0);
    h.run();
    std::vector<double> ref = refGemm(h.read(a), h.read(b), c.M, c.K, c.N);
    auto bv = h.read(bias), rv = h.read(res);
    for (int64_t i = 0; i < c.M * c.N; ++i) {
      double v = refActivation(c.act, ref[i] * scale + bv[i % c.N]);
      ref[i] = c.act == Activation::None ? v + rv[i] : v;
    }
    EXPECT_LE(relL2(h.read(out), ref), tolerance(DType::BF16))
        << c.tile.size() << " " << c.tile[0];
  }
  Harness h("rngd");
  Tensor a = h.input(DType::I8, {16, 32}), b = h.input(DType::I8, {32, 8});
  Tensor out = h.alloc(DType::BF16, {16, 8});
  EXPECT_THROW(h.emitter.matmul(a, b, out), KernelError);
  Epilogue ep;
  ep.dequant = h.alloc(DType::F32, {2});
  EXPECT_THROW(h.emitter.matmul(a, b, out, ep), KernelError);
}

} // namespace
