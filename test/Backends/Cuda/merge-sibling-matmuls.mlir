// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-cuda-merge-sibling-matmuls))' %s | FileCheck %s
// REQUIRES: cuda-compiler

// Q, K and V projections of one input with constant weights and biases
// become one matmul by the concatenated weights [1, 2 + 2 + 2] (rows of
// W_q, W_k, W_v side by side), the concatenated bias (whichever side of
// the add it was on), and a split on the last axis.
// CHECK-LABEL: func.func @qkv
// CHECK: %[[W:.*]] = gaon_graph.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<1x6xf32>
// CHECK: %[[M:.*]] = gaon_graph.matmul %arg0, %[[W]] : (tensor<1x2x1xf32>, tensor<1x6xf32>) -> tensor<1x2x6xf32>
// CHECK: %[[B:.*]] = gaon_graph.constant dense<[5.000000e-01, 5.000000e-01, 1.500000e+00, 1.500000e+00, 2.500000e+00, 2.500000e+00]> : tensor<6xf32>
// CHECK: %[[A:.*]] = gaon_graph.add %[[M]], %[[B]]
// CHECK: %[[S:.*]]:3 = gaon_graph.split %[[A]] {axis = 2 : i64} : tensor<1x2x6xf32> -> tensor<1x2x2xf32>, tensor<1x2x2xf32>, tensor<1x2x2xf32>
// CHECK-NOT: gaon_graph.matmul
// CHECK: gaon_graph.reshape %[[S]]#0
// CHECK: gaon_graph.reshape %[[S]]#1
// CHECK: gaon_graph.reshape %[[S]]#2
func.func @qkv(%x: tensor<1x2x1xf32>) -> tensor<1x1x2x2xf32> {
  %wq = gaon_graph.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %wk = gaon_graph.constant dense<[[3.0, 4.0]]> : tensor<1x2xf32>
  %wv = gaon_graph.constant dense<[[5.0, 6.0]]> : tensor<1x2xf32>
  %bq = gaon_graph.constant dense<[0.5, 0.5]> : tensor<2xf32>
  %bk = gaon_graph.constant dense<[1.5, 1.5]> : tensor<2xf32>
  %bv = gaon_graph.constant dense<[2.5, 2.5]> : tensor<2xf32>
  %q0 = gaon_graph.matmul %x, %wq : (tensor<1x2x1xf32>, tensor<1x2xf32>) -> tensor<1x2x2xf32>
  %q1 = gaon_graph.add %q0, %bq : (tensor<1x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2xf32>
  %k0 = gaon_graph.matmul %x, %wk : (tensor<1x2x1xf32>, tensor<1x2xf32>) -> tensor<1x2x2xf32>
  %k1 = gaon_graph.add %bk, %k0 : (tensor<2xf32>, tensor<1x2x2xf32>) -> tensor<1x2x2xf32>
  %v0 = gaon_graph.matmul %x, %wv : (tensor<1x2x1xf32>, tensor<1x2xf32>) -> tensor<1x2x2xf32>
  %v1 = gaon_graph.add %v0, %bv : (tensor<1x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2xf32>
  %q = gaon_graph.reshape %q1 : tensor<1x2x2xf32> -> tensor<1x1x2x2xf32>
  %k = gaon_graph.reshape %k1 : tensor<1x2x2xf32> -> tensor<1x1x2x2xf32>
  %v = gaon_graph.reshape %v1 : tensor<1x2x2xf32> -> tensor<1x1x2x2xf32>
  %o = gaon_graph.attention %q, %k, %v {scale = 1.0 : f64} : (tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  return %o : tensor<1x1x2x2xf32>
}

// Projections whose results do not reach attention (an MLP's gate and up)
// stay apart: their split would run as a copy. A projection by a
// non-constant weight is not merged either.
// CHECK-LABEL: func.func @not_merged
// CHECK: gaon_graph.matmul %arg0, %{{.*}} : (tensor<2x4xf16>, tensor<4x8xf16>)
// CHECK: gaon_graph.matmul %arg0, %{{.*}} : (tensor<2x4xf16>, tensor<4x8xf16>)
// CHECK: gaon_graph.matmul %arg0, %arg1 : (tensor<2x4xf16>, tensor<4x8xf16>)
// CHECK-NOT: gaon_graph.split
func.func @not_merged(%x: tensor<2x4xf16>, %w: tensor<4x8xf16>) -> (tensor<2x8xf16>, tensor<1x1x2x8xf16>) {
  %wg = gaon_graph.constant dense<1.0> : tensor<4x8xf16>
  %wu = gaon_graph.constant dense<2.0> : tensor<4x8xf16>
  %g = gaon_graph.matmul %x, %wg : (tensor<2x4xf16>, tensor<4x8xf16>) -> tensor<2x8xf16>
  %u = gaon_graph.matmul %x, %wu : (tensor<2x4xf16>, tensor<4x8xf16>) -> tensor<2x8xf16>
  %p = gaon_graph.mul %g, %u : (tensor<2x8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  %qk = gaon_graph.matmul %x, %w : (tensor<2x4xf16>, tensor<4x8xf16>) -> tensor<2x8xf16>
  %q = gaon_graph.reshape %qk : tensor<2x8xf16> -> tensor<1x1x2x8xf16>
  %o = gaon_graph.attention %q, %q, %q {scale = 1.0 : f64} : (tensor<1x1x2x8xf16>, tensor<1x1x2x8xf16>, tensor<1x1x2x8xf16>) -> tensor<1x1x2x8xf16>
  return %p, %o : tensor<2x8xf16>, tensor<1x1x2x8xf16>
}
