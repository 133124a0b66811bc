// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-npu-fold-attention-layouts))' %s | FileCheck %s

// GPT-2: Q, K, V sliced out of one fused projection, heads split by
// reshape + transpose and merged back: one gaon_npu.attention reads the
// projection at column offsets 0, 8, 16 and writes the merged rows; the
// split, transposes and their reshapes are gone.
// CHECK-LABEL: func.func @fused_qkv
// CHECK-NOT: gaon_graph.split
// CHECK-NOT: gaon_graph.transpose
// CHECK: %[[A:.*]] = gaon_npu.attention %arg0, %arg0, %arg0 mask %arg1 {causal = true, head_dim = 4 : i64, heads = 2 : i64, key_offset = 8 : i64, kv_heads = 2 : i64, query_offset = 0 : i64, scale = 5.000000e-01 : f64, value_dim = 4 : i64, value_offset = 16 : i64} : (tensor<1x3x24xf32>, tensor<1x3x24xf32>, tensor<1x3x24xf32>, tensor<1x1x1x3xf32>) -> tensor<1x3x8xf32>
// CHECK: %[[M:.*]] = gaon_graph.reshape %[[A]] : tensor<1x3x8xf32> -> tensor<1x3x2x4xf32>
// CHECK: gaon_graph.reshape %[[M]] : tensor<1x3x2x4xf32> -> tensor<1x3x8xf32>
func.func @fused_qkv(%qkv: tensor<1x3x24xf32>, %pad: tensor<1x1x1x3xf32>) -> tensor<1x3x8xf32> {
  %s:3 = gaon_graph.split %qkv {axis = 2 : i64} : tensor<1x3x24xf32> -> tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>
  %q0 = gaon_graph.reshape %s#0 : tensor<1x3x8xf32> -> tensor<1x3x2x4xf32>
  %q = gaon_graph.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x3x2x4xf32> -> tensor<1x2x3x4xf32>
  %k0 = gaon_graph.reshape %s#1 : tensor<1x3x8xf32> -> tensor<1x3x2x4xf32>
  %k = gaon_graph.transpose %k0 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x3x2x4xf32> -> tensor<1x2x3x4xf32>
  %v0 = gaon_graph.reshape %s#2 : tensor<1x3x8xf32> -> tensor<1x3x2x4xf32>
  %v = gaon_graph.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x3x2x4xf32> -> tensor<1x2x3x4xf32>
  %a = gaon_graph.attention %q, %k, %v, %pad {causal = true, scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x4xf32>
  %m = gaon_graph.transpose %a {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x3x4xf32> -> tensor<1x3x2x4xf32>
  %r = gaon_graph.reshape %m : tensor<1x3x2x4xf32> -> tensor<1x3x8xf32>
  return %r : tensor<1x3x8xf32>
}

// BERT: separate Q, K, V projections (offset 0 in each), grouped-query
// shapes (1 KV head).
// CHECK-LABEL: func.func @separate_projections
// CHECK: gaon_npu.attention %arg0, %arg1, %arg2 {head_dim = 4 : i64, heads = 2 : i64, key_offset = 0 : i64, kv_heads = 1 : i64, query_offset = 0 : i64, scale = 5.000000e-01 : f64, value_dim = 4 : i64, value_offset = 0 : i64} : (tensor<2x3x8xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x3x8xf32>
func.func @separate_projections(%x: tensor<2x3x8xf32>, %y: tensor<2x5x4xf32>, %z: tensor<2x5x4xf32>) -> tensor<2x3x2x4xf32> {
  %q0 = gaon_graph.reshape %x : tensor<2x3x8xf32> -> tensor<2x3x2x4xf32>
  %q = gaon_graph.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : tensor<2x3x2x4xf32> -> tensor<2x2x3x4xf32>
  %k0 = gaon_graph.reshape %y : tensor<2x5x4xf32> -> tensor<2x5x1x4xf32>
  %k = gaon_graph.transpose %k0 {perm = array<i64: 0, 2, 1, 3>} : tensor<2x5x1x4xf32> -> tensor<2x1x5x4xf32>
  %v0 = gaon_graph.reshape %z : tensor<2x5x4xf32> -> tensor<2x5x1x4xf32>
  %v = gaon_graph.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : tensor<2x5x1x4xf32> -> tensor<2x1x5x4xf32>
  %a = gaon_graph.attention %q, %k, %v {scale = 0.5 : f64} : (tensor<2x2x3x4xf32>, tensor<2x1x5x4xf32>, tensor<2x1x5x4xf32>) -> tensor<2x2x3x4xf32>
  %m = gaon_graph.transpose %a {perm = array<i64: 0, 2, 1, 3>} : tensor<2x2x3x4xf32> -> tensor<2x3x2x4xf32>
  return %m : tensor<2x3x2x4xf32>
}

// Operands already in [B, H, S, D] (no head transpose), or a result that
// is not merged back: nothing folds.
// CHECK-LABEL: func.func @no_transposes
// CHECK-NOT: gaon_npu.attention
// CHECK: gaon_graph.attention
func.func @no_transposes(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>) -> tensor<1x3x2x4xf32> {
  %a = gaon_graph.attention %q, %k, %v {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %m = gaon_graph.transpose %a {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x3x4xf32> -> tensor<1x3x2x4xf32>
  return %m : tensor<1x3x2x4xf32>
}

// CHECK-LABEL: func.func @result_not_merged
// CHECK-NOT: gaon_npu.attention
// CHECK: gaon_graph.attention
func.func @result_not_merged(%x: tensor<1x3x8xf32>) -> tensor<1x2x3x4xf32> {
  %q0 = gaon_graph.reshape %x : tensor<1x3x8xf32> -> tensor<1x3x2x4xf32>
  %q = gaon_graph.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : tensor<1x3x2x4xf32> -> tensor<1x2x3x4xf32>
  %a = gaon_graph.attention %q, %q, %q {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %a : tensor<1x2x3x4xf32>
}
