// RUN: gaon-opt --split-input-file --pass-pipeline='builtin.module(func.func(gaon-cuda-fusions-to-linalg))' %s | FileCheck %s
// REQUIRES: cuda-compiler

// Elementwise ops become one all-parallel linalg.generic each; numpy
// broadcasting of the [8] bias is the indexing map (d0, d1) -> (d1), the
// splat constant is materialized inside the body that reads it, f16 data
// is widened in the body and intermediates are f32 tensors; the last
// generic rounds to f16.
// CHECK-DAG: #[[ID:[^ ]*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:[^ ]*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @broadcast_chain
// CHECK: gaon_cuda.fusion
// CHECK-NOT: gaon_graph.
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<125x8xf16>, tensor<8xf16>) outs(%{{.*}} : tensor<125x8xf32>)
// CHECK: arith.extf
// CHECK: arith.extf
// CHECK: arith.addf
// CHECK: -> tensor<125x8xf32>
// CHECK: linalg.generic
// CHECK: arith.constant 2.000000e+00 : f32
// CHECK: arith.mulf
// CHECK: linalg.generic
// CHECK: math.tanh
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: -> tensor<125x8xf16>
// CHECK: gaon_cuda.yield %{{.*}} : tensor<125x8xf16>
func.func @broadcast_chain(%x: tensor<125x8xf16>, %b: tensor<8xf16>) -> tensor<125x8xf16> {
  %0 = gaon_cuda.fusion(%x, %b) : (tensor<125x8xf16>, tensor<8xf16>) -> tensor<125x8xf16> {
  ^bb0(%a: tensor<125x8xf16>, %c: tensor<8xf16>):
    %two = gaon_graph.constant dense<2.0> : tensor<f16>
    %s = gaon_graph.add %a, %c : (tensor<125x8xf16>, tensor<8xf16>) -> tensor<125x8xf16>
    %m = gaon_graph.mul %s, %two : (tensor<125x8xf16>, tensor<f16>) -> tensor<125x8xf16>
    %t = gaon_graph.tanh %m : tensor<125x8xf16>
    gaon_cuda.yield %t : tensor<125x8xf16>
  }
  return %0 : tensor<125x8xf16>
}

// -----

// A cast to f16 rounds through f16 inside the f32 computation (truncf +
// extf), as the elemental kernels do, and the yielded value is rounded
// once more to its storage type; a cast to i1 compares with zero.
// CHECK-LABEL: func.func @casts
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: -> tensor<4x8xf32>
// CHECK: linalg.generic
// CHECK: arith.cmpf une
// CHECK: -> tensor<4x8xi1>
// CHECK: linalg.generic
// CHECK: arith.select
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: -> tensor<4x8xf16>
func.func @casts(%x: tensor<4x8xf32>) -> tensor<4x8xf16> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xf32>) -> tensor<4x8xf16> {
  ^bb0(%a: tensor<4x8xf32>):
    %h = gaon_graph.cast %a : tensor<4x8xf32> -> tensor<4x8xf16>
    %m = gaon_graph.cast %a : tensor<4x8xf32> -> tensor<4x8xi1>
    %s = gaon_graph.select %m, %h, %h : (tensor<4x8xi1>, tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
    gaon_cuda.yield %s : tensor<4x8xf16>
  }
  return %0 : tensor<4x8xf16>
}

// -----

// A transpose is a permuted indexing map; a reshape reads the input at the
// result element's row-major linear index delinearized over the input's
// shape (floordiv/mod by constants).
// CHECK-DAG: #[[PERM:[^ ]*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[RESHAPE:[^ ]*]] = affine_map<(d0, d1) -> ((d0 * 4 + d1) floordiv 8, (d0 + d1 floordiv 4) mod 2, d1 mod 4)>
// CHECK-LABEL: func.func @index_maps
// CHECK: linalg.generic {indexing_maps = [#[[PERM]],
// CHECK: linalg.generic {indexing_maps = [#[[RESHAPE]],
// CHECK: math.exp
func.func @index_maps(%x: tensor<3x4x2xf32>) -> tensor<6x4xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<3x4x2xf32>) -> tensor<6x4xf32> {
  ^bb0(%a: tensor<3x4x2xf32>):
    %t = gaon_graph.transpose %a {perm = array<i64: 0, 2, 1>} : tensor<3x4x2xf32> -> tensor<3x2x4xf32>
    %r = gaon_graph.reshape %t : tensor<3x2x4xf32> -> tensor<6x4xf32>
    %e = gaon_graph.exp %r : tensor<6x4xf32>
    gaon_cuda.yield %e : tensor<6x4xf32>
  }
  return %0 : tensor<6x4xf32>
}

// -----

// A layer norm (with the residual add before it) is the row kernel's
// sequence: the add, a sum over the row (reduction iterator, fill 0), the
// mean, the sum of squared deviations, rsqrt(var + eps), and the output
// with the per-row values read through (d0, d1, d2) -> (d0, d1) and the
// scale and bias broadcast along the row.
// CHECK-DAG: #[[X:[^ ]*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[PERROW:[^ ]*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[COL:[^ ]*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @layer_norm
// CHECK: %[[XV:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: arith.addf
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[X]], #[[PERROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[XV]] :
// CHECK: arith.addf %out, %in
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<2x3xf32>)
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[VAR:.*]] = linalg.generic {indexing_maps = [#[[X]], #[[PERROW]], #[[PERROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[XV]], %[[MEAN]] :
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: %[[INV:.*]] = linalg.generic {{.*}} ins(%[[VAR]] : tensor<2x3xf32>)
// CHECK: math.rsqrt
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[PERROW]], #[[PERROW]], #[[COL]], #[[COL]], #[[X]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[XV]], %[[MEAN]], %[[INV]], %{{.*}}, %{{.*}} :
// CHECK: gaon_cuda.yield
func.func @layer_norm(%x: tensor<2x3x768xf32>, %r: tensor<2x3x768xf32>, %g: tensor<768xf32>, %b: tensor<768xf32>) -> tensor<2x3x768xf32> {
  %0 = gaon_cuda.fusion(%x, %r, %g, %b) : (tensor<2x3x768xf32>, tensor<2x3x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<2x3x768xf32> {
  ^bb0(%a: tensor<2x3x768xf32>, %q: tensor<2x3x768xf32>, %s: tensor<768xf32>, %c: tensor<768xf32>):
    %y = gaon_graph.add %a, %q : (tensor<2x3x768xf32>, tensor<2x3x768xf32>) -> tensor<2x3x768xf32>
    %n = gaon_graph.layer_norm %y, %s, %c {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x3x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<2x3x768xf32>
    gaon_cuda.yield %n : tensor<2x3x768xf32>
  }
  return %0 : tensor<2x3x768xf32>
}

// -----

// An RMS norm: the sum of squares over the row, rsqrt(mean + eps), and
// x * inv * scale; f16 data is widened in the bodies and the result
// rounded by the last generic.
// CHECK-LABEL: func.func @rms_norm
// CHECK: %[[SS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<4x64xf16>) outs(%{{.*}} : tensor<4xf32>)
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf %out
// CHECK: %[[INV:.*]] = linalg.generic {{.*}} ins(%[[SS]] : tensor<4xf32>)
// CHECK: math.rsqrt
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[INV]], %{{.*}} : tensor<4x64xf16>, tensor<4xf32>, tensor<64xf16>) outs(%{{.*}} : tensor<4x64xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[Y]] : tensor<4x64xf32>) outs(%{{.*}} : tensor<4x64xf16>)
// CHECK: arith.truncf
func.func @rms_norm(%x: tensor<4x64xf16>, %g: tensor<64xf16>) -> tensor<4x64xf16> {
  %0 = gaon_cuda.fusion(%x, %g) : (tensor<4x64xf16>, tensor<64xf16>) -> tensor<4x64xf16> {
  ^bb0(%a: tensor<4x64xf16>, %s: tensor<64xf16>):
    %n = gaon_graph.rms_norm %a, %s {axis = 1 : i64, epsilon = 1.0e-6 : f64} : (tensor<4x64xf16>, tensor<64xf16>) -> tensor<4x64xf16>
    gaon_cuda.yield %n : tensor<4x64xf16>
  }
  return %0 : tensor<4x64xf16>
}

// -----

// A softmax: the row max (fill -inf, maximumf), the sum of exp(x - max),
// and exp(x - max) / sum.
// CHECK-LABEL: func.func @softmax
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: arith.maximumf %out, %in
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %[[MAX]] :
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf %out
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[MAX]], %[[SUM]] :
// CHECK: math.exp
// CHECK: arith.divf
func.func @softmax(%x: tensor<4x100xf32>) -> tensor<4x100xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x100xf32>) -> tensor<4x100xf32> {
  ^bb0(%a: tensor<4x100xf32>):
    %n = gaon_graph.softmax %a {axis = 1 : i64} : tensor<4x100xf32>
    gaon_cuda.yield %n : tensor<4x100xf32>
  }
  return %0 : tensor<4x100xf32>
}

// -----

// A mean over the trailing axis with keep_dims: the reduction writes the
// [4, 1] result through (d0, d1) -> (d0, 0), then divides by the row size.
// CHECK-DAG: #[[KEEP:[^ ]*]] = affine_map<(d0, d1) -> (d0, 0)>
// CHECK-LABEL: func.func @reduce_mean
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[KEEP]]], iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<4x8xf32>) outs(%{{.*}} : tensor<4x1xf32>)
// CHECK: arith.addf %out, %in
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<4x1xf32>)
// CHECK: arith.constant 8.000000e+00 : f32
// CHECK: arith.divf
func.func @reduce_mean(%x: tensor<4x8xf32>) -> tensor<4x1xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xf32>) -> tensor<4x1xf32> {
  ^bb0(%a: tensor<4x8xf32>):
    %r = gaon_graph.reduce_mean %a {axes = array<i64: 1>, keep_dims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
    gaon_cuda.yield %r : tensor<4x1xf32>
  }
  return %0 : tensor<4x1xf32>
}

// -----

// Ops without a linalg form keep the gaon_graph body: a gather's indices
// are data, and a reduction over a leading axis runs the serial schedule.
// CHECK-LABEL: func.func @stays_graph
// CHECK: gaon_graph.gather
// CHECK: gaon_graph.reduce_sum
// CHECK-NOT: linalg.
func.func @stays_graph(%table: tensor<100x4xf32>, %ids: tensor<2x3xi64>, %x: tensor<16x4xf32>) -> (tensor<2x3x4xf32>, tensor<1x4xf32>) {
  %0 = gaon_cuda.fusion(%table, %ids) : (tensor<100x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32> {
  ^bb0(%t: tensor<100x4xf32>, %i: tensor<2x3xi64>):
    %g = gaon_graph.gather %t, %i {axis = 0 : i64} : (tensor<100x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
    gaon_cuda.yield %g : tensor<2x3x4xf32>
  }
  %1 = gaon_cuda.fusion(%x) : (tensor<16x4xf32>) -> tensor<1x4xf32> {
  ^bb0(%a: tensor<16x4xf32>):
    %r = gaon_graph.reduce_sum %a {axes = array<i64: 0>} : tensor<16x4xf32> -> tensor<1x4xf32>
    gaon_cuda.yield %r : tensor<1x4xf32>
  }
  return %0, %1 : tensor<2x3x4xf32>, tensor<1x4xf32>
}
