//===- GraphInterpreter.cpp - Reference evaluation of gaon.graph ----------===//
//
// Ops with constant folders are evaluated through them (the folders already
// implement elementwise ops, reductions and data movement on constants); the
// rest (contractions, normalizations, attention) are evaluated here.
//
//===----------------------------------------------------------------------===//

#include "gaon/Compiler/Reference/GraphInterpreter.h"

#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <cmath>

using namespace mlir;
using gaon::graph::computeStrides;
using gaon::graph::ConstantTensor;

namespace gaon::reference {
namespace {

RankedTensorType typeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// Linear index into a tensor of `shape` for the trailing-aligned
/// broadcast of `index` (a multi-index of the broadcast result).
int64_t broadcastOffset(ArrayRef<int64_t> index, ArrayRef<int64_t> shape) {
  auto strides = computeStrides(shape);
  int64_t offset = 0, skip = int64_t(index.size()) - int64_t(shape.size());
  for (int64_t d = 0; d < int64_t(shape.size()); ++d)
    if (shape[d] != 1)
      offset += index[skip + d] * strides[d];
  return offset;
}

SmallVector<int64_t> unflatten(int64_t linear, ArrayRef<int64_t> shape) {
  SmallVector<int64_t> index(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    index[d] = shape[d] ? linear % shape[d] : 0;
    linear = shape[d] ? linear / shape[d] : 0;
  }
  return index;
}

double geluOf(double x, bool approximate) {
  if (approximate)
    return 0.5 * x *
           (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

class Interpreter {
public:
  LogicalResult run(func::FuncOp func, ArrayRef<ConstantTensor> inputs,
                    SmallVectorImpl<ConstantTensor> &outputs);

private:
  const ConstantTensor &get(Value value) { return values.find(value)->second; }
  void set(Value value, ConstantTensor tensor) {
    values.insert_or_assign(value, std::move(tensor));
  }
  LogicalResult evaluate(Operation *op);
  LogicalResult tryFold(Operation *op, bool &folded);
  LogicalResult evalMatMul(graph::MatMulOp op);
  LogicalResult evalConv(graph::ConvOp op);
  LogicalResult evalSoftmax(graph::SoftmaxOp op);
  LogicalResult evalNorm(Operation *op, Value input, Value scale, Value bias,
                         int64_t axis, double epsilon, bool rms);
  LogicalResult evalPad(graph::PadOp op);
  LogicalResult evalArgMax(graph::ArgMaxOp op);
  LogicalResult evalAttention(graph::AttentionOp op);
  template <typename Fn> LogicalResult evalUnary(Operation *op, Fn fn);

  llvm::DenseMap<Value, ConstantTensor> values;

public:
  ValueCallback onValue;
};

LogicalResult Interpreter::run(func::FuncOp func,
                               ArrayRef<ConstantTensor> inputs,
                               SmallVectorImpl<ConstantTensor> &outputs) {
  Block &body = func.getBody().front();
  if (inputs.size() != body.getNumArguments())
    return func.emitError("expected ")
           << body.getNumArguments() << " inputs, got " << inputs.size();
  for (auto [arg, input] : llvm::zip(body.getArguments(), inputs)) {
    if (arg.getType() != input.getType())
      return func.emitError("input ")
             << arg.getArgNumber() << " has type " << input.getType()
             << ", expected " << arg.getType();
    set(arg, input);
  }
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        outputs.push_back(get(v));
      return success();
    }
    if (failed(evaluate(&op)))
      return failure();
    if (onValue)
      for (auto [i, result] : llvm::enumerate(op.getResults()))
        onValue(&op, i, get(result));
  }
  return func.emitError("function has no return");
}

LogicalResult Interpreter::tryFold(Operation *op, bool &folded) {
  folded = false;
  // A folder may update the op in place (reshape of reshape) and ask to be
  // run again on its new operands.
  for (int attempt = 0; attempt < 4; ++attempt) {
    SmallVector<Attribute> operands;
    for (Value operand : op->getOperands())
      operands.push_back(get(operand).toAttr("interp"));
    SmallVector<OpFoldResult> results;
    if (failed(op->fold(operands, results)))
      return success();
    if (results.size() == 1 && llvm::isa<Value>(results[0]) &&
        llvm::cast<Value>(results[0]) == op->getResult(0))
      continue; // folded in place
    if (results.size() != op->getNumResults())
      return success();
    for (auto [result, fold] : llvm::zip(op->getResults(), results)) {
      if (auto value = llvm::dyn_cast<Value>(fold)) {
        set(result, get(value));
        continue;
      }
      auto tensor = ConstantTensor::fromAttr(llvm::cast<Attribute>(fold));
      if (!tensor)
        return op->emitError("folder produced an unreadable constant");
      set(result, std::move(*tensor));
    }
    folded = true;
    return success();
  }
  return success();
}

template <typename Fn>
LogicalResult Interpreter::evalUnary(Operation *op, Fn fn) {
  const ConstantTensor &in = get(op->getOperand(0));
  ConstantTensor out(typeOf(op->getResult(0)));
  for (int64_t i = 0; i < in.getNumElements(); ++i)
    out.setDouble(i, fn(in.getDouble(i)));
  set(op->getResult(0), std::move(out));
  return success();
}

LogicalResult Interpreter::evaluate(Operation *op) {
  if (auto c = dyn_cast<graph::ConstantOp>(op)) {
    auto tensor = ConstantTensor::fromAttr(c.getValue());
    if (!tensor)
      return op->emitError("constant has no readable data");
    set(c.getResult(), std::move(*tensor));
    return success();
  }
  bool folded = false;
  if (failed(tryFold(op, folded)))
    return failure();
  if (folded)
    return success();
  if (auto matmul = dyn_cast<graph::MatMulOp>(op))
    return evalMatMul(matmul);
  if (auto conv = dyn_cast<graph::ConvOp>(op))
    return evalConv(conv);
  if (auto softmax = dyn_cast<graph::SoftmaxOp>(op))
    return evalSoftmax(softmax);
  if (auto ln = dyn_cast<graph::LayerNormOp>(op))
    return evalNorm(op, ln.getInput(), ln.getScale(), ln.getBias(),
                    ln.getAxis(), ln.getEpsilon().convertToDouble(), false);
  if (auto rms = dyn_cast<graph::RmsNormOp>(op))
    return evalNorm(op, rms.getInput(), rms.getScale(), nullptr, rms.getAxis(),
                    rms.getEpsilon().convertToDouble(), true);
  if (auto pad = dyn_cast<graph::PadOp>(op))
    return evalPad(pad);
  if (auto argmax = dyn_cast<graph::ArgMaxOp>(op))
    return evalArgMax(argmax);
  if (auto attention = dyn_cast<graph::AttentionOp>(op))
    return evalAttention(attention);
  if (auto gelu = dyn_cast<graph::GeluOp>(op)) {
    bool approximate = gelu.getApproximate();
    return evalUnary(op, [&](double x) { return geluOf(x, approximate); });
  }
  if (auto clamp = dyn_cast<graph::ClampOp>(op)) {
    double lo = clamp.getMin().convertToDouble();
    double hi = clamp.getMax().convertToDouble();
    return evalUnary(op,
                     [&](double x) { return std::min(hi, std::max(lo, x)); });
  }
  return op->emitError("the reference interpreter cannot evaluate this op "
                       "(its operands may exceed the folding size limits)");
}

LogicalResult Interpreter::evalMatMul(graph::MatMulOp op) {
  const ConstantTensor &a = get(op.getLhs()), &b = get(op.getRhs());
  auto outType = op.getType();
  ArrayRef<int64_t> outShape = outType.getShape();
  int64_t rank = outShape.size();
  int64_t m = outShape[rank - 2], n = outShape[rank - 1];
  int64_t k = a.getShape().back();
  auto aBatch = a.getShape().drop_back(2), bBatch = b.getShape().drop_back(2);
  auto batchShape = outShape.drop_back(2);
  int64_t batches = outType.getNumElements() / std::max<int64_t>(1, m * n);
  ConstantTensor out(outType);
  for (int64_t batch = 0; batch < batches; ++batch) {
    auto index = unflatten(batch, batchShape);
    int64_t aBase = broadcastOffset(index, aBatch) * m * k;
    int64_t bBase = broadcastOffset(index, bBatch) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum +=
              a.getDouble(aBase + i * k + p) * b.getDouble(bBase + p * n + j);
        out.setDouble((batch * m + i) * n + j, sum);
      }
  }
  set(op.getResult(), std::move(out));
  return success();
}

LogicalResult Interpreter::evalConv(graph::ConvOp op) {
  const ConstantTensor &x = get(op.getInput()), &w = get(op.getWeight());
  auto outType = op.getType();
  ArrayRef<int64_t> xs = x.getShape(), ws = w.getShape(),
                    os = outType.getShape();
  int64_t spatial = xs.size() - 2, groups = op.getGroups();
  int64_t cinPerGroup = ws[1], coutPerGroup = ws[0] / groups;
  auto xStrides = computeStrides(xs), wStrides = computeStrides(ws);
  ArrayRef<int64_t> kernel = ws.drop_front(2);
  int64_t kernelCount = 1;
  for (int64_t d : kernel)
    kernelCount *= d;
  ConstantTensor out(outType);
  std::optional<ConstantTensor> bias;
  if (op.getBias())
    bias = get(op.getBias());
  for (int64_t linear = 0; linear < outType.getNumElements(); ++linear) {
    auto oi = unflatten(linear, os);
    int64_t batch = oi[0], cout = oi[1], group = cout / coutPerGroup;
    double sum = bias ? bias->getDouble(cout) : 0.0;
    for (int64_t ci = 0; ci < cinPerGroup; ++ci)
      for (int64_t kl = 0; kl < kernelCount; ++kl) {
        auto ki = unflatten(kl, kernel);
        int64_t xOffset =
            batch * xStrides[0] + (group * cinPerGroup + ci) * xStrides[1];
        bool inside = true;
        for (int64_t d = 0; d < spatial && inside; ++d) {
          int64_t pos = oi[2 + d] * op.getStrides()[d] - op.getPads()[d] +
                        ki[d] * op.getDilations()[d];
          inside = pos >= 0 && pos < xs[2 + d];
          xOffset += pos * xStrides[2 + d];
        }
        if (!inside)
          continue;
        int64_t wOffset = cout * wStrides[0] + ci * wStrides[1];
        for (int64_t d = 0; d < spatial; ++d)
          wOffset += ki[d] * wStrides[2 + d];
        sum += x.getDouble(xOffset) * w.getDouble(wOffset);
      }
    out.setDouble(linear, sum);
  }
  set(op.getResult(), std::move(out));
  return success();
}

/// Calls fn(base, stride) for every line along `axis` of `shape`.
template <typename Fn>
void forEachLine(ArrayRef<int64_t> shape, int64_t axis, Fn fn) {
  auto strides = computeStrides(shape);
  int64_t total = 1;
  for (int64_t d : shape)
    total *= d;
  int64_t lines = shape[axis] ? total / shape[axis] : 0;
  SmallVector<int64_t> outer(shape);
  outer[axis] = 1;
  for (int64_t l = 0; l < lines; ++l) {
    auto index = unflatten(l, outer);
    int64_t base = 0;
    for (size_t d = 0; d < index.size(); ++d)
      base += index[d] * strides[d];
    fn(base, strides[axis]);
  }
}

LogicalResult Interpreter::evalSoftmax(graph::SoftmaxOp op) {
  const ConstantTensor &x = get(op.getInput());
  ConstantTensor out(op.getType());
  int64_t n = x.getShape()[op.getAxis()];
  bool log = op.getLog();
  forEachLine(x.getShape(), op.getAxis(), [&](int64_t base, int64_t stride) {
    double maxValue = -INFINITY, sum = 0;
    for (int64_t i = 0; i < n; ++i)
      maxValue = std::max(maxValue, x.getDouble(base + i * stride));
    for (int64_t i = 0; i < n; ++i)
      sum += std::exp(x.getDouble(base + i * stride) - maxValue);
    for (int64_t i = 0; i < n; ++i) {
      double shifted = x.getDouble(base + i * stride) - maxValue;
      out.setDouble(base + i * stride,
                    log ? shifted - std::log(sum) : std::exp(shifted) / sum);
    }
  });
  set(op.getResult(), std::move(out));
  return success();
}

LogicalResult Interpreter::evalNorm(Operation *op, Value input, Value scale,
                                    Value bias, int64_t axis, double epsilon,
                                    bool rms) {
  const ConstantTensor &x = get(input);
  const ConstantTensor &gamma = get(scale);
  ArrayRef<int64_t> shape = x.getShape();
  ArrayRef<int64_t> normShape = shape.drop_front(axis);
  int64_t inner = 1;
  for (int64_t d : normShape)
    inner *= d;
  int64_t outer = inner ? x.getNumElements() / inner : 0;
  ConstantTensor out(typeOf(op->getResult(0)));
  std::optional<ConstantTensor> beta;
  if (bias)
    beta = get(bias);
  for (int64_t o = 0; o < outer; ++o) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i)
      mean += x.getDouble(o * inner + i);
    mean = rms ? 0.0 : mean / inner;
    for (int64_t i = 0; i < inner; ++i) {
      double c = x.getDouble(o * inner + i) - mean;
      var += c * c;
    }
    double inv = 1.0 / std::sqrt(var / inner + epsilon);
    for (int64_t i = 0; i < inner; ++i) {
      auto ni = unflatten(i, normShape);
      double y = (x.getDouble(o * inner + i) - mean) * inv *
                 gamma.getDouble(broadcastOffset(ni, gamma.getShape()));
      if (beta)
        y += beta->getDouble(broadcastOffset(ni, beta->getShape()));
      out.setDouble(o * inner + i, y);
    }
  }
  set(op->getResult(0), std::move(out));
  return success();
}

LogicalResult Interpreter::evalPad(graph::PadOp op) {
  const ConstantTensor &x = get(op.getInput());
  ConstantTensor out(op.getType());
  double fill = op.getValue().convertToDouble();
  ArrayRef<int64_t> os = op.getType().getShape();
  auto xStrides = computeStrides(x.getShape());
  for (int64_t linear = 0; linear < out.getNumElements(); ++linear) {
    auto index = unflatten(linear, os);
    int64_t src = 0;
    bool inside = true;
    for (size_t d = 0; d < index.size() && inside; ++d) {
      int64_t pos = index[d] - op.getLow()[d];
      inside = pos >= 0 && pos < x.getShape()[d];
      src += pos * xStrides[d];
    }
    out.setDouble(linear, inside ? x.getDouble(src) : fill);
  }
  set(op.getResult(), std::move(out));
  return success();
}

LogicalResult Interpreter::evalArgMax(graph::ArgMaxOp op) {
  const ConstantTensor &x = get(op.getInput());
  ConstantTensor out(op.getType());
  int64_t n = x.getShape()[op.getAxis()], next = 0;
  // Lines are visited in row-major order of the remaining dimensions, which
  // is the result's element order with or without the kept dimension.
  forEachLine(x.getShape(), op.getAxis(), [&](int64_t base, int64_t stride) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (x.getDouble(base + i * stride) > x.getDouble(base + best * stride))
        best = i;
    out.setInt(next++, best);
  });
  set(op.getResult(), std::move(out));
  return success();
}

LogicalResult Interpreter::evalAttention(graph::AttentionOp op) {
  const ConstantTensor &q = get(op.getQuery()), &k = get(op.getKey()),
                       &v = get(op.getValue());
  std::optional<ConstantTensor> mask;
  if (op.getMask())
    mask = get(op.getMask());
  ArrayRef<int64_t> qs = q.getShape(), ks = k.getShape(), vs = v.getShape();
  int64_t batch = qs[0], heads = qs[1], sq = qs[2], d = qs[3];
  int64_t kvHeads = ks[1], sk = ks[2], dv = vs[3];
  int64_t group = heads / kvHeads;
  double scale = op.getScale().convertToDouble();
  ConstantTensor out(op.getType());
  SmallVector<double> scores(sk);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        int64_t kh = h / group;
        double maxValue = -INFINITY;
        for (int64_t j = 0; j < sk; ++j) {
          double s = 0;
          for (int64_t p = 0; p < d; ++p)
            s += q.getDouble(((b * heads + h) * sq + i) * d + p) *
                 k.getDouble(((b * kvHeads + kh) * sk + j) * d + p);
          s *= scale;
          if (mask)
            s += mask->getDouble(
                broadcastOffset({b, h, i, j}, mask->getShape()));
          if (op.getCausal() && j > i + (sk - sq))
            s = -INFINITY;
          scores[j] = s;
          maxValue = std::max(maxValue, s);
        }
        // Every key masked: zeros (see the op), not exp(-inf + inf) = NaN.
        double reference = maxValue == -INFINITY ? 0.0 : maxValue;
        double sum = 0;
        for (int64_t j = 0; j < sk; ++j)
          sum += (scores[j] = std::exp(scores[j] - reference));
        for (int64_t e = 0; e < dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < sk; ++j)
            acc +=
                scores[j] * v.getDouble(((b * kvHeads + kh) * sk + j) * dv + e);
          out.setDouble(((b * heads + h) * sq + i) * dv + e,
                        sum > 0 ? acc / sum : 0.0);
        }
      }
  set(op.getResult(), std::move(out));
  return success();
}

} // namespace

FailureOr<SmallVector<ConstantTensor>>
interpret(func::FuncOp func, ArrayRef<ConstantTensor> inputs,
          const ValueCallback &onValue) {
  // Folders may rewrite ops in place; work on a copy.
  OwningOpRef<func::FuncOp> copy(func.clone());
  Interpreter interpreter;
  if (onValue) {
    // Map the copy's ops back to the caller's.
    llvm::DenseMap<Operation *, Operation *> original;
    auto &theirs = func.getBody().front(), &ours = copy->getBody().front();
    for (auto [a, b] : llvm::zip(ours, theirs))
      original[&a] = &b;
    interpreter.onValue = [onValue, original](Operation *op, unsigned i,
                                              const ConstantTensor &t) {
      onValue(original.lookup(op), i, t);
    };
  }
  SmallVector<ConstantTensor> outputs;
  if (failed(interpreter.run(*copy, inputs, outputs)))
    return failure();
  return outputs;
}

Comparison compare(const ConstantTensor &actual,
                   const ConstantTensor &expected) {
  Comparison result;
  result.sameShape = actual.getShape() == expected.getShape();
  if (actual.getNumElements() != expected.getNumElements()) {
    result.sameShape = false;
    result.relativeL2 = INFINITY;
    return result;
  }
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < actual.getNumElements(); ++i) {
    double a = actual.getDouble(i), e = expected.getDouble(i);
    if (!std::isfinite(a) || !std::isfinite(e)) {
      if (!(std::isnan(a) && std::isnan(e)) && a != e)
        result.nonFiniteMismatch = true;
      continue;
    }
    diff += (a - e) * (a - e);
    norm += e * e;
    result.maxAbs = std::max(result.maxAbs, std::fabs(a - e));
  }
  result.relativeL2 = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
  return result;
}

} // namespace gaon::reference
