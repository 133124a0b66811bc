//===- AttentionStepTest.cpp - Attention steps through the driver ---------===//
//
// Needs a GPU (skipped otherwise). With the fused attention kernels built
// (backends/cuda/kernels), an f16 and an fp32 causal, grouped-query, masked
// attention step is compared with a double-precision reference (tolerance
// 1e-2 + 1e-2 |ref| for f16, 1e-4 + 1e-4 |ref| for f32) and replayed from a
// graph; without them, loading a plan with an attention step is
// UNIMPLEMENTED with a message saying so.
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "gaon/runtime/dtype.h"

#include <cmath>
#include <limits>

using namespace gaon;
using namespace gaon::cuda;
using namespace gaon::cuda::test;

namespace {

struct Shape {
  int32_t batch = 2, heads = 4, kvHeads = 2, seqQ = 24, seqK = 40, headDim = 64;
};

AttentionStep makeStep(rt::DType dtype, const Shape &s) {
  AttentionStep a;
  a.dtype = dtype;
  a.batch = s.batch;
  a.heads = s.heads;
  a.kvHeads = s.kvHeads;
  a.seqQ = s.seqQ;
  a.seqK = s.seqK;
  a.headDim = s.headDim;
  a.scale = 1.0f / std::sqrt(static_cast<float>(s.headDim));
  a.causal = true;
  a.hasMask = true;
  a.q = {0, 0};
  a.k = {1, 0};
  a.v = {2, 0};
  a.mask = {3, 0};
  a.o = {4, 0};
  const int64_t d = s.headDim;
  int64_t q[3] = {s.heads * s.seqQ * d, s.seqQ * d, d};
  int64_t kv[3] = {s.kvHeads * s.seqK * d, s.seqK * d, d};
  int64_t mask[3] = {s.seqQ * s.seqK, 0, s.seqK}; // broadcast over heads
  for (int i = 0; i < 3; ++i) {
    a.qStride[i] = a.oStride[i] = q[i];
    a.kStride[i] = a.vStride[i] = kv[i];
    a.maskStride[i] = mask[i];
  }
  return a;
}

std::vector<uint8_t> toBytes(rt::DType t, const std::vector<double> &v) {
  size_t size = rt::dtypeSize(t);
  std::vector<uint8_t> bytes(v.size() * size);
  for (size_t i = 0; i < v.size(); ++i)
    rt::storeFromDouble(t, v[i], &bytes[i * size]);
  return bytes;
}

/// Random values, rounded to `t`.
std::vector<double> values(rt::DType t, size_t n, uint32_t seed, float lo,
                           float hi) {
  std::vector<float> f = randomFloats(n, seed, lo, hi);
  std::vector<double> out(n);
  size_t size = rt::dtypeSize(t);
  std::vector<uint8_t> cell(size);
  for (size_t i = 0; i < n; ++i) {
    rt::storeFromDouble(t, f[i], cell.data());
    out[i] = rt::loadAsDouble(t, cell.data());
  }
  return out;
}

class CudaAttention : public ::testing::TestWithParam<rt::DType> {};

TEST_P(CudaAttention, MatchesCpuReference) {
  GAON_REQUIRE_GPU();
  const rt::DType dtype = GetParam();
  PlanHarness h;
  ASSERT_TRUE(h.createDevice().isOk());
  Shape s;
  Plan plan;
  plan.bindingCount = 5;
  plan.steps = {makeStep(dtype, s)};
  rt::Status loaded = h.load(plan);
#ifndef GAON_CUDA_HAVE_KERNELS
  ASSERT_FALSE(loaded.isOk());
  EXPECT_EQ(loaded.code(), rt::StatusCode::Unimplemented);
  EXPECT_NE(loaded.message().find("no fused attention kernels"),
            std::string::npos)
      << loaded.message();
  return;
#endif
  ASSERT_TRUE(loaded.isOk()) << loaded.toString();

  const size_t d = static_cast<size_t>(s.headDim);
  const size_t nq = static_cast<size_t>(s.batch * s.heads * s.seqQ) * d;
  const size_t nkv = static_cast<size_t>(s.batch * s.kvHeads * s.seqK) * d;
  const size_t nmask = static_cast<size_t>(s.batch * s.seqQ * s.seqK);
  std::vector<double> q = values(dtype, nq, 1, -1, 1),
                      k = values(dtype, nkv, 2, -1, 1),
                      v = values(dtype, nkv, 3, -1, 1),
                      mask = values(dtype, nmask, 4, -2, 0);
  std::vector<std::unique_ptr<rt::Buffer>> buffers;
  for (const std::vector<double> *data : {&q, &k, &v, &mask}) {
    std::vector<uint8_t> bytes = toBytes(dtype, *data);
    auto buffer = h.buffer(bytes.size());
    ASSERT_TRUE(buffer.isOk());
    ASSERT_TRUE((*buffer)->write(0, bytes.data(), bytes.size()).isOk());
    buffers.push_back(std::move(buffer.value()));
  }
  const size_t size = rt::dtypeSize(dtype);
  auto out = h.buffer(nq * size);
  ASSERT_TRUE(out.isOk());
  std::vector<Bound> bindings;
  for (auto &b : buffers)
    bindings.push_back({b.get()});
  bindings.push_back({out->get()});

  std::vector<uint8_t> first, third;
  for (int run = 0; run < 3; ++run) {
    rt::Status status = h.run(bindings);
    ASSERT_TRUE(status.isOk()) << status.toString();
    std::vector<uint8_t> &got = run == 0 ? first : third;
    got.resize(nq * size);
    ASSERT_TRUE((*out)->read(0, got.data(), got.size()).isOk());
  }
  EXPECT_EQ(first, third);

  const AttentionStep step = makeStep(dtype, s);
  const int32_t group = s.heads / s.kvHeads;
  size_t bad = 0;
  double worst = 0;
  for (int32_t b = 0; b < s.batch; ++b)
    for (int32_t hd = 0; hd < s.heads; ++hd)
      for (int32_t i = 0; i < s.seqQ; ++i) {
        const int32_t kvh = hd / group;
        std::vector<double> logits(static_cast<size_t>(s.seqK));
        double top = -std::numeric_limits<double>::infinity();
        for (int32_t j = 0; j < s.seqK; ++j) {
          double dot = 0;
          for (size_t e = 0; e < d; ++e)
            dot += q[b * step.qStride[0] + hd * step.qStride[1] +
                     i * step.qStride[2] + e] *
                   k[b * step.kStride[0] + kvh * step.kStride[1] +
                     j * step.kStride[2] + e];
          double l = step.scale * dot +
                     mask[b * step.maskStride[0] + i * step.maskStride[2] + j];
          if (j > i + s.seqK - s.seqQ)
            l = -std::numeric_limits<double>::infinity();
          logits[j] = l;
          top = std::max(top, l);
        }
        double sum = 0;
        for (double &l : logits)
          sum += (l = std::exp(l - top));
        for (size_t e = 0; e < d; ++e) {
          double ref = 0;
          for (int32_t j = 0; j < s.seqK; ++j)
            ref += logits[j] / sum *
                   v[b * step.vStride[0] + kvh * step.vStride[1] +
                     j * step.vStride[2] + e];
          size_t at = b * step.oStride[0] + hd * step.oStride[1] +
                      i * step.oStride[2] + e;
          double got = rt::loadAsDouble(dtype, &first[at * size]);
          double tol = dtype == rt::DType::F32 ? 1e-4 + 1e-4 * std::fabs(ref)
                                               : 1e-2 + 1e-2 * std::fabs(ref);
          worst = std::max(worst, std::fabs(got - ref));
          if (!(std::fabs(got - ref) <= tol) && bad++ < 5)
            ADD_FAILURE() << "o[" << b << "," << hd << "," << i << "," << e
                          << "] = " << got << ", reference " << ref;
        }
      }
  EXPECT_EQ(bad, 0u) << "max abs error " << worst;
}

INSTANTIATE_TEST_SUITE_P(DTypes, CudaAttention,
                         ::testing::Values(rt::DType::F16, rt::DType::F32),
                         [](const ::testing::TestParamInfo<rt::DType> &info) {
                           return std::string(rt::dtypeName(info.param));
                         });

} // namespace
