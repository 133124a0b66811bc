//===- MatmulTest.cpp - Matmul steps (cuBLASLt) against a CPU reference ---===//
//
// Needs a GPU (skipped otherwise). Each case runs three times: the first
// (eager) result is compared with a double-precision reference on the same
// (dtype-rounded) inputs, the third (a CUDA graph replay) must equal the
// first bit for bit. Tolerances: |got - ref| <= atol + rtol |ref|, with
// fp32 1e-4 + 1e-4 (no TF32: the driver uses CUBLAS_COMPUTE_32F), fp16
// 1e-2 + 5e-3 (output rounding, 2^-11 relative), bf16 4e-2 + 1.6e-2
// (2^-8 relative); GELU epilogues add 2e-3 + 1e-3 (cuBLASLt may evaluate
// the tanh approximately).
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "gaon/runtime/dtype.h"

#include <cmath>

using namespace gaon;
using namespace gaon::cuda;
using namespace gaon::cuda::test;

namespace {

struct MatmulCase {
  const char *name;
  rt::DType dtype;
  int64_t m, n, k, batch;
  bool transA, transB;
  bool broadcastB; ///< strideB = 0: one B for every batch
  int64_t ldPad;   ///< extra elements per stored row
  Epilogue epilogue;
  float alpha;
};

std::ostream &operator<<(std::ostream &os, const MatmulCase &c) {
  return os << c.name;
}

double tolerance(rt::DType t, double ref) {
  switch (t) {
  case rt::DType::F16:
    return 1e-2 + 5e-3 * std::fabs(ref);
  case rt::DType::BF16:
    return 4e-2 + 1.6e-2 * std::fabs(ref);
  default:
    return 1e-4 + 1e-4 * std::fabs(ref);
  }
}

/// Values rounded to `t`, stored as `t`.
struct HostMatrix {
  std::vector<double> values;
  std::vector<uint8_t> bytes;
};

HostMatrix makeMatrix(rt::DType t, size_t n, uint32_t seed) {
  HostMatrix m;
  std::vector<float> v = randomFloats(n, seed);
  size_t size = rt::dtypeSize(t);
  m.bytes.resize(n * size);
  m.values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    rt::storeFromDouble(t, v[i], &m.bytes[i * size]);
    m.values[i] = rt::loadAsDouble(t, &m.bytes[i * size]);
  }
  return m;
}

double gelu(double x) {
  // cuBLASLt's GELU is the tanh approximation.
  const double c = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
}

class CudaMatmul : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(CudaMatmul, MatchesCpuReference) {
  GAON_REQUIRE_GPU();
  const MatmulCase c = GetParam();
  PlanHarness h;
  ASSERT_TRUE(h.createDevice().isOk());

  MatmulStep s;
  s.dtype = c.dtype;
  s.m = c.m;
  s.n = c.n;
  s.k = c.k;
  s.batch = c.batch;
  s.transA = c.transA;
  s.transB = c.transB;
  const int64_t rowsA = c.transA ? c.k : c.m, colsA = c.transA ? c.m : c.k;
  const int64_t rowsB = c.transB ? c.n : c.k, colsB = c.transB ? c.k : c.n;
  s.lda = colsA + c.ldPad;
  s.ldb = colsB + c.ldPad;
  s.ldd = c.n + c.ldPad;
  s.strideA = rowsA * s.lda;
  s.strideB = c.broadcastB ? 0 : rowsB * s.ldb;
  s.strideD = c.m * s.ldd;
  s.alpha = c.alpha;
  s.epilogue = c.epilogue;
  const bool bias = c.epilogue == Epilogue::Bias ||
                    c.epilogue == Epilogue::BiasGelu ||
                    c.epilogue == Epilogue::BiasRelu;
  const uint64_t dOffset = 256;
  s.a = {0, 0};
  s.b = {1, 0};
  s.bias = {2, 0};
  s.d = {3, dOffset};
  Plan plan;
  plan.bindingCount = 4;
  plan.steps = {s};
  rt::Status loaded = h.load(plan);
  ASSERT_TRUE(loaded.isOk()) << loaded.toString();

  const size_t size = rt::dtypeSize(c.dtype);
  const size_t countA = static_cast<size_t>(c.batch * s.strideA);
  const size_t countB =
      static_cast<size_t>((c.broadcastB ? 1 : c.batch) * rowsB * s.ldb);
  const size_t countD = static_cast<size_t>(c.batch * s.strideD);
  HostMatrix A = makeMatrix(c.dtype, countA, 1);
  HostMatrix B = makeMatrix(c.dtype, countB, 2);
  HostMatrix bias_ = makeMatrix(c.dtype, static_cast<size_t>(c.n), 3);
  auto bufA = h.buffer(A.bytes.size()), bufB = h.buffer(B.bytes.size()),
       bufBias = h.buffer(bias_.bytes.size()),
       bufD = h.buffer(dOffset + countD * size);
  ASSERT_TRUE(bufA.isOk() && bufB.isOk() && bufBias.isOk() && bufD.isOk());
  ASSERT_TRUE((*bufA)->write(0, A.bytes.data(), A.bytes.size()).isOk());
  ASSERT_TRUE((*bufB)->write(0, B.bytes.data(), B.bytes.size()).isOk());
  ASSERT_TRUE(
      (*bufBias)->write(0, bias_.bytes.data(), bias_.bytes.size()).isOk());
  std::vector<Bound> bindings = {
      {bufA->get()}, {bufB->get()}, {bufBias->get()}, {bufD->get()}};

  std::vector<uint8_t> first, third;
  for (int run = 0; run < 3; ++run) {
    std::vector<uint8_t> zeros(countD * size, 0);
    ASSERT_TRUE((*bufD)->write(dOffset, zeros.data(), zeros.size()).isOk());
    rt::Status status = h.run(bindings);
    ASSERT_TRUE(status.isOk()) << "run " << run << ": " << status.toString();
    std::vector<uint8_t> &out = run == 0 ? first : third;
    out.resize(countD * size);
    ASSERT_TRUE((*bufD)->read(dOffset, out.data(), out.size()).isOk());
  }
  EXPECT_EQ(first, third) << "the graph replay differs from the eager run";

  size_t bad = 0;
  double worst = 0;
  for (int64_t bt = 0; bt < c.batch; ++bt)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < s.ldd; ++j) {
        size_t at = static_cast<size_t>(bt * s.strideD + i * s.ldd + j);
        double got = rt::loadAsDouble(c.dtype, &first[at * size]);
        if (j >= c.n) { // row padding is never written
          if (got != 0.0 && bad++ < 5)
            ADD_FAILURE() << "padding written at " << bt << "," << i << ","
                          << j;
          continue;
        }
        double acc = 0;
        for (int64_t kk = 0; kk < c.k; ++kk) {
          double a = A.values[static_cast<size_t>(
              bt * s.strideA + (c.transA ? kk * s.lda + i : i * s.lda + kk))];
          double b = B.values[static_cast<size_t>(
              bt * s.strideB + (c.transB ? j * s.ldb + kk : kk * s.ldb + j))];
          acc += a * b;
        }
        double ref = c.alpha * acc;
        if (bias)
          ref += bias_.values[static_cast<size_t>(j)];
        if (c.epilogue == Epilogue::Gelu || c.epilogue == Epilogue::BiasGelu)
          ref = gelu(ref);
        if (c.epilogue == Epilogue::Relu || c.epilogue == Epilogue::BiasRelu)
          ref = std::max(ref, 0.0);
        double error = std::fabs(got - ref);
        worst = std::max(worst, error);
        double tol = tolerance(c.dtype, ref);
        if (c.epilogue == Epilogue::Gelu || c.epilogue == Epilogue::BiasGelu)
          tol += 2e-3 + 1e-3 * std::fabs(ref); // tanh may be approximate
        if (error > tol && bad++ < 5)
          ADD_FAILURE() << "D[" << bt << "," << i << "," << j << "] = " << got
                        << ", reference " << ref;
      }
  EXPECT_EQ(bad, 0u) << "max abs error " << worst;
  std::printf("%s: max abs error %.3g\n", c.name, worst);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CudaMatmul,
    ::testing::Values(
        MatmulCase{"f32_plain", rt::DType::F32, 37, 50, 64, 1, false, false,
                   false, 0, Epilogue::None, 1.0f},
        MatmulCase{"f32_transB_batch3_bias", rt::DType::F32, 33, 40, 72, 3,
                   false, true, false, 4, Epilogue::Bias, 0.5f},
        MatmulCase{"f32_transA_batch2_biasgelu_broadcastB", rt::DType::F32, 16,
                   24, 40, 2, true, false, true, 0, Epilogue::BiasGelu, 1.0f},
        MatmulCase{"f16_transB_batch2_biasgelu_broadcastB", rt::DType::F16, 64,
                   48, 96, 2, false, true, true, 0, Epilogue::BiasGelu, 1.0f},
        MatmulCase{"f16_plain_bias", rt::DType::F16, 128, 64, 64, 1, false,
                   false, false, 8, Epilogue::Bias, 1.0f},
        MatmulCase{"f16_transB_relu_batch4", rt::DType::F16, 32, 32, 128, 4,
                   false, true, false, 0, Epilogue::Relu, 0.25f},
        MatmulCase{"bf16_transB_biasrelu", rt::DType::BF16, 48, 64, 80, 1,
                   false, true, false, 0, Epilogue::BiasRelu, 1.0f},
        MatmulCase{"bf16_gelu_batch3", rt::DType::BF16, 24, 32, 64, 3, false,
                   false, false, 0, Epilogue::Gelu, 1.0f}),
    [](const ::testing::TestParamInfo<MatmulCase> &info) {
      return std::string(info.param.name);
    });

} // namespace
