// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-cuda-form-fusions))' %s | FileCheck %s
// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-cuda-form-fusions{max-ops=2}))' %s | FileCheck %s --check-prefix=SMALL
// REQUIRES: cuda-compiler

// A chain of single-use elementwise ops becomes one fusion; the splat
// constant is cloned into the body, the bias stays an input.
// CHECK-LABEL: func.func @chain
// CHECK: %[[F:.*]] = gaon_cuda.fusion(%arg0, %arg1) : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8xf32>):
// CHECK-NEXT: gaon_graph.constant dense<2.000000e+00>
// CHECK-NEXT: gaon_graph.add %[[X]], %[[B]]
// CHECK-NEXT: gaon_graph.mul
// CHECK-NEXT: gaon_graph.tanh
// CHECK-NEXT: gaon_cuda.yield
// CHECK: return %[[F]]
func.func @chain(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %two = gaon_graph.constant dense<2.0> : tensor<f32>
  %a = gaon_graph.add %x, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %m = gaon_graph.mul %a, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %t = gaon_graph.tanh %m : tensor<4x8xf32>
  return %t : tensor<4x8xf32>
}

// A value with two users is written to memory: it roots its own fusion and
// both consumers read it.
// CHECK-LABEL: func.func @shared_value
// CHECK: %[[E:.*]] = gaon_cuda.fusion(%arg0)
// CHECK: gaon_graph.exp
// CHECK: gaon_cuda.fusion(%[[E]])
// CHECK: gaon_graph.neg
// CHECK: gaon_cuda.fusion(%[[E]])
// CHECK: gaon_graph.abs
func.func @shared_value(%x: tensor<16xf32>) -> (tensor<16xf32>, tensor<16xf32>) {
  %e = gaon_graph.exp %x : tensor<16xf32>
  %n = gaon_graph.neg %e : tensor<16xf32>
  %a = gaon_graph.abs %e : tensor<16xf32>
  return %n, %a : tensor<16xf32>, tensor<16xf32>
}

// Producers fuse into a layer norm (a row op), but the norm's consumer
// starts a new fusion; a reshape feeding a matmul stays a view outside.
// CHECK-LABEL: func.func @row_op
// CHECK: %[[N:.*]] = gaon_cuda.fusion(%arg0, %arg1, %arg2)
// CHECK: gaon_graph.add
// CHECK-NEXT: gaon_graph.layer_norm
// CHECK: %[[C:.*]] = gaon_cuda.fusion(%[[N]])
// CHECK: gaon_graph.cast
// CHECK: gaon_graph.reshape %[[C]]
// CHECK: gaon_cuda.matmul
func.func @row_op(%x: tensor<2x4x8xf32>, %r: tensor<2x4x8xf32>, %g: tensor<8xf32>, %w: tensor<8x8xf16>) -> tensor<8x8xf16> {
  %a = gaon_graph.add %x, %r : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %n = gaon_graph.layer_norm %a, %g {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %c = gaon_graph.cast %n : tensor<2x4x8xf32> -> tensor<2x4x8xf16>
  %v = gaon_graph.reshape %c : tensor<2x4x8xf16> -> tensor<8x8xf16>
  %m = gaon_cuda.matmul %v, %w : (tensor<8x8xf16>, tensor<8x8xf16>) -> tensor<8x8xf16>
  return %m : tensor<8x8xf16>
}

// Attention and weights stay outside fusions; the head-split transposes
// feeding attention are their own fusions.
// CHECK-LABEL: func.func @attention_inputs
// CHECK: %[[Q:.*]] = gaon_cuda.fusion(%arg0)
// CHECK: gaon_graph.transpose
// CHECK: gaon_graph.attention %[[Q]], %[[Q]], %[[Q]]
func.func @attention_inputs(%x: tensor<1x4x2x8xf32>) -> tensor<1x2x4x8xf32> {
  %q = gaon_graph.transpose %x {perm = array<i64: 0, 2, 1, 3>} : tensor<1x4x2x8xf32> -> tensor<1x2x4x8xf32>
  %o = gaon_graph.attention %q, %q, %q {scale = 0.35 : f64} : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// With at most 2 ops per fusion, the chain is cut where a reshape feeds
// the rest: the reshape stays a view between two fusions (the op it reads
// is the first fusion's root) instead of leaving that op unfused.
// SMALL-LABEL: func.func @cut_at_reshape
// SMALL: %[[A:.*]] = gaon_cuda.fusion
// SMALL: gaon_graph.neg
// SMALL: gaon_graph.exp
// SMALL: %[[R:.*]] = gaon_graph.reshape %[[A]] : tensor<4xf32> -> tensor<2x2xf32>
// SMALL: gaon_cuda.fusion(%[[R]])
// SMALL: gaon_graph.tanh
// SMALL: gaon_graph.abs
// SMALL: gaon_cuda.yield
// SMALL-NEXT: }
// SMALL-NEXT: return
func.func @cut_at_reshape(%x: tensor<4xf32>) -> tensor<2x2xf32> {
  %a = gaon_graph.neg %x : tensor<4xf32>
  %b = gaon_graph.exp %a : tensor<4xf32>
  %r = gaon_graph.reshape %b : tensor<4xf32> -> tensor<2x2xf32>
  %c = gaon_graph.tanh %r : tensor<2x2xf32>
  %d = gaon_graph.abs %c : tensor<2x2xf32>
  return %d : tensor<2x2xf32>
}
