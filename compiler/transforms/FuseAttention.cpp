//===- FuseAttention.cpp - Fuse scaled dot-product attention --------------===//

#include "GraphMatchers.h"

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gaon {
#define GEN_PASS_DEF_FUSEATTENTION
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

/// Peels multiplications and divisions by splat constants off `value`,
/// folding them into `scale`.
Value peelScale(Value value, double &scale) {
  while (true) {
    if (auto div = value.getDefiningOp<DivOp>()) {
      auto c = getSplatValue(div.getRhs());
      if (c && *c != 0 && div.getLhs().getType() == div.getType()) {
        scale /= *c;
        value = div.getLhs();
        continue;
      }
    }
    if (auto mul = value.getDefiningOp<MulOp>()) {
      bool peeled = false;
      for (auto [x, k] : {std::pair(mul.getLhs(), mul.getRhs()),
                          std::pair(mul.getRhs(), mul.getLhs())}) {
        auto c = getSplatValue(k);
        if (c && x.getType() == mul.getType()) {
          scale *= *c;
          value = x;
          peeled = true;
          break;
        }
      }
      if (peeled)
        continue;
    }
    return value;
  }
}

/// What stands between softmax's input and Q K^T: scalings next to the
/// product, additive masks, and selects that write a very negative constant
/// where a condition is false (HF GPT-2's causal mask).
struct PeeledScores {
  Value qk;
  double scale = 1.0;
  SmallVector<Value> additive;
  SmallVector<std::pair<Value, double>> selects; // condition, fill
};

std::optional<PeeledScores> peelMasks(Value value, int depth = 0) {
  if (depth > 6)
    return std::nullopt;
  PeeledScores result;
  value = peelScale(value, result.scale);
  if (value.getDefiningOp<MatMulOp>()) {
    result.qk = value;
    return result;
  }
  if (auto add = value.getDefiningOp<AddOp>()) {
    for (auto [s, m] : {std::pair(add.getLhs(), add.getRhs()),
                        std::pair(add.getRhs(), add.getLhs())}) {
      if (s.getType() != add.getType())
        continue;
      if (auto inner = peelMasks(s, depth + 1)) {
        inner->additive.push_back(m);
        inner->scale *= result.scale;
        return inner;
      }
    }
    return std::nullopt;
  }
  if (auto select = value.getDefiningOp<SelectOp>()) {
    // select(c, s, fill) == s + select(c, 0, fill) when fill is -inf-like.
    auto fill = getSplatValue(select.getRhs());
    if (!fill || *fill > -1e30 || select.getLhs().getType() != select.getType())
      return std::nullopt;
    auto inner = peelMasks(select.getLhs(), depth + 1);
    if (!inner)
      return std::nullopt;
    inner->selects.push_back({select.getCondition(), *fill});
    inner->scale *= result.scale;
    return inner;
  }
  return std::nullopt;
}

/// The single additive mask equivalent to the peeled masks (null if none).
Value buildMask(PatternRewriter &rewriter, Location loc,
                const PeeledScores &peeled, Type element) {
  Value mask;
  auto accumulate = [&](Value term) {
    if (!mask) {
      mask = term;
      return;
    }
    auto shape =
        broadcastShapes(cast<RankedTensorType>(mask.getType()).getShape(),
                        cast<RankedTensorType>(term.getType()).getShape());
    mask = AddOp::create(rewriter, loc, RankedTensorType::get(*shape, element),
                         mask, term);
  };
  for (auto [condition, fill] : peeled.selects) {
    auto scalar = RankedTensorType::get({}, element);
    Value zero = ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(scalar, rewriter.getFloatAttr(element, 0.0)));
    Value negative = ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(scalar, rewriter.getFloatAttr(element, fill)));
    auto shape = cast<RankedTensorType>(condition.getType()).getShape();
    accumulate(SelectOp::create(rewriter, loc,
                                RankedTensorType::get(shape, element),
                                condition, zero, negative));
  }
  for (Value term : peeled.additive)
    accumulate(term);
  return mask;
}

/// torch's SDPA export guards the probabilities against the NaN that a row
/// of only -inf scores gives: select(isnan(p), 0, p), isnan(p) imported as
/// not(p == p). The attention op gives 0 for such rows itself, so the guard
/// goes; returns the guarded value, or `value` when there is no guard.
Value peelNanGuard(Value value) {
  auto select = value.getDefiningOp<SelectOp>();
  if (!select || select.getRhs().getType() != select.getType())
    return value;
  auto fill = getSplatValue(select.getLhs());
  auto isNan = select.getCondition().getDefiningOp<NotOp>();
  auto equal = isNan ? isNan.getInput().getDefiningOp<EqualOp>() : EqualOp();
  Value guarded = select.getRhs();
  if (!fill || *fill != 0 || !equal || equal.getLhs() != guarded ||
      equal.getRhs() != guarded)
    return value;
  return guarded;
}

bool isRank4(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.getRank() == 4;
}

struct FuseAttentionPattern : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    auto softmax = peelNanGuard(op.getLhs()).getDefiningOp<SoftmaxOp>();
    Value v = op.getRhs();
    if (!softmax || softmax.getLog() || !isRank4(v) || !isRank4(op) ||
        softmax.getAxis() != 3)
      return failure();
    // scores = scale * (Q K^T) [+ mask]
    Value scores = softmax.getInput();
    double scale = 1.0;
    scores = peelScale(scores, scale);
    auto peeled = peelMasks(scores);
    if (!peeled)
      return failure();
    scores = peeled->qk;
    scale *= peeled->scale;
    auto qk = scores.getDefiningOp<MatMulOp>();
    if (!qk || !isRank4(qk.getLhs()) || !isRank4(qk.getRhs()))
      return failure();
    Value q = peelScale(qk.getLhs(), scale);
    Value kt = peelScale(qk.getRhs(), scale);
    auto qType = cast<RankedTensorType>(q.getType());
    auto ktType = cast<RankedTensorType>(kt.getType());
    auto vType = cast<RankedTensorType>(v.getType());
    // Q [B,H,Sq,D], K^T [B,Hkv,D,Sk], V [B,Hkv,Sk,Dv]: Hkv = H, or 1 where
    // the products broadcast one key/value head (multi-query: Falcon).
    auto sameHeads = [&](RankedTensorType t) {
      return t.getDimSize(0) == qType.getDimSize(0) &&
             (t.getDimSize(1) == qType.getDimSize(1) || t.getDimSize(1) == 1);
    };
    if (!sameHeads(ktType) || !sameHeads(vType) ||
        ktType.getDimSize(1) != vType.getDimSize(1) ||
        ktType.getDimSize(3) != vType.getDimSize(2) ||
        qType.getElementType() != vType.getElementType())
      return failure();
    // Every mask term must be of the scores' element type and broadcast to
    // the scores' shape; check before creating any op.
    ArrayRef<int64_t> scoresShape =
        cast<RankedTensorType>(softmax.getType()).getShape();
    SmallVector<Value> terms(peeled->additive);
    for (auto &entry : peeled->selects)
      terms.push_back(entry.first);
    for (Value term : terms) {
      auto termType = cast<RankedTensorType>(term.getType());
      auto shape = broadcastShapes(termType.getShape(), scoresShape);
      bool isCondition = termType.getElementType().isInteger(1);
      if (failed(shape) || ArrayRef<int64_t>(*shape) != scoresShape ||
          (!isCondition && termType.getElementType() != qType.getElementType()))
        return failure();
    }
    rewriter.setInsertionPoint(op);
    Value mask =
        buildMask(rewriter, op.getLoc(), *peeled, qType.getElementType());
    SmallVector<int64_t> kShape = {ktType.getDimSize(0), ktType.getDimSize(1),
                                   ktType.getDimSize(3), ktType.getDimSize(2)};
    Value k = TransposeOp::create(
        rewriter, op.getLoc(),
        RankedTensorType::get(kShape, ktType.getElementType()), kt,
        rewriter.getDenseI64ArrayAttr({0, 1, 3, 2}));
    rewriter.replaceOpWithNewOp<AttentionOp>(op, op.getType(), q, k, v, mask,
                                             rewriter.getF64FloatAttr(scale),
                                             rewriter.getBoolAttr(false));
    return success();
  }
};

/// HF's repeat_kv copies each key/value head G times for grouped-query
/// attention: reshape [B,Hkv,S,D] -> [B,Hkv,1,S,D], broadcast to
/// [B,Hkv,G,S,D], reshape to [B,Hkv*G,S,D]. The uncopied heads are the
/// first reshape's input seen as [B,Hkv,S,D] (canonicalization may have
/// merged that reshape with the head split, as for one key/value head).
struct RepeatedHeads {
  Value source;
  RankedTensorType heads; ///< [B, Hkv, S, D]
};

std::optional<RepeatedHeads> matchRepeatedHeads(Value value) {
  auto merge = value.getDefiningOp<ReshapeOp>();
  auto broadcast =
      merge ? merge.getInput().getDefiningOp<BroadcastOp>() : BroadcastOp();
  auto split =
      broadcast ? broadcast.getInput().getDefiningOp<ReshapeOp>() : ReshapeOp();
  if (!split)
    return std::nullopt;
  ArrayRef<int64_t> unit = split.getType().getShape();
  ArrayRef<int64_t> copies = broadcast.getType().getShape();
  ArrayRef<int64_t> heads = cast<RankedTensorType>(merge.getType()).getShape();
  if (unit.size() != 5 || copies.size() != 5 || heads.size() != 4 ||
      unit[2] != 1 || ShapedType::isDynamicShape(unit))
    return std::nullopt;
  int64_t group = copies[2];
  SmallVector<int64_t> expectCopies = {unit[0], unit[1], group, unit[3],
                                       unit[4]};
  SmallVector<int64_t> expectHeads = {unit[0], unit[1] * group, unit[3],
                                      unit[4]};
  if (copies != ArrayRef<int64_t>(expectCopies) ||
      heads != ArrayRef<int64_t>(expectHeads))
    return std::nullopt;
  return RepeatedHeads{
      split.getInput(),
      RankedTensorType::get({unit[0], unit[1], unit[3], unit[4]},
                            split.getType().getElementType())};
}

/// Attention over keys and values whose heads are copies (repeat_kv) reads
/// the uncopied heads: the op maps query head h to key/value head h / G.
struct AttentionOverGroupedHeads : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    auto k = matchRepeatedHeads(op.getKey());
    auto v = matchRepeatedHeads(op.getValue());
    if (!k || !v || k->heads.getDimSize(1) != v->heads.getDimSize(1))
      return failure();
    auto view = [&](const RepeatedHeads &r) -> Value {
      if (r.source.getType() == r.heads)
        return r.source;
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointAfterValue(r.source);
      return ReshapeOp::create(rewriter, op.getLoc(), r.heads, r.source);
    };
    Value key = view(*k), value = view(*v);
    rewriter.modifyOpInPlace(op, [&] {
      op.getKeyMutable().assign(key);
      op.getValueMutable().assign(value);
    });
    return success();
  }
};

struct FuseAttentionPass : impl::FuseAttentionBase<FuseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseAttentionPattern, AttentionOverGroupedHeads>(
        &getContext());
    TransposeOp::getCanonicalizationPatterns(patterns, &getContext());
    ReshapeOp::getCanonicalizationPatterns(patterns, &getContext());
    // With folding (0.6 s on BERT-base, visiting every weight): the masks
    // built from constant selects must be constants when
    // gaon-fold-causal-masks looks for causal ones (GPT-2's eager export).
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
