// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-npu-fuse-sibling-matmuls))' %s | FileCheck %s

// Three projections of the same activations with constant weights and
// biases (BERT's Q, K, V) become one matmul over the concatenated weights
// and biases, then a split; the concatenation interleaves the rows (row 0
// of each weight, then row 1 of each).
// CHECK-LABEL: func.func @qkv
// CHECK-DAG: %[[W:.*]] = gaon_graph.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 5.000000e+00, 9.000000e+00], [3.000000e+00, 4.000000e+00, 6.000000e+00, 1.000000e+01]]> : tensor<2x4xf32>
// CHECK-DAG: %[[B:.*]] = gaon_graph.constant dense<[1.000000e-01, 2.000000e-01, 3.000000e-01, 4.000000e-01]> : tensor<4xf32>
// CHECK: %[[M:.*]] = gaon_npu.matmul %arg0, %[[W]] bias %[[B]] : (tensor<3x2xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
// CHECK: %[[S:.*]]:3 = gaon_graph.split %[[M]] {axis = 1 : i64} : tensor<3x4xf32> -> tensor<3x2xf32>, tensor<3x1xf32>, tensor<3x1xf32>
// CHECK: return %[[S]]#0, %[[S]]#1, %[[S]]#2
func.func @qkv(%x: tensor<3x2xf32>) -> (tensor<3x2xf32>, tensor<3x1xf32>, tensor<3x1xf32>) {
  %wq = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %bq = gaon_graph.constant dense<[0.1, 0.2]> : tensor<2xf32>
  %wk = gaon_graph.constant dense<[[5.0], [6.0]]> : tensor<2x1xf32>
  %bk = gaon_graph.constant dense<[0.3]> : tensor<1xf32>
  %wv = gaon_graph.constant dense<[[9.0], [10.0]]> : tensor<2x1xf32>
  %bv = gaon_graph.constant dense<[0.4]> : tensor<1xf32>
  %q = gaon_npu.matmul %x, %wq bias %bq : (tensor<3x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %k = gaon_npu.matmul %x, %wk bias %bk : (tensor<3x2xf32>, tensor<2x1xf32>, tensor<1xf32>) -> tensor<3x1xf32>
  %v = gaon_npu.matmul %x, %wv bias %bv : (tensor<3x2xf32>, tensor<2x1xf32>, tensor<1xf32>) -> tensor<3x1xf32>
  return %q, %k, %v : tensor<3x2xf32>, tensor<3x1xf32>, tensor<3x1xf32>
}

// Different activations, a residual, or weights that are not constants
// keep their matmuls apart.
// CHECK-LABEL: func.func @not_siblings
// CHECK-NOT: gaon_graph.split
// CHECK-COUNT-4: gaon_npu.matmul
func.func @not_siblings(%x: tensor<3x2xf32>, %w: tensor<2x2xf32>, %h: tensor<3x2xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
  %c = gaon_graph.constant dense<1.0> : tensor<2x2xf32>
  %a = gaon_npu.matmul %x, %c {activation = "gelu"} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %b = gaon_npu.matmul %x, %c {activation = "relu"} : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %r = gaon_npu.matmul %x, %c residual %h : (tensor<3x2xf32>, tensor<2x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  %d = gaon_npu.matmul %x, %w : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  return %a, %b, %r, %d : tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<3x2xf32>
}
