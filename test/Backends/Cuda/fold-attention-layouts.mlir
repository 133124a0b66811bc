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

// Q, K and V split from one fused projection [B, S, (2 + 1 + 1) x 8] (four
// query heads, grouped-query K and V with one head each) become head ranges
// of its [B, S, 4, 8] view: the split and the head transposes are gone.
// CHECK-LABEL: func.func @packed_qkv
// CHECK-NOT: gaon_graph.split
// CHECK: %[[P:.*]] = gaon_graph.reshape %arg0 : tensor<1x8x32xf16> -> tensor<1x8x4x8xf16>
// CHECK: gaon_cuda.attention %[[P]], %[[P]], %[[P]] {key_bshd = true, key_head_offset = 2 : i64, kv_heads = 1 : i64, query_bshd = true, result_bshd = true, scale = 5.000000e-01 : f64, value_bshd = true, value_head_offset = 3 : i64} : (tensor<1x8x4x8xf16>, tensor<1x8x4x8xf16>, tensor<1x8x4x8xf16>) -> tensor<1x8x2x8xf16>
// CHECK-NOT: gaon_graph.split
// CHECK-NOT: gaon_graph.transpose
func.func @packed_qkv(%qkv: tensor<1x8x32xf16>) -> tensor<1x8x2x8xf16> {
  %q2, %k2, %v2 = gaon_graph.split %qkv {axis = 2 : i64} : tensor<1x8x32xf16> -> tensor<1x8x16xf16>, tensor<1x8x8xf16>, tensor<1x8x8xf16>
  %qr = gaon_graph.reshape %q2 : tensor<1x8x16xf16> -> tensor<1x8x2x8xf16>
  %kr = gaon_graph.reshape %k2 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %vr = gaon_graph.reshape %v2 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %q = gaon_graph.transpose %qr {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x2x8xf16> -> tensor<1x2x8x8xf16>
  %k = gaon_graph.transpose %kr {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %v = gaon_graph.transpose %vr {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %o = gaon_graph.attention %q, %k, %v {scale = 0.5 : f64} : (tensor<1x2x8x8xf16>, tensor<1x1x8x8xf16>, tensor<1x1x8x8xf16>) -> tensor<1x2x8x8xf16>
  %m = gaon_graph.transpose %o {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x8x8xf16> -> tensor<1x8x2x8xf16>
  return %m : tensor<1x8x2x8xf16>
}

// No head ranges when the value does not come from the same split, or when
// a part does not start at a whole head (a 4-wide part before 8-wide
// heads): the splits stay, the transposes still fold.
// CHECK-LABEL: func.func @not_packed
// CHECK: gaon_graph.split %arg0
// CHECK: gaon_cuda.attention
// CHECK-NOT: head_offset
// CHECK-SAME: key_bshd = true
// CHECK: gaon_graph.split %arg2
// CHECK: gaon_cuda.attention
// CHECK-NOT: head_offset
// CHECK-SAME: value_bshd = true
// CHECK-NOT: gaon_graph.transpose
func.func @not_packed(%qk: tensor<1x8x16xf16>, %vin: tensor<1x8x8xf16>, %odd: tensor<1x8x28xf16>) -> (tensor<1x8x1x8xf16>, tensor<1x8x1x8xf16>) {
  %q1, %k1 = gaon_graph.split %qk {axis = 2 : i64} : tensor<1x8x16xf16> -> tensor<1x8x8xf16>, tensor<1x8x8xf16>
  %qr = gaon_graph.reshape %q1 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %kr = gaon_graph.reshape %k1 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %vr = gaon_graph.reshape %vin : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %q = gaon_graph.transpose %qr {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %k = gaon_graph.transpose %kr {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %v = gaon_graph.transpose %vr {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %o = gaon_graph.attention %q, %k, %v {scale = 0.5 : f64} : (tensor<1x1x8x8xf16>, tensor<1x1x8x8xf16>, tensor<1x1x8x8xf16>) -> tensor<1x1x8x8xf16>
  %m = gaon_graph.transpose %o {perm = array<i64: 0, 2, 1, 3>} : tensor<1x1x8x8xf16> -> tensor<1x8x1x8xf16>
  %pad, %q3, %k3, %v3 = gaon_graph.split %odd {axis = 2 : i64} : tensor<1x8x28xf16> -> tensor<1x8x4xf16>, tensor<1x8x8xf16>, tensor<1x8x8xf16>, tensor<1x8x8xf16>
  %qr3 = gaon_graph.reshape %q3 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %kr3 = gaon_graph.reshape %k3 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %vr3 = gaon_graph.reshape %v3 : tensor<1x8x8xf16> -> tensor<1x8x1x8xf16>
  %qt = gaon_graph.transpose %qr3 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %kt = gaon_graph.transpose %kr3 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %vt = gaon_graph.transpose %vr3 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x1x8xf16> -> tensor<1x1x8x8xf16>
  %o3 = gaon_graph.attention %qt, %kt, %vt {scale = 0.5 : f64} : (tensor<1x1x8x8xf16>, tensor<1x1x8x8xf16>, tensor<1x1x8x8xf16>) -> tensor<1x1x8x8xf16>
  %m3 = gaon_graph.transpose %o3 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x1x8x8xf16> -> tensor<1x8x1x8xf16>
  return %m, %m3 : tensor<1x8x1x8xf16>, tensor<1x8x1x8xf16>
}
