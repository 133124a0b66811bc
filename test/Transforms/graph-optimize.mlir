// RUN: gaon-opt --gaon-graph-optimize %s | FileCheck %s
// The gaon-graph-optimize pipeline end to end: canonicalization and CSE
// clean up, then the fusions, then a final cleanup.

// A LLaMA MLP block: an identity add feeds an RMSNorm written with
// 1 / sqrt (two equal constants 1.0, merged by CSE), a SwiGLU and a down
// projection whose weight goes through a transpose and its inverse.
// Everything but the products and the residual add fuses or disappears.
// CHECK-LABEL: func.func @llama_mlp_block
// CHECK-NEXT: %[[N:.*]] = gaon_graph.rms_norm %arg0, %arg1 {axis = 2 : i64, epsilon = 9.9999999747524271E-7 : f64} : (tensor<2x8x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
// CHECK-NEXT: %[[G:.*]] = gaon_graph.matmul %[[N]], %arg2 : (tensor<2x8x16xf32>, tensor<16x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[U:.*]] = gaon_graph.matmul %[[N]], %arg3 : (tensor<2x8x16xf32>, tensor<16x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[S:.*]] = gaon_graph.silu %[[G]] : tensor<2x8x32xf32>
// CHECK-NEXT: %[[P:.*]] = gaon_graph.mul %[[S]], %[[U]] : (tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[D:.*]] = gaon_graph.matmul %[[P]], %arg4 : (tensor<2x8x32xf32>, tensor<32x16xf32>) -> tensor<2x8x16xf32>
// CHECK-NEXT: %[[Y:.*]] = gaon_graph.add %arg0, %[[D]] : (tensor<2x8x16xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
// CHECK-NEXT: return %[[Y]] : tensor<2x8x16xf32>
func.func @llama_mlp_block(%x: tensor<2x8x16xf32>, %w: tensor<16xf32>, %wg: tensor<16x32xf32>, %wu: tensor<16x32xf32>, %wd: tensor<32x16xf32>) -> tensor<2x8x16xf32> {
  %zero = gaon_graph.constant dense<0.0> : tensor<f32>
  %two = gaon_graph.constant dense<2.0> : tensor<f32>
  %eps = gaon_graph.constant dense<1.0e-6> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %x0 = gaon_graph.add %x, %zero : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x16xf32>
  %p = gaon_graph.pow %x0, %two : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x16xf32>
  %m = gaon_graph.reduce_mean %p {axes = array<i64: 2>} : tensor<2x8x16xf32> -> tensor<2x8x1xf32>
  %a = gaon_graph.add %m, %eps : (tensor<2x8x1xf32>, tensor<f32>) -> tensor<2x8x1xf32>
  %s = gaon_graph.sqrt %a : tensor<2x8x1xf32>
  %one2 = gaon_graph.constant dense<1.0> : tensor<f32>
  %r = gaon_graph.div %one2, %s : (tensor<f32>, tensor<2x8x1xf32>) -> tensor<2x8x1xf32>
  %n = gaon_graph.mul %x0, %r : (tensor<2x8x16xf32>, tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %h = gaon_graph.mul %w, %n : (tensor<16xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  %g = gaon_graph.matmul %h, %wg : (tensor<2x8x16xf32>, tensor<16x32xf32>) -> tensor<2x8x32xf32>
  %u = gaon_graph.matmul %h, %wu : (tensor<2x8x16xf32>, tensor<16x32xf32>) -> tensor<2x8x32xf32>
  %sg = gaon_graph.sigmoid %g : tensor<2x8x32xf32>
  %act = gaon_graph.mul %g, %sg : (tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  %gated = gaon_graph.mul %act, %u : (tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  %wdt = gaon_graph.transpose %wd {perm = array<i64: 1, 0>} : tensor<32x16xf32> -> tensor<16x32xf32>
  %wdtt = gaon_graph.transpose %wdt {perm = array<i64: 1, 0>} : tensor<16x32xf32> -> tensor<32x16xf32>
  %d = gaon_graph.matmul %gated, %wdtt : (tensor<2x8x32xf32>, tensor<32x16xf32>) -> tensor<2x8x16xf32>
  %y = gaon_graph.add %x, %d : (tensor<2x8x16xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  return %y : tensor<2x8x16xf32>
}

// A BERT FFN tail: exact GELU fuses; a constant subgraph folds to one
// constant; a reshape round trip folds; the duplicated exp is merged by CSE.
// CHECK-LABEL: func.func @bert_gelu_cleanup
// CHECK-NEXT: %[[C:.*]] = gaon_graph.constant dense<[1.000000e+00, 3.000000e+00, 5.000000e+00, 7.000000e+00, 9.000000e+00, 1.100000e+01, 1.300000e+01, 1.500000e+01]> : tensor<8xf32>
// CHECK-NEXT: %[[G:.*]] = gaon_graph.gelu %arg0 : tensor<2x8xf32>
// CHECK-NEXT: %[[E:.*]] = gaon_graph.exp %[[G]] : tensor<2x8xf32>
// CHECK-NEXT: %[[S:.*]] = gaon_graph.add %[[E]], %[[E]] : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %[[O:.*]] = gaon_graph.add %[[S]], %[[C]] : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[O]] : tensor<2x8xf32>
func.func @bert_gelu_cleanup(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = gaon_graph.constant dense<1.41421354> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %c = gaon_graph.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]> : tensor<8xf32>
  %c2 = gaon_graph.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]> : tensor<8xf32>
  %c3 = gaon_graph.add %c, %c2 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %sum = gaon_graph.add %c3, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %d = gaon_graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = gaon_graph.erf %d : tensor<2x8xf32>
  %a = gaon_graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = gaon_graph.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %r = gaon_graph.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %t = gaon_graph.reshape %r : tensor<2x8xf32> -> tensor<16xf32>
  %t2 = gaon_graph.reshape %t : tensor<16xf32> -> tensor<2x8xf32>
  %e1 = gaon_graph.exp %t2 : tensor<2x8xf32>
  %e2 = gaon_graph.exp %t2 : tensor<2x8xf32>
  %s = gaon_graph.add %e1, %e2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %out = gaon_graph.add %s, %sum : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %out : tensor<2x8xf32>
}

// Scaled dot-product attention with K^T, a division by sqrt(d) and an
// additive mask becomes one attention op with scale 1/sqrt(8).
// CHECK-LABEL: func.func @attention
// CHECK-NEXT: %[[A:.*]] = gaon_graph.attention %arg0, %arg1, %arg2, %arg3 {scale = 0.3535533{{[0-9]*}} : f64} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x8xf32>
// CHECK-NEXT: return %[[A]]
func.func @attention(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %mask: tensor<1x1x4x4xf32>) -> tensor<1x2x4x8xf32> {
  %scale = gaon_graph.constant dense<2.828427> : tensor<f32>
  %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = gaon_graph.div %s, %scale : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %m = gaon_graph.add %c, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = gaon_graph.softmax %m {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// HF GPT-2's eager attention: select(tril, scores, finfo.min) plus the
// padding mask. The fusion turns the select into a mask of constants that
// must be folded to a constant before gaon-fold-causal-masks, which then
// makes it the causal flag and leaves the padding alone (a pipeline where
// the fusion did not fold lost the flag: 18% slower GPT-2 at 1024 tokens).
// CHECK-LABEL: func.func @gpt2_eager_causal
// CHECK-NEXT: %[[A:.*]] = gaon_graph.attention %arg0, %arg1, %arg2, %arg3 {causal = true, scale = 5.000000e-01 : f64}
// CHECK-NEXT: return %[[A]]
func.func @gpt2_eager_causal(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>, %pad: tensor<1x1x1x3xf32>) -> tensor<1x2x3x4xf32> {
  %tril = gaon_graph.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<1x1x3x3xi1>
  %min = gaon_graph.constant dense<-3.40282347E+38> : tensor<f32>
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x3x4xf32> -> tensor<1x2x4x3xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %sc = gaon_graph.mul %s, %half : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %w = gaon_graph.select %tril, %sc, %min : (tensor<1x1x3x3xi1>, tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %m = gaon_graph.add %w, %pad : (tensor<1x2x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x3xf32>
  %p = gaon_graph.softmax %m {axis = 3 : i64} : tensor<1x2x3x3xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}
