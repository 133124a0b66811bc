// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-fold-causal-masks))' %s | FileCheck %s

// An additive causal mask constant (0 on and below the diagonal, -3.4e38
// above, as exported GPT-2 folds its select) plus a padding mask becomes a
// causal attention with the padding mask alone.
// CHECK-LABEL: func.func @causal_mask_constant
// CHECK-NOT: gaon_graph.add
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2, %arg3 {causal = true
func.func @causal_mask_constant(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>, %pad: tensor<1x1x1x3xf32>) -> tensor<1x2x3x4xf32> {
  %c = gaon_graph.constant dense<[[[[0.0, -3.4e38, -3.4e38], [0.0, 0.0, -3.4e38], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %m = gaon_graph.add %c, %pad : (tensor<1x1x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// A mask that is only nearly causal (-1e4 above the diagonal: exp does not
// underflow to exactly 0 for every score) stays an additive mask.
// CHECK-LABEL: func.func @not_causal_mask
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2, %{{.*}} {scale
// CHECK-NOT: causal = true
func.func @not_causal_mask(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %c = gaon_graph.constant dense<[[[[0.0, -1.0e4, -1.0e4], [0.0, 0.0, -1.0e4], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %c {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// A causal constant of another size than the scores (cross-attention,
// 3 queries x 4 keys) is not the flag's masking: left alone.
// CHECK-LABEL: func.func @cross_attention
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2, %{{.*}} {scale
// CHECK-NOT: causal = true
func.func @cross_attention(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x4xf32>, %m: tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// At batch 2 the padding mask [2, 1, 1, 3] makes the sum [2, 1, 3, 3],
// larger than the causal constant: the padding mask alone still broadcasts
// to the scores, so the fold applies.
// CHECK-LABEL: func.func @causal_plus_batched_padding
// CHECK-NOT: gaon_graph.add
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2, %arg3 {causal = true
// CHECK-SAME: (tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x1x1x3xf32>)
func.func @causal_plus_batched_padding(%q: tensor<2x2x3x4xf32>, %k: tensor<2x2x3x4xf32>, %v: tensor<2x2x3x4xf32>, %pad: tensor<2x1x1x3xf32>) -> tensor<2x2x3x4xf32> {
  %c = gaon_graph.constant dense<[[[[0.0, -3.4e38, -3.4e38], [0.0, 0.0, -3.4e38], [0.0, 0.0, 0.0]]]]> : tensor<1x1x3x3xf32>
  %m = gaon_graph.add %c, %pad : (tensor<1x1x3x3xf32>, tensor<2x1x1x3xf32>) -> tensor<2x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x1x3x3xf32>) -> tensor<2x2x3x4xf32>
  return %o : tensor<2x2x3x4xf32>
}

// torch's SDPA export: select(causal and padding, 0, -inf). The causal
// constant becomes the flag; the padding alone stays, as select(padding, 0,
// -inf) over the padding's [B, 1, 1, S] shape.
// CHECK-LABEL: func.func @sdpa_boolean_mask
// CHECK: %[[PAD:.*]] = gaon_graph.select %arg3, %{{.*}}, %{{.*}} : (tensor<2x1x1x3xi1>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x1x1x3xf32>
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2, %[[PAD]] {causal = true, scale = 5.000000e-01 : f64} : (tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x1x1x3xf32>)
func.func @sdpa_boolean_mask(%q: tensor<2x2x3x4xf32>, %k: tensor<2x2x3x4xf32>, %v: tensor<2x2x3x4xf32>, %pad: tensor<2x1x1x3xi1>) -> tensor<2x2x3x4xf32> {
  %tril = gaon_graph.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %zero = gaon_graph.constant dense<0.0> : tensor<1xf32>
  %ninf = gaon_graph.constant dense<0xFF800000> : tensor<1xf32>
  %allowed = gaon_graph.and %tril, %pad : (tensor<1x1x3x3xi1>, tensor<2x1x1x3xi1>) -> tensor<2x1x3x3xi1>
  %m = gaon_graph.select %allowed, %zero, %ninf : (tensor<2x1x3x3xi1>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x1x3x3xf32>) -> tensor<2x2x3x4xf32>
  return %o : tensor<2x2x3x4xf32>
}

// The causal constant alone (no padding) leaves no mask.
// CHECK-LABEL: func.func @sdpa_causal_only
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2 {causal = true
func.func @sdpa_causal_only(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %tril = gaon_graph.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %zero = gaon_graph.constant dense<0.0> : tensor<f32>
  %ninf = gaon_graph.constant dense<0xFF800000> : tensor<f32>
  %m = gaon_graph.select %tril, %zero, %ninf : (tensor<1x1x3x3xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// An upper-triangular condition (each query sees the keys after it) is not
// causal: the mask stays.
// CHECK-LABEL: func.func @sdpa_anti_causal_stays
// CHECK-NOT: causal = true
func.func @sdpa_anti_causal_stays(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %triu = gaon_graph.constant dense<[[[[true, true, true], [false, true, true], [false, false, true]]]]> : tensor<1x1x3x3xi1>
  %zero = gaon_graph.constant dense<0.0> : tensor<f32>
  %ninf = gaon_graph.constant dense<0xFF800000> : tensor<f32>
  %m = gaon_graph.select %triu, %zero, %ninf : (tensor<1x1x3x3xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// The same and-ed mask with a finite fill (finfo.min, HF's eager masks, as
// GPT-J's export): a left-padded query whose every key is masked attends
// uniformly to all keys; split into causal + padding it would see only the
// causal ones. Not folded.
// CHECK-LABEL: func.func @finite_fill_and_stays
// CHECK-NOT: causal = true
func.func @finite_fill_and_stays(%q: tensor<2x2x3x4xf32>, %k: tensor<2x2x3x4xf32>, %v: tensor<2x2x3x4xf32>, %pad: tensor<2x1x1x3xi1>) -> tensor<2x2x3x4xf32> {
  %tril = gaon_graph.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %zero = gaon_graph.constant dense<0.0> : tensor<1xf32>
  %min = gaon_graph.constant dense<-3.40282347E+38> : tensor<1xf32>
  %allowed = gaon_graph.and %tril, %pad : (tensor<1x1x3x3xi1>, tensor<2x1x1x3xi1>) -> tensor<2x1x3x3xi1>
  %m = gaon_graph.select %allowed, %zero, %min : (tensor<2x1x3x3xi1>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x1x3x3xf32>
  %o = gaon_graph.attention %q, %k, %v, %m {scale = 0.5 : f64} : (tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>, tensor<2x1x3x3xf32>) -> tensor<2x2x3x4xf32>
  return %o : tensor<2x2x3x4xf32>
}
