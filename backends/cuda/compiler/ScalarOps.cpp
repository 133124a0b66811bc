//===- ScalarOps.cpp - Scalar code for gaon_graph elementwise ops ---------===//

#include "ScalarOps.h"

#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
namespace g = gaon::graph;

namespace gaon::cuda {

Type computeType(Type element) {
  if (element.isF16() || element.isBF16())
    return Float32Type::get(element.getContext());
  if (element.isUnsignedInteger()) // arith's integer ops are signless
    return IntegerType::get(element.getContext(),
                            element.getIntOrFloatBitWidth());
  return element;
}

bool ScalarOps::isUnary(Operation *op) {
  return isa<g::NegOp, g::AbsOp, g::ExpOp, g::LogOp, g::SqrtOp, g::RsqrtOp,
             g::ReciprocalOp, g::TanhOp, g::ErfOp, g::SigmoidOp, g::ReluOp,
             g::SiluOp, g::SinOp, g::CosOp, g::FloorOp, g::CeilOp, g::RoundOp,
             g::SignOp, g::NotOp, g::GeluOp>(op);
}

bool ScalarOps::isBinary(Operation *op) {
  return isa<g::AddOp, g::SubOp, g::MulOp, g::DivOp, g::PowOp, g::MaxOp,
             g::MinOp, g::ModOp, g::AndOp, g::OrOp, g::XorOp, g::EqualOp,
             g::LessOp, g::LessEqualOp, g::GreaterOp, g::GreaterEqualOp>(op);
}

Value ScalarOps::f32(double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
}
Value ScalarOps::constantOf(Type type, double v) {
  if (isa<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
  return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, int64_t(v)));
}
Value ScalarOps::identity(Combine kind, Type type) {
  if (!type)
    type = b.getF32Type();
  switch (kind) {
  case Combine::Sum:
    return constantOf(type, 0);
  case Combine::Prod:
    return constantOf(type, 1);
  case Combine::Max:
    return constantOf(type, -std::numeric_limits<double>::infinity());
  case Combine::Min:
    return constantOf(type, std::numeric_limits<double>::infinity());
  }
  return {};
}
Value ScalarOps::combine(Combine kind, Value a, Value c, bool isUnsigned) {
  Type t = a.getType();
  bool isFloat = isa<FloatType>(t);
  switch (kind) {
  case Combine::Sum:
    return isFloat ? (Value)arith::AddFOp::create(b, loc, a, c)
                   : (Value)arith::AddIOp::create(b, loc, a, c);
  case Combine::Prod:
    return isFloat ? (Value)arith::MulFOp::create(b, loc, a, c)
                   : (Value)arith::MulIOp::create(b, loc, a, c);
  case Combine::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, a, c);
    return isUnsigned ? (Value)arith::MaxUIOp::create(b, loc, a, c)
                      : (Value)arith::MaxSIOp::create(b, loc, a, c);
  case Combine::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, a, c);
    return isUnsigned ? (Value)arith::MinUIOp::create(b, loc, a, c)
                      : (Value)arith::MinSIOp::create(b, loc, a, c);
  }
  return {};
}
Value ScalarOps::convert(Value x, Type from, Type to) {
  Type src = computeType(from), dst = computeType(to);
  // Round through the narrow type so the result is what storing it gives.
  auto roundTo = [&](Value f) -> Value {
    if (to.isF16() || to.isBF16())
      return arith::ExtFOp::create(
          b, loc, dst, arith::TruncFOp::create(b, loc, to, f).getResult());
    return f;
  };
  if (isa<FloatType>(src) && isa<FloatType>(dst)) {
    if (src == dst)
      return roundTo(x);
    if (src.getIntOrFloatBitWidth() < dst.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, dst, x);
    return arith::TruncFOp::create(b, loc, dst, x);
  }
  if (isa<FloatType>(src)) {
    if (dst.isInteger(1))
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x,
                                   constantOf(src, 0));
    if (to.isUnsignedInteger())
      return arith::FPToUIOp::create(b, loc, dst, x);
    return arith::FPToSIOp::create(b, loc, dst, x);
  }
  if (isa<FloatType>(dst)) {
    if (src.isInteger(1) || from.isUnsignedInteger())
      return roundTo(arith::UIToFPOp::create(b, loc, dst, x));
    return roundTo(arith::SIToFPOp::create(b, loc, dst, x));
  }
  unsigned sw = src.getIntOrFloatBitWidth(), dw = dst.getIntOrFloatBitWidth();
  if (dw == 1)
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x,
                                 constantOf(src, 0));
  if (sw == dw)
    return x;
  if (sw < dw)
    return sw == 1 || from.isUnsignedInteger()
               ? (Value)arith::ExtUIOp::create(b, loc, dst, x)
               : (Value)arith::ExtSIOp::create(b, loc, dst, x);
  return arith::TruncIOp::create(b, loc, dst, x);
}

Value ScalarOps::unary(Operation *op, Value x) {
  Type t = x.getType();
  bool isFloat = isa<FloatType>(t);
  // Unsigned: abs and relu are the identity, sign is x != 0.
  bool isUnsigned = mlir::getElementTypeOrSelf(op->getOperand(0).getType())
                        .isUnsignedInteger();
  auto one = [&] { return constantOf(t, 1); };
  auto sigmoid = [&](Value y) -> Value {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, y));
    return arith::DivFOp::create(b, loc, one(),
                                 arith::AddFOp::create(b, loc, one(), e));
  };
  if (!isFloat && !isa<g::NegOp, g::AbsOp, g::SignOp, g::NotOp, g::ReluOp>(op))
    throw Unsupported{op, "integer operands"};
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](g::NegOp) -> Value {
        return isFloat
                   ? (Value)arith::NegFOp::create(b, loc, x)
                   : (Value)arith::SubIOp::create(b, loc, constantOf(t, 0), x);
      })
      .Case([&](g::AbsOp) -> Value {
        if (isUnsigned)
          return x;
        return isFloat ? (Value)math::AbsFOp::create(b, loc, x)
                       : (Value)math::AbsIOp::create(b, loc, x);
      })
      .Case([&](g::ExpOp) -> Value { return math::ExpOp::create(b, loc, x); })
      .Case([&](g::LogOp) -> Value { return math::LogOp::create(b, loc, x); })
      .Case([&](g::SqrtOp) -> Value { return math::SqrtOp::create(b, loc, x); })
      .Case(
          [&](g::RsqrtOp) -> Value { return math::RsqrtOp::create(b, loc, x); })
      .Case([&](g::ReciprocalOp) -> Value {
        return arith::DivFOp::create(b, loc, one(), x);
      })
      .Case([&](g::TanhOp) -> Value { return math::TanhOp::create(b, loc, x); })
      .Case([&](g::ErfOp) -> Value { return math::ErfOp::create(b, loc, x); })
      .Case([&](g::SigmoidOp) -> Value { return sigmoid(x); })
      .Case([&](g::ReluOp) -> Value {
        if (isUnsigned)
          return x;
        return isFloat
                   ? (Value)arith::MaximumFOp::create(b, loc, x,
                                                      constantOf(t, 0))
                   : (Value)arith::MaxSIOp::create(b, loc, x, constantOf(t, 0));
      })
      .Case([&](g::SiluOp) -> Value {
        return arith::MulFOp::create(b, loc, x, sigmoid(x));
      })
      .Case([&](g::SinOp) -> Value { return math::SinOp::create(b, loc, x); })
      .Case([&](g::CosOp) -> Value { return math::CosOp::create(b, loc, x); })
      .Case(
          [&](g::FloorOp) -> Value { return math::FloorOp::create(b, loc, x); })
      .Case([&](g::CeilOp) -> Value { return math::CeilOp::create(b, loc, x); })
      .Case([&](g::RoundOp) -> Value {
        return math::RoundEvenOp::create(b, loc, x);
      })
      .Case([&](g::SignOp) -> Value {
        Value zero = constantOf(t, 0);
        Value pos, neg;
        if (isFloat) {
          pos =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
          neg =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, zero);
        } else if (isUnsigned) {
          return arith::ExtUIOp::create(
              b, loc, t,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zero));
        } else {
          pos =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, x, zero);
          neg =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, zero);
        }
        Value r = arith::SelectOp::create(b, loc, neg, constantOf(t, -1), zero);
        return arith::SelectOp::create(b, loc, pos, one(), r);
      })
      .Case([&](g::NotOp) -> Value {
        return arith::XOrIOp::create(b, loc, x, constantOf(t, 1));
      })
      .Case([&](g::GeluOp gelu) -> Value {
        Type t = x.getType();
        auto c = [&](double v) { return constantOf(t, v); };
        Value half = c(0.5);
        Value inner;
        if (gelu.getApproximate()) {
          // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
          Value x3 = arith::MulFOp::create(b, loc, x,
                                           arith::MulFOp::create(b, loc, x, x));
          Value s = arith::AddFOp::create(
              b, loc, x, arith::MulFOp::create(b, loc, c(0.044715), x3));
          inner = math::TanhOp::create(
              b, loc,
              arith::MulFOp::create(b, loc, c(std::sqrt(2.0 / M_PI)), s));
        } else {
          inner = math::ErfOp::create(
              b, loc, arith::MulFOp::create(b, loc, x, c(M_SQRT1_2)));
        }
        Value onePlus = arith::AddFOp::create(b, loc, one(), inner);
        return arith::MulFOp::create(
            b, loc, arith::MulFOp::create(b, loc, half, x), onePlus);
      })
      .Default([&](Operation *o) -> Value {
        throw Unsupported{o, "no GPU lowering"};
      });
}

Value ScalarOps::binary(Operation *op, Value x, Value y, Type operandElement) {
  bool isFloat = isa<FloatType>(x.getType());
  // Bool and unsigned operands compare, divide and take min/max unsigned.
  bool isUnsigned =
      operandElement.isInteger(1) || operandElement.isUnsignedInteger();
  using FP = arith::CmpFPredicate;
  using IP = arith::CmpIPredicate;
  auto cmp = [&](FP fp, IP ip) -> Value {
    if (isFloat)
      return arith::CmpFOp::create(b, loc, fp, x, y);
    return arith::CmpIOp::create(b, loc, ip, x, y);
  };
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](g::AddOp) -> Value {
        return isFloat ? (Value)arith::AddFOp::create(b, loc, x, y)
                       : (Value)arith::AddIOp::create(b, loc, x, y);
      })
      .Case([&](g::SubOp) -> Value {
        return isFloat ? (Value)arith::SubFOp::create(b, loc, x, y)
                       : (Value)arith::SubIOp::create(b, loc, x, y);
      })
      .Case([&](g::MulOp) -> Value {
        return isFloat ? (Value)arith::MulFOp::create(b, loc, x, y)
                       : (Value)arith::MulIOp::create(b, loc, x, y);
      })
      .Case([&](g::DivOp) -> Value {
        if (isFloat)
          return arith::DivFOp::create(b, loc, x, y);
        return isUnsigned ? (Value)arith::DivUIOp::create(b, loc, x, y)
                          : (Value)arith::DivSIOp::create(b, loc, x, y);
      })
      .Case([&](g::PowOp) -> Value {
        if (!isFloat)
          return integerPow(x, y, isUnsigned);
        return math::PowFOp::create(b, loc, x, y);
      })
      .Case([&](g::MaxOp) -> Value {
        return combine(Combine::Max, x, y, isUnsigned);
      })
      .Case([&](g::MinOp) -> Value {
        return combine(Combine::Min, x, y, isUnsigned);
      })
      .Case([&](g::ModOp) -> Value {
        if (isFloat)
          return arith::RemFOp::create(b, loc, x, y); // fmod: dividend's sign
        if (isUnsigned)
          return arith::RemUIOp::create(b, loc, x, y);
        // Integer Mod takes the divisor's sign (Python's %).
        Value r = arith::RemSIOp::create(b, loc, x, y);
        Value zero = constantOf(r.getType(), 0);
        Value nonZero = arith::CmpIOp::create(b, loc, IP::ne, r, zero);
        Value signsDiffer = arith::XOrIOp::create(
            b, loc, arith::CmpIOp::create(b, loc, IP::slt, r, zero),
            arith::CmpIOp::create(b, loc, IP::slt, y, zero));
        Value fix = arith::AndIOp::create(b, loc, nonZero, signsDiffer);
        return arith::SelectOp::create(b, loc, fix,
                                       arith::AddIOp::create(b, loc, r, y), r);
      })
      .Case([&](g::AndOp) -> Value {
        return arith::AndIOp::create(b, loc, x, y);
      })
      .Case(
          [&](g::OrOp) -> Value { return arith::OrIOp::create(b, loc, x, y); })
      .Case([&](g::XorOp) -> Value {
        return arith::XOrIOp::create(b, loc, x, y);
      })
      .Case([&](g::EqualOp) { return cmp(FP::OEQ, IP::eq); })
      .Case([&](g::LessOp) {
        return cmp(FP::OLT, isUnsigned ? IP::ult : IP::slt);
      })
      .Case([&](g::LessEqualOp) {
        return cmp(FP::OLE, isUnsigned ? IP::ule : IP::sle);
      })
      .Case([&](g::GreaterOp) {
        return cmp(FP::OGT, isUnsigned ? IP::ugt : IP::sgt);
      })
      .Case([&](g::GreaterEqualOp) {
        return cmp(FP::OGE, isUnsigned ? IP::uge : IP::sge);
      })
      .Default([&](Operation *o) -> Value {
        throw Unsupported{o, "no GPU lowering"};
      });
}

Value ScalarOps::splatConstant(g::ConstantOp op) {
  Type resultElement = tensorType(op.getResult()).getElementType();
  auto attr = dyn_cast<DenseElementsAttr>(op.getValue());
  if (!attr || !attr.isSplat())
    throw Unsupported{op, "non-splat constant inside a fusion"};
  Type ct = computeType(resultElement);
  if (isa<FloatType>(resultElement))
    return constantOf(ct, attr.getSplatValue<APFloat>().convertToDouble());
  APInt value = attr.getSplatValue<APInt>();
  return arith::ConstantOp::create(
      b, loc,
      b.getIntegerAttr(ct, resultElement.isInteger(1) ||
                                   resultElement.isUnsignedInteger()
                               ? value.getZExtValue()
                               : value.getSExtValue()));
}

Value ScalarOps::integerPow(Value x, Value y, bool isUnsigned) {
  using IP = arith::CmpIPredicate;
  Type t = x.getType();
  Value zero = constantOf(t, 0), one = constantOf(t, 1);
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, t.getIntOrFloatBitWidth());
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  // (result, base, exponent bits left): result *= base where the bit is set.
  auto loop = scf::ForOp::create(b, loc, lb, ub, step, ValueRange{one, x, y});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value r = loop.getRegionIterArg(0), p = loop.getRegionIterArg(1),
          e = loop.getRegionIterArg(2);
    Value odd = arith::CmpIOp::create(
        b, loc, IP::ne, arith::AndIOp::create(b, loc, e, one), zero);
    Value next = arith::SelectOp::create(
        b, loc, odd, arith::MulIOp::create(b, loc, r, p), r);
    scf::YieldOp::create(b, loc,
                         ValueRange{next, arith::MulIOp::create(b, loc, p, p),
                                    arith::ShRUIOp::create(b, loc, e, one)});
  }
  Value power = loop.getResult(0);
  if (isUnsigned)
    return power;
  // y < 0: 1 for x == 1, +-1 for x == -1 (by y's parity), else 0.
  Value minusOne = constantOf(t, -1);
  Value yOdd = arith::CmpIOp::create(
      b, loc, IP::ne, arith::AndIOp::create(b, loc, y, one), zero);
  Value forMinusOne = arith::SelectOp::create(b, loc, yOdd, minusOne, one);
  Value inverse = arith::SelectOp::create(
      b, loc, arith::CmpIOp::create(b, loc, IP::eq, x, one), one,
      arith::SelectOp::create(
          b, loc, arith::CmpIOp::create(b, loc, IP::eq, x, minusOne),
          forMinusOne, zero));
  return arith::SelectOp::create(
      b, loc, arith::CmpIOp::create(b, loc, IP::slt, y, zero), inverse, power);
}

Value ScalarOps::clamp(g::ClampOp op, Value x) {
  Type t = x.getType();
  double min = op.getMin().convertToDouble(),
         max = op.getMax().convertToDouble();
  if (isa<FloatType>(t))
    return combine(Combine::Min, combine(Combine::Max, x, constantOf(t, min)),
                   constantOf(t, max));
  // Integers (DeBERTa clips its relative positions): the bounds rounded
  // inward; a bound at or past the type's range clips nothing (and is not
  // converted, which would overflow).
  auto element =
      cast<RankedTensorType>(op.getInput().getType()).getElementType();
  bool isUnsigned = element.isUnsignedInteger();
  unsigned width = t.getIntOrFloatBitWidth();
  if (width < 2)
    throw Unsupported{op, "bool operands"};
  double typeMin = isUnsigned ? 0.0 : -std::ldexp(1.0, width - 1);
  double typeMax = std::ldexp(1.0, isUnsigned ? width : width - 1) - 1;
  if (std::isnan(min) || std::isnan(max))
    throw Unsupported{op, "NaN bounds on integer operands"};
  if (std::ceil(min) > typeMin)
    x = combine(Combine::Max, x, constantOf(t, std::ceil(min)), isUnsigned);
  if (std::floor(max) < typeMax)
    x = combine(Combine::Min, x, constantOf(t, std::floor(max)), isUnsigned);
  return x;
}

} // namespace gaon::cuda
