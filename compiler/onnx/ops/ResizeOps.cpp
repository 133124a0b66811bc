//===- ResizeOps.cpp - ONNX Resize and Upsample ---------------------------===//
//
// Resize is separable: each resized axis, innermost first, is one gather of
// the input positions every output position reads (1 for nearest, 2 for
// linear, 4 for cubic; constant indices, clamped to the edge as ONNX's
// reference pads) times constant weights, summed over the taps. The
// coordinate of output position o on the input follows
// coordinate_transformation_mode; tf_crop_and_resize's positions outside
// the input take extrapolation_value.
//
//===----------------------------------------------------------------------===//

#include "../NodeContext.h"

#include <cmath>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

struct ResizeAttrs {
  std::string mode = "nearest", coordinates = "half_pixel",
              nearest = "round_prefer_floor";
  double cubicA = -0.75, extrapolation = 0.0;
  bool excludeOutside = false;
};

/// Where output position `o` lies on an input axis of `in` positions.
double sourceCoordinate(const ResizeAttrs &a, int64_t o, int64_t in,
                        int64_t out, double scale, double roiStart,
                        double roiEnd) {
  const std::string &m = a.coordinates;
  if (m == "align_corners") {
    // The resized length is in * scale, unrounded, as ONNX's reference
    // computes it (with sizes given, scale = out / in: the same).
    double length = double(in) * scale;
    return length <= 1.0 ? 0.0 : double(o) * double(in - 1) / (length - 1.0);
  }
  if (m == "tf_half_pixel_for_nn") // opset 11 only
    return (double(o) + 0.5) / scale;
  if (m == "asymmetric")
    return double(o) / scale;
  if (m == "pytorch_half_pixel")
    return out > 1 ? (double(o) + 0.5) / scale - 0.5 : 0.0;
  if (m == "tf_crop_and_resize")
    return out > 1 ? roiStart * double(in - 1) +
                         double(o) * (roiEnd - roiStart) * double(in - 1) /
                             double(out - 1)
                   : 0.5 * (roiStart + roiEnd) * double(in - 1);
  if (m == "half_pixel_symmetric") {
    double adjustment = double(out) / (scale * double(in));
    double center = double(in) / 2.0;
    double offset = center * (1.0 - adjustment);
    return offset + (double(o) + 0.5) / scale - 0.5;
  }
  return (double(o) + 0.5) / scale - 0.5; // half_pixel
}

int64_t nearestIndex(const std::string &mode, double x) {
  double f = std::floor(x);
  if (mode == "floor")
    return int64_t(f);
  if (mode == "ceil")
    return int64_t(std::ceil(x));
  double frac = x - f;
  if (frac == 0.5)
    return int64_t(mode == "round_prefer_ceil" ? f + 1 : f);
  return int64_t(std::round(x));
}

double cubicWeight(double t, double a) {
  t = std::fabs(t);
  if (t <= 1.0)
    return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2.0)
    return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0.0;
}

/// Resizes `x` along `axis` from `in` to `out` positions.
FailureOr<Value> resizeAxis(NodeContext &ctx, const ResizeAttrs &a, Value x,
                            int64_t axis, int64_t out, double scale,
                            double roiStart, double roiEnd) {
  auto type = tensorType(x);
  Type element = type.getElementType();
  int64_t in = type.getDimSize(axis), rank = type.getRank();
  int64_t taps = a.mode == "nearest" ? 1 : a.mode == "linear" ? 2 : 4;
  auto &b = ctx.getBuilder();
  Type i64 = b.getI64Type();
  ConstantTensor indices(RankedTensorType::get({out, taps}, i64));
  SmallVector<int64_t> weightShape(rank + 1, 1);
  weightShape[axis] = out;
  weightShape[axis + 1] = taps;
  ConstantTensor weights(RankedTensorType::get(weightShape, element));
  SmallVector<int64_t> maskShape(rank, 1);
  maskShape[axis] = out;
  ConstantTensor outside(RankedTensorType::get(maskShape, b.getI1Type()));
  bool anyOutside = false;
  auto clampIndex = [&](int64_t i) {
    return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1);
  };
  for (int64_t o = 0; o < out; ++o) {
    double src = sourceCoordinate(a, o, in, out, scale, roiStart, roiEnd);
    bool off = a.coordinates == "tf_crop_and_resize" &&
               (src < 0.0 || src > double(in - 1));
    outside.setDouble(o, off ? 1.0 : 0.0);
    anyOutside |= off;
    if (taps == 1) {
      indices.setInt(o, clampIndex(nearestIndex(a.nearest, src)));
      weights.setDouble(o, 1.0);
      continue;
    }
    double x0 = std::floor(src), s = src - x0;
    int64_t first = int64_t(x0) - (taps == 4 ? 1 : 0);
    SmallVector<double> w(taps);
    double total = 0;
    for (int64_t t = 0; t < taps; ++t) {
      int64_t at = first + t;
      w[t] = taps == 2 ? (t == 0 ? 1.0 - s : s)
                       : cubicWeight(double(at) - src, a.cubicA);
      if (a.excludeOutside && (at < 0 || at >= in))
        w[t] = 0.0;
      total += w[t];
    }
    for (int64_t t = 0; t < taps; ++t) {
      indices.setInt(o * taps + t, clampIndex(first + t));
      weights.setDouble(o * taps + t,
                        a.excludeOutside && total != 0 ? w[t] / total : w[t]);
    }
  }
  SmallVector<int64_t> gathered(type.getShape());
  gathered[axis] = out;
  if (taps == 1) {
    ConstantTensor flat(RankedTensorType::get({out}, i64));
    for (int64_t o = 0; o < out; ++o)
      flat.setInt(o, indices.getInt(o));
    x = ctx.create<GatherOp>(RankedTensorType::get(gathered, element), x,
                             ctx.constant(flat), b.getI64IntegerAttr(axis));
  } else {
    gathered.insert(gathered.begin() + axis + 1, taps);
    Value rows =
        ctx.create<GatherOp>(RankedTensorType::get(gathered, element), x,
                             ctx.constant(indices), b.getI64IntegerAttr(axis));
    auto weighted = ctx.binary<MulOp>(rows, ctx.constant(weights));
    if (failed(weighted))
      return failure();
    SmallVector<int64_t> summed(type.getShape());
    summed[axis] = out;
    x = ctx.create<ReduceSumOp>(RankedTensorType::get(summed, element),
                                *weighted, b.getDenseI64ArrayAttr({axis + 1}),
                                b.getBoolAttr(false));
  }
  if (anyOutside)
    x = ctx.create<SelectOp>(tensorType(x), ctx.constant(outside),
                             ctx.splat(element, {}, a.extrapolation), x);
  return x;
}

LogicalResult convertResize(NodeContext &ctx, bool upsample) {
  auto type = ctx.inputType(0);
  if (!type.hasStaticShape())
    return ctx.fail("needs a static input shape (fix it with --input-shape)");
  int64_t rank = type.getRank();
  ResizeAttrs a;
  a.mode = ctx.attrString("mode", "nearest");
  int64_t opset = ctx.getOpset();
  bool legacy = upsample || opset < 11;
  if (legacy) {
    // Upsample and Resize-10: asymmetric coordinates, floor for nearest.
    a.coordinates = "asymmetric";
    a.nearest = "floor";
  } else {
    a.coordinates =
        ctx.attrString("coordinate_transformation_mode", "half_pixel");
    a.nearest = ctx.attrString("nearest_mode", "round_prefer_floor");
    a.cubicA = ctx.attrFloat("cubic_coeff_a", -0.75f);
    a.excludeOutside = ctx.attrInt("exclude_outside", 0) != 0;
    a.extrapolation = ctx.attrFloat("extrapolation_value", 0.0f);
  }
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic")
    return ctx.fail("unknown mode '" + a.mode + "'");
  if (a.mode != "nearest" && !isa<FloatType>(type.getElementType()))
    return ctx.fail(a.mode + " interpolation needs a float input");
  static const char *modes[] = {"half_pixel",          "half_pixel_symmetric",
                                "pytorch_half_pixel",  "align_corners",
                                "asymmetric",          "tf_crop_and_resize",
                                "tf_half_pixel_for_nn"};
  if (!llvm::is_contained(modes, a.coordinates))
    return ctx.fail("unknown coordinate_transformation_mode '" + a.coordinates +
                    "'");
  static const char *nearestModes[] = {"round_prefer_floor",
                                       "round_prefer_ceil", "floor", "ceil"};
  if (!llvm::is_contained(nearestModes, a.nearest))
    return ctx.fail("unknown nearest_mode '" + a.nearest + "'");
  if (ctx.attrInt("antialias", 0) != 0)
    return ctx.fail("antialias is not supported");
  if (ctx.attrString("keep_aspect_ratio_policy", "stretch") != "stretch")
    return ctx.fail("keep_aspect_ratio_policy other than 'stretch' is not "
                    "supported");
  SmallVector<int64_t> axes = ctx.attrInts("axes").value_or(
      llvm::to_vector(llvm::seq<int64_t>(0, rank)));
  for (int64_t &axis : axes) {
    auto normalized = ctx.normalizeAxis(axis, rank);
    if (failed(normalized))
      return failure();
    axis = *normalized;
  }
  // Inputs: (X, scales) before opset 11, (X, roi, scales, sizes) after.
  int scalesInput = legacy ? 1 : 2, sizesInput = 3, roiInput = 1;
  SmallVector<double> scales(rank, 1.0), roiStart(rank, 0.0), roiEnd(rank, 1.0);
  SmallVector<int64_t> sizes(type.getShape());
  auto doubles = [&](int i, StringRef what) -> FailureOr<SmallVector<double>> {
    auto v = ctx.constantInput(i);
    if (!v)
      return ctx.fail(Twine(what) + " (input " + Twine(i) +
                      ") must be a compile-time constant; its value depends "
                      "on the model's inputs");
    SmallVector<double> out;
    for (int64_t k = 0; k < v->getNumElements(); ++k)
      out.push_back(v->getDouble(k));
    return out;
  };
  bool haveSizes = !legacy && ctx.hasInput(sizesInput) &&
                   ctx.inputType(sizesInput).getNumElements() > 0;
  bool haveScales = ctx.hasInput(scalesInput) &&
                    ctx.inputType(scalesInput).getNumElements() > 0;
  if (upsample && opset < 9)
    return ctx.fail("Upsample before opset 9 (scales as an attribute) is not "
                    "supported");
  if (haveSizes == haveScales)
    return ctx.fail("exactly one of scales and sizes must be given");
  StringRef given = haveScales ? "scales" : "sizes";
  auto s = doubles(haveScales ? scalesInput : sizesInput, given);
  if (failed(s))
    return failure();
  if (s->size() != axes.size())
    return ctx.fail(given + " must have one value per resized axis");
  for (auto [i, axis] : llvm::enumerate(axes)) {
    double v = (*s)[i];
    if (haveScales ? v <= 0 : v < 1)
      return ctx.fail(given + " must be positive");
    if (haveScales)
      scales[axis] = v;
    else
      sizes[axis] = int64_t(v);
  }
  if (a.coordinates == "tf_crop_and_resize") {
    if (!ctx.hasInput(roiInput))
      return ctx.fail("tf_crop_and_resize needs the roi input");
    auto r = doubles(roiInput, "roi");
    if (failed(r))
      return failure();
    if (r->size() != 2 * axes.size())
      return ctx.fail("roi must have two values per resized axis");
    for (auto [i, axis] : llvm::enumerate(axes)) {
      roiStart[axis] = (*r)[i];
      roiEnd[axis] = (*r)[axes.size() + i];
    }
  }
  for (int64_t d = 0; d < rank; ++d) {
    int64_t in = type.getDimSize(d);
    if (haveScales) {
      double extent =
          a.coordinates == "tf_crop_and_resize" ? roiEnd[d] - roiStart[d] : 1.0;
      sizes[d] = int64_t(std::floor(double(in) * extent * scales[d]));
    } else {
      scales[d] = double(sizes[d]) / double(in);
    }
    if (sizes[d] < 1)
      return ctx.fail("dimension " + Twine(d) + " would resize to nothing");
  }
  Value x = ctx.input(0);
  for (int64_t d = rank - 1; d >= 0; --d) {
    // An axis of one position stays; others unless cropped.
    bool same = sizes[d] == type.getDimSize(d);
    if (same && (sizes[d] == 1 ||
                 (scales[d] == 1.0 && a.coordinates != "tf_crop_and_resize")))
      continue;
    auto resized =
        resizeAxis(ctx, a, x, d, sizes[d], scales[d], roiStart[d], roiEnd[d]);
    if (failed(resized))
      return failure();
    x = *resized;
  }
  ctx.setOutput(0, x);
  return success();
}

} // namespace

void registerResizeOps(ConverterRegistry &r) {
  r["Resize"] = [](NodeContext &c) { return convertResize(c, false); };
  r["Upsample"] = [](NodeContext &c) { return convertResize(c, true); };
}

} // namespace gaon::onnx
