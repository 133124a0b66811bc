// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-cuda-fold-attention-layouts))' %s | FileCheck %s
// REQUIRES: cuda-compiler

// The exporter's head split (reshape + transpose [0, 2, 1, 3]) of Q, K and V
// and the head merge of the result fold into the attention's strides: no
// transposes are left, the reshapes (views) are.
// CHECK-LABEL: func.func @split_and_merge
// CHECK-NOT: gaon_graph.transpose
// CHECK: %[[X:.*]] = gaon_graph.reshape %arg0 : tensor<1x8x16xf16> -> tensor<1x8x2x8xf16>
// CHECK-NOT: gaon_graph.transpose
// CHECK: %[[A:.*]] = gaon_cuda.attention %[[X]], %[[X]], %[[X]] {key_bshd = true, query_bshd = true, result_bshd = true, scale = 5.000000e-01 : f64, value_bshd = true} : (tensor<1x8x2x8xf16>, tensor<1x8x2x8xf16>, tensor<1x8x2x8xf16>) -> tensor<1x8x2x8xf16>
// CHECK: gaon_graph.reshape %[[A]] : tensor<1x8x2x8xf16> -> tensor<1x8x16xf16>
func.func @split_and_merge(%x: tensor<1x8x16xf16>) -> tensor<1x8x16xf16> {
  %r = gaon_graph.reshape %x : tensor<1x8x16xf16> -> tensor<1x8x2x8xf16>
  %q = gaon_graph.transpose %r {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x2x8xf16> -> tensor<1x2x8x8xf16>
  %o = gaon_graph.attention %q, %q, %q {scale = 0.5 : f64} : (tensor<1x2x8x8xf16>, tensor<1x2x8x8xf16>, tensor<1x2x8x8xf16>) -> tensor<1x2x8x8xf16>
  %m = gaon_graph.transpose %o {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x8x8xf16> -> tensor<1x8x2x8xf16>
  %y = gaon_graph.reshape %m : tensor<1x8x2x8xf16> -> tensor<1x8x16xf16>
  return %y : tensor<1x8x16xf16>
}

// Only the operands that come from a head transpose fold; a result with
// two users keeps the [B, H, S, D] layout (and the mask stays as it is).
// CHECK-LABEL: func.func @partial
// CHECK: %[[A:.*]] = gaon_cuda.attention %arg0, %arg1, %arg1, %arg2 {causal = true, query_bshd = true, scale = 2.500000e-01 : f64} : (tensor<1x8x2x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x16xf32>
// CHECK: return %[[A]], %[[A]]
func.func @partial(%x: tensor<1x8x2x16xf32>, %k: tensor<1x2x8x16xf32>, %mask: tensor<1x1x8x8xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) {
  %q = gaon_graph.transpose %x {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x2x16xf32> -> tensor<1x2x8x16xf32>
  %o = gaon_graph.attention %q, %k, %k, %mask {causal = true, scale = 0.25 : f64} : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x16xf32>
  return %o, %o : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
}

// Other permutations are not head transposes: nothing changes.
// CHECK-LABEL: func.func @other_permutation
// CHECK: gaon_graph.transpose
// CHECK: gaon_graph.attention
func.func @other_permutation(%x: tensor<2x1x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %q = gaon_graph.transpose %x {perm = array<i64: 1, 0, 2, 3>} : tensor<2x1x8x16xf32> -> tensor<1x2x8x16xf32>
  %o = gaon_graph.attention %q, %q, %q {scale = 0.25 : f64} : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
