//===- ScanTest.cpp - cumulative sum along any axis -----------------------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <limits>
#include <type_traits>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

/// ONNX CumSum over `axis` of a row-major `shape`, in the element type T
/// (integers wrap as T does, through unsigned arithmetic).
template <typename T, typename Acc>
std::vector<T> refCumsum(const std::vector<T> &x,
                         const std::vector<int64_t> &shape, int64_t axis,
                         bool exclusive, bool reverse) {
  int64_t O = 1, S = shape[axis], I = 1;
  for (int64_t i = 0; i < int64_t(shape.size()); ++i)
    if (i != axis)
      (i < axis ? O : I) *= shape[i];
  std::vector<T> y(x.size());
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      Acc sum = 0;
      for (int64_t j = 0; j < S; ++j) {
        int64_t p = reverse ? S - 1 - j : j, at = (o * S + p) * I + i;
        if (!exclusive)
          sum = Acc(sum + Acc(x[at]));
        y[at] = T(sum);
        if (exclusive)
          sum = Acc(sum + Acc(x[at]));
      }
    }
  return y;
}

/// Integers: exact, with values that overflow int32 sums (int64) or wrap
/// (int32), written and read as raw bytes.
template <typename T>
void runIntCumsum(const std::string &preset, DType type,
                  const std::vector<int64_t> &shape, int64_t axis,
                  bool exclusive, bool reverse) {
  Harness h(preset);
  Tensor in = h.alloc(type, shape), out = h.alloc(type, shape);
  std::vector<T> x(numel(shape));
  std::uniform_int_distribution<int64_t> dist(-3, 3);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = T(i % 7 == 0 ? int64_t(std::numeric_limits<T>::max() / 3)
                        : dist(h.rng));
  h.sim.writeDram(in.addr, x.data(), x.size() * sizeof(T));
  h.emitter.cumsum(in, axis, exclusive, reverse, out);
  h.run();
  std::vector<T> got(x.size());
  h.sim.readDram(out.addr, got.data(), got.size() * sizeof(T));
  int64_t ax = axis < 0 ? axis + int64_t(shape.size()) : axis;
  using U = std::make_unsigned_t<T>;
  std::vector<T> ref = refCumsum<T, U>(x, shape, ax, exclusive, reverse);
  int64_t bad = 0, firstBad = -1;
  for (size_t i = 0; i < ref.size(); ++i)
    if (got[i] != ref[i] && bad++ == 0)
      firstBad = int64_t(i);
  EXPECT_EQ(bad, 0) << dtypeName(type) << " " << testing::PrintToString(shape)
                    << " axis " << axis << " exclusive " << exclusive
                    << " reverse " << reverse << ": first at " << firstBad
                    << " got " << (firstBad >= 0 ? int64_t(got[firstBad]) : 0)
                    << " want " << (firstBad >= 0 ? int64_t(ref[firstBad]) : 0);
}

void runFloatCumsum(const std::string &preset, DType type,
                    const std::vector<int64_t> &shape, int64_t axis,
                    bool exclusive, bool reverse) {
  Harness h(preset);
  Tensor in = h.input(type, shape), out = h.alloc(type, shape);
  h.emitter.cumsum(in, axis, exclusive, reverse, out);
  h.run();
  std::vector<float> xf = h.read(in);
  std::vector<double> x(xf.begin(), xf.end());
  int64_t ax = axis < 0 ? axis + int64_t(shape.size()) : axis;
  std::vector<double> ref =
      refCumsum<double, double>(x, shape, ax, exclusive, reverse);
  EXPECT_LE(relL2(h.read(out), ref), type == DType::F32 ? 1e-6 : 4e-3)
      << dtypeName(type) << " " << testing::PrintToString(shape) << " axis "
      << axis << " exclusive " << exclusive << " reverse " << reverse;
}

struct Case {
  std::vector<int64_t> shape;
  int64_t axis;
};
// Inner axis (RoBERTa's position ids: [batch, seq], axis 1), outer axis,
// a middle axis, a 1-D scan and a rank-3 inner one.
const std::vector<Case> kCases = {
    {{2, 37}, 1}, {{37, 5}, 0}, {{3, 9, 20}, 1}, {{45}, 0}, {{2, 3, 11}, -1}};

TEST(Cumsum, Int32) {
  for (const Case &c : kCases)
    for (bool exclusive : {false, true})
      for (bool reverse : {false, true})
        runIntCumsum<int32_t>("tiny", DType::I32, c.shape, c.axis, exclusive,
                              reverse);
}

TEST(Cumsum, Int64) {
  for (const Case &c : kCases)
    for (bool exclusive : {false, true})
      for (bool reverse : {false, true})
        runIntCumsum<int64_t>("tiny", DType::I64, c.shape, c.axis, exclusive,
                              reverse);
}

TEST(Cumsum, Floats) {
  for (DType type : {DType::F32, DType::BF16, DType::F16})
    for (const Case &c : kCases)
      for (bool exclusive : {false, true})
        for (bool reverse : {false, true})
          runFloatCumsum("tiny", type, c.shape, c.axis, exclusive, reverse);
}

// Larger than one scratchpad tile: many column blocks over both cores, and
// scans longer than a tile (chunks carrying the running sum), forward and
// reverse, exclusive and not.
TEST(Cumsum, LargerThanATile) {
  for (bool exclusive : {false, true})
    for (bool reverse : {false, true}) {
      // 1M-element tiny scratchpad: 64k-element tiles.
      runIntCumsum<int64_t>("tiny", DType::I64, {300, 700}, 0, exclusive,
                            reverse);
      runIntCumsum<int32_t>("tiny", DType::I32, {4, 70000}, 1, exclusive,
                            reverse);
      runFloatCumsum("tiny", DType::F32, {3, 1000, 130}, 1, exclusive, reverse);
      runFloatCumsum("tiny", DType::BF16, {2, 40000}, 1, exclusive, reverse);
    }
  runIntCumsum<int64_t>("rngd", DType::I64, {8, 512}, 1, false, false);
  runFloatCumsum("rngd", DType::BF16, {512, 768}, 0, true, true);
}

TEST(Cumsum, Errors) {
  Harness h;
  Tensor a = h.alloc(DType::F32, {4, 5}), b = h.alloc(DType::F32, {5, 4});
  Tensor c = h.alloc(DType::Bool, {4, 5});
  EXPECT_THROW(h.emitter.cumsum(a, 0, false, false, b), KernelError);
  EXPECT_THROW(h.emitter.cumsum(a, 2, false, false, a), KernelError);
  EXPECT_THROW(h.emitter.cumsum(c, 0, false, false, c), KernelError);
}

} // namespace
