// RUN: gaon-opt --gaon-npu-fold-norm-affine %s | FileCheck %s

// A layer norm feeding only a matmul over constant weights and bias: the
// weights' rows are scaled by gamma ([[1, 2], [3, 4]] -> [[2, 4], [1.5,
// 2]]), beta W joins the bias ([10, 20] + [1, 2] = [11, 22]) and the norm
// keeps a scale of ones and no shift.
// CHECK-LABEL: func.func @pre_norm
// CHECK: %[[ONES:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %arg0, %[[ONES]] {axis = 1 : i64
// CHECK-DAG: %[[W:.*]] = gaon_graph.constant dense<{{\[\[}}2.000000e+00, 4.000000e+00], [1.500000e+00, 2.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: %[[C:.*]] = gaon_graph.constant dense<[1.100000e+01, 2.200000e+01]> : tensor<2xf32>
// CHECK: gaon_npu.matmul %[[N]], %[[W]] bias %[[C]]
func.func @pre_norm(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %c = gaon_graph.constant dense<[10.0, 20.0]> : tensor<2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = gaon_npu.matmul %n, %w bias %c : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// Without a shift the scale folds into weights without a bias (no bias is
// added): [[1, 2], [3, 4]] -> [[2, 4], [1.5, 2]].
// CHECK-LABEL: func.func @scale_only
// CHECK: %[[ONES:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %arg0, %[[ONES]] {axis = 1 : i64
// CHECK: %[[W:.*]] = gaon_graph.constant dense<{{\[\[}}2.000000e+00, 4.000000e+00], [1.500000e+00, 2.000000e+00]]> : tensor<2x2xf32>
// CHECK: gaon_npu.matmul %[[N]], %[[W]] :
func.func @scale_only(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %n = gaon_graph.layer_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = gaon_npu.matmul %n, %w : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// A shift with a matmul that has no bias (GPT-2's final norm before the
// LM head): a new bias would add an epilogue pass, so the norm stays.
// CHECK-LABEL: func.func @shift_without_bias
// CHECK: gaon_graph.layer_norm %arg0, %{{.*}}, %{{.*}} {axis = 1 : i64
// CHECK: gaon_npu.matmul
func.func @shift_without_bias(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = gaon_npu.matmul %n, %w : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// A norm whose result is also the residual (BERT's post-norm) keeps its
// scale and shift.
// CHECK-LABEL: func.func @post_norm
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %arg0, %{{.*}}, %{{.*}} {axis = 1 : i64
// CHECK: gaon_npu.matmul %[[N]], %{{.*}} bias %{{.*}} residual %[[N]]
func.func @post_norm(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %c = gaon_graph.constant dense<[10.0, 20.0]> : tensor<2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = gaon_npu.matmul %n, %w bias %c residual %n : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// A norm with weights that are not constants stays.
// CHECK-LABEL: func.func @runtime_weights
// CHECK: gaon_graph.layer_norm %arg0, %{{.*}}, %{{.*}} {axis = 1 : i64
func.func @runtime_weights(%x: tensor<4x2xf32>, %w: tensor<2x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = gaon_npu.matmul %n, %w : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
