// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-fuse-rms-norm))' %s | FileCheck %s

// LLaMA's RMSNorm with rsqrt and pow(x, 2): w * (x * rsqrt(mean(x^2) + eps)).
// The f32 epsilon is kept exactly (widened to f64).
// CHECK-LABEL: func.func @rsqrt_with_scale
// CHECK-NEXT: %[[N:.*]] = gaon_graph.rms_norm %arg0, %arg1 {axis = 2 : i64, epsilon = 9.9999999747524271E-7 : f64} : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
// CHECK-NEXT: return %[[N]] : tensor<2x16x64xf32>
func.func @rsqrt_with_scale(%x: tensor<2x16x64xf32>, %w: tensor<64xf32>) -> tensor<2x16x64xf32> {
  %two = gaon_graph.constant dense<2.0> : tensor<f32>
  %eps = gaon_graph.constant dense<1.0e-6> : tensor<f32>
  %p = gaon_graph.pow %x, %two : (tensor<2x16x64xf32>, tensor<f32>) -> tensor<2x16x64xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 2>} : tensor<2x16x64xf32> -> tensor<2x16x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<2x16x1xf32>, tensor<f32>) -> tensor<2x16x1xf32>
  %r = gaon_graph.rsqrt %a : tensor<2x16x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<2x16x64xf32>, tensor<2x16x1xf32>) -> tensor<2x16x64xf32>
  %y = gaon_graph.mul %w, %n : (tensor<64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return %y : tensor<2x16x64xf32>
}

// ONNX has no Rsqrt: exports write reciprocal(sqrt(.)) and x * x. Operands
// in any order; a [1, D] scale is reshaped to [D].
// CHECK-LABEL: func.func @reciprocal_sqrt_with_scale
// CHECK-NEXT: %[[W:.*]] = gaon_graph.reshape %arg1 : tensor<1x8xf32> -> tensor<8xf32>
// CHECK-NEXT: %[[N:.*]] = gaon_graph.rms_norm %arg0, %[[W]] {axis = 1 : i64, epsilon = 9.9999997473787516E-6 : f64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: return %[[N]]
func.func @reciprocal_sqrt_with_scale(%x: tensor<4x8xf32>, %w: tensor<1x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %eps, %m : (tensor<f32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  %s = gaon_graph.sqrt %a : tensor<4x1xf32>
  %r = gaon_graph.reciprocal %s : tensor<4x1xf32>
  %n = gaon_graph.mul %r, %x : (tensor<4x1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = gaon_graph.mul %n, %w : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// 1 / sqrt(.) without a scale: the scale is a constant of ones.
// CHECK-LABEL: func.func @one_over_sqrt_without_scale
// CHECK-NEXT: %[[ONES:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK-NEXT: %[[N:.*]] = gaon_graph.rms_norm %arg0, %[[ONES]] {axis = 1 : i64, epsilon = 9.9999997473787516E-6 : f64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: return %[[N]]
func.func @one_over_sqrt_without_scale(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %s = gaon_graph.sqrt %a : tensor<4x1xf32>
  %r = gaon_graph.div %one, %s : (tensor<f32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// rsqrt without a scale, in f16.
// CHECK-LABEL: func.func @rsqrt_without_scale_f16
// CHECK-NEXT: %[[ONES:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<8xf16>
// CHECK-NEXT: %[[N:.*]] = gaon_graph.rms_norm %arg0, %[[ONES]] {axis = 1 : i64, epsilon = {{.*}} : f64} : (tensor<4x8xf16>, tensor<8xf16>) -> tensor<4x8xf16>
// CHECK-NEXT: return %[[N]]
func.func @rsqrt_without_scale_f16(%x: tensor<4x8xf16>) -> tensor<4x8xf16> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f16>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf16> -> tensor<4x1xf16>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf16>, tensor<f16>) -> tensor<4x1xf16>
  %r = gaon_graph.rsqrt %a : tensor<4x1xf16>
  %n = gaon_graph.mul %r, %x : (tensor<4x1xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  return %n : tensor<4x8xf16>
}

// Near miss: the mean is over the rows (axis 0), not the last dimension.
// CHECK-LABEL: func.func @not_last_axis
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.reduce_mean {{.*}}axes = array<i64: 0>
// CHECK: return
func.func @not_last_axis(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 0>} : tensor<4x8xf32> -> tensor<1x8xf32>
  %a = gaon_graph.add %m, %eps : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %r = gaon_graph.rsqrt %a : tensor<1x8xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// Near miss: the normalized value is not the one squared.
// CHECK-LABEL: func.func @different_input
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.rsqrt
// CHECK: return
func.func @different_input(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %p = gaon_graph.mul %z, %z : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %r = gaon_graph.rsqrt %a : tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// Near miss: pow(x, 3) is not a square.
// CHECK-LABEL: func.func @cube_not_square
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.pow
// CHECK: return
func.func @cube_not_square(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %three = gaon_graph.constant dense<3.0> : tensor<f32>
  %p = gaon_graph.pow %x, %three : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %r = gaon_graph.rsqrt %a : tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// Near miss: a sum of squares is not their mean.
// CHECK-LABEL: func.func @sum_not_mean
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.reduce_sum
// CHECK: return
func.func @sum_not_mean(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_sum %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %r = gaon_graph.rsqrt %a : tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// Near miss: without an epsilon there is no rms_norm to form.
// CHECK-LABEL: func.func @no_epsilon
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.rsqrt
// CHECK: return
func.func @no_epsilon(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %r = gaon_graph.rsqrt %m : tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// Near miss: an epsilon that differs per row is not a scalar epsilon.
// CHECK-LABEL: func.func @non_splat_epsilon
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.rsqrt
// CHECK: return
func.func @non_splat_epsilon(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<[[1.0e-5], [2.0e-5], [1.0e-5], [1.0e-5]]> : tensor<4x1xf32>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  %r = gaon_graph.rsqrt %a : tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// Near miss: without keep_dims the [4] statistics broadcast along the
// columns of a square input, which is not a per-row normalization.
// CHECK-LABEL: func.func @mean_without_keep_dims
// CHECK-NOT: gaon_graph.rms_norm
// CHECK: gaon_graph.reduce_mean {{.*}}keep_dims = false
// CHECK: return
func.func @mean_without_keep_dims(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %p = gaon_graph.mul %x, %x : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>, keep_dims = false} : tensor<4x4xf32> -> tensor<4xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %r = gaon_graph.rsqrt %a : tensor<4xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4x4xf32>
  return %n : tensor<4x4xf32>
}

// Near miss: a per-row factor ([4, 1]) is not an RMSNorm weight; it must
// not become the scale operand and its multiply stays.
// CHECK-LABEL: func.func @per_row_scale
// CHECK-NOT: gaon_graph.rms_norm {{.*}}%arg1
// CHECK: %[[Y:.*]] = gaon_graph.mul {{.*}}%arg1 : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @per_row_scale(%x: tensor<4x8xf32>, %w: tensor<4x1xf32>) -> tensor<4x8xf32> {
  %eps = gaon_graph.constant dense<1.0e-5> : tensor<f32>
  %p = gaon_graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %r = gaon_graph.rsqrt %a : tensor<4x1xf32>
  %n = gaon_graph.mul %x, %r : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %y = gaon_graph.mul %n, %w : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
