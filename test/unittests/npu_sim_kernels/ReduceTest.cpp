//===- ReduceTest.cpp - sum/max/min/mean/prod over any axes ---------------===//

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
  std::vector<double> ref(numel(outShape), op == ReduceOp::Max    ? -INFINITY
                                           : op == ReduceOp::Min  ? INFINITY
                                           : op == ReduceOp::Prod ? 1.0
                                                                  : 0.0);
  std::vector<int64_t> cnt(ref.size(), 0);
  for (int64_t i = 0; i < numel(shape); ++i) {
    auto idx = unravel(i, shape);
    int64_t o = broadcastIndex(idx, outShape);
    double v = x[i];
    ref[o] = op == ReduceOp::Max    ? std::max(ref[o], v)
             : op == ReduceOp::Min  ? std::min(ref[o], v)
             : op == ReduceOp::Prod ? ref[o] * v
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
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min,
                      ReduceOp::Mean, ReduceOp::Prod})
    for (DType type : {DType::F32, DType::BF16})
      for (const C &c : cases)
        runReduce("tiny", op, c.shape, c.axes, type);
}

// Integer rows reduce exactly in int64: sums past 2^24 (where an f32
// accumulator would round) and products that wrap like numpy's int64.
TEST(Reduce, Int64Exact) {
  Harness h("tiny");
  const int64_t rows = 3, cols = 64;
  Tensor in = h.alloc(DType::I64, {rows, cols});
  std::vector<uint8_t> bytes(in.bytes());
  std::vector<int64_t> values(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) {
    // Row 0: 1e6 + c, one more at c = 0 (sum 64002017: odd, so no f32
    // holds it); row 1: 3 (product 3^64 wraps); row 2: 2, -1, 2, -1, ...
    int64_t r = i / cols, c = i % cols;
    values[i] = r == 0 ? 1000000 + c + (c == 0) : r == 1 ? 3 : (c % 2 ? -1 : 2);
    storeElementI64(DType::I64, bytes.data() + 8 * i, values[i]);
  }
  h.sim.writeDram(in.addr, bytes.data(), bytes.size());
  Tensor sum = h.alloc(DType::I64, {rows, 1});
  Tensor prod = h.alloc(DType::I64, {rows, 1});
  h.emitter.reduce(ReduceOp::Sum, in, {1}, sum);
  h.emitter.reduce(ReduceOp::Prod, in, {1}, prod);
  h.run();
  auto readI64 = [&](const Tensor &t) {
    std::vector<uint8_t> raw(t.bytes());
    h.sim.readDram(t.addr, raw.data(), raw.size());
    std::vector<int64_t> out(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i)
      out[i] = loadElementI64(DType::I64, raw.data() + 8 * i);
    return out;
  };
  std::vector<int64_t> sums = readI64(sum), prods = readI64(prod);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t s = 0;
    uint64_t p = 1;
    for (int64_t c = 0; c < cols; ++c) {
      s += values[r * cols + c];
      p *= uint64_t(values[r * cols + c]);
    }
    EXPECT_EQ(sums[r], s) << "row " << r;
    EXPECT_EQ(prods[r], int64_t(p)) << "row " << r;
  }
  EXPECT_EQ(sums[0], 64002017);
}

TEST(Reduce, Rngd) {
  runReduce("rngd", ReduceOp::Mean, {8, 128, 768}, {-1}, DType::BF16);
  runReduce("rngd", ReduceOp::Sum, {64, 3, 50}, {0}, DType::F32);
}

} // namespace
