//===- ReduceTest.cpp - sum/max/min/mean over any axes --------------------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

void runReduce(const std::string &preset, ReduceOp op,
               const std::vector<int64_t> &shape,
               const std::vector<int64_t> &axes, DType type) {
  Harness h(preset);
  Tensor in = h.input(type, shape);
  int64_t n = shape.size();
  std::vector<bool> red(n, axes.empty());
  for (int64_t a : axes)
    red[a < 0 ? a + n : a] = true;
  std::vector<int64_t> outShape;
  for (int64_t i = 0; i < n; ++i)
    outShape.push_back(red[i] ? 1 : shape[i]); // keepdims form
  Tensor out = h.alloc(type, outShape);
  h.emitter.reduce(op, in, axes, out);
  h.run();
  auto x = h.read(in);
  std::vector<double> ref(numel(outShape), op == ReduceOp::Max   ? -INFINITY
                                           : op == ReduceOp::Min ? INFINITY
                                                                 : 0.0);
  std::vector<int64_t> cnt(ref.size(), 0);
  for (int64_t i = 0; i < numel(shape); ++i) {
    auto idx = unravel(i, shape);
    int64_t o = broadcastIndex(idx, outShape);
    double v = x[i];
    ref[o] = op == ReduceOp::Max   ? std::max(ref[o], v)
             : op == ReduceOp::Min ? std::min(ref[o], v)
                                   : ref[o] + v;
    ++cnt[o];
  }
  if (op == ReduceOp::Mean)
    for (size_t i = 0; i < ref.size(); ++i)
      ref[i] /= cnt[i];
  EXPECT_LE(relL2(h.read(out), ref), tolerance(type))
      << int(op) << " " << testing::PrintToString(shape) << " axes "
      << testing::PrintToString(axes);
}

TEST(Reduce, SweepTiny) {
  struct C {
    std::vector<int64_t> shape, axes;
  };
  std::vector<C> cases = {{{}, {}},
                          {{7}, {0}},
                          {{5, 9}, {1}},
                          {{5, 9}, {0}},
                          {{5, 9}, {}},
                          {{2, 3, 4, 5}, {1, 3}},
                          {{2, 3, 4, 5}, {0, 2}},
                          {{300, 70}, {-1}},
                          {{4, 1, 6}, {1}}};
  for (ReduceOp op :
       {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Mean})
    for (DType type : {DType::F32, DType::BF16})
      for (const C &c : cases)
        runReduce("tiny", op, c.shape, c.axes, type);
}

TEST(Reduce, Rngd) {
  runReduce("rngd", ReduceOp::Mean, {8, 128, 768}, {-1}, DType::BF16);
  runReduce("rngd", ReduceOp::Sum, {64, 3, 50}, {0}, DType::F32);
}

} // namespace
