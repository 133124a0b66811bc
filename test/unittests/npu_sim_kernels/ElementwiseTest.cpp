//===- ElementwiseTest.cpp - binary/unary/cast/select/activation ----------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

std::vector<int64_t> broadcastShape(std::vector<int64_t> a,
                                    std::vector<int64_t> b) {
  if (a.size() < b.size())
    std::swap(a, b);
  std::vector<int64_t> out = a;
  size_t lead = a.size() - b.size();
  for (size_t i = 0; i < b.size(); ++i)
    if (b[i] != 1)
      out[lead + i] = b[i];
  return out;
}

double applyRef(VecOp op, double x, double y) {
  switch (op) {
  case VecOp::Add:
    return x + y;
  case VecOp::Sub:
    return x - y;
  case VecOp::Mul:
    return x * y;
  case VecOp::Div:
    return x / y;
  case VecOp::Max:
    return std::max(x, y);
  default:
    return std::min(x, y);
  }
}

struct BinaryCase {
  std::vector<int64_t> a, b;
};

void runBinary(const std::string &preset, VecOp op, const BinaryCase &c,
               DType type) {
  Harness h(preset);
  std::vector<int64_t> outShape = broadcastShape(c.a, c.b);
  bool div = op == VecOp::Div;
  Tensor a = h.input(type, c.a), b = h.input(type, c.b, div ? 0.5f : -1, 1);
  Tensor out = h.alloc(type, outShape);
  h.emitter.binary(op, a, b, out);
  h.run();
  auto av = h.read(a), bv = h.read(b), got = h.read(out);
  std::vector<double> ref(numel(outShape));
  for (int64_t i = 0; i < numel(outShape); ++i) {
    auto idx = unravel(i, outShape);
    ref[i] = applyRef(op, av[broadcastIndex(idx, c.a)],
                      bv[broadcastIndex(idx, c.b)]);
  }
  EXPECT_LE(relL2(got, ref), tolerance(type))
      << vecOpName(op) << " " << testing::PrintToString(c.a) << " "
      << testing::PrintToString(c.b) << " " << dtypeName(type);
}

const std::vector<BinaryCase> kBroadcastCases = {
    {{}, {}},
    {{1}, {1}},
    {{7}, {7}},
    {{5000}, {5000}},    // contiguous fold with a tail
    {{3, 1}, {1, 4}},    // outer product
    {{33, 17}, {17}},    // bias row
    {{33, 17}, {33, 1}}, // column
    {{33, 1}, {33, 17}}, // column on the left
    {{2, 3, 4, 5}, {3, 1, 5}},
    {{1, 3, 1, 5}, {2, 1, 4, 1}},
    {{4, 1, 6}, {}}, // scalar b
    {{}, {4, 5, 6}}, // scalar a
    {{2, 70, 130}, {2, 70, 130}},
    {{129, 65}, {1, 65}},
};

TEST(Elementwise, BinaryBroadcastSweepF32) {
  for (VecOp op :
       {VecOp::Add, VecOp::Sub, VecOp::Mul, VecOp::Div, VecOp::Max, VecOp::Min})
    for (const BinaryCase &c : kBroadcastCases)
      runBinary("tiny", op, c, DType::F32);
}

TEST(Elementwise, BinaryBf16) {
  for (const BinaryCase &c : kBroadcastCases)
    runBinary("tiny", VecOp::Sub, c, DType::BF16);
}

TEST(Elementwise, BinaryRngd) {
  runBinary("rngd", VecOp::Add, {{8, 300, 257}, {257}}, DType::F32);
  runBinary("rngd", VecOp::Div, {{4, 1, 1000}, {4, 9, 1}}, DType::BF16);
}

TEST(Elementwise, MixedDtypesAndLargeTensor) {
  Harness h("tiny");
  Tensor a = h.input(DType::BF16, {300, 700});
  Tensor b = h.input(DType::F32, {700});
  Tensor out = h.alloc(DType::F32, {300, 700});
  h.emitter.binary(VecOp::Mul, a, b, out);
  h.run();
  auto av = h.read(a), bv = h.read(b), got = h.read(out);
  std::vector<double> ref(av.size());
  for (size_t i = 0; i < av.size(); ++i)
    ref[i] = double(av[i]) * bv[i % 700];
  EXPECT_LE(relL2(got, ref), 1e-6);
}

TEST(Elementwise, UnaryOps) {
  struct U {
    VecOp op;
    double (*f)(double);
    float lo, hi;
  };
  std::vector<U> ops = {
      {VecOp::Exp, [](double x) { return std::exp(x); }, -2, 2},
      {VecOp::Log, [](double x) { return std::log(x); }, 0.1f, 3},
      {VecOp::Sqrt, [](double x) { return std::sqrt(x); }, 0.1f, 3},
      {VecOp::Rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.1f, 3},
      {VecOp::Tanh, [](double x) { return std::tanh(x); }, -3, 3},
      {VecOp::Sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -3, 3},
      {VecOp::Relu, [](double x) { return x > 0 ? x : 0; }, -3, 3},
      {VecOp::Neg, [](double x) { return -x; }, -3, 3},
      {VecOp::Abs, [](double x) { return std::fabs(x); }, -3, 3},
  };
  for (DType type : {DType::F32, DType::BF16})
    for (const U &u : ops)
      for (std::vector<int64_t> shape :
           {std::vector<int64_t>{}, {1}, {17, 33}, {3, 1000}}) {
        Harness h("tiny");
        Tensor in = h.input(type, shape, u.lo, u.hi);
        Tensor out = h.alloc(type, shape);
        h.emitter.unary(u.op, in, out);
        h.run();
        auto x = h.read(in), got = h.read(out);
        std::vector<double> ref(x.size());
        for (size_t i = 0; i < x.size(); ++i)
          ref[i] = u.f(x[i]);
        EXPECT_LE(relL2(got, ref), tolerance(type))
            << vecOpName(u.op) << " " << testing::PrintToString(shape);
      }
}

TEST(Elementwise, ScaleAndActivations) {
  Harness h("tiny");
  Tensor in = h.input(DType::F32, {37, 45}, -3, 3);
  Tensor s = h.alloc(DType::F32, {37, 45});
  h.emitter.unary(VecOp::Scale, in, s, 2.5f, -1.0f);
  std::vector<Tensor> outs;
  for (Activation act : {Activation::Relu, Activation::Gelu,
                         Activation::GeluTanh, Activation::Silu}) {
    outs.push_back(h.alloc(DType::F32, {37, 45}));
    h.emitter.activation(act, in, outs.back());
  }
  h.run();
  auto x = h.read(in);
  std::vector<double> ref(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    ref[i] = x[i] * 2.5 - 1.0;
  EXPECT_LE(relL2(h.read(s), ref), 1e-6);
  auto gelu = [](double v) {
    return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  };
  auto geluTanh = [](double v) {
    return 0.5 * v *
           (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  };
  auto silu = [](double v) { return v / (1 + std::exp(-v)); };
  std::vector<double (*)(double)> fs = {
      [](double v) { return v > 0 ? v : 0.0; }, gelu, geluTanh, silu};
  for (size_t k = 0; k < fs.size(); ++k) {
    for (size_t i = 0; i < x.size(); ++i)
      ref[i] = fs[k](x[i]);
    EXPECT_LE(relL2(h.read(outs[k]), ref), 1e-5) << k;
  }
}

TEST(Elementwise, CastRoundTrips) {
  Harness h("tiny");
  Tensor in = h.input(DType::F32, {5, 999}, -100, 100);
  Tensor bf = h.alloc(DType::BF16, {5, 999});
  Tensor i32 = h.alloc(DType::I32, {5, 999});
  h.emitter.cast(in, bf);
  h.emitter.cast(in, i32);
  h.run();
  auto x = h.read(in), gotBf = h.read(bf), gotI = h.read(i32);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(gotBf[i],
              gaon::npu_sim::bf16ToFloat(gaon::npu_sim::floatToBf16(x[i])));
    ASSERT_EQ(gotI[i], std::trunc(x[i])) << i;
  }
}

TEST(Elementwise, IntegerAdd) {
  Harness h("tiny");
  Tensor a = h.input(DType::I32, {40, 50}, -1000, 1000);
  Tensor b = h.input(DType::I32, {50}, -1000, 1000);
  Tensor out = h.alloc(DType::I32, {40, 50});
  h.emitter.binary(VecOp::Add, a, b, out);
  h.run();
  auto av = h.read(a), bv = h.read(b), got = h.read(out);
  for (size_t i = 0; i < av.size(); ++i)
    ASSERT_EQ(got[i], av[i] + bv[i % 50]);
}

TEST(Elementwise, SelectBroadcast) {
  Harness h("tiny");
  Tensor cond = h.alloc(DType::Bool, {6, 1, 40});
  std::vector<float> cv(240);
  for (size_t i = 0; i < cv.size(); ++i)
    cv[i] = (i * 7 % 3) == 0;
  h.write(cond, cv);
  Tensor a = h.input(DType::F32, {5, 40});
  Tensor b = h.input(DType::F32, {6, 5, 1});
  Tensor out = h.alloc(DType::F32, {6, 5, 40});
  h.emitter.select(cond, a, b, out);
  h.run();
  auto av = h.read(a), bv = h.read(b), got = h.read(out);
  for (int64_t i = 0; i < 6 * 5 * 40; ++i) {
    auto idx = unravel(i, {6, 5, 40});
    float want = cv[idx[0] * 40 + idx[2]] ? av[idx[1] * 40 + idx[2]]
                                          : bv[idx[0] * 5 + idx[1]];
    ASSERT_EQ(got[i], want) << i;
  }
}

TEST(Elementwise, UnsupportedOpsThrow) {
  Harness h("tiny");
  Tensor a = h.input(DType::F32, {4, 5});
  Tensor b = h.input(DType::F32, {3, 5});
  Tensor out = h.alloc(DType::F32, {4, 5});
  EXPECT_THROW(h.emitter.binary(VecOp::Add, a, b, out), KernelError);
  EXPECT_THROW(h.emitter.binary(VecOp::Exp, a, a, out), KernelError);
  EXPECT_THROW(h.emitter.unary(VecOp::Add, a, out), KernelError);
}

} // namespace
