//===- interpreter_attention_test.cpp - Reference attention semantics -----===//
//
// gaon_graph.attention gives zeros for a query row whose every key is masked
// (as torch's scaled_dot_product_attention), which lets gaon-fuse-attention
// drop the exporters' isnan guard. The reference interpreter is the golden
// model the backends are held to, so its semantics are pinned here: masked
// rows are zeros, other rows are softmax(q k^T * scale + mask) v.
//
//===----------------------------------------------------------------------===//

#include "gaon/Compiler/Reference/GraphInterpreter.h"
#include "gaon/Dialect/Graph/GraphDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using gaon::graph::ConstantTensor;

constexpr const char *kAttention = R"mlir(
func.func @main(%q: tensor<1x1x3x2xf32>, %k: tensor<1x1x3x2xf32>,
                %v: tensor<1x1x3x2xf32>, %m: tensor<1x1x3x3xf32>)
    -> tensor<1x1x3x2xf32> {
  %a = gaon_graph.attention %q, %k, %v, %m {scale = 5.000000e-01 : f64}
    : (tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>,
       tensor<1x1x3x3xf32>) -> tensor<1x1x3x2xf32>
  return %a : tensor<1x1x3x2xf32>
}
)mlir";

ConstantTensor tensor(mlir::MLIRContext &ctx, llvm::ArrayRef<int64_t> shape,
                      const std::vector<double> &values) {
  ConstantTensor t(
      mlir::RankedTensorType::get(shape, mlir::Float32Type::get(&ctx)));
  for (size_t i = 0; i < values.size(); ++i)
    t.setDouble(int64_t(i), values[i]);
  return t;
}

TEST(InterpreterAttention, FullyMaskedRowGivesZeros) {
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::func::FuncDialect, gaon::graph::GraphDialect>();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(kAttention, &ctx);
  ASSERT_TRUE(module);
  auto func = *module->getOps<mlir::func::FuncOp>().begin();

  const double inf = INFINITY;
  std::vector<double> q = {1, 0, 0, 1, 1, 1}, k = {1, 0, 0, 1, 1, 1},
                      v = {1, 2, 3, 4, 5, 6};
  // Row 0 sees keys 0 and 1; row 1 sees no key at all; row 2 sees key 2.
  std::vector<double> mask = {0, 0, -inf, -inf, -inf, -inf, -inf, -inf, 0};
  auto out = gaon::reference::interpret(
      func, {tensor(ctx, {1, 1, 3, 2}, q), tensor(ctx, {1, 1, 3, 2}, k),
             tensor(ctx, {1, 1, 3, 2}, v), tensor(ctx, {1, 1, 3, 3}, mask)});
  ASSERT_TRUE(succeeded(out));
  const ConstantTensor &o = (*out)[0];

  // Row 0: scores 0.5 * [1, 0] -> weights e^0.5 / (e^0.5 + 1), 1 / (...).
  double w0 = std::exp(0.5) / (std::exp(0.5) + 1), w1 = 1 - w0;
  EXPECT_NEAR(o.getDouble(0), w0 * 1 + w1 * 3, 1e-6);
  EXPECT_NEAR(o.getDouble(1), w0 * 2 + w1 * 4, 1e-6);
  // Row 1: every key masked: zeros, not NaN.
  EXPECT_EQ(o.getDouble(2), 0.0);
  EXPECT_EQ(o.getDouble(3), 0.0);
  // Row 2: one key: its value.
  EXPECT_NEAR(o.getDouble(4), 5, 1e-6);
  EXPECT_NEAR(o.getDouble(5), 6, 1e-6);
}

} // namespace
