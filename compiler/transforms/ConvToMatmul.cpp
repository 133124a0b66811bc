//===- ConvToMatmul.cpp - Convolutions as matmuls -------------------------===//

#include "gaon/Compiler/Transforms/Passes.h"
#include "gaon/Dialect/Graph/ConstantTensor.h"
#include "gaon/Dialect/Graph/GraphOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gaon {
#define GEN_PASS_DEF_CONVTOMATMUL
#include "gaon/Compiler/Transforms/Passes.h.inc"
} // namespace gaon

using namespace mlir;
using namespace gaon::graph;

namespace gaon {
namespace {

/// Convolutions with more kernel offsets than this (that are not patches)
/// gather their rows with one constant index table instead of one strided
/// slice per offset (wav2vec2's positional convolution has 128).
constexpr int64_t kMaxSlicedOffsets = 64;

int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    p *= d;
  return p;
}

/// Builds the ops both strategies share, at the convolution.
struct Builder {
  PatternRewriter &rewriter;
  Location loc;
  Type element;

  Value reshape(Value v, ArrayRef<int64_t> shape) {
    return ReshapeOp::create(rewriter, loc,
                             RankedTensorType::get(shape, element), v);
  }
  Value transpose(Value v, ArrayRef<int64_t> perm) {
    auto shape = cast<RankedTensorType>(v.getType()).getShape();
    SmallVector<int64_t> out;
    for (int64_t d : perm)
      out.push_back(shape[d]);
    return TransposeOp::create(rewriter, loc,
                               RankedTensorType::get(out, element), v, perm);
  }
  Value zeros(ArrayRef<int64_t> shape) {
    auto type = RankedTensorType::get(shape, element);
    return ConstantOp::create(
        rewriter, loc,
        DenseElementsAttr::get(type, rewriter.getZeroAttr(element)));
  }
  Value concat(ArrayRef<Value> parts, int64_t axis) {
    if (parts.size() == 1)
      return parts.front();
    SmallVector<int64_t> shape(
        cast<RankedTensorType>(parts.front().getType()).getShape());
    shape[axis] = 0;
    for (Value part : parts)
      shape[axis] += cast<RankedTensorType>(part.getType()).getDimSize(axis);
    return ConcatOp::create(rewriter, loc,
                            RankedTensorType::get(shape, element), parts, axis);
  }

  /// rows [N, P, C*K] times the weights, plus the bias, as [N, O, outDims].
  /// With G groups, rows hold each group's Cg*K columns together (channel
  /// major), so the product is one batched matmul over the groups:
  /// [G, N*P, Cg*K] x [G, Cg*K, O/G].
  Value matmulBack(ConvOp op, Value rows, ArrayRef<int64_t> outDims) {
    auto w = cast<RankedTensorType>(op.getWeight().getType()).getShape();
    auto r = cast<RankedTensorType>(rows.getType()).getShape();
    int64_t n = r[0], p = r[1], k = r[2], o = w[0], g = op.getGroups();
    Value y;
    if (g == 1) {
      Value weights = transpose(reshape(op.getWeight(), {o, k}), {1, 0});
      y = MatMulOp::create(rewriter, loc,
                           RankedTensorType::get({n, p, o}, element), rows,
                           weights);
    } else {
      int64_t kg = k / g, og = o / g;
      Value lhs = transpose(reshape(rows, {n * p, g, kg}), {1, 0, 2});
      Value weights =
          transpose(reshape(op.getWeight(), {g, og, kg}), {0, 2, 1});
      Value product = MatMulOp::create(
          rewriter, loc, RankedTensorType::get({g, n * p, og}, element), lhs,
          weights);
      y = reshape(transpose(product, {1, 0, 2}), {n, p, o});
    }
    if (Value bias = op.getBias())
      y = AddOp::create(rewriter, loc, y.getType(), y, bias);
    SmallVector<int64_t> shape = {n, o};
    llvm::append_range(shape, outDims);
    return reshape(transpose(y, {0, 2, 1}), shape);
  }
};

/// Stride = kernel, no padding or dilation: [N, C, P1, K1, ...] patches.
LogicalResult rewritePatches(ConvOp op, Builder &b) {
  ArrayRef<int64_t> x =
      cast<RankedTensorType>(op.getInput().getType()).getShape();
  ArrayRef<int64_t> kernel =
      cast<RankedTensorType>(op.getWeight().getType()).getShape().drop_front(2);
  int64_t spatial = kernel.size();
  if (op.getStrides() != kernel ||
      llvm::any_of(op.getPads(), [](int64_t p) { return p != 0; }) ||
      llvm::any_of(op.getDilations(), [](int64_t d) { return d != 1; }))
    return failure();
  SmallVector<int64_t> patches;
  for (int64_t i = 0; i < spatial; ++i) {
    if (x[2 + i] % kernel[i] != 0)
      return failure(); // the convolution drops the remainder
    patches.push_back(x[2 + i] / kernel[i]);
  }
  // [N, C, P1, K1, ..., Pr, Kr] -> [N, P1, ..., Pr, C, K1, ..., Kr].
  SmallVector<int64_t> split = {x[0], x[1]};
  SmallVector<int64_t> perm = {0};
  for (int64_t i = 0; i < spatial; ++i) {
    split.append({patches[i], kernel[i]});
    perm.push_back(2 + 2 * i);
  }
  perm.push_back(1);
  for (int64_t i = 0; i < spatial; ++i)
    perm.push_back(3 + 2 * i);
  Value rows = b.reshape(b.transpose(b.reshape(op.getInput(), split), perm),
                         {x[0], product(patches), x[1] * product(kernel)});
  b.rewriter.replaceOp(op, b.matmulBack(op, rows, patches));
  return success();
}

/// The input zero-padded by concatenation, one spatial dim at a time;
/// `shape` becomes its shape.
Value padInput(ConvOp op, Builder &b, SmallVector<int64_t> &shape) {
  auto xType = cast<RankedTensorType>(op.getInput().getType());
  ArrayRef<int64_t> pads = op.getPads();
  int64_t spatial = xType.getRank() - 2;
  Value padded = op.getInput();
  shape.assign(xType.getShape().begin(), xType.getShape().end());
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t before = pads[i], after = pads[spatial + i];
    if (before == 0 && after == 0)
      continue;
    SmallVector<Value> parts;
    SmallVector<int64_t> edge(shape);
    if (before > 0) {
      edge[2 + i] = before;
      parts.push_back(b.zeros(edge));
    }
    parts.push_back(padded);
    if (after > 0) {
      edge[2 + i] = after;
      parts.push_back(b.zeros(edge));
    }
    padded = b.concat(parts, 2 + i);
    shape[2 + i] += before + after;
  }
  return padded;
}

/// A convolution's kernel and output sizes (spatial dims only).
struct Window {
  explicit Window(ConvOp op)
      : kernel(cast<RankedTensorType>(op.getWeight().getType())
                   .getShape()
                   .drop_front(2)),
        out(cast<RankedTensorType>(op.getType()).getShape().drop_front(2)),
        strides(op.getStrides()), dilations(op.getDilations()),
        spatial(kernel.size()), offsets(product(kernel)) {}
  ArrayRef<int64_t> kernel, out, strides, dilations;
  int64_t spatial, offsets;
};

/// Any strides, pads and dilations: one strided slice per kernel offset.
LogicalResult rewriteIm2col(ConvOp op, Builder &b) {
  auto [kernel, out, strides, dilations, spatial, offsets] = Window(op);
  if (offsets > kMaxSlicedOffsets)
    return failure();
  SmallVector<int64_t> shape;
  Value padded = padInput(op, b, shape);
  // Offsets in the weights' row-major order, each [N, C, 1, O1..Or].
  SmallVector<Value> columns;
  SmallVector<int64_t> sliceShape = {shape[0], shape[1]};
  llvm::append_range(sliceShape, out);
  SmallVector<int64_t> unitShape = {shape[0], shape[1], 1};
  llvm::append_range(unitShape, out);
  for (int64_t flat = 0; flat < offsets; ++flat) {
    SmallVector<int64_t> starts = {0, 0}, steps = {1, 1};
    int64_t rest = flat;
    SmallVector<int64_t> offset(spatial);
    for (int64_t i = spatial - 1; i >= 0; --i) {
      offset[i] = rest % kernel[i];
      rest /= kernel[i];
    }
    for (int64_t i = 0; i < spatial; ++i) {
      starts.push_back(offset[i] * dilations[i]);
      steps.push_back(strides[i]);
    }
    Value slice = SliceOp::create(b.rewriter, b.loc,
                                  RankedTensorType::get(sliceShape, b.element),
                                  padded, starts, steps);
    columns.push_back(b.reshape(slice, unitShape));
  }
  Value stacked = b.concat(columns, 2);
  int64_t n = shape[0], c = shape[1], p = product(out);
  Value rows = b.transpose(b.reshape(stacked, {n, c * offsets, p}), {0, 2, 1});
  b.rewriter.replaceOp(op, b.matmulBack(op, rows, out));
  return success();
}

/// Many kernel offsets: the padded input as [N, positions, C] rows, one
/// gather of the rows each output position reads ([P, K] constant indices,
/// K offsets in the weights' row-major order) to [N, P, K, C], then
/// channel-major [N, P, C * K] rows.
LogicalResult rewriteGather(ConvOp op, Builder &b) {
  auto [kernel, out, strides, dilations, spatial, offsets] = Window(op);
  SmallVector<int64_t> shape;
  Value padded = padInput(op, b, shape);
  int64_t n = shape[0], c = shape[1];
  ArrayRef<int64_t> paddedSpatial = ArrayRef<int64_t>(shape).drop_front(2);
  int64_t positions = product(paddedSpatial), p = product(out);
  Value table = b.transpose(b.reshape(padded, {n, c, positions}), {0, 2, 1});
  // Row-major pitches of the padded spatial dims.
  SmallVector<int64_t> pitch(spatial, 1);
  for (int64_t i = spatial - 2; i >= 0; --i)
    pitch[i] = pitch[i + 1] * paddedSpatial[i + 1];
  auto indexType = RankedTensorType::get({p, offsets}, b.rewriter.getI64Type());
  graph::ConstantTensor indices(indexType);
  for (int64_t at = 0; at < p; ++at) {
    for (int64_t flat = 0; flat < offsets; ++flat) {
      int64_t index = 0, restOut = at, restOff = flat;
      for (int64_t i = spatial - 1; i >= 0; --i) {
        int64_t o = restOut % out[i], k = restOff % kernel[i];
        restOut /= out[i];
        restOff /= kernel[i];
        index += (o * strides[i] + k * dilations[i]) * pitch[i];
      }
      indices.setDouble(at * offsets + flat, double(index));
    }
  }
  Value indexValue = ConstantOp::create(b.rewriter, b.loc, indexType,
                                        indices.toAttr("conv_rows"));
  Value gathered = GatherOp::create(
      b.rewriter, b.loc, RankedTensorType::get({n, p, offsets, c}, b.element),
      table, indexValue, b.rewriter.getI64IntegerAttr(1));
  Value rows =
      b.reshape(b.transpose(gathered, {0, 1, 3, 2}), {n, p, c * offsets});
  b.rewriter.replaceOp(op, b.matmulBack(op, rows, out));
  return success();
}

struct ConvToMatmulPattern : OpRewritePattern<ConvOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ConvOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = cast<RankedTensorType>(op.getInput().getType());
    if (!xType.hasStaticShape() ||
        !cast<RankedTensorType>(op.getWeight().getType()).hasStaticShape() ||
        !cast<RankedTensorType>(op.getType()).hasStaticShape() ||
        op.getGroups() < 1 || xType.getRank() < 3)
      return failure();
    Builder b{rewriter, op.getLoc(), xType.getElementType()};
    if (succeeded(rewritePatches(op, b)) || succeeded(rewriteIm2col(op, b)))
      return success();
    return rewriteGather(op, b);
  }
};

struct ConvToMatmulPass : impl::ConvToMatmulBase<ConvToMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ConvToMatmulPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace gaon
