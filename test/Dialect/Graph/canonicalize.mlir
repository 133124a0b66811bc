// RUN: gaon-opt --canonicalize %s | FileCheck %s
// Canonical forms of gaon_graph: identity operands dropped when no
// broadcast is lost, transpose chains composed, transposes of unit
// dimensions turned into reshapes.

// x + 0, 0 + x, 1 * x and x / 1 are x when x already has the result's type
// (the constant may be a scalar or a broadcastable splat, -0.0 included).
// CHECK-LABEL: func.func @drop_identity_operands
// CHECK-NOT: gaon_graph
// CHECK: return %arg0, %arg0, %arg0, %arg0, %arg1 :
func.func @drop_identity_operands(%x: tensor<2x3xf32>, %i: tensor<3xi32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xi32>) {
  %z = gaon_graph.constant dense<0.0> : tensor<f32>
  %nz = gaon_graph.constant dense<-0.0> : tensor<3xf32>
  %one = gaon_graph.constant dense<1.0> : tensor<1x1xf32>
  %0 = gaon_graph.add %x, %z : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %1 = gaon_graph.add %nz, %x : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = gaon_graph.mul %one, %x : (tensor<1x1xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = gaon_graph.div %x, %one : (tensor<2x3xf32>, tensor<1x1xf32>) -> tensor<2x3xf32>
  %i1 = gaon_graph.constant dense<1> : tensor<i32>
  %4 = gaon_graph.mul %i, %i1 : (tensor<3xi32>, tensor<i32>) -> tensor<3xi32>
  return %0, %1, %2, %3, %4 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xi32>
}

// When the identity constant broadcasts x to a larger shape the op stays:
// it is the broadcast.
// CHECK-LABEL: func.func @keep_broadcasting_identity
// CHECK-DAG: %[[Z:.*]] = gaon_graph.constant dense<0.000000e+00> : tensor<2x3xf32>
// CHECK-DAG: %[[ONE:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<2x3xf32>
// CHECK-DAG: %[[A:.*]] = gaon_graph.add %arg0, %[[Z]] : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-DAG: %[[M:.*]] = gaon_graph.mul %[[ONE]], %arg0 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK: return %[[A]], %[[M]]
func.func @keep_broadcasting_identity(%x: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %z = gaon_graph.constant dense<0.0> : tensor<2x3xf32>
  %one = gaon_graph.constant dense<1.0> : tensor<2x3xf32>
  %0 = gaon_graph.add %x, %z : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = gaon_graph.mul %one, %x : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %0, %1 : tensor<2x3xf32>, tensor<2x3xf32>
}

// 1 / x is not x (division is not commutative), and a constant that is
// not a splat of the identity is kept.
// CHECK-LABEL: func.func @keep_non_identity
// CHECK-DAG: %[[ONE:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<f32>
// CHECK-DAG: %[[C:.*]] = gaon_graph.constant dense<[0.000000e+00, 1.000000e+00, 0.000000e+00]> : tensor<3xf32>
// CHECK-DAG: %[[D:.*]] = gaon_graph.div %[[ONE]], %arg0 : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK-DAG: %[[A:.*]] = gaon_graph.add %arg0, %[[C]] : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK-DAG: %[[M:.*]] = gaon_graph.mul %arg0, %[[C]] : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK: return %[[D]], %[[A]], %[[M]]
func.func @keep_non_identity(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %0 = gaon_graph.div %one, %x : (tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  %c = gaon_graph.constant dense<[0.0, 1.0, 0.0]> : tensor<3xf32>
  %1 = gaon_graph.add %x, %c : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %2 = gaon_graph.mul %x, %c : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0, %1, %2 : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}

// x * 0 is not x, and x + 1 is not x.
// CHECK-LABEL: func.func @keep_wrong_constant
// CHECK: gaon_graph.mul %arg0
// CHECK: gaon_graph.add %arg0
func.func @keep_wrong_constant(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %z = gaon_graph.constant dense<0.0> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %0 = gaon_graph.mul %x, %z : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  %1 = gaon_graph.add %x, %one : (tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
  return %0, %1 : tensor<3xf32>, tensor<3xf32>
}

// transpose(transpose(x, [1,2,0]), [0,2,1]) is one transpose with the
// composed permutation [1,0,2].
// CHECK-LABEL: func.func @compose_transposes
// CHECK-NEXT: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 1, 0, 2>} : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
// CHECK-NEXT: return %[[T]]
func.func @compose_transposes(%x: tensor<2x3x4xf32>) -> tensor<3x2x4xf32> {
  %0 = gaon_graph.transpose %x {perm = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = gaon_graph.transpose %0 {perm = array<i64: 0, 2, 1>} : tensor<3x4x2xf32> -> tensor<3x2x4xf32>
  return %1 : tensor<3x2x4xf32>
}

// A transpose followed by its inverse disappears.
// CHECK-LABEL: func.func @inverse_transposes
// CHECK-NEXT: return %arg0 : tensor<2x3x4xf32>
func.func @inverse_transposes(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = gaon_graph.transpose %x {perm = array<i64: 1, 2, 0>} : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %1 = gaon_graph.transpose %0 {perm = array<i64: 2, 0, 1>} : tensor<3x4x2xf32> -> tensor<2x3x4xf32>
  return %1 : tensor<2x3x4xf32>
}

// When the inner transpose has another use it stays, and the outer one still
// reads x directly.
// CHECK-LABEL: func.func @compose_with_shared_inner
// CHECK-NEXT: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
// CHECK-NEXT: return %[[T]], %arg0
func.func @compose_with_shared_inner(%x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<2x3xf32>) {
  %0 = gaon_graph.transpose %x {perm = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<3x2xf32>
  %1 = gaon_graph.transpose %0 {perm = array<i64: 1, 0>} : tensor<3x2xf32> -> tensor<2x3xf32>
  return %0, %1 : tensor<3x2xf32>, tensor<2x3xf32>
}

// A transpose that only moves a size-1 dimension keeps the element order:
// it becomes a reshape.
// CHECK-LABEL: func.func @unit_dim_transpose_to_reshape
// CHECK-NEXT: %[[R:.*]] = gaon_graph.reshape %arg0 : tensor<2x1x3xf32> -> tensor<2x3x1xf32>
// CHECK-NEXT: return %[[R]]
func.func @unit_dim_transpose_to_reshape(%x: tensor<2x1x3xf32>) -> tensor<2x3x1xf32> {
  %0 = gaon_graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x1x3xf32> -> tensor<2x3x1xf32>
  return %0 : tensor<2x3x1xf32>
}

// The single-head [B, 1, S, D] -> [B, S, 1, D] transpose of attention.
// CHECK-LABEL: func.func @single_head_transpose
// CHECK-NEXT: %[[R:.*]] = gaon_graph.reshape %arg0 : tensor<2x1x16x64xf32> -> tensor<2x16x1x64xf32>
// CHECK-NEXT: return %[[R]]
func.func @single_head_transpose(%x: tensor<2x1x16x64xf32>) -> tensor<2x16x1x64xf32> {
  %0 = gaon_graph.transpose %x {perm = array<i64: 0, 2, 1, 3>} : tensor<2x1x16x64xf32> -> tensor<2x16x1x64xf32>
  return %0 : tensor<2x16x1x64xf32>
}

// Swapping two non-unit dimensions is a real transpose.
// CHECK-LABEL: func.func @keep_real_transpose
// CHECK-NEXT: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 2, 1, 0>} : tensor<2x1x3xf32> -> tensor<3x1x2xf32>
// CHECK-NEXT: return %[[T]]
func.func @keep_real_transpose(%x: tensor<2x1x3xf32>) -> tensor<3x1x2xf32> {
  %0 = gaon_graph.transpose %x {perm = array<i64: 2, 1, 0>} : tensor<2x1x3xf32> -> tensor<3x1x2xf32>
  return %0 : tensor<3x1x2xf32>
}

// A composed transpose that only moves unit dimensions ends as a reshape.
// CHECK-LABEL: func.func @compose_then_reshape
// CHECK-NEXT: %[[R:.*]] = gaon_graph.reshape %arg0 : tensor<4x1x5xf32> -> tensor<1x4x5xf32>
// CHECK-NEXT: return %[[R]]
func.func @compose_then_reshape(%x: tensor<4x1x5xf32>) -> tensor<1x4x5xf32> {
  %0 = gaon_graph.transpose %x {perm = array<i64: 2, 0, 1>} : tensor<4x1x5xf32> -> tensor<5x4x1xf32>
  %1 = gaon_graph.transpose %0 {perm = array<i64: 2, 1, 0>} : tensor<5x4x1xf32> -> tensor<1x4x5xf32>
  return %1 : tensor<1x4x5xf32>
}

// torch.export's batched K^T: [B,H,S,D] -> [B*H,S,D] -> transpose -> [B,H,D,S].
// The reshape of the transpose moves before it (the transpose keeps the
// merged leading dim), the two reshapes fold, and one 4-D transpose is left.
// CHECK-LABEL: func.func @reshape_of_trailing_transpose
// CHECK-NEXT: %[[T:.*]] = gaon_graph.transpose %arg0 {perm = array<i64: 0, 1, 3, 2>} : tensor<2x4x16x8xf32> -> tensor<2x4x8x16xf32>
// CHECK-NEXT: return %[[T]]
func.func @reshape_of_trailing_transpose(%k: tensor<2x4x16x8xf32>) -> tensor<2x4x8x16xf32> {
  %m = gaon_graph.reshape %k : tensor<2x4x16x8xf32> -> tensor<8x16x8xf32>
  %t = gaon_graph.transpose %m {perm = array<i64: 0, 2, 1>} : tensor<8x16x8xf32> -> tensor<8x8x16xf32>
  %r = gaon_graph.reshape %t : tensor<8x8x16xf32> -> tensor<2x4x8x16xf32>
  return %r : tensor<2x4x8x16xf32>
}

// A reshape that also regroups the transposed dims (here the head merge
// after attention, [B,S,H,D] -> [B,S,H*D]) must stay after the transpose.
// CHECK-LABEL: func.func @reshape_of_transposed_dims_stays
// CHECK-NEXT: gaon_graph.transpose %arg0
// CHECK-NEXT: gaon_graph.reshape
func.func @reshape_of_transposed_dims_stays(%x: tensor<2x4x16x8xf32>) -> tensor<2x16x32xf32> {
  %t = gaon_graph.transpose %x {perm = array<i64: 0, 2, 1, 3>} : tensor<2x4x16x8xf32> -> tensor<2x16x4x8xf32>
  %r = gaon_graph.reshape %t : tensor<2x16x4x8xf32> -> tensor<2x16x32xf32>
  return %r : tensor<2x16x32xf32>
}

// BLOOM's fused QKV, [..., 3, D] indexed with a constant scalar: a slice of
// width 1 along the axis, reshaped to drop it.
// CHECK-LABEL: func.func @gather_scalar_index_to_slice
// CHECK-NEXT: %[[S:.*]] = gaon_graph.slice %arg0 {starts = array<i64: 0, 0, 1, 0>, steps = array<i64: 1, 1, 1, 1>} : tensor<2x4x3x8xf32> -> tensor<2x4x1x8xf32>
// CHECK-NEXT: %[[R:.*]] = gaon_graph.reshape %[[S]] : tensor<2x4x1x8xf32> -> tensor<2x4x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @gather_scalar_index_to_slice(%x: tensor<2x4x3x8xf32>) -> tensor<2x4x8xf32> {
  %i = gaon_graph.constant dense<1> : tensor<i64>
  %g = gaon_graph.gather %x, %i {axis = 2 : i64} : (tensor<2x4x3x8xf32>, tensor<i64>) -> tensor<2x4x8xf32>
  return %g : tensor<2x4x8xf32>
}

// Evenly stepping indices, negative ones normalized ([-1, -3] on a dim of 6
// is 5, 3): a slice with step -2.
// CHECK-LABEL: func.func @gather_even_indices_to_slice
// CHECK-NEXT: %[[S:.*]] = gaon_graph.slice %arg0 {starts = array<i64: 0, 5>, steps = array<i64: 1, -2>} : tensor<2x6xf32> -> tensor<2x2xf32>
// CHECK-NEXT: return %[[S]]
func.func @gather_even_indices_to_slice(%x: tensor<2x6xf32>) -> tensor<2x2xf32> {
  %i = gaon_graph.constant dense<[-1, -3]> : tensor<2xi64>
  %g = gaon_graph.gather %x, %i {axis = 1 : i64} : (tensor<2x6xf32>, tensor<2xi64>) -> tensor<2x2xf32>
  return %g : tensor<2x2xf32>
}

// Uneven indices are a real lookup: the gather stays.
// CHECK-LABEL: func.func @gather_uneven_indices_stays
// CHECK: gaon_graph.gather
// CHECK-NOT: gaon_graph.slice
func.func @gather_uneven_indices_stays(%x: tensor<2x6xf32>) -> tensor<2x3xf32> {
  %i = gaon_graph.constant dense<[0, 1, 4]> : tensor<3xi64>
  %g = gaon_graph.gather %x, %i {axis = 1 : i64} : (tensor<2x6xf32>, tensor<3xi64>) -> tensor<2x3xf32>
  return %g : tensor<2x3xf32>
}
