//===- SignalOps.cpp - ONNX DFT and STFT as matmuls with constant bases ---===//
//
// A DFT of a compile-time length N is two matmuls with constant N x K cosine
// and sine tables (K = N, or N / 2 + 1 one-sided), so every backend runs it
// with its matmul; STFT frames the signal with a constant-index gather first.
// Signals are [..., N, 1] (real) or [..., N, 2] (complex).
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

#include <cmath>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

/// Real and imaginary parts, both [..., n] over the transformed axis last.
struct Complex {
  Value re, im; // im may be null (a real signal)
};

/// The [n, k] table of cos (or sin) of 2 pi i j / n.
Value basis(NodeContext &ctx, Type element, int64_t n, int64_t k, bool sine) {
  ConstantTensor t(RankedTensorType::get({n, k}, element));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      // Reduce i * j mod n first: the angle stays in [0, 2 pi).
      double angle = 2 * M_PI * double((i * j) % n) / double(n);
      t.setDouble(i * k + j, sine ? std::sin(angle) : std::cos(angle));
    }
  return ctx.constant(t);
}

/// x [..., n] (each part) transformed to [..., k]: forward
/// sum x e^{-2 pi i j t / n}, inverse the conjugate divided by n.
FailureOr<Complex> transform(NodeContext &ctx, Complex x, int64_t k,
                             bool inverse) {
  auto type = tensorType(x.re);
  int64_t n = type.getShape().back();
  Type element = type.getElementType();
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = k;
  auto outType = RankedTensorType::get(shape, element);
  Value cos = basis(ctx, element, n, k, false);
  Value sin = basis(ctx, element, n, k, true);
  auto mm = [&](Value a, Value b) -> Value {
    return ctx.create<MatMulOp>(outType, a, b);
  };
  Value rc = mm(x.re, cos), rs = mm(x.re, sin);
  FailureOr<Value> re = rc, im = rs;
  if (!x.im && !inverse)
    im = ctx.create<NegOp>(outType, rs);
  if (x.im) {
    Value ic = mm(x.im, cos), is = mm(x.im, sin);
    // (xr + i xi)(cos -+ i sin): re = xr cos +- xi sin, im = xi cos -+ xr sin.
    re = inverse ? ctx.binary<SubOp>(rc, is) : ctx.binary<AddOp>(rc, is);
    im = inverse ? ctx.binary<AddOp>(ic, rs) : ctx.binary<SubOp>(ic, rs);
  }
  if (failed(re) || failed(im))
    return failure();
  if (inverse) {
    Value scale = ctx.splat(element, {}, 1.0 / double(n));
    re = ctx.binary<MulOp>(*re, scale);
    im = ctx.binary<MulOp>(*im, scale);
    if (failed(re) || failed(im))
      return failure();
  }
  return Complex{*re, *im};
}

/// Splits [..., c, n] (c = 1 or 2) into its parts, each [..., n].
Complex split(NodeContext &ctx, Value x) {
  auto type = tensorType(x);
  int64_t rank = type.getRank(), parts = type.getDimSize(rank - 2);
  SmallVector<int64_t> one(type.getShape()), part(type.getShape());
  one[rank - 2] = 1;
  part.erase(part.begin() + rank - 2);
  auto &b = ctx.getBuilder();
  auto take = [&](int64_t i) {
    SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
    starts[rank - 2] = i;
    Value s = ctx.create<SliceOp>(
        RankedTensorType::get(one, type.getElementType()), x,
        b.getDenseI64ArrayAttr(starts), b.getDenseI64ArrayAttr(steps));
    return ctx.reshape(s, part);
  };
  return {take(0), parts == 2 ? take(1) : Value()};
}

/// [..., k] parts stacked into [..., k, 2].
Value stack(NodeContext &ctx, Complex y) {
  auto type = tensorType(y.re);
  SmallVector<int64_t> one(type.getShape()), both(type.getShape());
  one.push_back(1);
  both.push_back(2);
  return ctx.create<ConcatOp>(
      RankedTensorType::get(both, type.getElementType()),
      ValueRange{ctx.reshape(y.re, one), ctx.reshape(y.im, one)},
      ctx.getBuilder().getI64IntegerAttr(int64_t(one.size()) - 1));
}

/// A compile-time scalar input, or `fallback` when absent.
FailureOr<int64_t> scalarInput(NodeContext &ctx, int i, StringRef what,
                               int64_t fallback) {
  if (!ctx.hasInput(i))
    return fallback;
  auto value = ctx.constantInput(i);
  if (!value || value->getNumElements() != 1)
    return ctx.fail(what + " (input " + Twine(i) +
                    ") must be a compile-time constant scalar; its value "
                    "depends on the model's inputs");
  return value->getInt(0);
}

LogicalResult checkSignal(NodeContext &ctx, RankedTensorType type) {
  if (!type.hasStaticShape())
    return ctx.fail("needs static shapes (fix them with --input-shape)");
  if (!isa<FloatType>(type.getElementType()))
    return ctx.fail("the signal must be a float tensor");
  if (type.getRank() < 3 ||
      (type.getShape().back() != 1 && type.getShape().back() != 2))
    return ctx.fail("the signal must be [batch, ..., 1 (real) or 2 "
                    "(complex)]");
  return success();
}

LogicalResult convertDft(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  if (failed(checkSignal(ctx, type)))
    return failure();
  int64_t rank = type.getRank();
  // Opset 20 passes the axis as input 2 (default -2), earlier as an
  // attribute (default 1).
  int64_t axis = ctx.attrInt("axis", 1);
  if (ctx.getOpset() >= 20) {
    auto given = scalarInput(ctx, 2, "axis", -2);
    if (failed(given))
      return failure();
    axis = *given;
  }
  if (axis < 0)
    axis += rank;
  if (axis < 1 || axis > rank - 2)
    return ctx.fail("axis " + Twine(axis) +
                    " is not a signal axis of a "
                    "rank-" +
                    Twine(rank) + " input");
  bool inverse = ctx.attrInt("inverse", 0) != 0;
  bool onesided = ctx.attrInt("onesided", 0) != 0;
  bool complexIn = type.getShape().back() == 2;
  if (onesided && (inverse || complexIn))
    return ctx.fail("onesided is supported for forward DFTs of real signals");
  int64_t length = type.getDimSize(axis);
  auto n = scalarInput(ctx, 1, "dft_length", length);
  if (failed(n))
    return failure();
  if (*n < 1)
    return ctx.fail("dft_length must be positive, not " + Twine(*n));

  // [others..., c, N]: the transformed axis last, its parts before it.
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < rank - 1; ++d)
    if (d != axis)
      perm.push_back(d);
  perm.push_back(rank - 1);
  perm.push_back(axis);
  Value x = ctx.transpose(ctx.input(0), perm);
  auto xType = tensorType(x);
  auto &b = ctx.getBuilder();
  if (*n != length) {
    // dft_length: zeros appended, or the signal cut.
    SmallVector<int64_t> shape(xType.getShape());
    if (*n < length) {
      shape.back() = *n;
      x = ctx.create<SliceOp>(
          RankedTensorType::get(shape, xType.getElementType()), x,
          b.getDenseI64ArrayAttr(SmallVector<int64_t>(rank, 0)),
          b.getDenseI64ArrayAttr(SmallVector<int64_t>(rank, 1)));
    } else {
      SmallVector<int64_t> zeros(shape);
      zeros.back() = *n - length;
      shape.back() = *n;
      x = ctx.create<ConcatOp>(
          RankedTensorType::get(shape, xType.getElementType()),
          ValueRange{x, ctx.splat(xType.getElementType(), zeros, 0)},
          b.getI64IntegerAttr(rank - 1));
    }
  }
  int64_t k = onesided ? *n / 2 + 1 : *n;
  auto y = transform(ctx, split(ctx, x), k, inverse);
  if (failed(y))
    return failure();
  // [others..., K, 2] back to the input's order.
  Value out = stack(ctx, *y);
  SmallVector<int64_t> back(rank);
  for (int64_t i = 0, o = 0; i < rank - 1; ++i)
    if (i != axis)
      back[i] = o++;
  back[axis] = rank - 2;
  back[rank - 1] = rank - 1;
  ctx.setOutput(0, ctx.transpose(out, back));
  return success();
}

/// STFT: frames of frame_length samples every frame_step (a constant-index
/// gather), times the window, each transformed (one-sided by default).
LogicalResult convertStft(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  Value signal = ctx.input(0);
  // PyTorch's exporter passes a real signal as [batch, length], which
  // onnxruntime accepts too.
  if (type.getRank() == 2 && type.hasStaticShape()) {
    signal = ctx.reshape(signal, {type.getDimSize(0), type.getDimSize(1), 1});
    type = tensorType(signal);
  }
  if (failed(checkSignal(ctx, type)))
    return failure();
  if (type.getRank() != 3)
    return ctx.fail("the signal must be [batch, length, 1 or 2] or "
                    "[batch, length]");
  auto step = scalarInput(ctx, 1, "frame_step", 0);
  if (failed(step))
    return failure();
  bool hasWindow = ctx.hasInput(2);
  int64_t windowLength = 0;
  if (hasWindow) {
    auto window = ctx.inputType(2);
    if (window.getRank() != 1 || !window.hasStaticShape())
      return ctx.fail("the window must be 1-D");
    windowLength = window.getDimSize(0);
  }
  auto frame = scalarInput(ctx, 3, "frame_length", windowLength);
  if (failed(frame))
    return failure();
  int64_t length = type.getDimSize(1);
  if (*step < 1 || *frame < 1 || *frame > length)
    return ctx.fail("frame_step (" + Twine(*step) + ") and frame_length (" +
                    Twine(*frame) + ") must be positive, the frame at most " +
                    "the signal's " + Twine(length) + " samples");
  if (hasWindow && windowLength != *frame)
    return ctx.fail("the window has " + Twine(windowLength) +
                    " samples, frame_length is " + Twine(*frame));
  bool onesided = ctx.attrInt("onesided", 1) != 0;
  bool complexIn = type.getShape().back() == 2;
  if (onesided && complexIn)
    return ctx.fail("onesided is supported for real signals only");
  int64_t frames = (length - *frame) / *step + 1;
  int64_t batch = type.getDimSize(0), parts = type.getShape().back();
  Type element = type.getElementType();
  Type i64 = ctx.getBuilder().getI64Type();
  ConstantTensor index(RankedTensorType::get({frames, *frame}, i64));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t j = 0; j < *frame; ++j)
      index.setInt(f * *frame + j, f * *step + j);
  Value x = ctx.create<GatherOp>(
      RankedTensorType::get({batch, frames, *frame, parts}, element), signal,
      ctx.constant(index), ctx.getBuilder().getI64IntegerAttr(1));
  if (hasWindow) {
    Value window = ctx.reshape(ctx.input(2), {1, 1, *frame, 1});
    if (ctx.inputType(2).getElementType() != element)
      window = ctx.cast(window, element);
    auto windowed = ctx.binary<MulOp>(x, window);
    if (failed(windowed))
      return failure();
    x = *windowed;
  }
  x = ctx.transpose(x, {0, 1, 3, 2}); // [batch, frames, parts, frame]
  auto y = transform(ctx, split(ctx, x), onesided ? *frame / 2 + 1 : *frame,
                     /*inverse=*/false);
  if (failed(y))
    return failure();
  ctx.setOutput(0, stack(ctx, *y));
  return success();
}

} // namespace

void registerSignalOps(ConverterRegistry &r) {
  r["DFT"] = convertDft;
  r["STFT"] = convertStft;
}

} // namespace gaon::onnx
