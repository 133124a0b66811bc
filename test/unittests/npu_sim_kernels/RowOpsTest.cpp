//===- RowOpsTest.cpp - softmax, layer norm, RMS norm ---------------------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

const std::vector<std::vector<int64_t>> kShapes = {
    {}, {1}, {5}, {3, 1}, {7, 33}, {2, 3, 100}, {300, 17}, {4, 1000}};

// LayerNormBare / LayerNormShiftOnly: no scale (a norm whose scale was
// folded into the next matmul's weights), without or with the shift.
enum class Kind {
  Softmax,
  LayerNorm,
  LayerNormNoBias,
  LayerNormBare,
  LayerNormShiftOnly,
  RmsNorm
};

void runRowOp(const std::string &preset, Kind kind,
              const std::vector<int64_t> &shape, DType type) {
  Harness h(preset);
  Tensor in = h.input(type, shape, -3, 3);
  int64_t L = shape.empty() ? 1 : shape.back();
  Tensor gamma = h.input(type, {L}), beta = h.input(type, {L});
  Tensor out = h.alloc(type, shape);
  double eps = 1e-5;
  if (kind == Kind::Softmax)
    h.emitter.softmax(in, out);
  else if (kind == Kind::LayerNorm)
    h.emitter.layerNorm(in, gamma, &beta, eps, out);
  else if (kind == Kind::LayerNormNoBias)
    h.emitter.layerNorm(in, gamma, nullptr, eps, out);
  else if (kind == Kind::LayerNormBare)
    h.emitter.layerNorm(in, static_cast<const Tensor *>(nullptr), nullptr, eps,
                        out);
  else if (kind == Kind::LayerNormShiftOnly)
    h.emitter.layerNorm(in, static_cast<const Tensor *>(nullptr), &beta, eps,
                        out);
  else
    h.emitter.rmsNorm(in, gamma, eps, out);
  h.run();
  auto x = h.read(in), g = h.read(gamma), bt = h.read(beta);
  std::vector<double> ref(x.size());
  for (size_t r = 0; r < x.size() / L; ++r) {
    const float *row = &x[r * L];
    double *o = &ref[r * L];
    if (kind == Kind::Softmax) {
      double mx = -INFINITY, sum = 0;
      for (int64_t i = 0; i < L; ++i)
        mx = std::max(mx, double(row[i]));
      for (int64_t i = 0; i < L; ++i)
        sum += o[i] = std::exp(row[i] - mx);
      for (int64_t i = 0; i < L; ++i)
        o[i] /= sum;
    } else if (kind == Kind::RmsNorm) {
      double ms = 0;
      for (int64_t i = 0; i < L; ++i)
        ms += double(row[i]) * row[i];
      double rs = 1 / std::sqrt(ms / L + eps);
      for (int64_t i = 0; i < L; ++i)
        o[i] = row[i] * rs * g[i];
    } else {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < L; ++i)
        mean += row[i];
      mean /= L;
      for (int64_t i = 0; i < L; ++i)
        var += (row[i] - mean) * (row[i] - mean);
      double rs = 1 / std::sqrt(var / L + eps);
      bool scaled = kind == Kind::LayerNorm || kind == Kind::LayerNormNoBias;
      bool shifted =
          kind == Kind::LayerNorm || kind == Kind::LayerNormShiftOnly;
      for (int64_t i = 0; i < L; ++i)
        o[i] = (row[i] - mean) * rs * (scaled ? g[i] : 1.0) +
               (shifted ? bt[i] : 0.0);
    }
  }
  double err = relL2(h.read(out), ref);
  // A one-element layer norm is (x - x) * ...: compare absolutely.
  if (L == 1 && kind != Kind::Softmax && kind != Kind::RmsNorm) {
    auto got = h.read(out);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], ref[i], 1e-2);
    return;
  }
  EXPECT_LE(err, tolerance(type))
      << int(kind) << " " << testing::PrintToString(shape) << " "
      << dtypeName(type) << " " << preset;
}

TEST(RowOps, SweepTiny) {
  for (Kind kind :
       {Kind::Softmax, Kind::LayerNorm, Kind::LayerNormNoBias,
        Kind::LayerNormBare, Kind::LayerNormShiftOnly, Kind::RmsNorm})
    for (DType type : {DType::F32, DType::BF16})
      for (const auto &shape : kShapes)
        runRowOp("tiny", kind, shape, type);
}

TEST(RowOps, Rngd) {
  for (Kind kind :
       {Kind::Softmax, Kind::LayerNorm, Kind::LayerNormBare, Kind::RmsNorm})
    runRowOp("rngd", kind, {2, 128, 768}, DType::BF16);
  runRowOp("rngd", Kind::Softmax, {1000, 129}, DType::F32);
}

TEST(RowOps, RowTooLongThrows) {
  Harness h("tiny");
  Tensor in = h.alloc(DType::F32, {1, 1 << 20});
  EXPECT_THROW(h.emitter.softmax(in, in), KernelError);
}

} // namespace

namespace {

// Layer norm of 8 x 128 tokens of 768 (bf16) on rngd is vector-bound: per
// core 128 rows x 3 lane groups x 7 full-row ops = 2,688 cycles. The row
// statistics (mean, variance, 1 / sqrt) are rows x 1 columns issued as one
// row each, so they add a few groups per tile instead of 4 per row (one
// row at a time: 512 more cycles per core). 3,186 cycles measured with the
// planner's 10-row tiles (3,695 with 42-row tiles).
TEST(RowOps, LayerNormStatisticsAsRowsRngd) {
  Harness h("rngd");
  Tensor x = h.alloc(DType::BF16, {1024, 768}), g = h.alloc(DType::BF16, {768}),
         bias = h.alloc(DType::BF16, {768}),
         y = h.alloc(DType::BF16, {1024, 768});
  h.emitter.layerNorm(x, g, &bias, 1e-5, y);
  Report r = h.run(/*functional=*/false);
  std::printf("layer norm 1024 x 768 bf16 on rngd: %.0f cycles\n", r.cycles);
  EXPECT_LE(r.cycles, 3500);
}

} // namespace
