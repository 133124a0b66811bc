//===- DataMovementTest.cpp - copy/transpose/slice/concat/broadcast/gather ===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

TEST(DataMovement, CopyReshape) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{}, {1}, {3, 5}, {2, 3, 4, 5}, {3000, 700}}) {
    Harness h("tiny");
    Tensor in = h.input(DType::BF16, shape);
    Tensor out = h.alloc(DType::BF16, {numel(shape)});
    h.emitter.copy(in, out);
    h.run();
    EXPECT_EQ(h.read(out), h.read(in));
  }
}

TEST(DataMovement, TransposeSweep) {
  struct Case {
    std::vector<int64_t> shape, perm;
  };
  for (const Case &c : std::vector<Case>{{{5, 7}, {1, 0}},
                                         {{2, 3, 4}, {0, 2, 1}},
                                         {{2, 3, 4}, {2, 0, 1}},
                                         {{2, 3, 4, 5}, {0, 2, 1, 3}},
                                         {{1, 6, 1, 5}, {3, 2, 1, 0}},
                                         {{64, 33}, {1, 0}}})
    for (const std::string preset : {"tiny", "rngd"}) {
      Harness h(preset);
      Tensor in = h.input(DType::F32, c.shape);
      std::vector<int64_t> outShape;
      for (int64_t p : c.perm)
        outShape.push_back(c.shape[p]);
      Tensor out = h.alloc(DType::F32, outShape);
      h.emitter.transpose(in, c.perm, out);
      h.run();
      auto x = h.read(in), got = h.read(out);
      for (int64_t i = 0; i < numel(outShape); ++i) {
        auto oi = unravel(i, outShape);
        std::vector<int64_t> ii(c.shape.size());
        for (size_t d = 0; d < c.perm.size(); ++d)
          ii[c.perm[d]] = oi[d];
        int64_t flat = 0;
        for (size_t d = 0; d < ii.size(); ++d)
          flat = flat * c.shape[d] + ii[d];
        ASSERT_EQ(got[i], x[flat]) << i;
      }
    }
}

TEST(DataMovement, SliceWithSteps) {
  Harness h("tiny");
  Tensor in = h.input(DType::F32, {6, 10, 9});
  Tensor out = h.alloc(DType::F32, {2, 4, 3});
  h.emitter.slice(in, {1, 2, 0}, {3, 2, 4}, out);
  h.run();
  auto x = h.read(in), got = h.read(out);
  for (int64_t i = 0; i < 24; ++i) {
    auto o = unravel(i, {2, 4, 3});
    ASSERT_EQ(got[i], x[((1 + 3 * o[0]) * 10 + 2 + 2 * o[1]) * 9 + 4 * o[2]]);
  }
  EXPECT_THROW(h.emitter.slice(in, {5, 0, 0}, {3, 1, 1}, out), KernelError);
}

TEST(DataMovement, ConcatAndBroadcast) {
  Harness h("tiny");
  Tensor a = h.input(DType::F32, {3, 2, 4}), b = h.input(DType::F32, {3, 5, 4});
  Tensor cat = h.alloc(DType::F32, {3, 7, 4});
  h.emitter.concat({a, b}, 1, cat);
  Tensor v = h.input(DType::F32, {4, 1});
  Tensor bc = h.alloc(DType::F32, {2, 4, 3});
  h.emitter.broadcastTo(v, bc);
  h.run();
  auto av = h.read(a), bv = h.read(b), got = h.read(cat);
  for (int64_t i = 0; i < 84; ++i) {
    auto o = unravel(i, {3, 7, 4});
    float want = o[1] < 2 ? av[(o[0] * 2 + o[1]) * 4 + o[2]]
                          : bv[(o[0] * 5 + o[1] - 2) * 4 + o[2]];
    ASSERT_EQ(got[i], want);
  }
  auto vv = h.read(v), g2 = h.read(bc);
  for (int64_t i = 0; i < 24; ++i)
    ASSERT_EQ(g2[i], vv[unravel(i, {2, 4, 3})[1]]);
}

TEST(DataMovement, GatherRows) {
  for (DType it : {DType::I32, DType::I64}) {
    Harness h("tiny");
    Tensor table = h.input(DType::BF16, {50, 24});
    Tensor idx = h.alloc(it, {3, 7});
    std::vector<float> iv(21);
    for (int i = 0; i < 21; ++i)
      iv[i] = float((i * 13) % 50 - (i % 4 == 0 ? 50 : 0)); // some negative
    h.write(idx, iv);
    Tensor out = h.alloc(DType::BF16, {3, 7, 24});
    h.emitter.gatherRows(table, idx, out);
    h.run();
    auto tv = h.read(table), got = h.read(out);
    for (int i = 0; i < 21; ++i) {
      int row = int(iv[i]) < 0 ? int(iv[i]) + 50 : int(iv[i]);
      for (int j = 0; j < 24; ++j)
        ASSERT_EQ(got[i * 24 + j], tv[row * 24 + j]);
    }
  }
}

// ONNX GatherElements against a plain loop: the last axis (RoBERTa's
// token-type ids by position ids: data [B, 514], indices [B, S]), an outer
// and a middle axis, indices narrower than the data off the axis,
// negative indices, int32 and int64 indices, f32 and int64 data.
TEST(DataMovement, GatherElements) {
  struct C {
    std::vector<int64_t> data, idx;
    int64_t axis;
  };
  for (const C &c : std::vector<C>{{{2, 514}, {2, 9}, 1},
                                   {{6, 5}, {4, 5}, 0},
                                   {{3, 7, 4}, {2, 5, 3}, 1},
                                   {{3, 7, 4}, {3, 7, 6}, -1}})
    for (DType it : {DType::I32, DType::I64})
      for (DType dt : {DType::F32, DType::I64}) {
        Harness h("tiny");
        Tensor data = h.input(dt, c.data, -100, 100);
        Tensor idx = h.alloc(it, c.idx);
        int64_t n = int64_t(c.data.size()),
                ax = c.axis < 0 ? c.axis + n : c.axis, N = c.data[ax];
        std::vector<float> iv(numel(c.idx));
        for (size_t i = 0; i < iv.size(); ++i)
          iv[i] = float(int64_t(i * 7 + 3) % N - (i % 3 == 0 ? N : 0));
        h.write(idx, iv);
        Tensor out = h.alloc(dt, c.idx);
        h.emitter.gatherElements(data, idx, c.axis, out);
        h.run();
        auto dv = h.read(data), got = h.read(out);
        std::vector<int64_t> dStr(n, 1);
        for (int64_t d = n - 2; d >= 0; --d)
          dStr[d] = dStr[d + 1] * c.data[d + 1];
        for (size_t i = 0; i < iv.size(); ++i) {
          std::vector<int64_t> at = unravel(int64_t(i), c.idx);
          at[ax] = int64_t(iv[i]) < 0 ? int64_t(iv[i]) + N : int64_t(iv[i]);
          int64_t flat = 0;
          for (int64_t d = 0; d < n; ++d)
            flat += at[d] * dStr[d];
          ASSERT_EQ(got[i], dv[flat]) << testing::PrintToString(c.data)
                                      << " axis " << c.axis << " at " << i;
        }
      }
  Harness h("tiny");
  Tensor data = h.alloc(DType::F32, {4, 5}), idx = h.alloc(DType::I64, {4, 6});
  Tensor out = h.alloc(DType::F32, {4, 6});
  EXPECT_THROW(h.emitter.gatherElements(data, idx, 0, out), KernelError);
}

} // namespace
