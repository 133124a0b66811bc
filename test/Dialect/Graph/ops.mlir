// RUN: gaon-opt %s | gaon-opt | FileCheck %s
// RUN: gaon-opt %s --mlir-print-op-generic | gaon-opt | FileCheck %s
// Every gaon_graph op parses, prints in its custom form and parses back
// (also from the generic form), with its attributes and types unchanged.

// Constants: dense splats, dense lists and bools.
// CHECK-LABEL: func.func @constants
// CHECK-NEXT: gaon_graph.constant dense<1.500000e+00> : tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.constant dense<[1, -2, 3]> : tensor<3xi64>
// CHECK-NEXT: gaon_graph.constant dense<[true, false]> : tensor<2xi1>
func.func @constants() -> (tensor<2x3xf32>, tensor<3xi64>, tensor<2xi1>) {
  %0 = gaon_graph.constant dense<1.5> : tensor<2x3xf32>
  %1 = gaon_graph.constant dense<[1, -2, 3]> : tensor<3xi64>
  %2 = gaon_graph.constant dense<[true, false]> : tensor<2xi1>
  return %0, %1, %2 : tensor<2x3xf32>, tensor<3xi64>, tensor<2xi1>
}

// The arithmetic binary ops, with NumPy broadcasting of the operands.
// CHECK-LABEL: func.func @binary_arith
// CHECK-NEXT: gaon_graph.add %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.sub %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.mul %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.div %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.pow %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.max %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.min %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.mod %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
func.func @binary_arith(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  %0 = gaon_graph.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = gaon_graph.sub %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %2 = gaon_graph.mul %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %3 = gaon_graph.div %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %4 = gaon_graph.pow %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %5 = gaon_graph.max %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %6 = gaon_graph.min %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %7 = gaon_graph.mod %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return
}

// The logical binary ops on i1.
// CHECK-LABEL: func.func @binary_logical
// CHECK-NEXT: gaon_graph.and %arg0, %arg1 : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
// CHECK-NEXT: gaon_graph.or %arg0, %arg1 : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
// CHECK-NEXT: gaon_graph.xor %arg0, %arg1 : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
func.func @binary_logical(%a: tensor<4xi1>, %b: tensor<1xi1>) {
  %0 = gaon_graph.and %a, %b : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  %1 = gaon_graph.or %a, %b : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  %2 = gaon_graph.xor %a, %b : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  return
}

// Comparisons give i1 results.
// CHECK-LABEL: func.func @comparisons
// CHECK-NEXT: gaon_graph.equal %arg0, %arg1 : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
// CHECK-NEXT: gaon_graph.less %arg0, %arg1 : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
// CHECK-NEXT: gaon_graph.less_equal %arg0, %arg1 : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
// CHECK-NEXT: gaon_graph.greater %arg0, %arg1 : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
// CHECK-NEXT: gaon_graph.greater_equal %arg0, %arg1 : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
func.func @comparisons(%a: tensor<2x1xi64>, %b: tensor<3xi64>) {
  %0 = gaon_graph.equal %a, %b : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
  %1 = gaon_graph.less %a, %b : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
  %2 = gaon_graph.less_equal %a, %b : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
  %3 = gaon_graph.greater %a, %b : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
  %4 = gaon_graph.greater_equal %a, %b : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi1>
  return
}

// The unary ops print one type.
// CHECK-LABEL: func.func @unary
// CHECK-NEXT: gaon_graph.neg %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.abs %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.exp %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.log %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.sqrt %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.rsqrt %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.reciprocal %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.tanh %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.erf %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.sigmoid %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.relu %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.silu %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.sin %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.cos %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.floor %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.ceil %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.round %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.sign %arg0 : tensor<4xf16>
// CHECK-NEXT: gaon_graph.not %arg1 : tensor<4xi1>
func.func @unary(%x: tensor<4xf16>, %b: tensor<4xi1>) {
  %0 = gaon_graph.neg %x : tensor<4xf16>
  %1 = gaon_graph.abs %x : tensor<4xf16>
  %2 = gaon_graph.exp %x : tensor<4xf16>
  %3 = gaon_graph.log %x : tensor<4xf16>
  %4 = gaon_graph.sqrt %x : tensor<4xf16>
  %5 = gaon_graph.rsqrt %x : tensor<4xf16>
  %6 = gaon_graph.reciprocal %x : tensor<4xf16>
  %7 = gaon_graph.tanh %x : tensor<4xf16>
  %8 = gaon_graph.erf %x : tensor<4xf16>
  %9 = gaon_graph.sigmoid %x : tensor<4xf16>
  %10 = gaon_graph.relu %x : tensor<4xf16>
  %11 = gaon_graph.silu %x : tensor<4xf16>
  %12 = gaon_graph.sin %x : tensor<4xf16>
  %13 = gaon_graph.cos %x : tensor<4xf16>
  %14 = gaon_graph.floor %x : tensor<4xf16>
  %15 = gaon_graph.ceil %x : tensor<4xf16>
  %16 = gaon_graph.round %x : tensor<4xf16>
  %17 = gaon_graph.sign %x : tensor<4xf16>
  %18 = gaon_graph.not %b : tensor<4xi1>
  return
}

// gelu (approximate is omitted when false), cast, select and clamp.
// CHECK-LABEL: func.func @activations_and_select
// CHECK-NEXT: gaon_graph.gelu %arg0 : tensor<2x4xbf16>
// CHECK-NEXT: gaon_graph.gelu %arg0 {approximate = true} : tensor<2x4xbf16>
// CHECK-NEXT: gaon_graph.cast %arg0 : tensor<2x4xbf16> -> tensor<2x4xf32>
// CHECK-NEXT: gaon_graph.select %arg1, %arg0, %arg0 : (tensor<2x1xi1>, tensor<2x4xbf16>, tensor<2x4xbf16>) -> tensor<2x4xbf16>
// CHECK-NEXT: gaon_graph.clamp %arg0 {max = 6.000000e+00 : f64, min = 0.000000e+00 : f64} : tensor<2x4xbf16>
func.func @activations_and_select(%x: tensor<2x4xbf16>, %c: tensor<2x1xi1>) {
  %0 = gaon_graph.gelu %x : tensor<2x4xbf16>
  %1 = gaon_graph.gelu %x {approximate = true} : tensor<2x4xbf16>
  %2 = gaon_graph.cast %x : tensor<2x4xbf16> -> tensor<2x4xf32>
  %3 = gaon_graph.select %c, %x, %x : (tensor<2x1xi1>, tensor<2x4xbf16>, tensor<2x4xbf16>) -> tensor<2x4xbf16>
  %4 = gaon_graph.clamp %x {min = 0.0 : f64, max = 6.0 : f64} : tensor<2x4xbf16>
  return
}

// matmul with batch broadcasting; an integer product may widen its result.
// CHECK-LABEL: func.func @matmul
// CHECK-NEXT: gaon_graph.matmul %arg0, %arg1 : (tensor<2x1x3x4xf32>, tensor<5x4x6xf32>) -> tensor<2x5x3x6xf32>
// CHECK-NEXT: gaon_graph.matmul %arg2, %arg3 : (tensor<3x4xi8>, tensor<4x2xi8>) -> tensor<3x2xi32>
func.func @matmul(%a: tensor<2x1x3x4xf32>, %b: tensor<5x4x6xf32>, %c: tensor<3x4xi8>, %d: tensor<4x2xi8>) {
  %0 = gaon_graph.matmul %a, %b : (tensor<2x1x3x4xf32>, tensor<5x4x6xf32>) -> tensor<2x5x3x6xf32>
  %1 = gaon_graph.matmul %c, %d : (tensor<3x4xi8>, tensor<4x2xi8>) -> tensor<3x2xi32>
  return
}

// conv with and without bias.
// CHECK-LABEL: func.func @conv
// CHECK-NEXT: gaon_graph.conv %arg0, %arg1, %arg2 {dilations = array<i64: 1, 1>, groups = 1 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
// CHECK-NEXT: gaon_graph.conv %arg0, %arg3 {dilations = array<i64: 2, 1>, groups = 3 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<6x1x3x3xf32>) -> tensor<1x6x4x6xf32>
func.func @conv(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>, %dw: tensor<6x1x3x3xf32>) {
  %0 = gaon_graph.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %1 = gaon_graph.conv %x, %dw {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 1>, groups = 3 : i64} : (tensor<1x3x8x8xf32>, tensor<6x1x3x3xf32>) -> tensor<1x6x4x6xf32>
  return
}

// The reductions; keep_dims = true is the default and is not printed.
// CHECK-LABEL: func.func @reductions
// CHECK-NEXT: gaon_graph.reduce_sum %arg0 {axes = array<i64: 1>} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
// CHECK-NEXT: gaon_graph.reduce_mean %arg0 {axes = array<i64: 2>, keep_dims = false} : tensor<2x3x4xf32> -> tensor<2x3xf32>
// CHECK-NEXT: gaon_graph.reduce_max %arg0 {axes = array<i64: 0, 2>, keep_dims = false} : tensor<2x3x4xf32> -> tensor<3xf32>
// CHECK-NEXT: gaon_graph.reduce_min %arg0 {axes = array<i64: 0, 1, 2>} : tensor<2x3x4xf32> -> tensor<1x1x1xf32>
// CHECK-NEXT: gaon_graph.reduce_prod %arg0 {axes = array<i64: 0, 1, 2>, keep_dims = false} : tensor<2x3x4xf32> -> tensor<f32>
// CHECK-NEXT: gaon_graph.argmax %arg0 {axis = 1 : i64, keep_dims = false} : tensor<2x3x4xf32> -> tensor<2x4xi64>
// CHECK-NEXT: gaon_graph.cumsum %arg0 {axis = 2 : i64, exclusive = true, reverse = true} : tensor<2x3x4xf32>
func.func @reductions(%x: tensor<2x3x4xf32>) {
  %0 = gaon_graph.reduce_sum %x {axes = array<i64: 1>, keep_dims = true} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %1 = gaon_graph.reduce_mean %x {axes = array<i64: 2>, keep_dims = false} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  %2 = gaon_graph.reduce_max %x {axes = array<i64: 0, 2>, keep_dims = false} : tensor<2x3x4xf32> -> tensor<3xf32>
  %3 = gaon_graph.reduce_min %x {axes = array<i64: 0, 1, 2>} : tensor<2x3x4xf32> -> tensor<1x1x1xf32>
  %4 = gaon_graph.reduce_prod %x {axes = array<i64: 0, 1, 2>, keep_dims = false} : tensor<2x3x4xf32> -> tensor<f32>
  %5 = gaon_graph.argmax %x {axis = 1 : i64, keep_dims = false} : tensor<2x3x4xf32> -> tensor<2x4xi64>
  %6 = gaon_graph.cumsum %x {axis = 2 : i64, exclusive = true, reverse = true} : tensor<2x3x4xf32>
  return
}

// Softmax, layer_norm (with and without bias) and rms_norm.
// CHECK-LABEL: func.func @normalizations
// CHECK-NEXT: gaon_graph.softmax %arg0 {axis = 2 : i64} : tensor<2x3x4xf32>
// CHECK-NEXT: gaon_graph.softmax %arg0 {axis = 0 : i64, log = true} : tensor<2x3x4xf32>
// CHECK-NEXT: gaon_graph.layer_norm %arg0, %arg1, %arg1 {axis = 2 : i64, epsilon = 1.000000e-05 : f64} : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT: gaon_graph.layer_norm %arg0, %arg2 {axis = 1 : i64, epsilon = 1.000000e-05 : f64} : (tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT: gaon_graph.rms_norm %arg0, %arg1 {axis = 2 : i64, epsilon = 9.9999999999999995E-7 : f64} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
func.func @normalizations(%x: tensor<2x3x4xf32>, %s: tensor<4xf32>, %s2: tensor<3x4xf32>) {
  %0 = gaon_graph.softmax %x {axis = 2 : i64} : tensor<2x3x4xf32>
  %1 = gaon_graph.softmax %x {axis = 0 : i64, log = true} : tensor<2x3x4xf32>
  %2 = gaon_graph.layer_norm %x, %s, %s {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %3 = gaon_graph.layer_norm %x, %s2 {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
  %4 = gaon_graph.rms_norm %x, %s {axis = 2 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  return
}

// Data movement: reshape, transpose, concat, slice, split, broadcast, tile, pad.
// CHECK-LABEL: func.func @data_movement
// CHECK-NEXT: gaon_graph.reshape %arg0 : tensor<2x3x4xf32> -> tensor<6x4xf32>
// CHECK-NEXT: gaon_graph.transpose %arg0 {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
// CHECK-NEXT: gaon_graph.concat %arg0, %arg0 {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x6x4xf32>
// CHECK-NEXT: gaon_graph.slice %arg0 {starts = array<i64: 1, 2, 0>, steps = array<i64: 1, -1, 2>} : tensor<2x3x4xf32> -> tensor<1x3x2xf32>
// CHECK-NEXT: %{{.*}}:2 = gaon_graph.split %arg0 {axis = 2 : i64} : tensor<2x3x4xf32> -> tensor<2x3x1xf32>, tensor<2x3x3xf32>
// CHECK-NEXT: gaon_graph.broadcast %arg1 : tensor<3x1xf32> -> tensor<2x3x4xf32>
// CHECK-NEXT: gaon_graph.tile %arg1 {repeats = array<i64: 2, 3>} : tensor<3x1xf32> -> tensor<6x3xf32>
// CHECK-NEXT: gaon_graph.pad %arg1 {high = array<i64: 0, 2>, low = array<i64: 1, 0>, value = -1.000000e+00 : f64} : tensor<3x1xf32> -> tensor<4x3xf32>
func.func @data_movement(%x: tensor<2x3x4xf32>, %y: tensor<3x1xf32>) {
  %0 = gaon_graph.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %1 = gaon_graph.transpose %x {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %2 = gaon_graph.concat %x, %x {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x6x4xf32>
  %3 = gaon_graph.slice %x {starts = array<i64: 1, 2, 0>, steps = array<i64: 1, -1, 2>} : tensor<2x3x4xf32> -> tensor<1x3x2xf32>
  %4:2 = gaon_graph.split %x {axis = 2 : i64} : tensor<2x3x4xf32> -> tensor<2x3x1xf32>, tensor<2x3x3xf32>
  %5 = gaon_graph.broadcast %y : tensor<3x1xf32> -> tensor<2x3x4xf32>
  %6 = gaon_graph.tile %y {repeats = array<i64: 2, 3>} : tensor<3x1xf32> -> tensor<6x3xf32>
  %7 = gaon_graph.pad %y {low = array<i64: 1, 0>, high = array<i64: 0, 2>, value = -1.0 : f64} : tensor<3x1xf32> -> tensor<4x3xf32>
  return
}

// The gathers and trilu.
// CHECK-LABEL: func.func @gathers
// CHECK-NEXT: gaon_graph.gather %arg0, %arg1 {axis = 1 : i64} : (tensor<2x5x3xf32>, tensor<4x2xi64>) -> tensor<2x4x2x3xf32>
// CHECK-NEXT: gaon_graph.gather_elements %arg0, %arg2 {axis = 2 : i64} : (tensor<2x5x3xf32>, tensor<2x5x1xi32>) -> tensor<2x5x1xf32>
// CHECK-NEXT: gaon_graph.gather_nd %arg0, %arg3 {batch_dims = 1 : i64} : (tensor<2x5x3xf32>, tensor<2x7x1xi64>) -> tensor<2x7x3xf32>
// CHECK-NEXT: gaon_graph.trilu %arg0 {k = -1 : i64, upper = false} : tensor<2x5x3xf32>
func.func @gathers(%d: tensor<2x5x3xf32>, %i: tensor<4x2xi64>, %e: tensor<2x5x1xi32>, %n: tensor<2x7x1xi64>) {
  %0 = gaon_graph.gather %d, %i {axis = 1 : i64} : (tensor<2x5x3xf32>, tensor<4x2xi64>) -> tensor<2x4x2x3xf32>
  %1 = gaon_graph.gather_elements %d, %e {axis = 2 : i64} : (tensor<2x5x3xf32>, tensor<2x5x1xi32>) -> tensor<2x5x1xf32>
  %2 = gaon_graph.gather_nd %d, %n {batch_dims = 1 : i64} : (tensor<2x5x3xf32>, tensor<2x7x1xi64>) -> tensor<2x7x3xf32>
  %3 = gaon_graph.trilu %d {upper = false, k = -1 : i64} : tensor<2x5x3xf32>
  return
}

// attention: grouped-query (8 query heads over 2 key/value heads), with and
// without an additive mask; causal defaults to false and is not printed.
// CHECK-LABEL: func.func @attention
// CHECK-NEXT: gaon_graph.attention %arg0, %arg1, %arg1 {scale = 1.250000e-01 : f64} : (tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32>, tensor<1x2x6x64xf32>) -> tensor<1x8x4x64xf32>
// CHECK-NEXT: gaon_graph.attention %arg0, %arg1, %arg1, %arg2 {causal = true, scale = 1.250000e-01 : f64} : (tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32>, tensor<1x2x6x64xf32>, tensor<1x1x1x6xf32>) -> tensor<1x8x4x64xf32>
func.func @attention(%q: tensor<1x8x4x64xf32>, %kv: tensor<1x2x6x64xf32>, %m: tensor<1x1x1x6xf32>) {
  %0 = gaon_graph.attention %q, %kv, %kv {scale = 0.125 : f64} : (tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32>, tensor<1x2x6x64xf32>) -> tensor<1x8x4x64xf32>
  %1 = gaon_graph.attention %q, %kv, %kv, %m {scale = 0.125 : f64, causal = true} : (tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32>, tensor<1x2x6x64xf32>, tensor<1x1x1x6xf32>) -> tensor<1x8x4x64xf32>
  return
}
