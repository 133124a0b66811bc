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

// A norm read by one matmul both as A and as its residual keeps its scale
// and shift (the matmul cannot take both forms).
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

// BERT's post-norm: the norm feeds one matmul as A and another as its
// residual. The first gets gamma in its weights' rows and beta W in its
// bias (as in @pre_norm); the second gets gamma as its residual scale and
// beta added to its bias in f32 ([5, 6] + [1, 0] = [6, 6]); the norm keeps
// a scale of ones and no shift.
// CHECK-LABEL: func.func @post_norm_residual
// CHECK-DAG: %[[G:.*]] = gaon_graph.constant dense<[2.000000e+00, 5.000000e-01]> : tensor<2xf32>
// CHECK-DAG: %[[ONES:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %arg0, %[[ONES]] {axis = 1 : i64
// CHECK-DAG: %[[W:.*]] = gaon_graph.constant dense<{{\[\[}}2.000000e+00, 4.000000e+00], [1.500000e+00, 2.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: %[[C:.*]] = gaon_graph.constant dense<[1.100000e+01, 2.200000e+01]> : tensor<2xf32>
// CHECK: %[[Y:.*]] = gaon_npu.matmul %[[N]], %[[W]] bias %[[C]]
// CHECK: %[[C2:.*]] = gaon_graph.constant dense<6.000000e+00> : tensor<2xf32>
// CHECK: gaon_npu.matmul %[[Y]], %{{.*}} bias %[[C2]] residual %[[N]] residual_scale %[[G]]
func.func @post_norm_residual(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %c = gaon_graph.constant dense<[10.0, 20.0]> : tensor<2xf32>
  %w2 = gaon_graph.constant dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>
  %c2 = gaon_graph.constant dense<[5.0, 6.0]> : tensor<2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %y = gaon_npu.matmul %n, %w bias %c : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %z = gaon_npu.matmul %y, %w2 bias %c2 residual %n : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %z : tensor<4x2xf32>
}

// A shift and a residual user without a bias: a new bias would add an
// epilogue pass, so the norm stays.
// CHECK-LABEL: func.func @residual_without_bias
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %arg0, %{{.*}}, %{{.*}} {axis = 1 : i64
// CHECK: gaon_npu.matmul %arg1, %{{.*}} residual %[[N]] :
func.func @residual_without_bias(%x: tensor<4x2xf32>, %a: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %z = gaon_npu.matmul %a, %w residual %n : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %z : tensor<4x2xf32>
}

// A norm that also feeds something other than a matmul (BERT's last
// post-norm is the model's output) stays.
// CHECK-LABEL: func.func @residual_and_output
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %arg0, %{{.*}}, %{{.*}} {axis = 1 : i64
// CHECK: gaon_npu.matmul %arg1, %{{.*}} bias %{{.*}} residual %[[N]] :
func.func @residual_and_output(%x: tensor<4x2xf32>, %a: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %g = gaon_graph.constant dense<[2.0, 0.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %w = gaon_graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %c = gaon_graph.constant dense<[5.0, 6.0]> : tensor<2xf32>
  %n = gaon_graph.layer_norm %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  %z = gaon_npu.matmul %a, %w bias %c residual %n : (tensor<4x2xf32>, tensor<2x2xf32>, tensor<2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %z, %n : tensor<4x2xf32>, tensor<4x2xf32>
}
