//===- ImageOps.cpp - ONNX ops of NCHW image models -----------------------===//
//
// Inference-mode batch norm, depth/space rearrangements, max and average
// pooling, as the graph ops every backend already runs (affine per channel,
// reshape/transpose, slices with max/add, reductions).
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"
#include "LastWriter.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

LogicalResult requireImage(NodeContext &ctx, int64_t minRank) {
  auto type = ctx.inputType(0);
  if (type.getRank() < minRank)
    return ctx.fail("the input must be [N, C, ...] of rank >= " +
                    Twine(minRank) + ", not " + Twine(type.getRank()));
  if (!type.hasStaticShape())
    return ctx.fail("needs a static input shape (fix it with --input-shape)");
  return success();
}

/// BatchNormalization in inference mode: x * a + b per channel, with
/// a = scale / sqrt(var + epsilon) and b = bias - mean * a (constants fold
/// when the statistics are).
LogicalResult convertBatchNorm(NodeContext &ctx) {
  if (failed(requireImage(ctx, 2)))
    return failure();
  if (ctx.attrInt("training_mode", 0) != 0 || ctx.hasOutput(1) ||
      ctx.hasOutput(2))
    return ctx.fail("training mode (running statistics as outputs) is not "
                    "supported");
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return ctx.fail("the input must be a float tensor");
  int64_t c = type.getDimSize(1);
  SmallVector<int64_t> perChannel(type.getRank() - 1, 1);
  perChannel[0] = c;
  SmallVector<Value> params;
  for (int i = 1; i <= 4; ++i) {
    auto t = ctx.inputType(i);
    if (t.getNumElements() != c)
      return ctx.fail("input " + Twine(i) +
                      " must hold one value per channel (" + Twine(c) + ")");
    Value v = ctx.reshape(ctx.input(i), perChannel);
    if (t.getElementType() != element)
      v = ctx.cast(v, element);
    params.push_back(v);
  }
  auto shifted = ctx.binary<AddOp>(
      params[3], ctx.splat(element, {}, ctx.attrFloat("epsilon", 1e-5f)));
  if (failed(shifted))
    return failure();
  auto a = ctx.binary<DivOp>(
      params[0], ctx.create<SqrtOp>(tensorType(*shifted), *shifted));
  if (failed(a))
    return failure();
  auto meanA = ctx.binary<MulOp>(params[2], *a);
  if (failed(meanA))
    return failure();
  auto b = ctx.binary<SubOp>(params[1], *meanA);
  auto scaled = ctx.binary<MulOp>(ctx.input(0), *a);
  if (failed(b) || failed(scaled))
    return failure();
  auto y = ctx.binary<AddOp>(*scaled, *b);
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  return success();
}

/// DepthToSpace and SpaceToDepth on [N, C, H, W] with block size b.
LogicalResult convertDepthSpace(NodeContext &ctx, bool toSpace) {
  if (failed(requireImage(ctx, 4)))
    return failure();
  auto shape = ctx.inputType(0).getShape();
  if (shape.size() != 4)
    return ctx.fail("the input must be [N, C, H, W]");
  int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
  int64_t b = ctx.attrInt("blocksize", 0);
  if (b <= 0)
    return ctx.fail("blocksize must be positive");
  if (toSpace) {
    if (c % (b * b) != 0)
      return ctx.fail("the channels (" + Twine(c) +
                      ") are not a multiple of blocksize^2 (" + Twine(b * b) +
                      ")");
    std::string mode = ctx.attrString("mode", "DCR");
    if (mode != "DCR" && mode != "CRD")
      return ctx.fail("unknown mode '" + mode + "'");
    int64_t d = c / (b * b);
    bool dcr = mode == "DCR";
    Value split =
        ctx.reshape(ctx.input(0), dcr ? SmallVector<int64_t>{n, b, b, d, h, w}
                                      : SmallVector<int64_t>{n, d, b, b, h, w});
    Value moved =
        ctx.transpose(split, dcr ? SmallVector<int64_t>{0, 3, 4, 1, 5, 2}
                                 : SmallVector<int64_t>{0, 1, 4, 2, 5, 3});
    ctx.setOutput(0, ctx.reshape(moved, {n, d, h * b, w * b}));
    return success();
  }
  if (h % b != 0 || w % b != 0)
    return ctx.fail("the height and width (" + Twine(h) + ", " + Twine(w) +
                    ") are not multiples of blocksize " + Twine(b));
  Value split = ctx.reshape(ctx.input(0), {n, c, h / b, b, w / b, b});
  Value moved = ctx.transpose(split, {0, 3, 5, 1, 2, 4});
  ctx.setOutput(0, ctx.reshape(moved, {n, c * b * b, h / b, w / b}));
  return success();
}

/// GlobalAveragePool and GlobalMaxPool: over every spatial dimension,
/// kept as size 1.
template <typename OpTy> LogicalResult convertGlobalPool(NodeContext &ctx) {
  if (failed(requireImage(ctx, 3)))
    return failure();
  auto type = ctx.inputType(0);
  SmallVector<int64_t> axes =
      llvm::to_vector(llvm::seq<int64_t>(2, type.getRank()));
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t a : axes)
    shape[a] = 1;
  auto &b = ctx.getBuilder();
  ctx.setOutput(
      0, ctx.create<OpTy>(RankedTensorType::get(shape, type.getElementType()),
                          ctx.input(0), b.getDenseI64ArrayAttr(axes),
                          b.getBoolAttr(true)));
  return success();
}

/// Pools with more window positions than this are an error (each is a
/// strided slice).
constexpr int64_t kMaxPoolOffsets = 64;

/// MaxPool and AveragePool: the input padded (-inf or the type's lowest for
/// max, 0 for average; ceil_mode's partial windows padded past the end),
/// one strided slice per window offset, folded with max or add; an average
/// divides by a constant count per output position (the window's positions
/// inside the input, or inside input and explicit pads with
/// count_include_pad).
LogicalResult convertPool(NodeContext &ctx, bool isMax) {
  if (failed(requireImage(ctx, 3)))
    return failure();
  bool withIndices = isMax && ctx.hasOutput(1);
  auto type = ctx.inputType(0);
  Type element = type.getElementType();
  if (!isMax && !isa<FloatType>(element))
    return ctx.fail("the input must be a float tensor");
  int64_t spatial = type.getRank() - 2;
  auto kernel = ctx.attrInts("kernel_shape");
  if (!kernel || int64_t(kernel->size()) != spatial)
    return ctx.fail("kernel_shape must give " + Twine(spatial) + " sizes");
  auto attrOr = [&](StringRef name, SmallVector<int64_t> fallback) {
    return ctx.attrInts(name).value_or(fallback);
  };
  SmallVector<int64_t> ones(spatial, 1), zeros(2 * spatial, 0);
  SmallVector<int64_t> strides = attrOr("strides", ones),
                       dilations = attrOr("dilations", ones),
                       pads = attrOr("pads", zeros);
  if (int64_t(strides.size()) != spatial ||
      int64_t(dilations.size()) != spatial ||
      int64_t(pads.size()) != 2 * spatial)
    return ctx.fail("strides, dilations and pads must match the " +
                    Twine(spatial) + " spatial dimensions");
  int64_t offsets = 1;
  for (int64_t i = 0; i < spatial; ++i) {
    if ((*kernel)[i] < 1 || strides[i] < 1 || dilations[i] < 1 || pads[i] < 0 ||
        pads[spatial + i] < 0)
      return ctx.fail("kernel_shape, strides and dilations must be positive "
                      "and pads not negative");
    offsets *= (*kernel)[i];
  }
  if (offsets > kMaxPoolOffsets)
    return ctx.fail("a window of " + Twine(offsets) +
                    " positions is more than the " + Twine(kMaxPoolOffsets) +
                    " supported");
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  bool ceil = ctx.attrInt("ceil_mode", 0) != 0;
  auto shape = type.getShape();
  SmallVector<int64_t> out(spatial), extra(spatial, 0);
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t in = shape[2 + i], span = ((*kernel)[i] - 1) * dilations[i] + 1;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      out[i] = (in + strides[i] - 1) / strides[i];
      int64_t total =
          std::max<int64_t>(0, (out[i] - 1) * strides[i] + span - in);
      int64_t small = total / 2;
      pads[i] = autoPad == "SAME_UPPER" ? small : total - small;
      pads[spatial + i] = total - pads[i];
    } else if (autoPad == "VALID" || autoPad == "NOTSET") {
      if (autoPad == "VALID")
        pads[i] = pads[spatial + i] = 0;
      int64_t room = in + pads[i] + pads[spatial + i] - span;
      if (room < 0)
        return ctx.fail("the window is larger than the padded input");
      out[i] =
          (ceil ? (room + strides[i] - 1) / strides[i] : room / strides[i]) + 1;
      // A partial last window (ceil_mode) reads past the padded end.
      extra[i] = std::max<int64_t>(0, (out[i] - 1) * strides[i] + span -
                                          (in + pads[i] + pads[spatial + i]));
    } else {
      return ctx.fail("unknown auto_pad '" + autoPad + "'");
    }
  }
  double fill = 0.0;
  if (isMax) {
    if (isa<FloatType>(element))
      fill = -std::numeric_limits<double>::infinity();
    else if (element.isUnsignedInteger() || element.isInteger(1))
      fill = 0.0;
    else
      fill = -std::ldexp(1.0, element.getIntOrFloatBitWidth() - 1);
  }
  // Pad one spatial dimension at a time by concatenation.
  Value x = ctx.input(0);
  SmallVector<int64_t> padded(shape);
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t before = pads[i], after = pads[spatial + i] + extra[i];
    if (before == 0 && after == 0)
      continue;
    SmallVector<Value> parts;
    SmallVector<int64_t> edge(padded);
    if (before) {
      edge[2 + i] = before;
      parts.push_back(ctx.splat(element, edge, fill));
    }
    parts.push_back(x);
    if (after) {
      edge[2 + i] = after;
      parts.push_back(ctx.splat(element, edge, fill));
    }
    padded[2 + i] += before + after;
    x = ctx.create<ConcatOp>(RankedTensorType::get(padded, element), parts,
                             ctx.getBuilder().getI64IntegerAttr(2 + i));
  }
  SmallVector<int64_t> resultShape = {shape[0], shape[1]};
  resultShape.append(out.begin(), out.end());
  auto resultType = RankedTensorType::get(resultShape, element);
  auto &b = ctx.getBuilder();
  // Indices (MaxPool's second output): the flat input position of each
  // window's first maximum, (n * C + c) * plane + the position in the
  // plane, row-major (storage_order 0) or, in 2-D, column-major.
  Type i64 = b.getI64Type();
  int64_t plane = 1;
  for (int64_t i = 0; i < spatial; ++i)
    plane *= shape[2 + i];
  bool columnMajor = ctx.attrInt("storage_order", 0) != 0;
  if (withIndices && columnMajor && spatial != 2)
    return ctx.fail("storage_order 1 is supported for 2-D pooling only");
  SmallVector<int64_t> outShape = {1, 1};
  outShape.append(out.begin(), out.end());
  auto indexType = RankedTensorType::get(resultShape, i64);
  Value planeBase;
  if (withIndices) {
    ConstantTensor base(RankedTensorType::get({shape[0], shape[1]}, i64));
    for (int64_t nc = 0; nc < shape[0] * shape[1]; ++nc)
      base.setInt(nc, nc * plane);
    SmallVector<int64_t> baseShape = {shape[0], shape[1]};
    baseShape.append(spatial, 1);
    planeBase = ctx.reshape(ctx.constant(base), baseShape);
  }
  Value acc, argmax;
  for (int64_t flat = 0; flat < offsets; ++flat) {
    SmallVector<int64_t> starts = {0, 0}, steps = {1, 1};
    SmallVector<int64_t> offset(spatial);
    for (int64_t i = spatial - 1, rest = flat; i >= 0; --i) {
      offset[i] = rest % (*kernel)[i];
      rest /= (*kernel)[i];
    }
    for (int64_t i = 0; i < spatial; ++i) {
      starts.push_back(offset[i] * dilations[i]);
      steps.push_back(strides[i]);
    }
    Value slice =
        ctx.create<SliceOp>(resultType, x, b.getDenseI64ArrayAttr(starts),
                            b.getDenseI64ArrayAttr(steps));
    Value position;
    if (withIndices) {
      // This offset's input position for every output position (padding
      // positions never win: they hold the lowest value).
      ConstantTensor at(RankedTensorType::get(outShape, i64));
      for (int64_t o = 0; o < at.getNumElements(); ++o) {
        SmallVector<int64_t> coord(spatial);
        for (int64_t i = spatial - 1, rest = o; i >= 0; --i) {
          int64_t oi = rest % out[i];
          rest /= out[i];
          coord[i] = oi * strides[i] + offset[i] * dilations[i] - pads[i];
        }
        int64_t index = 0;
        if (columnMajor)
          index = coord[1] * shape[2] + coord[0];
        else
          for (int64_t i = 0; i < spatial; ++i)
            index = index * shape[2 + i] + coord[i];
        at.setInt(o, index);
      }
      auto sum = ctx.binary<AddOp>(planeBase, ctx.constant(at));
      if (failed(sum))
        return failure();
      position = *sum;
    }
    if (!acc) {
      acc = slice;
      argmax = position;
      continue;
    }
    if (withIndices) {
      // Strictly greater: the window's first maximum keeps its index.
      auto better = ctx.binary<GreaterOp>(slice, acc, true);
      if (failed(better))
        return failure();
      argmax = ctx.create<SelectOp>(indexType, *better, position, argmax);
    }
    auto next =
        isMax ? ctx.binary<MaxOp>(acc, slice) : ctx.binary<AddOp>(acc, slice);
    if (failed(next))
      return failure();
    acc = *next;
  }
  if (withIndices)
    ctx.setOutput(1, argmax);
  if (!isMax) {
    // Window positions that count, per output position.
    bool includePad = ctx.attrInt("count_include_pad", 0) != 0;
    SmallVector<int64_t> countShape = {1, 1};
    countShape.append(out.begin(), out.end());
    ConstantTensor counts(RankedTensorType::get(countShape, element));
    int64_t positions = counts.getNumElements();
    for (int64_t at = 0; at < positions; ++at) {
      int64_t count = 1;
      for (int64_t i = spatial - 1, rest = at; i >= 0; --i) {
        int64_t o = rest % out[i];
        rest /= out[i];
        int64_t lo = includePad ? -pads[i] : 0;
        int64_t hi = shape[2 + i] + (includePad ? pads[spatial + i] : 0);
        int64_t inside = 0;
        for (int64_t k = 0; k < (*kernel)[i]; ++k) {
          int64_t p = o * strides[i] + k * dilations[i] - pads[i];
          inside += p >= lo && p < hi;
        }
        count *= inside;
      }
      counts.setDouble(at, double(std::max<int64_t>(count, 1)));
    }
    auto mean = ctx.binary<DivOp>(acc, ctx.constant(counts));
    if (failed(mean))
      return failure();
    acc = *mean;
  }
  ctx.setOutput(0, acc);
  return success();
}

/// MaxUnpool: zeros of the output shape with each value of X written at its
/// index (MaxPool's Indices: flat positions in the output). Per (n, c)
/// plane, every index is compared with every output position; each
/// position takes the value of the last index that names it. An index
/// outside its plane writes nothing.
LogicalResult convertMaxUnpool(NodeContext &ctx) {
  if (failed(requireImage(ctx, 3)))
    return failure();
  auto type = ctx.inputType(0), indices = ctx.inputType(1);
  if (!indices.hasStaticShape() || indices.getShape() != type.getShape() ||
      !indices.getElementType().isInteger())
    return ctx.fail("I must be an integer tensor of X's shape");
  int64_t spatial = type.getRank() - 2;
  auto kernel = ctx.attrInts("kernel_shape");
  if (!kernel || int64_t(kernel->size()) != spatial)
    return ctx.fail("kernel_shape must give " + Twine(spatial) + " sizes");
  SmallVector<int64_t> strides =
      ctx.attrInts("strides").value_or(SmallVector<int64_t>(spatial, 1));
  SmallVector<int64_t> pads =
      ctx.attrInts("pads").value_or(SmallVector<int64_t>(2 * spatial, 0));
  if (int64_t(strides.size()) != spatial || int64_t(pads.size()) != 2 * spatial)
    return ctx.fail("strides and pads must match the " + Twine(spatial) +
                    " spatial dimensions");
  SmallVector<int64_t> outShape = {type.getDimSize(0), type.getDimSize(1)};
  for (int64_t i = 0; i < spatial; ++i)
    outShape.push_back((type.getDimSize(2 + i) - 1) * strides[i] - pads[i] -
                       pads[spatial + i] + (*kernel)[i]);
  // output_shape pads the default output at the end of each spatial
  // dimension (the indices address the default shape).
  SmallVector<int64_t> finalShape(outShape);
  if (ctx.hasInput(2)) {
    auto given = ctx.constantInts(2, "output_shape");
    if (failed(given))
      return failure();
    bool fits = int64_t(given->size()) == type.getRank() &&
                (*given)[0] == outShape[0] && (*given)[1] == outShape[1];
    for (int64_t i = 2; fits && i < type.getRank(); ++i)
      fits = (*given)[i] >= outShape[i];
    if (!fits)
      return ctx.fail("output_shape must be [N, C, ...] of X's N and C, no "
                      "smaller than the default output");
    finalShape.assign(given->begin(), given->end());
  }
  int64_t planes = outShape[0] * outShape[1], rows = 1, count = 1;
  for (int64_t i = 0; i < spatial; ++i) {
    if (outShape[2 + i] < 1)
      return ctx.fail("the output's spatial sizes must be positive");
    rows *= outShape[2 + i];
    count *= type.getDimSize(2 + i);
  }
  if (planes * count * rows > (int64_t(1) << 26))
    return ctx.fail(Twine(planes) + " planes of " + Twine(count) +
                    " values over " + Twine(rows) +
                    " positions compare more than 2^26 elements");
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type(), element = type.getElementType();
  Value idx = ctx.reshape(ctx.input(1), {planes, count, 1});
  if (indices.getElementType() != i64)
    idx = ctx.cast(idx, i64);
  ConstantTensor base(RankedTensorType::get({planes, 1, 1}, i64));
  ConstantTensor position(RankedTensorType::get({1, 1, rows}, i64));
  for (int64_t p = 0; p < planes; ++p)
    base.setInt(p, p * rows);
  for (int64_t r = 0; r < rows; ++r)
    position.setInt(r, r);
  auto local = ctx.binary<SubOp>(idx, ctx.constant(base));
  if (failed(local))
    return failure();
  auto hit = ctx.binary<EqualOp>(*local, ctx.constant(position), true);
  if (failed(hit))
    return failure();
  auto last = lastWriter(ctx, *hit, 1);
  if (failed(last))
    return failure();
  auto rowsType = RankedTensorType::get({planes, rows}, element);
  Value picked = ctx.create<GatherElementsOp>(
      rowsType, ctx.reshape(ctx.input(0), {planes, count}), last->from,
      b.getI64IntegerAttr(1));
  Value result = ctx.create<SelectOp>(rowsType, last->written, picked,
                                      ctx.splat(element, {}, 0));
  result = ctx.reshape(result, outShape);
  SmallVector<int64_t> grown(outShape);
  for (int64_t i = 2; i < type.getRank(); ++i) {
    if (finalShape[i] == grown[i])
      continue;
    SmallVector<int64_t> edge(grown);
    edge[i] = finalShape[i] - grown[i];
    grown[i] = finalShape[i];
    result =
        ctx.create<ConcatOp>(RankedTensorType::get(grown, element),
                             ValueRange{result, ctx.splat(element, edge, 0)},
                             b.getI64IntegerAttr(i));
  }
  ctx.setOutput(0, result);
  return success();
}

} // namespace

/// LRN: x / (bias + alpha / size * sum of x^2 over the `size` channels
/// around each one)^beta, the window clipped at the edges: squares padded
/// with zero channels, the window summed as `size` shifted slices.
LogicalResult convertLrn(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  if (!type.hasStaticShape() || type.getRank() < 3)
    return ctx.fail("needs a static [N, C, ...] input (rank >= 3)");
  if (!isa<FloatType>(type.getElementType()))
    return ctx.fail("X must be a float tensor");
  if (!ctx.hasAttr("size"))
    return ctx.fail("the size attribute is required");
  int64_t size = ctx.attrInt("size", 1);
  if (size < 1)
    return ctx.fail("size must be positive, not " + Twine(size));
  double alpha = ctx.attrFloat("alpha", 1e-4f),
         beta = ctx.attrFloat("beta", 0.75f), bias = ctx.attrFloat("bias", 1);
  Type element = type.getElementType();
  auto &b = ctx.getBuilder();
  int64_t channels = type.getDimSize(1);
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  auto squared = ctx.binary<MulOp>(ctx.input(0), ctx.input(0));
  if (failed(squared))
    return failure();
  SmallVector<int64_t> edge(type.getShape()), padded(type.getShape());
  SmallVector<Value> parts;
  if (before) {
    edge[1] = before;
    parts.push_back(ctx.splat(element, edge, 0));
  }
  parts.push_back(*squared);
  if (after) {
    edge[1] = after;
    parts.push_back(ctx.splat(element, edge, 0));
  }
  padded[1] = channels + size - 1;
  Value sq = parts.size() == 1
                 ? parts[0]
                 : ctx.create<ConcatOp>(RankedTensorType::get(padded, element),
                                        parts, b.getI64IntegerAttr(1));
  SmallVector<int64_t> steps(type.getRank(), 1);
  Value sum;
  for (int64_t i = 0; i < size; ++i) {
    SmallVector<int64_t> starts(type.getRank(), 0);
    starts[1] = i;
    Value window = ctx.create<SliceOp>(type, sq, b.getDenseI64ArrayAttr(starts),
                                       b.getDenseI64ArrayAttr(steps));
    if (!sum) {
      sum = window;
      continue;
    }
    auto next = ctx.binary<AddOp>(sum, window);
    if (failed(next))
      return failure();
    sum = *next;
  }
  auto scaled = ctx.binary<MulOp>(sum, ctx.splat(element, {}, alpha / size));
  if (failed(scaled))
    return failure();
  auto base = ctx.binary<AddOp>(*scaled, ctx.splat(element, {}, bias));
  if (failed(base))
    return failure();
  auto denominator = ctx.binary<PowOp>(*base, ctx.splat(element, {}, beta));
  if (failed(denominator))
    return failure();
  auto y = ctx.binary<DivOp>(ctx.input(0), *denominator);
  if (failed(y))
    return failure();
  ctx.setOutput(0, *y);
  return success();
}

void registerImageOps(ConverterRegistry &r) {
  r["LRN"] = convertLrn;
  r["MaxPool"] = [](NodeContext &c) { return convertPool(c, true); };
  r["MaxUnpool"] = convertMaxUnpool;
  r["AveragePool"] = [](NodeContext &c) { return convertPool(c, false); };
  r["BatchNormalization"] = convertBatchNorm;
  r["DepthToSpace"] = [](NodeContext &c) { return convertDepthSpace(c, true); };
  r["SpaceToDepth"] = [](NodeContext &c) {
    return convertDepthSpace(c, false);
  };
  r["GlobalAveragePool"] = convertGlobalPool<ReduceMeanOp>;
  r["GlobalMaxPool"] = convertGlobalPool<ReduceMaxOp>;
}

} // namespace gaon::onnx
