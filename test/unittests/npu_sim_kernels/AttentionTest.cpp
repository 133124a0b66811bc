//===- AttentionTest.cpp - flash attention vs naive softmax(QK^T)V --------===//

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gaon::npu_kernels;
using namespace gaon::npu_kernels::test;

namespace {

struct Case {
  int64_t B, H, Hkv, Sq, Sk, D, Dv;
  std::vector<int64_t> mask; // empty: none
  bool causal;
};

/// Returns the stream's first core program (to inspect what was emitted).
/// `maskInf`: every 7th key (from key 3) is -inf in the mask.
/// `scale`: 0 for 1 / sqrt(D).
/// `fullRows`: some query rows get -inf for every key: with a per-query
/// mask every 4th query (from 1); with a per-key mask the first Sk / 2
/// keys (left padding: with causal, queries < Sk / 2 see no key) and, where
/// the mask has a batch dim, every key of batch 0. Such rows must come out
/// as exact zeros (torch's SDPA), not NaN.
std::vector<Instr> runAttention(const std::string &preset, const Case &c,
                                DType type, DType maskType = DType::F32,
                                bool maskInf = false, double scale = 0,
                                bool fullRows = false) {
  Harness h(preset);
  Tensor q = h.input(type, {c.B, c.H, c.Sq, c.D}, -2, 2);
  Tensor k = h.input(type, {c.B, c.Hkv, c.Sk, c.D}, -2, 2);
  Tensor v = h.input(type, {c.B, c.Hkv, c.Sk, c.Dv});
  Tensor mask;
  if (!c.mask.empty()) {
    mask = h.input(maskType, c.mask, -3, 0);
    if (maskInf) {
      std::vector<float> m = h.read(mask);
      for (size_t i = 0; i < m.size(); ++i)
        if (i % c.mask.back() % 7 == 3)
          m[i] = -INFINITY;
      h.write(mask, m);
    }
    if (fullRows) {
      std::vector<float> m = h.read(mask);
      size_t rank = c.mask.size();
      bool perQuery = rank >= 2 && c.mask[rank - 2] > 1;
      bool batched = rank == 4 && c.mask[0] > 1;
      for (size_t i = 0; i < m.size(); ++i) {
        std::vector<int64_t> idx = unravel(int64_t(i), c.mask);
        int64_t key = idx.back();
        bool masked = perQuery ? idx[rank - 2] % 4 == 1
                               : key < c.Sk / 2 || (batched && idx[0] == 0);
        if (masked)
          m[i] = -INFINITY;
      }
      h.write(mask, m);
    }
  }
  Tensor out = h.alloc(type, {c.B, c.H, c.Sq, c.Dv});
  if (scale == 0)
    scale = 1 / std::sqrt(double(c.D));
  h.emitter.attention(q, k, v, c.mask.empty() ? nullptr : &mask, scale,
                      c.causal, out);
  h.run();
  auto qv = h.read(q), kv = h.read(k), vv = h.read(v);
  std::vector<float> mv = c.mask.empty() ? std::vector<float>{} : h.read(mask);
  std::vector<double> ref(c.B * c.H * c.Sq * c.Dv);
  std::vector<double> s(c.Sk);
  int64_t fullyMasked = 0;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t hh = 0; hh < c.H; ++hh) {
      int64_t hk = hh / (c.H / c.Hkv);
      for (int64_t i = 0; i < c.Sq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < c.Sk; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < c.D; ++d)
            acc += double(qv[((b * c.H + hh) * c.Sq + i) * c.D + d]) *
                   kv[((b * c.Hkv + hk) * c.Sk + j) * c.D + d];
          s[j] = acc * scale;
          if (!c.mask.empty())
            s[j] += mv[broadcastIndex({b, hh, i, j}, c.mask)];
          if (c.causal && j > i)
            s[j] = -INFINITY;
          mx = std::max(mx, s[j]);
        }
        if (mx == -INFINITY) { // every key masked: zeros
          for (int64_t d = 0; d < c.Dv; ++d)
            ref[((b * c.H + hh) * c.Sq + i) * c.Dv + d] = 0;
          ++fullyMasked;
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < c.Sk; ++j)
          sum += s[j] = std::exp(s[j] - mx);
        for (int64_t d = 0; d < c.Dv; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < c.Sk; ++j)
            acc += s[j] * vv[((b * c.Hkv + hk) * c.Sk + j) * c.Dv + d];
          ref[((b * c.H + hh) * c.Sq + i) * c.Dv + d] = acc / sum;
        }
      }
    }
  std::vector<float> got = h.read(out);
  if (fullRows) {
    // The fully masked rows are exact zeros (the reference holds 0 there).
    EXPECT_GT(fullyMasked, 0);
    int64_t wrong = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      wrong += ref[i] == 0 && got[i] != 0;
    EXPECT_EQ(wrong, 0) << preset << " Sq" << c.Sq << " Sk" << c.Sk
                        << " causal " << c.causal << " mask "
                        << testing::PrintToString(c.mask);
  }
  EXPECT_LE(relL2(got, ref), type == DType::F32 ? 1e-5 : 2e-2)
      << preset << " B" << c.B << " H" << c.H << " Sq" << c.Sq << " Sk" << c.Sk
      << " D" << c.D << " causal " << c.causal << " mask "
      << testing::PrintToString(c.mask);
  return h.stream.cores[0];
}

const std::vector<Case> kCases = {
    {1, 1, 1, 1, 1, 1, 1, {}, false},
    {1, 2, 2, 5, 7, 8, 8, {}, false},
    {2, 4, 2, 37, 45, 16, 12, {}, false},           // GQA, tails
    {1, 2, 1, 40, 40, 16, 16, {}, true},            // causal, square
    {1, 2, 2, 20, 50, 8, 8, {}, true},              // causal, Sk > Sq
    {2, 2, 2, 33, 47, 8, 8, {2, 1, 33, 47}, false}, // full mask per batch
    {2, 2, 2, 33, 47, 8, 8, {47}, true},            // key padding row
    {1, 3, 3, 30, 30, 8, 8, {3, 30, 1}, false},     // per-query column
    {1, 1, 1, 300, 260, 16, 16, {}, true},          // many blocks
};

TEST(Attention, SweepTinyF32) {
  for (const Case &c : kCases)
    runAttention("tiny", c, DType::F32);
}

TEST(Attention, SweepTinyBf16) {
  for (const Case &c : kCases)
    runAttention("tiny", c, DType::BF16);
}

TEST(Attention, Rngd) {
  runAttention("rngd", {2, 4, 4, 300, 300, 64, 64, {2, 1, 1, 300}, true},
               DType::BF16);
  runAttention("rngd", {1, 8, 2, 129, 257, 128, 128, {}, false}, DType::F32);
}

// A per-key (padding) mask in the input dtype is folded into the scores'
// matmul on rngd (K's extra column holds the mask, loaded by DMA; Q's a
// column of ones): causal with -inf mask entries (the causal mask then
// takes min(S, -inf), never 0 * -inf), two key blocks, grouped heads; and
// BERT's shape. Right in bf16, and the mask goes to K's column (one
// element per DMA row).
TEST(Attention, RngdFoldedPaddingMask) {
  for (auto [c, withInf] :
       {std::pair{Case{2, 4, 2, 200, 1100, 64, 64, {2, 1, 1, 1100}, true},
                  true},
        std::pair{Case{2, 4, 4, 128, 128, 64, 64, {2, 1, 1, 128}, false},
                  false}}) {
    std::vector<Instr> program =
        runAttention("rngd", c, DType::BF16, DType::BF16, withInf);
    bool maskColumn = false;
    for (const Instr &instr : program)
      if (auto *d = std::get_if<DmaCmd>(&instr.cmd))
        maskColumn = maskColumn || (d->rowBytes == 2 && d->rows > 1 &&
                                    d->dstRowStride == 65 * 2 &&
                                    d->src.space == MemSpace::Dram);
    EXPECT_TRUE(maskColumn) << c.Sk;
  }
}

// A scale of 1 (gaon-npu-fold-attention-scale moved it into Q's
// projection): no pass scales Q or the scores, the padding mask still
// folds into the scores' matmul (Q's extra column is ones), and the result
// is right (BERT's shape, bf16, with and without the mask).
TEST(Attention, RngdUnitScale) {
  for (bool withMask : {true, false}) {
    Case c{2, 4, 4, 128, 128, 64, 64, {}, false};
    if (withMask)
      c.mask = {2, 1, 1, 128};
    std::vector<Instr> program =
        runAttention("rngd", c, DType::BF16, DType::BF16, false, 1.0);
    for (const Instr &instr : program)
      if (auto *v = std::get_if<VectorCmd>(&instr.cmd))
        EXPECT_FALSE(v->op == VecOp::Scale && v->rows * v->cols > 128)
            << v->rows << " x " << v->cols;
  }
}

// Several key blocks (1024 keys each) per item on rngd, where the tensor
// unit sums P's rows into l (ones x P^T) and the vector unit rescales l
// with O between blocks: causal and a per-key mask, bf16 and fp32.
TEST(Attention, RngdKeyBlocksLOnTensor) {
  runAttention("rngd", {1, 2, 1, 200, 2100, 64, 64, {1, 1, 1, 2100}, false},
               DType::BF16);
  runAttention("rngd", {1, 2, 2, 1100, 1100, 64, 64, {}, true}, DType::F32);
}

// Query rows whose every key is masked (-inf) give zeros, as torch's SDPA
// (and gaon_graph.attention) do: per-query masks, left padding with causal
// (a left-padded causal LM's first rows), whole batches padded, f32 and
// bf16, on tiny (mask added on the vector unit) and rngd (per-key mask
// folded into the scores' matmul, l on the tensor unit), including rows
// whose first 1024-key block is all -inf and whose later blocks are not.
TEST(Attention, FullyMaskedRowsAreZero) {
  std::vector<Case> tiny = {
      {2, 2, 2, 33, 47, 8, 8, {2, 1, 33, 47}, false},
      {2, 2, 2, 33, 47, 8, 8, {2, 1, 1, 47}, false},
      {2, 2, 2, 47, 47, 8, 8, {2, 1, 1, 47}, true},
      {1, 1, 1, 300, 260, 16, 16, {1, 1, 1, 260}, true}, // many blocks
  };
  for (DType type : {DType::F32, DType::BF16})
    for (const Case &c : tiny)
      runAttention("tiny", c, type, DType::F32, false, 0, true);
  std::vector<Case> rngd = {
      {2, 4, 2, 200, 1100, 64, 64, {2, 1, 1, 1100}, true},
      {2, 4, 4, 128, 128, 64, 64, {2, 1, 1, 128}, false},
      {2, 2, 1, 200, 2100, 64, 64, {2, 1, 1, 2100}, false},
      {2, 2, 2, 130, 130, 64, 64, {2, 1, 130, 130}, true},
  };
  for (DType type : {DType::F32, DType::BF16})
    for (const Case &c : rngd)
      runAttention("rngd", c, type, type, false, 0, true);
}

TEST(Attention, BadShapesThrow) {
  Harness h("tiny");
  Tensor q = h.alloc(DType::F32, {1, 3, 4, 8}),
         k = h.alloc(DType::F32, {1, 2, 4, 8});
  Tensor out = h.alloc(DType::F32, {1, 3, 4, 8});
  EXPECT_THROW(h.emitter.attention(q, k, k, nullptr, 1, false, out),
               KernelError);
}

} // namespace

// Token-major operands (heads as column blocks of one fused [B, S, 3 H D]
// projection) and a merged [B, S, H Dv] result, read and written at their
// strides, give the dense kernel's numbers.
TEST(Attention, StridedLayout) {
  for (bool causal : {false, true}) {
    Harness h("tiny");
    const int64_t B = 2, S = 37, H = 2, D = 8, W = 3 * H * D;
    Tensor qkv = h.input(DType::F32, {B, S, W});
    // Dense copies: slice each projection, transpose [B, S, H, D] -> BHSD.
    Tensor dense[3];
    for (int i = 0; i < 3; ++i) {
      Tensor part = h.alloc(DType::F32, {B, S, H * D});
      h.emitter.slice(qkv, {0, 0, i * H * D}, {1, 1, 1}, part);
      dense[i] = h.alloc(DType::F32, {B, H, S, D});
      h.emitter.transpose({part.addr, DType::F32, {B, S, H, D}}, {0, 2, 1, 3},
                          dense[i]);
    }
    Tensor ref = h.alloc(DType::F32, {B, H, S, D});
    h.emitter.attention(dense[0], dense[1], dense[2], nullptr, 0.3, causal,
                        ref);
    Tensor merged = h.alloc(DType::F32, {B, S, H * D});
    AttentionLayout layout;
    layout.q = layout.k = layout.v = {S * W, D, W};
    layout.out = {S * H * D, D, H * D};
    auto view = [&](int i) {
      return Tensor{
          qkv.addr + uint64_t(i * H * D * 4), DType::F32, {B, H, S, D}};
    };
    h.emitter.attention(view(0), view(1), view(2), nullptr, 0.3, causal,
                        Tensor{merged.addr, DType::F32, {B, H, S, D}}, nullptr,
                        &layout);
    h.run();
    std::vector<float> want = h.read(ref), got = h.read(merged);
    std::vector<double> wantMerged(got.size());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < H; ++hh)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < D; ++d)
            wantMerged[((b * S + s) * H + hh) * D + d] =
                want[((b * H + hh) * S + s) * D + d];
    EXPECT_LE(relL2(got, wantMerged), 1e-6) << "causal " << causal;
  }
}

// BERT-style attention at batch 8 (8 x 12 heads of 128 queries and keys,
// bf16) is vector-bound on RNGD: per item the softmax runs ~674 lane
// groups (Q scaled once 32, max 128, sub 128, exp 64 x 4, 1/l, O / l 128;
// the tensor unit sums P's rows into l) and the tensor unit ~530 cycles.
// With an item's normalisation deferred past the next item's softmax the
// vector unit does not wait for P V, and with four K/V slots the loader
// runs two blocks ahead of the scores, so the kernel takes the busiest
// core's vector work (12 items, 8.1k cycles) plus the first block's loads
// and scores and the last item's P V and store: 9.7k measured. It took
// 17.3k when each item waited for its last P V, 12.7k with two K/V slots,
// 11.4k scaling every score block instead of Q, 11.0k with the row sum on
// the vector unit.
TEST(Attention, RngdVectorUnitStaysBusy) {
  Harness h("rngd");
  const int64_t B = 8, H = 12, S = 128, D = 64;
  Tensor q = h.alloc(DType::BF16, {B, H, S, D}),
         k = h.alloc(DType::BF16, {B, H, S, D}),
         v = h.alloc(DType::BF16, {B, H, S, D}),
         out = h.alloc(DType::BF16, {B, H, S, D});
  h.emitter.attention(q, k, v, nullptr, 0.125, false, out);
  Report report = h.run(/*functional=*/false);
  // Per 128 x 128 item: Q scaling, row max, subtract, exp (packed, 4
  // cycles), 1 / l, the normalising multiply (l is summed on the tensor
  // unit, no row sum).
  double perItem = 32 + 128 + 128 + 64 * 4 + 2 + 128;
  double vectorBound = perItem * double(B * H) / 8;
  EXPECT_LE(double(report.cycles), 1.25 * vectorBound) << report.cycles;
}
