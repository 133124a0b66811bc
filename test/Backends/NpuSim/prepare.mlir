// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-npu-prepare))' %s | FileCheck %s

// gather_nd with constant indices becomes a gather of linear row indices
// from the data viewed as [rows, inner] (here: the BERT mask pattern).
// CHECK-LABEL: func.func @gather_nd_constant
// CHECK-DAG: %[[T:.*]] = gaon_graph.reshape %arg0 : tensor<2x3xf32> -> tensor<6x1xf32>
// CHECK-DAG: %[[I:.*]] = gaon_graph.constant dense<[5, 0]> : tensor<2xi64>
// CHECK: %[[G:.*]] = gaon_graph.gather %[[T]], %[[I]] {axis = 0 : i64} : (tensor<6x1xf32>, tensor<2xi64>) -> tensor<2x1xf32>
// CHECK: gaon_graph.reshape %[[G]] : tensor<2x1xf32> -> tensor<2xf32>
func.func @gather_nd_constant(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  %idx = gaon_graph.constant dense<[[1, 2], [0, 0]]> : tensor<2x2xi64>
  %r = gaon_graph.gather_nd %x, %idx {batch_dims = 0 : i64} : (tensor<2x3xf32>, tensor<2x2xi64>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// clamp becomes max then min with constant bounds; an infinite bound is
// dropped.
// CHECK-LABEL: func.func @clamp
// CHECK: %[[LO:.*]] = gaon_graph.constant dense<0.000000e+00> : tensor<f32>
// CHECK: %[[M:.*]] = gaon_graph.max %arg0, %[[LO]]
// CHECK-NOT: gaon_graph.min
// CHECK: return %[[M]]
func.func @clamp(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = gaon_graph.clamp %x {min = 0.0 : f64, max = 0x7FF0000000000000 : f64} : tensor<4xf32>
  return %r : tensor<4xf32>
}

// A layer norm over the last two dims runs over the [outer, inner] view;
// its [4x8] scale is flattened to [32].
// CHECK-LABEL: func.func @layer_norm_two_dims
// CHECK: %[[X:.*]] = gaon_graph.reshape %arg0 : tensor<2x4x8xf32> -> tensor<2x32xf32>
// CHECK: %[[S:.*]] = gaon_graph.reshape %arg1 : tensor<4x8xf32> -> tensor<32xf32>
// CHECK: %[[N:.*]] = gaon_graph.layer_norm %[[X]], %[[S]] {axis = 1 : i64
// CHECK: gaon_graph.reshape %[[N]] : tensor<2x32xf32> -> tensor<2x4x8xf32>
func.func @layer_norm_two_dims(%x: tensor<2x4x8xf32>, %s: tensor<4x8xf32>) -> tensor<2x4x8xf32> {
  %r = gaon_graph.layer_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x4x8xf32>, tensor<4x8xf32>) -> tensor<2x4x8xf32>
  return %r : tensor<2x4x8xf32>
}

// A norm over the last dim with a vector scale is already in NPU form.
// CHECK-LABEL: func.func @rms_norm_last_dim
// CHECK-NEXT: gaon_graph.rms_norm %arg0, %arg1 {axis = 2 : i64
// CHECK-NEXT: return
func.func @rms_norm_last_dim(%x: tensor<2x4x8xf32>, %s: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %r = gaon_graph.rms_norm %x, %s {axis = 2 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return %r : tensor<2x4x8xf32>
}

// softmax over axis 1 of a rank-3 tensor is moved to the last axis and back.
// CHECK-LABEL: func.func @softmax_inner_axis
// CHECK: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 0, 2, 1>} : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
// CHECK: %[[S:.*]] = gaon_graph.softmax %[[T]] {axis = 2 : i64} : tensor<2x4x3xf32>
// CHECK: gaon_graph.transpose %[[S]] {perm = array<i64: 0, 2, 1>} : tensor<2x4x3xf32> -> tensor<2x3x4xf32>
func.func @softmax_inner_axis(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %r = gaon_graph.softmax %x {axis = 1 : i64} : tensor<2x3x4xf32>
  return %r : tensor<2x3x4xf32>
}

// log-softmax becomes x - max - log(sum(exp(x - max))) over the last axis.
// CHECK-LABEL: func.func @log_softmax
// CHECK: %[[M:.*]] = gaon_graph.reduce_max %arg0 {axes = array<i64: 1>} : tensor<2x5xf32> -> tensor<2x1xf32>
// CHECK: %[[S:.*]] = gaon_graph.sub %arg0, %[[M]]
// CHECK: %[[E:.*]] = gaon_graph.exp %[[S]]
// CHECK: %[[T:.*]] = gaon_graph.reduce_sum %[[E]]
// CHECK: %[[L:.*]] = gaon_graph.log %[[T]] : tensor<2x1xf32>
// CHECK: gaon_graph.sub %[[S]], %[[L]]
func.func @log_softmax(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %r = gaon_graph.softmax %x {axis = 1 : i64, log = true} : tensor<2x5xf32>
  return %r : tensor<2x5xf32>
}

// Two adds of constants to the same tensor become one add of their sum
// (BERT's embeddings: a position table and a token-type row): [1, 2] +
// [10] = [11, 12] per row.
// CHECK-LABEL: func.func @constant_adds
// CHECK: %[[C:.*]] = gaon_graph.constant dense<{{\[\[}}1.100000e+01, 1.200000e+01]]> : tensor<1x2xf32>
// CHECK: %[[R:.*]] = gaon_graph.add %arg0, %[[C]] : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
// CHECK-NOT: gaon_graph.add
// CHECK: return %[[R]]
func.func @constant_adds(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %c1 = gaon_graph.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %c2 = gaon_graph.constant dense<10.0> : tensor<1xf32>
  %a = gaon_graph.add %x, %c1 : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
  %b = gaon_graph.add %c2, %a : (tensor<1xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  return %b : tensor<3x2xf32>
}

// The inner add has another use: both stay.
// CHECK-LABEL: func.func @constant_adds_shared
// CHECK: gaon_graph.add %arg0
// CHECK: gaon_graph.add
func.func @constant_adds_shared(%x: tensor<3x2xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>) {
  %c1 = gaon_graph.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %c2 = gaon_graph.constant dense<10.0> : tensor<1xf32>
  %a = gaon_graph.add %x, %c1 : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
  %b = gaon_graph.add %a, %c2 : (tensor<3x2xf32>, tensor<1xf32>) -> tensor<3x2xf32>
  return %a, %b : tensor<3x2xf32>, tensor<3x2xf32>
}

// trilu keeps the upper triangle from diagonal 1 (j - i >= 1): a select of
// x by a constant [3, 4] triangle, 0 elsewhere, over every leading batch.
// CHECK-LABEL: func.func @trilu_upper
// CHECK: %[[M:.*]] = gaon_graph.constant dense<{{\[\[}}false, true, true, true], [false, false, true, true], [false, false, false, true]]> : tensor<3x4xi1>
// CHECK: %[[Z:.*]] = gaon_graph.constant dense<0.000000e+00> : tensor<f32>
// CHECK: gaon_graph.select %[[M]], %arg0, %[[Z]] : (tensor<3x4xi1>, tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
// CHECK-NOT: gaon_graph.trilu
func.func @trilu_upper(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %y = gaon_graph.trilu %x {upper = true, k = 1 : i64} : tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// The lower triangle with a negative offset (j - i <= -1) on integers.
// CHECK-LABEL: func.func @trilu_lower_negative
// CHECK: gaon_graph.constant dense<{{\[\[}}false, false], [true, false], [true, true]]> : tensor<3x2xi1>
// CHECK: gaon_graph.select {{.*}} : (tensor<3x2xi1>, tensor<3x2xi64>, tensor<i64>) -> tensor<3x2xi64>
func.func @trilu_lower_negative(%x: tensor<3x2xi64>) -> tensor<3x2xi64> {
  %y = gaon_graph.trilu %x {upper = false, k = -1 : i64} : tensor<3x2xi64>
  return %y : tensor<3x2xi64>
}

// tile [2, 3] by [2, 1] repeats the rows: [1, 2, 1, 3] broadcast to
// [2, 2, 1, 3], read back as [4, 3].
// CHECK-LABEL: func.func @tile
// CHECK: %[[R:.*]] = gaon_graph.reshape %arg0 : tensor<2x3xf32> -> tensor<1x2x1x3xf32>
// CHECK: %[[B:.*]] = gaon_graph.broadcast %[[R]] : tensor<1x2x1x3xf32> -> tensor<2x2x1x3xf32>
// CHECK: gaon_graph.reshape %[[B]] : tensor<2x2x1x3xf32> -> tensor<4x3xf32>
// CHECK-NOT: gaon_graph.tile
func.func @tile(%x: tensor<2x3xf32>) -> tensor<4x3xf32> {
  %y = gaon_graph.tile %x {repeats = array<i64: 2, 1>} : tensor<2x3xf32> -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// argmax over axis 1 without keep_dims: the smallest index holding the row
// maximum, reduce_min over select(x == max, iota [1, 4, 1], 4).
// CHECK-LABEL: func.func @argmax
// CHECK-DAG: %[[NONE:.*]] = gaon_graph.constant dense<4> : tensor<i64>
// CHECK-DAG: %[[IOTA:.*]] = gaon_graph.constant dense<{{\[\[}}[0], [1], [2], [3]]]> : tensor<1x4x1xi64>
// CHECK: %[[MAX:.*]] = gaon_graph.reduce_max %arg0 {axes = array<i64: 1>} : tensor<2x4x3xf32> -> tensor<2x1x3xf32>
// CHECK: %[[EQ:.*]] = gaon_graph.equal %arg0, %[[MAX]] : (tensor<2x4x3xf32>, tensor<2x1x3xf32>) -> tensor<2x4x3xi1>
// CHECK: %[[SEL:.*]] = gaon_graph.select %[[EQ]], %[[IOTA]], %[[NONE]] : (tensor<2x4x3xi1>, tensor<1x4x1xi64>, tensor<i64>) -> tensor<2x4x3xi64>
// CHECK: gaon_graph.reduce_min %[[SEL]] {axes = array<i64: 1>, keep_dims = false} : tensor<2x4x3xi64> -> tensor<2x3xi64>
// CHECK-NOT: gaon_graph.argmax
func.func @argmax(%x: tensor<2x4x3xf32>) -> tensor<2x3xi64> {
  %y = gaon_graph.argmax %x {axis = 1 : i64, keep_dims = false} : tensor<2x4x3xf32> -> tensor<2x3xi64>
  return %y : tensor<2x3xi64>
}

// A slice walking axis 0 backwards (start 3, step -2 over 5 rows: rows 3
// and 1) becomes a gather of those rows; the other axes' slice (columns
// from 1) stays a slice.
// CHECK-LABEL: func.func @negative_step_axis0
// CHECK: %[[I:.*]] = gaon_graph.constant dense<[3, 1]> : tensor<2xi64>
// CHECK: %[[G:.*]] = gaon_graph.gather %arg0, %[[I]] {axis = 0 : i64} : (tensor<5x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
// CHECK: gaon_graph.slice %[[G]] {starts = array<i64: 0, 1>, steps = array<i64: 1, 1>} : tensor<2x4xf32> -> tensor<2x3xf32>
// CHECK-NOT: steps = array<i64: -
func.func @negative_step_axis0(%x: tensor<5x4xf32>) -> tensor<2x3xf32> {
  %y = gaon_graph.slice %x {starts = array<i64: 3, 1>, steps = array<i64: -2, 1>} : tensor<5x4xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// Reversing the last axis (ArgMax's select_last_index): the axis goes
// first for the gather (rows of axis 0) and back after; nothing is left
// to slice.
// CHECK-LABEL: func.func @reverse_last_axis
// CHECK: %[[I:.*]] = gaon_graph.constant dense<[2, 1, 0]> : tensor<3xi64>
// CHECK: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
// CHECK: %[[G:.*]] = gaon_graph.gather %[[T]], %[[I]] {axis = 0 : i64}
// CHECK: %[[R:.*]] = gaon_graph.transpose %[[G]] {perm = array<i64: 1, 0>} : tensor<3x2xf32> -> tensor<2x3xf32>
// CHECK-NEXT: return %[[R]]
func.func @reverse_last_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = gaon_graph.slice %x {starts = array<i64: 0, 2>, steps = array<i64: 1, -1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// A gather along axis 1 of [2, 5, 3] data with [4] indices: axis 1 goes
// first, the kernel gathers rows, and the result [4, 2, 3] goes back to
// ONNX's order [2, 4, 3].
// CHECK-LABEL: func.func @gather_axis1
// CHECK: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 1, 0, 2>} : tensor<2x5x3xf32> -> tensor<5x2x3xf32>
// CHECK: %[[G:.*]] = gaon_graph.gather %[[T]], %arg1 {axis = 0 : i64} : (tensor<5x2x3xf32>, tensor<4xi64>) -> tensor<4x2x3xf32>
// CHECK: gaon_graph.transpose %[[G]] {perm = array<i64: 1, 0, 2>} : tensor<4x2x3xf32> -> tensor<2x4x3xf32>
func.func @gather_axis1(%x: tensor<2x5x3xf32>, %i: tensor<4xi64>) -> tensor<2x4x3xf32> {
  %y = gaon_graph.gather %x, %i {axis = 1 : i64} : (tensor<2x5x3xf32>, tensor<4xi64>) -> tensor<2x4x3xf32>
  return %y : tensor<2x4x3xf32>
}

// sign becomes two selects: 1 where x > 0, else -1 where x < 0, else x
// itself (zeros keep their sign, NaN stays NaN).
// CHECK-LABEL: func.func @sign
// CHECK-DAG: %[[LT:.*]] = gaon_graph.less %arg0, %[[Z:.*]] :
// CHECK-DAG: %[[GT:.*]] = gaon_graph.greater %arg0, %[[Z]] :
// CHECK: %[[IN:.*]] = gaon_graph.select %[[LT]], %{{.*}}, %arg0
// CHECK: gaon_graph.select %[[GT]], %{{.*}}, %[[IN]]
func.func @sign(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = gaon_graph.sign %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// pad crops its negative pads with a slice, then concatenates splat
// constants of the pad value around each padded dimension: here one row
// above, two columns cut from the left, one column of 1.5 on the right.
// CHECK-LABEL: func.func @pad_crop_and_fill
// CHECK-DAG: %[[RIGHT:.*]] = gaon_graph.constant dense<1.500000e+00> : tensor<4x1xf32>
// CHECK-DAG: %[[TOP:.*]] = gaon_graph.constant dense<1.500000e+00> : tensor<1x3xf32>
// CHECK-DAG: %[[S:.*]] = gaon_graph.slice %arg0 {starts = array<i64: 0, 2>, steps = array<i64: 1, 1>} : tensor<3x5xf32> -> tensor<3x3xf32>
// CHECK: %[[R:.*]] = gaon_graph.concat %[[TOP]], %[[S]] {axis = 0 : i64} : (tensor<1x3xf32>, tensor<3x3xf32>) -> tensor<4x3xf32>
// CHECK: %[[C:.*]] = gaon_graph.concat %[[R]], %[[RIGHT]] {axis = 1 : i64} : (tensor<4x3xf32>, tensor<4x1xf32>) -> tensor<4x4xf32>
// CHECK: return %[[C]]
func.func @pad_crop_and_fill(%x: tensor<3x5xf32>) -> tensor<4x4xf32> {
  %r = gaon_graph.pad %x {low = array<i64: 1, -2>, high = array<i64: 0, 1>, value = 1.5 : f64} : tensor<3x5xf32> -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}

// Integer pads fill with the value as an integer (uint8 keeps 200).
// CHECK-LABEL: func.func @pad_uint8
// CHECK: %[[F:.*]] = gaon_graph.constant dense<200> : tensor<2xui8>
// CHECK: gaon_graph.concat %arg0, %[[F]] {axis = 0 : i64} : (tensor<3xui8>, tensor<2xui8>) -> tensor<5xui8>
func.func @pad_uint8(%x: tensor<3xui8>) -> tensor<5xui8> {
  %r = gaon_graph.pad %x {low = array<i64: 0>, high = array<i64: 2>, value = 200.0 : f64} : tensor<3xui8> -> tensor<5xui8>
  return %r : tensor<5xui8>
}

// gather_nd with runtime indices: the linear row index is computed on chip
// (negative indices wrapped by a select, times the row strides [2, 1],
// summed over the tuple in int64), then a row gather of the flattened data.
// CHECK-LABEL: func.func @gather_nd_runtime
// CHECK-DAG: %[[STRIDES:.*]] = gaon_graph.constant dense<[2, 1]> : tensor<2xi64>
// CHECK-DAG: %[[DIMS:.*]] = gaon_graph.constant dense<2> : tensor<2xi64>
// CHECK: %[[NEG:.*]] = gaon_graph.less %arg1
// CHECK: %[[WRAP:.*]] = gaon_graph.add %arg1, %[[DIMS]]
// CHECK: %[[IDX:.*]] = gaon_graph.select %[[NEG]], %[[WRAP]], %arg1
// CHECK: %[[SCALED:.*]] = gaon_graph.mul %[[IDX]], %[[STRIDES]]
// CHECK: %[[LIN:.*]] = gaon_graph.reduce_sum %[[SCALED]] {axes = array<i64: 1>, keep_dims = false} : tensor<3x2xi64> -> tensor<3xi64>
// CHECK: %[[T:.*]] = gaon_graph.reshape %arg0 : tensor<2x2x5xf32> -> tensor<4x5xf32>
// CHECK: gaon_graph.gather %[[T]], %[[LIN]] {axis = 0 : i64} : (tensor<4x5xf32>, tensor<3xi64>) -> tensor<3x5xf32>
func.func @gather_nd_runtime(%x: tensor<2x2x5xf32>, %i: tensor<3x2xi64>) -> tensor<3x5xf32> {
  %r = gaon_graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<2x2x5xf32>, tensor<3x2xi64>) -> tensor<3x5xf32>
  return %r : tensor<3x5xf32>
}

// With batch_dims = 1 each batch's rows start at b * rows of the flattened
// table: a constant [0, 2] per batch is added; int32 indices are widened.
// CHECK-LABEL: func.func @gather_nd_runtime_batch
// CHECK-DAG: %[[OFF:.*]] = gaon_graph.constant dense<{{\[\[}}0], [2]]> : tensor<2x1xi64>
// CHECK: gaon_graph.cast %arg1 : tensor<2x1x1xi32> -> tensor<2x1x1xi64>
// CHECK: %[[LIN:.*]] = gaon_graph.reduce_sum
// CHECK: %[[ALL:.*]] = gaon_graph.add %[[LIN]], %[[OFF]] : (tensor<2x1xi64>, tensor<2x1xi64>) -> tensor<2x1xi64>
// CHECK: gaon_graph.reshape %[[ALL]] : tensor<2x1xi64> -> tensor<2xi64>
// CHECK: gaon_graph.gather %{{.*}} : (tensor<4x2xi32>, tensor<2xi64>) -> tensor<2x2xi32>
func.func @gather_nd_runtime_batch(%x: tensor<2x2x2xi32>, %i: tensor<2x1x1xi32>) -> tensor<2x1x2xi32> {
  %r = gaon_graph.gather_nd %x, %i {batch_dims = 1 : i64} : (tensor<2x2x2xi32>, tensor<2x1x1xi32>) -> tensor<2x1x2xi32>
  return %r : tensor<2x1x2xi32>
}
