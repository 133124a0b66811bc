//===- ElementwiseOps.cpp - ONNX elementwise ops to gaon.graph ------------===//

#include "../NodeContext.h"
#include "../TensorProtoReader.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

template <typename OpTy>
LogicalResult convertBinary(NodeContext &ctx, bool isComparison) {
  if (!ctx.hasInput(0) || !ctx.hasInput(1))
    return ctx.fail("expects two inputs");
  auto result = ctx.binary<OpTy>(ctx.input(0), ctx.input(1), isComparison);
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// Max, Min, Sum, Mean take one or more inputs.
template <typename OpTy>
LogicalResult convertVariadic(NodeContext &ctx, bool mean = false) {
  if (!ctx.hasInput(0))
    return ctx.fail("expects at least one input");
  Value acc = ctx.input(0);
  for (int i = 1; i < ctx.numInputs(); ++i) {
    auto next = ctx.binary<OpTy>(acc, ctx.input(i));
    if (failed(next))
      return failure();
    acc = *next;
  }
  if (mean && ctx.numInputs() > 1) {
    auto type = tensorType(acc);
    auto count = ctx.splat(type.getElementType(), {}, ctx.numInputs());
    auto divided = ctx.binary<DivOp>(acc, count);
    if (failed(divided))
      return failure();
    acc = *divided;
  }
  ctx.setOutput(0, acc);
  return success();
}

template <typename OpTy> LogicalResult convertUnary(NodeContext &ctx) {
  if (!ctx.hasInput(0))
    return ctx.fail("expects one input");
  ctx.setOutput(0, ctx.create<OpTy>(ctx.inputType(0), ctx.input(0)));
  return success();
}

LogicalResult requireFloat(NodeContext &ctx) {
  if (!isa<FloatType>(ctx.inputType(0).getElementType()))
    return ctx.fail("expects a floating-point input");
  return success();
}

LogicalResult convertPow(NodeContext &ctx) {
  // ONNX allows an exponent of another type; compute in the base's type.
  Value exponent = ctx.cast(ctx.input(1), ctx.inputType(0).getElementType());
  auto result = ctx.binary<PowOp>(ctx.input(0), exponent);
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// Mod: graph `mod` is C's fmod on floats and the floor modulo on integers.
/// An integer fmod (the sign of the dividend) is the floor modulo m moved
/// by the divisor where m is not 0 and the operands' signs differ.
LogicalResult convertMod(NodeContext &ctx) {
  bool isFloat = isa<FloatType>(ctx.inputType(0).getElementType());
  bool fmod = ctx.attrInt("fmod", 0) == 1;
  if (isFloat && !fmod)
    return ctx.fail("floating-point Mod requires fmod=1");
  if (isFloat || !fmod)
    return convertBinary<ModOp>(ctx, false);
  Value a = ctx.input(0), b = ctx.input(1);
  Type element = ctx.inputType(0).getElementType();
  auto m = ctx.binary<ModOp>(a, b);
  if (failed(m))
    return failure();
  Value zero = ctx.splat(element, {}, 0);
  auto aNeg = ctx.binary<LessOp>(a, zero, true);
  auto bNeg = ctx.binary<LessOp>(b, zero, true);
  auto mZero = ctx.binary<EqualOp>(*m, zero, true);
  if (failed(aNeg) || failed(bNeg) || failed(mZero))
    return failure();
  auto signsDiffer = ctx.binary<XorOp>(*aNeg, *bNeg);
  auto moved = ctx.binary<SubOp>(*m, b);
  if (failed(signsDiffer) || failed(moved))
    return failure();
  Value keep = ctx.create<NotOp>(tensorType(*mZero), *mZero);
  auto shift = ctx.binary<AndOp>(*signsDiffer, keep);
  if (failed(shift))
    return failure();
  ctx.setOutput(0,
                ctx.create<SelectOp>(tensorType(*moved), *shift, *moved, *m));
  return success();
}

LogicalResult convertCast(NodeContext &ctx) {
  int to = ctx.attrInt("to", 0);
  Type element = getElementType(ctx.getContext(), to);
  if (!element)
    return ctx.fail("casting to " + getDataTypeName(to) + " is not supported");
  ctx.setOutput(0, ctx.cast(ctx.input(0), element));
  return success();
}

LogicalResult convertCastLike(NodeContext &ctx) {
  ctx.setOutput(0, ctx.cast(ctx.input(0), ctx.inputType(1).getElementType()));
  return success();
}

LogicalResult convertWhere(NodeContext &ctx) {
  auto cond = ctx.inputType(0), lhs = ctx.inputType(1), rhs = ctx.inputType(2);
  if (!cond.getElementType().isInteger(1))
    return ctx.fail("condition must be a bool tensor");
  auto shape = broadcastShapes(lhs.getShape(), rhs.getShape());
  if (succeeded(shape))
    shape = broadcastShapes(cond.getShape(), *shape);
  if (failed(shape) || lhs.getElementType() != rhs.getElementType())
    return ctx.fail("inputs do not broadcast or differ in element type");
  ctx.setOutput(0, ctx.create<SelectOp>(
                       RankedTensorType::get(*shape, lhs.getElementType()),
                       ctx.input(0), ctx.input(1), ctx.input(2)));
  return success();
}

LogicalResult convertClip(NodeContext &ctx) {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  if (ctx.getOpset() < 11) {
    lo = ctx.attrFloat("min", -std::numeric_limits<float>::infinity());
    hi = ctx.attrFloat("max", std::numeric_limits<float>::infinity());
  }
  Value result = ctx.input(0);
  for (int i : {1, 2}) {
    if (ctx.getOpset() < 11 || !ctx.hasInput(i))
      continue;
    auto bound = ctx.constantInput(i);
    if (bound && bound->getNumElements() == 1) {
      (i == 1 ? lo : hi) = bound->getDouble(0);
      continue;
    }
    // Bounds computed at run time: max(x, lo) and min(x, hi).
    auto clipped = i == 1 ? ctx.binary<MaxOp>(result, ctx.input(i))
                          : ctx.binary<MinOp>(result, ctx.input(i));
    if (failed(clipped) || tensorType(*clipped) != ctx.inputType(0))
      return ctx.fail("Clip bounds must be scalars of the input's type");
    result = *clipped;
  }
  if (!std::isinf(lo) || !std::isinf(hi))
    result = ctx.create<ClampOp>(ctx.inputType(0), result,
                                 ctx.getBuilder().getF64FloatAttr(lo),
                                 ctx.getBuilder().getF64FloatAttr(hi));
  ctx.setOutput(0, result);
  return success();
}

/// alpha * x + beta, in x's element type.
FailureOr<Value> affine(NodeContext &ctx, Value x, double alpha, double beta) {
  Type element = tensorType(x).getElementType();
  auto scaled = ctx.binary<MulOp>(x, ctx.splat(element, {}, alpha));
  if (failed(scaled))
    return failure();
  return ctx.binary<AddOp>(*scaled, ctx.splat(element, {}, beta));
}

LogicalResult convertHardSigmoid(NodeContext &ctx, double alpha, double beta,
                                 bool timesInput) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto linear = affine(ctx, ctx.input(0), alpha, beta);
  if (failed(linear))
    return failure();
  Value clamped = ctx.create<ClampOp>(ctx.inputType(0), *linear,
                                      ctx.getBuilder().getF64FloatAttr(0.0),
                                      ctx.getBuilder().getF64FloatAttr(1.0));
  if (timesInput) {
    auto product = ctx.binary<MulOp>(ctx.input(0), clamped);
    if (failed(product))
      return failure();
    clamped = *product;
  }
  ctx.setOutput(0, clamped);
  return success();
}

LogicalResult convertLeakyRelu(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  Value x = ctx.input(0);
  Type element = ctx.inputType(0).getElementType();
  auto negative = ctx.binary<LessOp>(x, ctx.splat(element, {}, 0.0), true);
  auto scaled = ctx.binary<MulOp>(
      x, ctx.splat(element, {}, ctx.attrFloat("alpha", 0.01f)));
  if (failed(negative) || failed(scaled))
    return failure();
  ctx.setOutput(0,
                ctx.create<SelectOp>(ctx.inputType(0), *negative, *scaled, x));
  return success();
}

LogicalResult convertSoftplus(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Value e = ctx.create<ExpOp>(type, ctx.input(0));
  auto plusOne =
      ctx.binary<AddOp>(e, ctx.splat(type.getElementType(), {}, 1.0));
  if (failed(plusOne))
    return failure();
  ctx.setOutput(0, ctx.create<LogOp>(type, *plusOne));
  return success();
}

/// Elu and Selu: gamma * (x > 0 ? x : alpha * (exp(x) - 1)).
LogicalResult convertElu(NodeContext &ctx, double alpha, double gamma) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  Value x = ctx.input(0);
  auto positive = ctx.binary<GreaterOp>(x, ctx.splat(element, {}, 0.0), true);
  Value e = ctx.create<ExpOp>(type, x);
  auto em1 = ctx.binary<SubOp>(e, ctx.splat(element, {}, 1.0));
  if (failed(positive) || failed(em1))
    return failure();
  auto negative = ctx.binary<MulOp>(*em1, ctx.splat(element, {}, alpha));
  if (failed(negative))
    return failure();
  Value result = ctx.create<SelectOp>(type, *positive, x, *negative);
  if (gamma != 1.0) {
    auto scaled = ctx.binary<MulOp>(result, ctx.splat(element, {}, gamma));
    if (failed(scaled))
      return failure();
    result = *scaled;
  }
  ctx.setOutput(0, result);
  return success();
}

/// ThresholdedRelu: x > alpha ? x : 0.
LogicalResult convertThresholdedRelu(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  Value x = ctx.input(0);
  auto above = ctx.binary<GreaterOp>(
      x, ctx.splat(element, {}, ctx.attrFloat("alpha", 1.0f)), true);
  if (failed(above))
    return failure();
  ctx.setOutput(
      0, ctx.create<SelectOp>(type, *above, x, ctx.splat(element, {}, 0.0)));
  return success();
}

/// Softsign: x / (1 + |x|).
LogicalResult convertSoftsign(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Value x = ctx.input(0);
  auto denominator = ctx.binary<AddOp>(ctx.create<AbsOp>(type, x),
                                       ctx.splat(type.getElementType(), {}, 1));
  if (failed(denominator))
    return failure();
  auto result = ctx.binary<DivOp>(x, *denominator);
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// Sinh and Cosh: (exp(x) -+ exp(-x)) / 2.
LogicalResult convertHyperbolic(NodeContext &ctx, bool cosh) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Value x = ctx.input(0);
  Value up = ctx.create<ExpOp>(type, x);
  Value down = ctx.create<ExpOp>(type, ctx.create<NegOp>(type, x));
  auto both = cosh ? ctx.binary<AddOp>(up, down) : ctx.binary<SubOp>(up, down);
  if (failed(both))
    return failure();
  auto half =
      ctx.binary<MulOp>(*both, ctx.splat(type.getElementType(), {}, 0.5));
  if (failed(half))
    return failure();
  ctx.setOutput(0, *half);
  return success();
}

/// Tan: sin(x) / cos(x).
LogicalResult convertTan(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  auto result = ctx.binary<DivOp>(ctx.create<SinOp>(type, ctx.input(0)),
                                  ctx.create<CosOp>(type, ctx.input(0)));
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

LogicalResult convertGelu(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  std::string approximate = ctx.attrString("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return ctx.fail("unknown approximate='" + approximate + "'");
  ctx.setOutput(0, ctx.create<GeluOp>(ctx.inputType(0), ctx.input(0),
                                      approximate == "tanh"));
  return success();
}

/// IsNaN(x) = not(x == x): exact for every float, NaN being the only value
/// unequal to itself, and every backend already has both ops.
LogicalResult convertIsNaN(NodeContext &ctx) {
  if (!ctx.hasInput(0))
    return ctx.fail("expects one input");
  if (failed(requireFloat(ctx)))
    return failure();
  auto equal = ctx.binary<EqualOp>(ctx.input(0), ctx.input(0), true);
  if (failed(equal))
    return failure();
  ctx.setOutput(0, ctx.create<NotOp>(tensorType(*equal), *equal));
  return success();
}

/// IsInf(x) = (x == +inf) [or (x == -inf)], per detect_positive and
/// detect_negative.
LogicalResult convertIsInf(NodeContext &ctx) {
  if (!ctx.hasInput(0))
    return ctx.fail("expects one input");
  if (failed(requireFloat(ctx)))
    return failure();
  Type element = ctx.inputType(0).getElementType();
  bool positive = ctx.attrInt("detect_positive", 1) != 0;
  bool negative = ctx.attrInt("detect_negative", 1) != 0;
  auto compareWith = [&](double infinity) {
    return ctx.binary<EqualOp>(ctx.input(0), ctx.splat(element, {}, infinity),
                               true);
  };
  double inf = std::numeric_limits<double>::infinity();
  FailureOr<Value> result = failure();
  if (positive && negative) {
    auto absolute = ctx.create<AbsOp>(ctx.inputType(0), ctx.input(0));
    result = ctx.binary<EqualOp>(absolute, ctx.splat(element, {}, inf), true);
  } else if (positive || negative) {
    result = compareWith(positive ? inf : -inf);
  } else {
    // Neither sign detected: all false, still shaped like x.
    auto equal = ctx.binary<EqualOp>(ctx.input(0), ctx.input(0), true);
    if (failed(equal))
      return failure();
    auto nan = ctx.create<NotOp>(tensorType(*equal), *equal);
    result = ctx.binary<AndOp>(*equal, nan);
  }
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

/// PRelu: x < 0 ? slope * x : x, the slope broadcast to x.
LogicalResult convertPRelu(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  Value x = ctx.input(0);
  auto type = ctx.inputType(0);
  auto negative =
      ctx.binary<LessOp>(x, ctx.splat(type.getElementType(), {}, 0.0), true);
  auto scaled = ctx.binary<MulOp>(x, ctx.input(1));
  if (failed(negative) || failed(scaled))
    return failure();
  if (tensorType(*scaled).getShape() != type.getShape())
    return ctx.fail("the slope must broadcast to the input's shape");
  ctx.setOutput(0, ctx.create<SelectOp>(type, *negative, *scaled, x));
  return success();
}

/// Celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).
LogicalResult convertCelu(NodeContext &ctx) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  double alpha = ctx.attrFloat("alpha", 1.0f);
  if (alpha == 0.0)
    return ctx.fail("alpha must not be 0");
  Value x = ctx.input(0);
  auto scaled = ctx.binary<MulOp>(x, ctx.splat(element, {}, 1.0 / alpha));
  if (failed(scaled))
    return failure();
  auto em1 = ctx.binary<SubOp>(ctx.create<ExpOp>(type, *scaled),
                               ctx.splat(element, {}, 1.0));
  if (failed(em1))
    return failure();
  auto negative = ctx.binary<MulOp>(*em1, ctx.splat(element, {}, alpha));
  if (failed(negative))
    return failure();
  auto low = ctx.binary<MinOp>(*negative, ctx.splat(element, {}, 0.0));
  auto high = ctx.binary<MaxOp>(x, ctx.splat(element, {}, 0.0));
  if (failed(low) || failed(high))
    return failure();
  auto sum = ctx.binary<AddOp>(*high, *low);
  if (failed(sum))
    return failure();
  ctx.setOutput(0, *sum);
  return success();
}

/// Shrink: x < -lambd ? x + bias : x > lambd ? x - bias : 0.
LogicalResult convertShrink(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  double lambd = ctx.attrFloat("lambd", 0.5f), bias = ctx.attrFloat("bias", 0);
  Value x = ctx.input(0);
  auto below = ctx.binary<LessOp>(x, ctx.splat(element, {}, -lambd), true);
  auto above = ctx.binary<GreaterOp>(x, ctx.splat(element, {}, lambd), true);
  auto up = ctx.binary<AddOp>(x, ctx.splat(element, {}, bias));
  auto down = ctx.binary<SubOp>(x, ctx.splat(element, {}, bias));
  if (failed(below) || failed(above) || failed(up) || failed(down))
    return failure();
  Value inner =
      ctx.create<SelectOp>(type, *above, *down, ctx.splat(element, {}, 0.0));
  ctx.setOutput(0, ctx.create<SelectOp>(type, *below, *up, inner));
  return success();
}

/// The inverse hyperbolic functions through log and sqrt:
/// asinh(x) = sign(x) log(|x| + sqrt(x^2 + 1)) (no cancellation for x < 0),
/// acosh(x) = log(x + sqrt(x^2 - 1)), atanh(x) = log((1 + x) / (1 - x)) / 2.
enum class InverseHyperbolic { Asinh, Acosh, Atanh };
LogicalResult convertInverseHyperbolic(NodeContext &ctx,
                                       InverseHyperbolic kind) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  Value x = ctx.input(0);
  auto one = [&] { return ctx.splat(element, {}, 1.0); };
  FailureOr<Value> result = failure();
  if (kind == InverseHyperbolic::Atanh) {
    auto num = ctx.binary<AddOp>(one(), x);
    auto den = ctx.binary<SubOp>(one(), x);
    if (failed(num) || failed(den))
      return failure();
    auto ratio = ctx.binary<DivOp>(*num, *den);
    if (failed(ratio))
      return failure();
    result = ctx.binary<MulOp>(ctx.create<LogOp>(type, *ratio),
                               ctx.splat(element, {}, 0.5));
  } else {
    bool asinh = kind == InverseHyperbolic::Asinh;
    Value base = asinh ? ctx.create<AbsOp>(type, x) : x;
    auto square = ctx.binary<MulOp>(x, x);
    if (failed(square))
      return failure();
    auto shifted = asinh ? ctx.binary<AddOp>(*square, one())
                         : ctx.binary<SubOp>(*square, one());
    if (failed(shifted))
      return failure();
    auto sum = ctx.binary<AddOp>(base, ctx.create<SqrtOp>(type, *shifted));
    if (failed(sum))
      return failure();
    result = ctx.create<LogOp>(type, *sum);
    if (asinh)
      result = ctx.binary<MulOp>(ctx.create<SignOp>(type, x), *result);
  }
  if (failed(result))
    return failure();
  ctx.setOutput(0, *result);
  return success();
}

constexpr double kHalfPi = 1.57079632679489661923;

/// atan(x) from arithmetic: |x| > 1 reflects through pi/2 - atan(1/|x|),
/// one half-angle step (atan t = 2 atan(t / (1 + sqrt(1 + t^2)))) brings the
/// argument below tan(pi/8) = 0.414, where the odd series to u^15 is within
/// 3e-8; the sign is restored last. Asin and Acos build on it.
FailureOr<Value> buildAtan(NodeContext &ctx, Value x) {
  auto type = tensorType(x);
  Type element = type.getElementType();
  auto c = [&](double v) { return ctx.splat(element, {}, v); };
  Value a = ctx.create<AbsOp>(type, x);
  auto outside = ctx.binary<GreaterOp>(a, c(1.0), true);
  if (failed(outside))
    return failure();
  Value t = ctx.create<SelectOp>(type, *outside,
                                 ctx.create<ReciprocalOp>(type, a), a);
  auto t2 = ctx.binary<MulOp>(t, t);
  if (failed(t2))
    return failure();
  auto root = ctx.binary<AddOp>(*t2, c(1.0));
  if (failed(root))
    return failure();
  auto den = ctx.binary<AddOp>(ctx.create<SqrtOp>(type, *root), c(1.0));
  if (failed(den))
    return failure();
  auto u = ctx.binary<DivOp>(t, *den);
  if (failed(u))
    return failure();
  auto u2 = ctx.binary<MulOp>(*u, *u);
  if (failed(u2))
    return failure();
  // Horner in u^2: u (1 - u^2/3 + u^4/5 - ... - u^14/15).
  FailureOr<Value> poly = c(-1.0 / 15.0);
  for (int k = 13; k >= 1; k -= 2) {
    poly = ctx.binary<MulOp>(*poly, *u2);
    if (failed(poly))
      return failure();
    double coefficient = ((k - 1) / 2 % 2 ? -1.0 : 1.0) / k;
    poly = ctx.binary<AddOp>(*poly, c(coefficient));
    if (failed(poly))
      return failure();
  }
  auto half = ctx.binary<MulOp>(*poly, *u);
  if (failed(half))
    return failure();
  auto r = ctx.binary<MulOp>(*half, c(2.0));
  if (failed(r))
    return failure();
  auto reflected = ctx.binary<SubOp>(c(kHalfPi), *r);
  if (failed(reflected))
    return failure();
  Value magnitude = ctx.create<SelectOp>(type, *outside, *reflected, *r);
  return ctx.binary<MulOp>(ctx.create<SignOp>(type, x), magnitude);
}

/// Atan; Asin(x) = atan(x / sqrt(1 - x^2)) (x = +-1 gives +-inf, whose
/// atan is +-pi/2); Acos(x) = pi/2 - asin(x).
enum class InverseTrig { Asin, Acos, Atan };
LogicalResult convertInverseTrig(NodeContext &ctx, InverseTrig kind) {
  if (failed(requireFloat(ctx)))
    return failure();
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  Value x = ctx.input(0);
  if (kind != InverseTrig::Atan) {
    auto square = ctx.binary<MulOp>(x, x);
    if (failed(square))
      return failure();
    auto rest = ctx.binary<SubOp>(ctx.splat(element, {}, 1.0), *square);
    if (failed(rest))
      return failure();
    auto ratio = ctx.binary<DivOp>(x, ctx.create<SqrtOp>(type, *rest));
    if (failed(ratio))
      return failure();
    x = *ratio;
  }
  auto angle = buildAtan(ctx, x);
  if (failed(angle))
    return failure();
  if (kind == InverseTrig::Acos)
    angle = ctx.binary<SubOp>(ctx.splat(element, {}, kHalfPi), *angle);
  if (failed(angle))
    return failure();
  ctx.setOutput(0, *angle);
  return success();
}

LogicalResult convertIdentity(NodeContext &ctx) {
  ctx.setOutput(0, ctx.input(0));
  return success();
}

} // namespace

/// BitShift on unsigned integers: x * 2^y (LEFT) or x / 2^y (RIGHT), 2^y
/// as the product of 2^(2^k) over the set bits k of y; a shift by the bit
/// width or more gives 0. Exact for uint8 to uint32 and for LEFT shifts
/// of uint64.
LogicalResult convertBitShift(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  if (!element.isUnsignedInteger() ||
      ctx.inputType(1).getElementType() != element)
    return ctx.fail("X and Y must be the same unsigned integer type");
  std::string direction = ctx.attrString("direction", "");
  if (direction != "LEFT" && direction != "RIGHT")
    return ctx.fail("direction must be LEFT or RIGHT, not '" + direction + "'");
  unsigned width = element.getIntOrFloatBitWidth();
  // Integer ops compute in int64: uint64 values of 2^63 and more would
  // divide as negative numbers (a product keeps its low 64 bits).
  if (width == 64 && direction == "RIGHT")
    return ctx.fail("a RIGHT shift of uint64 is not supported (values of "
                    "2^63 and more would be wrong)");
  Value y = ctx.input(1);
  Value power = ctx.splat(element, {}, 1);
  for (unsigned k = 0; (1u << k) < width; ++k) {
    // Bit k of y: floor(y / 2^k) mod 2.
    auto shifted =
        ctx.binary<DivOp>(y, ctx.splat(element, {}, double(1u << k)));
    if (failed(shifted))
      return failure();
    auto bit = ctx.binary<ModOp>(*shifted, ctx.splat(element, {}, 2));
    if (failed(bit))
      return failure();
    auto set = ctx.binary<EqualOp>(*bit, ctx.splat(element, {}, 1), true);
    if (failed(set))
      return failure();
    Value factor = ctx.create<SelectOp>(
        tensorType(*bit), *set,
        ctx.splat(element, {}, std::ldexp(1.0, int(1u << k))),
        ctx.splat(element, {}, 1));
    auto product = ctx.binary<MulOp>(power, factor);
    if (failed(product))
      return failure();
    power = *product;
  }
  auto shifted = direction == "LEFT" ? ctx.binary<MulOp>(ctx.input(0), power)
                                     : ctx.binary<DivOp>(ctx.input(0), power);
  auto tooFar =
      ctx.binary<LessOp>(ctx.splat(element, {}, double(width) - 1), y, true);
  if (failed(shifted) || failed(tooFar))
    return failure();
  ctx.setOutput(0, ctx.create<SelectOp>(tensorType(*shifted), *tooFar,
                                        ctx.splat(element, {}, 0), *shifted));
  return success();
}

void registerElementwiseOps(ConverterRegistry &r) {
  r["BitShift"] = convertBitShift;
  r["Add"] = [](NodeContext &c) { return convertBinary<AddOp>(c, false); };
  r["Sub"] = [](NodeContext &c) { return convertBinary<SubOp>(c, false); };
  r["Mul"] = [](NodeContext &c) { return convertBinary<MulOp>(c, false); };
  r["Div"] = [](NodeContext &c) { return convertBinary<DivOp>(c, false); };
  r["Pow"] = convertPow;
  r["Mod"] = convertMod;
  r["And"] = [](NodeContext &c) { return convertBinary<AndOp>(c, false); };
  r["Or"] = [](NodeContext &c) { return convertBinary<OrOp>(c, false); };
  r["Xor"] = [](NodeContext &c) { return convertBinary<XorOp>(c, false); };
  r["Equal"] = [](NodeContext &c) { return convertBinary<EqualOp>(c, true); };
  r["Less"] = [](NodeContext &c) { return convertBinary<LessOp>(c, true); };
  r["LessOrEqual"] = [](NodeContext &c) {
    return convertBinary<LessEqualOp>(c, true);
  };
  r["Greater"] = [](NodeContext &c) {
    return convertBinary<GreaterOp>(c, true);
  };
  r["GreaterOrEqual"] = [](NodeContext &c) {
    return convertBinary<GreaterEqualOp>(c, true);
  };
  r["Max"] = [](NodeContext &c) { return convertVariadic<MaxOp>(c); };
  r["Min"] = [](NodeContext &c) { return convertVariadic<MinOp>(c); };
  r["Sum"] = [](NodeContext &c) { return convertVariadic<AddOp>(c); };
  r["Mean"] = [](NodeContext &c) { return convertVariadic<AddOp>(c, true); };

  r["Neg"] = convertUnary<NegOp>;
  r["Abs"] = convertUnary<AbsOp>;
  r["Exp"] = convertUnary<ExpOp>;
  r["Log"] = convertUnary<LogOp>;
  r["Sqrt"] = convertUnary<SqrtOp>;
  r["Reciprocal"] = convertUnary<ReciprocalOp>;
  r["Tanh"] = convertUnary<TanhOp>;
  r["Erf"] = convertUnary<ErfOp>;
  r["Sigmoid"] = convertUnary<SigmoidOp>;
  r["Relu"] = convertUnary<ReluOp>;
  r["Sin"] = convertUnary<SinOp>;
  r["Cos"] = convertUnary<CosOp>;
  r["Floor"] = convertUnary<FloorOp>;
  r["Ceil"] = convertUnary<CeilOp>;
  r["Round"] = convertUnary<RoundOp>;
  r["Sign"] = convertUnary<SignOp>;
  r["Not"] = convertUnary<NotOp>;
  r["Gelu"] = convertGelu;
  r["LeakyRelu"] = convertLeakyRelu;
  r["Softplus"] = convertSoftplus;
  r["Elu"] = [](NodeContext &c) {
    return convertElu(c, c.attrFloat("alpha", 1.0f), 1.0);
  };
  // Selu's defaults are float32 constants of the SELU paper's values.
  r["Selu"] = [](NodeContext &c) {
    return convertElu(c, c.attrFloat("alpha", 1.67326319217681884765625f),
                      c.attrFloat("gamma", 1.05070102214813232421875f));
  };
  r["ThresholdedRelu"] = convertThresholdedRelu;
  r["Softsign"] = convertSoftsign;
  r["Sinh"] = [](NodeContext &c) { return convertHyperbolic(c, false); };
  r["Cosh"] = [](NodeContext &c) { return convertHyperbolic(c, true); };
  r["Tan"] = convertTan;
  r["Asinh"] = [](NodeContext &c) {
    return convertInverseHyperbolic(c, InverseHyperbolic::Asinh);
  };
  r["Acosh"] = [](NodeContext &c) {
    return convertInverseHyperbolic(c, InverseHyperbolic::Acosh);
  };
  r["Atanh"] = [](NodeContext &c) {
    return convertInverseHyperbolic(c, InverseHyperbolic::Atanh);
  };
  r["Asin"] = [](NodeContext &c) {
    return convertInverseTrig(c, InverseTrig::Asin);
  };
  r["Acos"] = [](NodeContext &c) {
    return convertInverseTrig(c, InverseTrig::Acos);
  };
  r["Atan"] = [](NodeContext &c) {
    return convertInverseTrig(c, InverseTrig::Atan);
  };
  r["PRelu"] = convertPRelu;
  r["Celu"] = convertCelu;
  r["Shrink"] = convertShrink;
  r["HardSigmoid"] = [](NodeContext &c) {
    return convertHardSigmoid(c, c.attrFloat("alpha", 0.2f),
                              c.attrFloat("beta", 0.5f), false);
  };
  r["HardSwish"] = [](NodeContext &c) {
    return convertHardSigmoid(c, 1.0 / 6.0, 0.5, true);
  };
  r["Clip"] = convertClip;
  r["Where"] = convertWhere;
  r["Cast"] = convertCast;
  r["CastLike"] = convertCastLike;
  r["Identity"] = convertIdentity;
  r["IsNaN"] = convertIsNaN;
  r["IsInf"] = convertIsInf;
}

} // namespace gaon::onnx
