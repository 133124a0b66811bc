//===- GridSampleOps.cpp - ONNX GridSample as gathers of taps -------------===//
//
// GridSample (4-D: X [N, C, H, W], grid [N, Ho, Wo, 2] of normalized (x, y))
// becomes elementwise arithmetic on the grid and one gather_elements per
// interpolation tap over X as [N, C, H * W], so every backend runs it. The
// coordinate rules follow the ONNX reference: denormalize, round for
// nearest, clamp or reflect both coordinates when either is out of bounds,
// then per tap zero (zeros), clamp (border) or reflect (reflection) the
// pixel index. Where onnxruntime and PyTorch differ from the reference
// (bicubic with border padding), they are followed.
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

#include <array>
#include <cmath>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

enum class Padding { Zeros, Border, Reflection };

/// Builds the graph for one GridSample node; every helper fails through
/// `ok`, checked once at the end.
class GridSampleBuilder {
public:
  GridSampleBuilder(NodeContext &ctx, RankedTensorType coordType)
      : ctx(ctx), coordType(coordType), f(coordType.getElementType()),
        i64(ctx.getBuilder().getI64Type()) {}

  Value c(double v) { return ctx.splat(f, {}, v); }
  template <typename OpTy> Value bin(Value a, Value b) {
    auto r = ctx.binary<OpTy>(a, b);
    if (failed(r)) {
      ok = false;
      return a;
    }
    return *r;
  }
  Value cmp(Value a, Value b, bool less) {
    auto r = less ? ctx.binary<LessOp>(a, b, true)
                  : ctx.binary<GreaterOp>(a, b, true);
    if (failed(r)) {
      ok = false;
      return a;
    }
    return *r;
  }
  Value select(Value cond, Value a, Value b) {
    return ctx.create<SelectOp>(tensorType(a), cond, a, b);
  }
  Value floor(Value x) { return ctx.create<FloorOp>(tensorType(x), x); }
  Value clamp(Value x, double lo, double hi) {
    return bin<MinOp>(bin<MaxOp>(x, c(lo)), c(hi));
  }

  /// The ONNX reference's reflection of x into [lo, hi], by the near border
  /// until inside (x unchanged inside).
  Value reflect(Value x, double lo, double hi) {
    double range = hi - lo;
    if (range <= 0) // a single position: every x goes to it (x < x is false)
      return select(cmp(x, x, true), x, c(lo));
    auto side = [&](Value dx, bool fromLow) {
      Value n = floor(bin<DivOp>(dx, c(range)));
      Value r = bin<SubOp>(dx, bin<MulOp>(n, c(range)));
      Value half = floor(bin<MulOp>(n, c(0.5)));
      Value odd = cmp(c(0.5), bin<SubOp>(n, bin<MulOp>(half, c(2))), true);
      Value even = fromLow ? bin<AddOp>(c(lo), r) : bin<SubOp>(c(hi), r);
      Value other = fromLow ? bin<SubOp>(c(hi), r) : bin<AddOp>(c(lo), r);
      return select(odd, other, even);
    };
    Value below = cmp(x, c(lo), true), above = cmp(x, c(hi), false);
    Value fromLow = side(bin<SubOp>(c(lo), x), true);
    Value fromHigh = side(bin<SubOp>(x, c(hi)), false);
    return select(below, fromLow, select(above, fromHigh, x));
  }

  /// Pixel index `idx` (float, integral) along an axis of `size` for a tap:
  /// the clamped index to gather and, for zeros padding, whether it is in
  /// bounds.
  std::pair<Value, Value> tapIndex(Value idx, int64_t size, Padding padding,
                                   double lo, double hi) {
    Value inBounds;
    if (padding == Padding::Zeros)
      inBounds = bin<AndOp>(cmp(c(-0.5), idx, true),
                            cmp(idx, c(double(size) - 0.5), true));
    else if (padding == Padding::Reflection) {
      // Truncated toward zero, as the reference's int().
      Value r = reflect(idx, lo, hi);
      idx = select(cmp(r, c(0), true),
                   bin<SubOp>(c(0), floor(bin<SubOp>(c(0), r))), floor(r));
    }
    return {clamp(idx, 0, double(size - 1)), inBounds};
  }

  NodeContext &ctx;
  RankedTensorType coordType;
  Type f, i64;
  bool ok = true;
};

/// Keys' cubic convolution weights (A = -0.75) of the four taps at
/// floor(x) - 1 .. floor(x) + 2, for t = x - floor(x).
std::array<Value, 4> cubicWeights(GridSampleBuilder &g, Value t) {
  const double a = -0.75;
  auto outer = [&](Value s) { // |s| in [1, 2]
    Value v = g.bin<SubOp>(g.bin<MulOp>(g.c(a), s), g.c(5 * a));
    v = g.bin<AddOp>(g.bin<MulOp>(v, s), g.c(8 * a));
    return g.bin<SubOp>(g.bin<MulOp>(v, s), g.c(4 * a));
  };
  auto inner = [&](Value s) { // |s| in [0, 1]
    Value v = g.bin<SubOp>(g.bin<MulOp>(g.c(a + 2), s), g.c(a + 3));
    return g.bin<AddOp>(g.bin<MulOp>(g.bin<MulOp>(v, s), s), g.c(1));
  };
  Value one = g.c(1);
  return {outer(g.bin<AddOp>(t, one)), inner(t), inner(g.bin<SubOp>(one, t)),
          outer(g.bin<SubOp>(g.c(2), t))};
}

LogicalResult convertGridSample(NodeContext &ctx) {
  auto x = ctx.inputType(0), grid = ctx.inputType(1);
  if (!x.hasStaticShape() || !grid.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  if (x.getRank() != 4)
    return ctx.fail("only 4-D inputs [N, C, H, W] are supported, not rank " +
                    Twine(x.getRank()));
  if (grid.getRank() != 4 || grid.getDimSize(0) != x.getDimSize(0) ||
      grid.getDimSize(3) != 2)
    return ctx.fail("grid must be [N, H_out, W_out, 2] with X's N");
  if (!isa<FloatType>(grid.getElementType()) ||
      !isa<FloatType>(x.getElementType()))
    return ctx.fail("X and grid must be float tensors");
  std::string mode = ctx.attrString("mode", "bilinear");
  if (mode == "linear")
    mode = "bilinear"; // opset 20 names
  if (mode == "cubic")
    mode = "bicubic";
  if (mode != "nearest" && mode != "bilinear" && mode != "bicubic")
    return ctx.fail("unknown mode '" + mode + "'");
  std::string pad = ctx.attrString("padding_mode", "zeros");
  Padding padding = pad == "zeros"    ? Padding::Zeros
                    : pad == "border" ? Padding::Border
                                      : Padding::Reflection;
  if (pad != "zeros" && pad != "border" && pad != "reflection")
    return ctx.fail("unknown padding_mode '" + pad + "'");
  bool align = ctx.attrInt("align_corners", 0) != 0;
  int64_t N = x.getDimSize(0), C = x.getDimSize(1), H = x.getDimSize(2),
          W = x.getDimSize(3), Ho = grid.getDimSize(1), Wo = grid.getDimSize(2);
  auto &b = ctx.getBuilder();
  auto coordType = RankedTensorType::get({N, Ho, Wo}, grid.getElementType());
  GridSampleBuilder g(ctx, coordType);

  // Grid components as [N, Ho, Wo]: x (width) first.
  auto component = [&](int64_t i) {
    auto one = RankedTensorType::get({N, Ho, Wo, 1}, grid.getElementType());
    Value s = ctx.create<SliceOp>(one, ctx.input(1),
                                  b.getDenseI64ArrayAttr({0, 0, 0, i}),
                                  b.getDenseI64ArrayAttr({1, 1, 1, 1}));
    return ctx.reshape(s, {N, Ho, Wo});
  };
  auto denormalize = [&](Value n, int64_t size) {
    Value p1 = g.bin<AddOp>(n, g.c(1));
    return align
               ? g.bin<MulOp>(p1, g.c(0.5 * double(size - 1)))
               : g.bin<MulOp>(
                     g.bin<SubOp>(g.bin<MulOp>(p1, g.c(double(size))), g.c(1)),
                     g.c(0.5));
  };
  Value px = denormalize(component(0), W), py = denormalize(component(1), H);
  if (mode == "nearest") {
    px = ctx.create<RoundOp>(coordType, px); // half to even, as rint
    py = ctx.create<RoundOp>(coordType, py);
  }
  double xLo = align ? 0 : -0.5, xHi = align ? double(W - 1) : W - 0.5;
  double yLo = align ? 0 : -0.5, yHi = align ? double(H - 1) : H - 0.5;
  // Both coordinates move when either is out of bounds, as the ONNX
  // reference does; bicubic with border padding clamps only its tap indices
  // (onnxruntime and PyTorch; the reference also clamps the coordinate,
  // 4-8% apart on grids past the border, test/models/grid_sample).
  if (padding == Padding::Reflection ||
      (padding == Padding::Border && mode != "bicubic")) {
    Value out = g.bin<OrOp>(
        g.bin<OrOp>(g.cmp(px, g.c(xLo), true), g.cmp(px, g.c(xHi), false)),
        g.bin<OrOp>(g.cmp(py, g.c(yLo), true), g.cmp(py, g.c(yHi), false)));
    Value mx = padding == Padding::Border ? g.clamp(px, 0, double(W - 1))
                                          : g.reflect(px, xLo, xHi);
    Value my = padding == Padding::Border ? g.clamp(py, 0, double(H - 1))
                                          : g.reflect(py, yLo, yHi);
    px = g.select(out, mx, px);
    py = g.select(out, my, py);
  }

  // Taps: offsets from floor(coordinate) and their weights per axis.
  struct Axis {
    SmallVector<Value> index, weight;
  };
  auto taps = [&](Value p) {
    Axis axis;
    if (mode == "nearest") {
      axis.index.push_back(p);
      axis.weight.push_back(Value());
      return axis;
    }
    Value base = g.floor(p), t = g.bin<SubOp>(p, base);
    if (mode == "bilinear") {
      axis.index = {base, g.bin<AddOp>(base, g.c(1))};
      axis.weight = {g.bin<SubOp>(g.c(1), t), t};
      return axis;
    }
    std::array<Value, 4> w = cubicWeights(g, t);
    for (int k = 0; k < 4; ++k) {
      axis.index.push_back(g.bin<AddOp>(base, g.c(k - 1)));
      axis.weight.push_back(w[k]);
    }
    return axis;
  };
  Axis ax = taps(px), ay = taps(py);

  Value flatX = ctx.reshape(ctx.input(0), {N, C, H * W});
  Type elem = x.getElementType();
  auto gatherType = RankedTensorType::get({N, C, Ho * Wo}, elem);
  auto outType = RankedTensorType::get({N, C, Ho, Wo}, elem);
  // One gather per tap pair; rows combine along x, then along y.
  Value result;
  for (size_t j = 0; j < ay.index.size(); ++j) {
    auto [iy, vy] = g.tapIndex(ay.index[j], H, padding, yLo, yHi);
    Value row;
    for (size_t i = 0; i < ax.index.size(); ++i) {
      auto [ix, vx] = g.tapIndex(ax.index[i], W, padding, xLo, xHi);
      Value linear =
          g.bin<AddOp>(g.bin<MulOp>(iy, g.c(double(W))), ix); // exact
      Value idx = ctx.cast(ctx.reshape(linear, {N, 1, Ho * Wo}), g.i64);
      idx = ctx.create<BroadcastOp>(
          RankedTensorType::get({N, C, Ho * Wo}, g.i64), idx);
      Value pixel = ctx.create<GatherElementsOp>(gatherType, flatX, idx,
                                                 b.getI64IntegerAttr(2));
      pixel = ctx.reshape(pixel, {N, C, Ho, Wo});
      if (padding == Padding::Zeros) {
        Value valid = g.bin<AndOp>(vx, vy);
        valid = ctx.reshape(valid, {N, 1, Ho, Wo});
        pixel =
            ctx.create<SelectOp>(outType, valid, pixel, ctx.splat(elem, {}, 0));
      }
      if (ax.weight[i]) {
        Value w = ctx.reshape(ctx.cast(ax.weight[i], elem), {N, 1, Ho, Wo});
        pixel = g.bin<MulOp>(w, pixel);
      }
      row = row ? g.bin<AddOp>(row, pixel) : pixel;
    }
    if (ay.weight[j]) {
      Value w = ctx.reshape(ctx.cast(ay.weight[j], elem), {N, 1, Ho, Wo});
      row = g.bin<MulOp>(w, row);
    }
    result = result ? g.bin<AddOp>(result, row) : row;
  }
  if (!g.ok)
    return failure();
  ctx.setOutput(0, result);
  return success();
}

} // namespace

void registerGridSampleOps(ConverterRegistry &r) {
  r["GridSample"] = convertGridSample;
}

} // namespace gaon::onnx
