// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-npu-fold-attention-scale))' %s | FileCheck %s

// A fused QKV projection read only by the attention: the power-of-two
// scale multiplies Q's weight columns and bias entries (columns 0..7 of
// 24: ones -> 0.5, bias 2 -> 1); K's and V's stay; the attention's scale
// becomes 1.
// CHECK-LABEL: func.func @fused_qkv
// CHECK-DAG: %[[W:.*]] = gaon_graph.constant dense<{{\[\[}}5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 5.000000e-01, 1.000000e+00, {{.*}}]]> : tensor<1x24xf32>
// CHECK-DAG: %[[B:.*]] = gaon_graph.constant dense<[1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 2.000000e+00, {{.*}}]> : tensor<24xf32>
// CHECK: %[[Q:.*]] = gaon_npu.matmul %arg0, %[[W]] bias %[[B]]
// CHECK: gaon_npu.attention %[[Q]], %[[Q]], %[[Q]] {{{.*}}scale = 1.000000e+00 : f64
func.func @fused_qkv(%x: tensor<1x3x1xf32>) -> tensor<1x3x8xf32> {
  %w = gaon_graph.constant dense<1.0> : tensor<1x24xf32>
  %b = gaon_graph.constant dense<2.0> : tensor<24xf32>
  %qkv = gaon_npu.matmul %x, %w bias %b : (tensor<1x3x1xf32>, tensor<1x24xf32>, tensor<24xf32>) -> tensor<1x3x24xf32>
  %a = gaon_npu.attention %qkv, %qkv, %qkv {heads = 2 : i64, kv_heads = 2 : i64, head_dim = 4 : i64, value_dim = 4 : i64, query_offset = 0 : i64, key_offset = 8 : i64, value_offset = 16 : i64, scale = 0.5 : f64} : (tensor<1x3x24xf32>, tensor<1x3x24xf32>, tensor<1x3x24xf32>) -> tensor<1x3x8xf32>
  return %a : tensor<1x3x8xf32>
}

// A scale that is not a power of two would round: it stays.
// CHECK-LABEL: func.func @inexact_scale
// CHECK: gaon_npu.attention {{.*}}scale = 3.000000e-01 : f64
func.func @inexact_scale(%x: tensor<1x3x1xf32>) -> tensor<1x3x8xf32> {
  %w = gaon_graph.constant dense<1.0> : tensor<1x24xf32>
  %qkv = gaon_npu.matmul %x, %w : (tensor<1x3x1xf32>, tensor<1x24xf32>) -> tensor<1x3x24xf32>
  %a = gaon_npu.attention %qkv, %qkv, %qkv {heads = 2 : i64, kv_heads = 2 : i64, head_dim = 4 : i64, value_dim = 4 : i64, query_offset = 0 : i64, key_offset = 8 : i64, value_offset = 16 : i64, scale = 0.3 : f64} : (tensor<1x3x24xf32>, tensor<1x3x24xf32>, tensor<1x3x24xf32>) -> tensor<1x3x8xf32>
  return %a : tensor<1x3x8xf32>
}

// The projection is also returned: scaling it would change that result.
// CHECK-LABEL: func.func @shared_projection
// CHECK: gaon_npu.attention {{.*}}scale = 5.000000e-01 : f64
func.func @shared_projection(%x: tensor<1x3x1xf32>) -> (tensor<1x3x8xf32>, tensor<1x3x24xf32>) {
  %w = gaon_graph.constant dense<1.0> : tensor<1x24xf32>
  %qkv = gaon_npu.matmul %x, %w : (tensor<1x3x1xf32>, tensor<1x24xf32>) -> tensor<1x3x24xf32>
  %a = gaon_npu.attention %qkv, %qkv, %qkv {heads = 2 : i64, kv_heads = 2 : i64, head_dim = 4 : i64, value_dim = 4 : i64, query_offset = 0 : i64, key_offset = 8 : i64, value_offset = 16 : i64, scale = 0.5 : f64} : (tensor<1x3x24xf32>, tensor<1x3x24xf32>, tensor<1x3x24xf32>) -> tensor<1x3x8xf32>
  return %a, %qkv : tensor<1x3x8xf32>, tensor<1x3x24xf32>
}

// An activation after the product does not commute with the scale.
// CHECK-LABEL: func.func @activation
// CHECK: gaon_npu.attention {{.*}}scale = 5.000000e-01 : f64
func.func @activation(%x: tensor<1x3x1xf32>) -> tensor<1x3x8xf32> {
  %w = gaon_graph.constant dense<1.0> : tensor<1x24xf32>
  %qkv = gaon_npu.matmul %x, %w {activation = "gelu"} : (tensor<1x3x1xf32>, tensor<1x24xf32>) -> tensor<1x3x24xf32>
  %a = gaon_npu.attention %qkv, %qkv, %qkv {heads = 2 : i64, kv_heads = 2 : i64, head_dim = 4 : i64, value_dim = 4 : i64, query_offset = 0 : i64, key_offset = 8 : i64, value_offset = 16 : i64, scale = 0.5 : f64} : (tensor<1x3x24xf32>, tensor<1x3x24xf32>, tensor<1x3x24xf32>) -> tensor<1x3x8xf32>
  return %a : tensor<1x3x8xf32>
}
