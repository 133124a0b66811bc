//===- ConstantOps.cpp - ONNX constants, ranges, EyeLike and windows ------===//

#include "../NodeContext.h"
#include "../TensorProtoReader.h"

#include <cmath>

using namespace mlir;
using namespace gaon::graph;

namespace gaon::onnx {
namespace {

/// A constant from a list of numbers with element type `element`.
template <typename Range>
Value listConstant(NodeContext &ctx, Type element, const Range &values,
                   bool scalar) {
  SmallVector<int64_t> shape;
  if (!scalar)
    shape.push_back(values.size());
  ConstantTensor tensor(RankedTensorType::get(shape, element));
  int64_t i = 0;
  for (auto v : values) {
    // Integers go through setInt: int64 values above 2^53 (INT64_MAX as a
    // Slice end) do not survive a round trip through double.
    if (tensor.isFloat())
      tensor.setDouble(i++, double(v));
    else
      tensor.setInt(i++, int64_t(v));
  }
  return ctx.constant(tensor);
}

LogicalResult convertConstant(NodeContext &ctx) {
  auto &b = ctx.getBuilder();
  if (const auto *a = ctx.attr("value")) {
    std::string error;
    // Tensor attributes cannot reference external files of their own.
    auto tensor = readTensorProto(ctx.getContext(), a->t(), ".", error);
    if (!tensor)
      return ctx.fail("Constant value: " + error);
    ctx.setOutput(0, ctx.constant(*tensor));
  } else if (const auto *a = ctx.attr("value_float")) {
    ctx.setOutput(0, ctx.splat(b.getF32Type(), {}, a->f()));
  } else if (const auto *a = ctx.attr("value_floats")) {
    ctx.setOutput(0, listConstant(ctx, b.getF32Type(), a->floats(), false));
  } else if (const auto *a = ctx.attr("value_int")) {
    ctx.setOutput(0, listConstant(ctx, b.getI64Type(),
                                  std::vector<int64_t>{a->i()}, true));
  } else if (const auto *a = ctx.attr("value_ints")) {
    ctx.setOutput(0, listConstant(ctx, b.getI64Type(), a->ints(), false));
  } else {
    return ctx.fail("Constant without a supported value attribute (sparse "
                    "and string constants are not supported)");
  }
  return success();
}

LogicalResult convertConstantOfShape(NodeContext &ctx) {
  auto shape = ctx.constantInts(0, "the shape");
  if (failed(shape))
    return failure();
  if (llvm::any_of(*shape, [](int64_t d) { return d < 0; }))
    return ctx.fail("ConstantOfShape has a negative dimension");
  if (const auto *a = ctx.attr("value")) {
    std::string error;
    auto tensor = readTensorProto(ctx.getContext(), a->t(), ".", error);
    if (!tensor || tensor->getNumElements() != 1)
      return ctx.fail("ConstantOfShape value must be a one-element tensor");
    // Splat the element itself: a round trip through double would change
    // int64 values above 2^53.
    auto one = cast<DenseElementsAttr>(tensor->toAttr());
    auto type = RankedTensorType::get(*shape, one.getElementType());
    ctx.setOutput(
        0, ConstantOp::create(ctx.getBuilder(), ctx.getLoc(),
                              DenseElementsAttr::get(
                                  type, *one.getValues<Attribute>().begin())));
    return success();
  }
  ctx.setOutput(0, ctx.splat(ctx.getBuilder().getF32Type(), *shape, 0.0));
  return success();
}

LogicalResult convertRange(NodeContext &ctx) {
  auto start = ctx.constantInput(0), limit = ctx.constantInput(1),
       delta = ctx.constantInput(2);
  if (!start || !limit || !delta)
    return ctx.fail("Range bounds must be compile-time constants");
  if (start->getNumElements() != 1 || limit->getNumElements() != 1 ||
      delta->getNumElements() != 1)
    return ctx.fail("Range bounds must be scalars");
  double s = start->getDouble(0), l = limit->getDouble(0),
         d = delta->getDouble(0);
  if (d == 0)
    return ctx.fail("Range delta is zero");
  double steps = std::ceil((l - s) / d);
  if (!(steps <= double(int64_t(1) << 31)))
    return ctx.fail("Range has too many elements");
  int64_t count = std::max<int64_t>(0, int64_t(steps));
  ConstantTensor result(
      RankedTensorType::get({count}, start->getType().getElementType()));
  for (int64_t i = 0; i < count; ++i) {
    if (result.isFloat())
      result.setDouble(i, s + double(i) * d);
    else
      result.setInt(i, start->getInt(0) + i * delta->getInt(0));
  }
  ctx.setOutput(0, ctx.constant(result));
  return success();
}

/// EyeLike: ones on diagonal k of a 2-D tensor of the input's shape, in
/// `dtype` (default the input's element type).
LogicalResult convertEyeLike(NodeContext &ctx) {
  auto type = ctx.inputType(0);
  if (type.getRank() != 2 || !type.hasStaticShape())
    return ctx.fail("the input must be 2-D with a static shape");
  Type element = type.getElementType();
  if (ctx.hasAttr("dtype")) {
    element = getElementType(ctx.getContext(), ctx.attrInt("dtype", 0));
    if (!element)
      return ctx.fail("unsupported dtype " + Twine(ctx.attrInt("dtype", 0)));
  }
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  int64_t k = ctx.attrInt("k", 0);
  ConstantTensor eye(RankedTensorType::get({rows, cols}, element));
  for (int64_t r = 0; r < rows; ++r)
    if (r + k >= 0 && r + k < cols)
      eye.setDouble(r * cols + r + k, 1.0);
  ctx.setOutput(0, ctx.constant(eye));
  return success();
}

/// HannWindow, HammingWindow and BlackmanWindow of a compile-time size:
/// sum_k a_k cos(2 pi k n / d) over n < size, with d = size (periodic, the
/// default) or size - 1 (symmetric), folded into a constant.
LogicalResult convertWindow(NodeContext &ctx, ArrayRef<double> coeffs) {
  auto size = ctx.constantInput(0);
  if (!size || size->getNumElements() != 1)
    return ctx.fail("size (input 0) must be a compile-time constant scalar; "
                    "its value depends on the model's inputs");
  int64_t n = size->getInt(0);
  if (n < 0)
    return ctx.fail("size must not be negative, not " + Twine(n));
  Type element =
      getElementType(ctx.getContext(), ctx.attrInt("output_datatype", 1));
  if (!element)
    return ctx.fail("unsupported output_datatype " +
                    Twine(ctx.attrInt("output_datatype", 1)));
  double d = ctx.attrInt("periodic", 1) ? double(n) : double(n - 1);
  ConstantTensor window(RankedTensorType::get({n}, element));
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    for (size_t k = 0; k < coeffs.size(); ++k)
      v += coeffs[k] * (d > 0 ? std::cos(2 * M_PI * double(k) * i / d) : 1.0);
    window.setDouble(i, v);
  }
  ctx.setOutput(0, ctx.constant(window));
  return success();
}

/// MelWeightMatrix of compile-time arguments, folded: [dft_length / 2 + 1,
/// num_mel_bins] triangles between num_mel_bins + 2 points evenly spaced in
/// mel (2595 log10(1 + f / 700)) from lower_edge_hertz to upper_edge_hertz,
/// each mapped to the DFT bin floor((dft_length + 1) f / sample_rate), as
/// the ONNX reference and onnxruntime compute them.
LogicalResult convertMelWeightMatrix(NodeContext &ctx) {
  double args[5];
  const char *names[5] = {"num_mel_bins", "dft_length", "sample_rate",
                          "lower_edge_hertz", "upper_edge_hertz"};
  for (int i = 0; i < 5; ++i) {
    auto value = ctx.constantInput(i);
    if (!value || value->getNumElements() != 1)
      return ctx.fail(Twine(names[i]) + " (input " + Twine(i) +
                      ") must be a compile-time constant scalar; its value "
                      "depends on the model's inputs");
    args[i] = value->getDouble(0);
  }
  int64_t bands = int64_t(args[0]), length = int64_t(args[1]),
          rate = int64_t(args[2]);
  if (bands < 1 || length < 1 || rate < 1 || args[3] < 0 || args[4] <= args[3])
    return ctx.fail("needs num_mel_bins, dft_length, sample_rate >= 1 and "
                    "0 <= lower_edge_hertz < upper_edge_hertz");
  Type element =
      getElementType(ctx.getContext(), ctx.attrInt("output_datatype", 1));
  if (!element)
    return ctx.fail("unsupported output_datatype " +
                    Twine(ctx.attrInt("output_datatype", 1)));
  int64_t bins = length / 2 + 1;
  auto mel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
  double low = mel(args[3]), step = (mel(args[4]) - low) / double(bands + 2);
  SmallVector<int64_t> point(bands + 2);
  for (int64_t i = 0; i < bands + 2; ++i) {
    double hz = 700 * (std::pow(10.0, (low + step * double(i)) / 2595) - 1);
    point[i] = int64_t(std::floor(double(length + 1) * hz / double(rate)));
    if (point[i] < 0 || point[i] >= bins)
      return ctx.fail("mel point " + Twine(i) + " falls on DFT bin " +
                      Twine(point[i]) + ", outside the " + Twine(bins) +
                      " bins (upper_edge_hertz above half the sample rate?)");
  }
  ConstantTensor weights(RankedTensorType::get({bins, bands}, element));
  for (int64_t i = 0; i < bands; ++i) {
    int64_t left = point[i], center = point[i + 1], right = point[i + 2];
    if (center == left)
      weights.setDouble(center * bands + i, 1);
    else
      for (int64_t j = left; j <= center; ++j)
        weights.setDouble(j * bands + i,
                          double(j - left) / double(center - left));
    for (int64_t j = center; j < right; ++j)
      weights.setDouble(j * bands + i,
                        double(right - j) / double(right - center));
  }
  ctx.setOutput(0, ctx.constant(weights));
  return success();
}

} // namespace

void registerConstantOps(ConverterRegistry &r) {
  r["MelWeightMatrix"] = convertMelWeightMatrix;
  r["HannWindow"] = [](NodeContext &c) {
    return convertWindow(c, {0.5, -0.5});
  };
  r["HammingWindow"] = [](NodeContext &c) {
    return convertWindow(c, {25.0 / 46.0, -21.0 / 46.0});
  };
  r["BlackmanWindow"] = [](NodeContext &c) {
    return convertWindow(c, {0.42, -0.5, 0.08});
  };
  r["Constant"] = convertConstant;
  r["ConstantOfShape"] = convertConstantOfShape;
  r["Range"] = convertRange;
  r["EyeLike"] = convertEyeLike;
}

} // namespace gaon::onnx
