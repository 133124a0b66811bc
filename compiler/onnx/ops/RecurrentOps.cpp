//===- RecurrentOps.cpp - ONNX RNN, GRU and LSTM --------------------------===//
//
// The recurrent ops unrolled over their (static) sequence: the input
// projection of every step is one matmul up front, then each step is a
// matmul of the previous hidden state and the gate arithmetic of the ONNX
// spec. Forward, reverse and bidirectional; layouts 0 and 1; clip;
// peepholes (LSTM) and linear_before_reset (GRU). Not supported: sequence
// lengths that differ from the input's, input_forget, activations other
// than Sigmoid, Tanh and Relu.
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

enum class Cell { Rnn, Gru, Lstm };

/// Unrolling makes one set of ops per step.
constexpr int64_t kMaxSteps = 1024;

struct Recurrence {
  NodeContext &ctx;
  Cell cell;
  Type element;
  int64_t steps = 0, batch = 0, hidden = 0, gates = 1;
  std::optional<double> clip;
  SmallVector<std::string> activations;

  Value slice(Value v, int64_t axis, int64_t start, int64_t size) {
    auto shape = llvm::to_vector(tensorType(v).getShape());
    SmallVector<int64_t> starts(shape.size(), 0), unit(shape.size(), 1);
    starts[axis] = start;
    shape[axis] = size;
    auto &b = ctx.getBuilder();
    return ctx.create<SliceOp>(RankedTensorType::get(shape, element), v,
                               b.getDenseI64ArrayAttr(starts),
                               b.getDenseI64ArrayAttr(unit));
  }
  FailureOr<Value> add(Value a, Value b) { return ctx.binary<AddOp>(a, b); }
  FailureOr<Value> mul(Value a, Value b) { return ctx.binary<MulOp>(a, b); }
  Value matmul(Value a, Value b) {
    auto lhs = tensorType(a).getShape(), rhs = tensorType(b).getShape();
    SmallVector<int64_t> shape(lhs.drop_back());
    shape.push_back(rhs.back());
    return ctx.create<MatMulOp>(RankedTensorType::get(shape, element), a, b);
  }
  /// Activation `index` of direction `dir` (the defaults per cell).
  Value activate(Value v, int dir, int index) {
    auto type = tensorType(v);
    if (clip) {
      auto &b = ctx.getBuilder();
      v = ctx.create<ClampOp>(type, v, b.getF64FloatAttr(-*clip),
                              b.getF64FloatAttr(*clip));
    }
    int perDirection = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 2 : 3;
    StringRef name = activations[dir * perDirection + index];
    if (name == "Sigmoid")
      return ctx.create<SigmoidOp>(type, v);
    if (name == "Relu")
      return ctx.create<ReluOp>(type, v);
    return ctx.create<TanhOp>(type, v);
  }
};

LogicalResult convertRecurrent(NodeContext &ctx, Cell cell) {
  auto x = ctx.inputType(0), w = ctx.inputType(1), r = ctx.inputType(2);
  if (x.getRank() != 3 || w.getRank() != 3 || r.getRank() != 3)
    return ctx.fail("X, W and R must be 3-D");
  if (!x.hasStaticShape() || !w.hasStaticShape() || !r.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  Recurrence rec{ctx, cell, x.getElementType()};
  if (!isa<FloatType>(rec.element))
    return ctx.fail("X must be a float tensor");
  rec.gates = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;
  bool batchFirst = ctx.attrInt("layout", 0) != 0;
  rec.steps = x.getDimSize(batchFirst ? 1 : 0);
  rec.batch = x.getDimSize(batchFirst ? 0 : 1);
  rec.hidden = ctx.attrInt("hidden_size", r.getDimSize(2));
  std::string direction = ctx.attrString("direction", "forward");
  if (direction != "forward" && direction != "reverse" &&
      direction != "bidirectional")
    return ctx.fail("unknown direction '" + direction + "'");
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  int64_t h = rec.hidden, g = rec.gates;
  if (w.getDimSize(0) != dirs || w.getDimSize(1) != g * h ||
      w.getDimSize(2) != x.getDimSize(2) || r.getDimSize(0) != dirs ||
      r.getDimSize(1) != g * h || r.getDimSize(2) != h)
    return ctx.fail("W must be [" + Twine(dirs) + ", " + Twine(g * h) +
                    ", input] and R [" + Twine(dirs) + ", " + Twine(g * h) +
                    ", " + Twine(h) + "]");
  if (rec.steps > kMaxSteps)
    return ctx.fail("sequences of " + Twine(rec.steps) +
                    " steps are more than the " + Twine(kMaxSteps) +
                    " supported (each step is unrolled)");
  if (ctx.hasAttr("clip"))
    rec.clip = ctx.attrFloat("clip", 0.0f);
  if (cell == Cell::Lstm && ctx.attrInt("input_forget", 0) != 0)
    return ctx.fail("input_forget is not supported");
  if (ctx.hasAttr("activation_alpha") || ctx.hasAttr("activation_beta"))
    return ctx.fail("activations with parameters are not supported");
  int perDirection = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 2 : 3;
  if (const auto *a = ctx.attr("activations")) {
    for (const std::string &name : a->strings())
      rec.activations.push_back(name);
    if (int64_t(rec.activations.size()) != perDirection * dirs)
      return ctx.fail("activations must list " + Twine(perDirection * dirs) +
                      " functions");
    for (const std::string &name : rec.activations)
      if (name != "Sigmoid" && name != "Tanh" && name != "Relu")
        return ctx.fail("activation '" + name +
                        "' is not supported (Sigmoid, Tanh, Relu)");
  } else {
    SmallVector<std::string> defaults =
        cell == Cell::Rnn ? SmallVector<std::string>{"Tanh"}
        : cell == Cell::Gru
            ? SmallVector<std::string>{"Sigmoid", "Tanh"}
            : SmallVector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    for (int64_t d = 0; d < dirs; ++d)
      rec.activations.append(defaults.begin(), defaults.end());
  }
  if (ctx.hasInput(4)) {
    auto lengths = ctx.constantInput(4);
    if (!lengths)
      return ctx.fail("sequence_lens (input 4) must be a compile-time "
                      "constant; its value depends on the model's inputs");
    for (int64_t i = 0; i < lengths->getNumElements(); ++i)
      if (lengths->getInt(i) != rec.steps)
        return ctx.fail("sequence_lens other than the full sequence (" +
                        Twine(rec.steps) + ") are not supported");
  }
  bool linearBeforeReset = ctx.attrInt("linear_before_reset", 0) != 0;
  // X as [T, B, I].
  Value xs = batchFirst ? ctx.transpose(ctx.input(0), {1, 0, 2}) : ctx.input(0);
  int64_t bsz = rec.batch;
  auto zeros = ctx.splat(rec.element, {bsz, h}, 0.0);
  SmallVector<Value> ys(dirs), lastH(dirs), lastC(dirs);
  for (int64_t d = 0; d < dirs; ++d) {
    auto dirSlice = [&](Value v) {
      auto shape = tensorType(v).getShape();
      return ctx.reshape(rec.slice(v, 0, d, 1), shape.drop_front());
    };
    Value wt = ctx.transpose(dirSlice(ctx.input(1)), {1, 0}); // [I, G*H]
    Value rt = ctx.transpose(dirSlice(ctx.input(2)), {1, 0}); // [H, G*H]
    // Input projections of every step: [T, B, G*H].
    Value projected = rec.matmul(xs, wt);
    Value wb, rb;
    if (ctx.hasInput(3)) {
      Value bias = dirSlice(ctx.input(3)); // [2*G*H]
      wb = rec.slice(bias, 0, 0, g * h);
      rb = rec.slice(bias, 0, g * h, g * h);
      auto withBias = rec.add(projected, wb);
      if (failed(withBias))
        return failure();
      projected = *withBias;
    }
    auto gateOf = [&](Value v, int64_t gate) {
      return rec.slice(v, tensorType(v).getRank() - 1, gate * h, h);
    };
    Value hPrev = ctx.hasInput(5) ? dirSlice(ctx.input(5)) : zeros;
    Value cPrev =
        cell == Cell::Lstm && ctx.hasInput(6) ? dirSlice(ctx.input(6)) : zeros;
    Value peep;
    if (cell == Cell::Lstm && ctx.hasInput(7))
      peep = dirSlice(ctx.input(7)); // [3*H]: i, o, f
    SmallVector<Value> outputs(rec.steps);
    for (int64_t s = 0; s < rec.steps; ++s) {
      int64_t t = d == 1 || direction == "reverse" ? rec.steps - 1 - s : s;
      Value xt = ctx.reshape(rec.slice(projected, 0, t, 1), {bsz, g * h});
      Value hr = rec.matmul(hPrev, rt); // [B, G*H]
      if (rb) {
        auto biased = rec.add(hr, rb);
        if (failed(biased))
          return failure();
        hr = *biased;
      }
      auto pre = [&](int64_t gate) -> FailureOr<Value> {
        return rec.add(gateOf(xt, gate), gateOf(hr, gate));
      };
      Value hNew;
      if (cell == Cell::Rnn) {
        auto a = pre(0);
        if (failed(a))
          return failure();
        hNew = rec.activate(*a, d, 0);
      } else if (cell == Cell::Gru) {
        auto za = pre(0), ra = pre(1);
        if (failed(za) || failed(ra))
          return failure();
        Value z = rec.activate(*za, d, 0), rg = rec.activate(*ra, d, 0);
        FailureOr<Value> ha = failure();
        if (linearBeforeReset) {
          // r * (H R_h^T + Rb_h): the recurrent bias inside the product.
          auto gated = rec.mul(rg, gateOf(hr, 2));
          if (failed(gated))
            return failure();
          ha = rec.add(gateOf(xt, 2), *gated);
        } else {
          auto reset = rec.mul(rg, hPrev);
          if (failed(reset))
            return failure();
          Value hh = rec.matmul(*reset, gateOf(rt, 2));
          if (rb) {
            auto biased = rec.add(hh, gateOf(rb, 2));
            if (failed(biased))
              return failure();
            hh = *biased;
          }
          ha = rec.add(gateOf(xt, 2), hh);
        }
        if (failed(ha))
          return failure();
        Value candidate = rec.activate(*ha, d, 1);
        // H = (1 - z) * candidate + z * H_prev = candidate + z * (H_prev - c).
        auto diff = ctx.binary<SubOp>(hPrev, candidate);
        if (failed(diff))
          return failure();
        auto kept = rec.mul(z, *diff);
        if (failed(kept))
          return failure();
        auto next = rec.add(candidate, *kept);
        if (failed(next))
          return failure();
        hNew = *next;
      } else {
        // Gates i, o, f, c; peepholes i, o, f.
        auto withPeep = [&](FailureOr<Value> a, int64_t index,
                            Value c) -> FailureOr<Value> {
          if (failed(a) || !peep)
            return a;
          auto term = rec.mul(rec.slice(peep, 0, index * h, h), c);
          if (failed(term))
            return failure();
          return rec.add(*a, *term);
        };
        auto ia = withPeep(pre(0), 0, cPrev), fa = withPeep(pre(2), 2, cPrev),
             ca = pre(3);
        if (failed(ia) || failed(fa) || failed(ca))
          return failure();
        Value i = rec.activate(*ia, d, 0), f = rec.activate(*fa, d, 0);
        Value c = rec.activate(*ca, d, 1);
        auto keep = rec.mul(f, cPrev), write = rec.mul(i, c);
        if (failed(keep) || failed(write))
          return failure();
        auto cNew = rec.add(*keep, *write);
        if (failed(cNew))
          return failure();
        auto oa = withPeep(pre(1), 1, *cNew);
        if (failed(oa))
          return failure();
        Value o = rec.activate(*oa, d, 0);
        auto out = rec.mul(o, rec.activate(*cNew, d, 2));
        if (failed(out))
          return failure();
        hNew = *out;
        cPrev = *cNew;
      }
      hPrev = hNew;
      outputs[t] = ctx.reshape(hNew, {1, bsz, h});
    }
    auto &b = ctx.getBuilder();
    ys[d] = ctx.create<ConcatOp>(
        RankedTensorType::get({rec.steps, bsz, h}, rec.element), outputs,
        b.getI64IntegerAttr(0));
    lastH[d] = ctx.reshape(hPrev, {1, bsz, h});
    if (cell == Cell::Lstm)
      lastC[d] = ctx.reshape(cPrev, {1, bsz, h});
  }
  auto &b = ctx.getBuilder();
  auto stack = [&](ArrayRef<Value> parts, ArrayRef<int64_t> shape,
                   int64_t axis) -> Value {
    if (parts.size() == 1)
      return ctx.reshape(parts[0], shape);
    return ctx.create<ConcatOp>(RankedTensorType::get(shape, rec.element),
                                parts, b.getI64IntegerAttr(axis));
  };
  // Y: [T, dirs, B, H] (layout 0) or [B, T, dirs, H] (layout 1).
  SmallVector<Value> perDir;
  for (Value y : ys)
    perDir.push_back(ctx.reshape(y, {rec.steps, 1, bsz, h}));
  Value y = stack(perDir, {rec.steps, dirs, bsz, h}, 1);
  Value yh = stack(lastH, {dirs, bsz, h}, 0);
  Value yc = cell == Cell::Lstm ? stack(lastC, {dirs, bsz, h}, 0) : Value();
  if (batchFirst) {
    y = ctx.transpose(y, {2, 0, 1, 3});
    yh = ctx.transpose(yh, {1, 0, 2});
    if (yc)
      yc = ctx.transpose(yc, {1, 0, 2});
  }
  if (ctx.hasOutput(0))
    ctx.setOutput(0, y);
  if (ctx.hasOutput(1))
    ctx.setOutput(1, yh);
  if (cell == Cell::Lstm && ctx.hasOutput(2))
    ctx.setOutput(2, yc);
  return success();
}

} // namespace

void registerRecurrentOps(ConverterRegistry &r) {
  r["RNN"] = [](NodeContext &c) { return convertRecurrent(c, Cell::Rnn); };
  r["GRU"] = [](NodeContext &c) { return convertRecurrent(c, Cell::Gru); };
  r["LSTM"] = [](NodeContext &c) { return convertRecurrent(c, Cell::Lstm); };
}

} // namespace gaon::onnx
