// RUN: gaon-opt --canonicalize %s | FileCheck %s
// Constant folding of gaon_graph ops (what removes the shape arithmetic of
// exported models) and the folds that return an operand unchanged.

// Binary arithmetic folds with NumPy broadcasting: [2] + [2,1] -> [2,2].
// CHECK-LABEL: func.func @fold_add_broadcast
// CHECK-NEXT: %[[R:.*]] = gaon_graph.constant dense<{{\[\[}}1.100000e+01, 1.200000e+01], [2.100000e+01, 2.200000e+01]]> : tensor<2x2xf32>
// CHECK-NEXT: return %[[R]]
func.func @fold_add_broadcast() -> tensor<2x2xf32> {
  %a = gaon_graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = gaon_graph.constant dense<[[10.0], [20.0]]> : tensor<2x1xf32>
  %0 = gaon_graph.add %a, %b : (tensor<2xf32>, tensor<2x1xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// sub, mul, max, min, float mod (fmod: sign of the dividend) and pow.
// CHECK-LABEL: func.func @fold_float_binary
// CHECK-NEXT: %[[SUB:.*]] = gaon_graph.constant dense<[-9.500000e+00, 5.500000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[MUL:.*]] = gaon_graph.constant dense<[-1.500000e+01, 1.500000e+01]> : tensor<2xf32>
// CHECK-NEXT: %[[MAX:.*]] = gaon_graph.constant dense<[2.000000e+00, 7.500000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[MIN:.*]] = gaon_graph.constant dense<[-7.500000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[MOD:.*]] = gaon_graph.constant dense<[-1.500000e+00, 1.500000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[POW:.*]] = gaon_graph.constant dense<5.625000e+01> : tensor<2xf32>
// CHECK-NEXT: return %[[SUB]], %[[MUL]], %[[MAX]], %[[MIN]], %[[MOD]], %[[POW]]
func.func @fold_float_binary() -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) {
  %a = gaon_graph.constant dense<[-7.5, 7.5]> : tensor<2xf32>
  %b = gaon_graph.constant dense<2.0> : tensor<f32>
  %0 = gaon_graph.sub %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = gaon_graph.mul %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %2 = gaon_graph.max %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %3 = gaon_graph.min %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %4 = gaon_graph.mod %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %5 = gaon_graph.pow %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
}

// Integer division truncates toward zero; division by zero is left for run
// time.
// CHECK-LABEL: func.func @fold_int_div
// CHECK-DAG: %[[Q:.*]] = gaon_graph.constant dense<[3, -3]> : tensor<2xi64>
// CHECK-DAG: %[[A:.*]] = gaon_graph.constant dense<[7, -7]> : tensor<2xi64>
// CHECK-DAG: %[[Z:.*]] = gaon_graph.constant dense<[1, 0]> : tensor<2xi64>
// CHECK: %[[D:.*]] = gaon_graph.div %[[A]], %[[Z]]
// CHECK-NEXT: return %[[Q]], %[[D]]
func.func @fold_int_div() -> (tensor<2xi64>, tensor<2xi64>) {
  %a = gaon_graph.constant dense<[7, -7]> : tensor<2xi64>
  %b = gaon_graph.constant dense<2> : tensor<i64>
  %z = gaon_graph.constant dense<[1, 0]> : tensor<2xi64>
  %0 = gaon_graph.div %a, %b : (tensor<2xi64>, tensor<i64>) -> tensor<2xi64>
  %1 = gaon_graph.div %a, %z : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return %0, %1 : tensor<2xi64>, tensor<2xi64>
}

// f16 results are rounded to f16: 1 + 1e-4 is 1.
// CHECK-LABEL: func.func @fold_f16_rounding
// CHECK-NEXT: %[[R:.*]] = gaon_graph.constant dense<1.000000e+00> : tensor<f16>
// CHECK-NEXT: return %[[R]]
func.func @fold_f16_rounding() -> tensor<f16> {
  %a = gaon_graph.constant dense<1.0> : tensor<f16>
  %b = gaon_graph.constant dense<0.0001> : tensor<f16>
  %0 = gaon_graph.add %a, %b : (tensor<f16>, tensor<f16>) -> tensor<f16>
  return %0 : tensor<f16>
}

// Comparisons fold to i1; logical ops fold on i1.
// CHECK-LABEL: func.func @fold_compare_logical
// CHECK-NEXT: %[[LE:.*]] = gaon_graph.constant dense<[true, true, false]> : tensor<3xi1>
// CHECK-NEXT: %[[GT:.*]] = gaon_graph.constant dense<[false, false, true]> : tensor<3xi1>
// CHECK-NEXT: %[[XOR:.*]] = gaon_graph.constant dense<[true, false, false]> : tensor<3xi1>
// CHECK-NEXT: %[[AND:.*]] = gaon_graph.constant dense<[false, true, false]> : tensor<3xi1>
// CHECK-NEXT: return %[[LE]], %[[GT]], %[[XOR]], %[[AND]]
func.func @fold_compare_logical() -> (tensor<3xi1>, tensor<3xi1>, tensor<3xi1>, tensor<3xi1>) {
  %a = gaon_graph.constant dense<[1, 2, 3]> : tensor<3xi64>
  %b = gaon_graph.constant dense<2> : tensor<i64>
  %0 = gaon_graph.less_equal %a, %b : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
  %1 = gaon_graph.greater %a, %b : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
  %c = gaon_graph.constant dense<[false, true, false]> : tensor<3xi1>
  %2 = gaon_graph.xor %0, %c : (tensor<3xi1>, tensor<3xi1>) -> tensor<3xi1>
  %3 = gaon_graph.and %0, %c : (tensor<3xi1>, tensor<3xi1>) -> tensor<3xi1>
  return %0, %1, %2, %3 : tensor<3xi1>, tensor<3xi1>, tensor<3xi1>, tensor<3xi1>
}

// Unary ops fold: round ties to even, rsqrt, relu, exp, sigmoid.
// CHECK-LABEL: func.func @fold_unary_float
// CHECK-NEXT: %[[ROUND:.*]] = gaon_graph.constant dense<[0.000000e+00, 2.000000e+00, 2.000000e+00, -0.000000e+00]> : tensor<4xf32>
// CHECK-NEXT: %[[RSQRT:.*]] = gaon_graph.constant dense<[5.000000e-01, 2.000000e+00, 1.000000e+00, 2.500000e-01]> : tensor<4xf32>
// CHECK-NEXT: %[[RELU:.*]] = gaon_graph.constant dense<[0.000000e+00, 0.000000e+00, 2.000000e+00, 0.000000e+00]> : tensor<4xf32>
// CHECK-NEXT: %[[EXP:.*]] = gaon_graph.constant dense<[1.000000e+00, 2.71828175]> : tensor<2xf32>
// CHECK-NEXT: %[[SIG:.*]] = gaon_graph.constant dense<[5.000000e-01, 0.731058597]> : tensor<2xf32>
// CHECK-NEXT: return %[[ROUND]], %[[RSQRT]], %[[RELU]], %[[EXP]], %[[SIG]]
func.func @fold_unary_float() -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<2xf32>) {
  %a = gaon_graph.constant dense<[0.5, 1.5, 2.5, -0.5]> : tensor<4xf32>
  %0 = gaon_graph.round %a : tensor<4xf32>
  %b = gaon_graph.constant dense<[4.0, 0.25, 1.0, 16.0]> : tensor<4xf32>
  %1 = gaon_graph.rsqrt %b : tensor<4xf32>
  %c = gaon_graph.constant dense<[-1.5, 0.0, 2.0, -0.0]> : tensor<4xf32>
  %2 = gaon_graph.relu %c : tensor<4xf32>
  %d = gaon_graph.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %3 = gaon_graph.exp %d : tensor<2xf32>
  %4 = gaon_graph.sigmoid %d : tensor<2xf32>
  return %0, %1, %2, %3, %4 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>, tensor<2xf32>
}

// Integer unary folds stay exact; not flips i1.
// CHECK-LABEL: func.func @fold_unary_int
// CHECK-NEXT: %[[ABS:.*]] = gaon_graph.constant dense<[3, 0, 5]> : tensor<3xi32>
// CHECK-NEXT: %[[NEG:.*]] = gaon_graph.constant dense<[3, 0, -5]> : tensor<3xi32>
// CHECK-NEXT: %[[SIGN:.*]] = gaon_graph.constant dense<[-1, 0, 1]> : tensor<3xi32>
// CHECK-NEXT: %[[NOT:.*]] = gaon_graph.constant dense<[false, true]> : tensor<2xi1>
// CHECK-NEXT: return %[[ABS]], %[[NEG]], %[[SIGN]], %[[NOT]]
func.func @fold_unary_int() -> (tensor<3xi32>, tensor<3xi32>, tensor<3xi32>, tensor<2xi1>) {
  %i = gaon_graph.constant dense<[-3, 0, 5]> : tensor<3xi32>
  %0 = gaon_graph.abs %i : tensor<3xi32>
  %1 = gaon_graph.neg %i : tensor<3xi32>
  %2 = gaon_graph.sign %i : tensor<3xi32>
  %b = gaon_graph.constant dense<[true, false]> : tensor<2xi1>
  %3 = gaon_graph.not %b : tensor<2xi1>
  return %0, %1, %2, %3 : tensor<3xi32>, tensor<3xi32>, tensor<3xi32>, tensor<2xi1>
}

// cast folds: float -> int truncates, int -> float rounds to nearest
// (2^24 + 1 -> 2^24), wide -> narrow int wraps, unsigned reads zero-extended,
// float -> bool is "non-zero", f32 -> bf16 rounds ties to even.
// CHECK-LABEL: func.func @fold_cast
// CHECK-NEXT: %[[F2I:.*]] = gaon_graph.constant dense<[-1, 2, 3]> : tensor<3xi32>
// CHECK-NEXT: %[[I2F:.*]] = gaon_graph.constant dense<[-1.000000e+00, 3.000000e+02, 0x4B800000]> : tensor<3xf32>
// CHECK-NEXT: %[[I2I8:.*]] = gaon_graph.constant dense<[-1, 44, 1]> : tensor<3xi8>
// CHECK-NEXT: %[[U2F:.*]] = gaon_graph.constant dense<[2.550000e+02, 1.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[F2B:.*]] = gaon_graph.constant dense<[false, true, true]> : tensor<3xi1>
// CHECK-NEXT: %[[BF:.*]] = gaon_graph.constant dense<[1.000000e+00, 1.015630e+00]> : tensor<2xbf16>
// CHECK-NEXT: return %[[F2I]], %[[I2F]], %[[I2I8]], %[[U2F]], %[[F2B]], %[[BF]]
func.func @fold_cast() -> (tensor<3xi32>, tensor<3xf32>, tensor<3xi8>, tensor<2xf32>, tensor<3xi1>, tensor<2xbf16>) {
  %a = gaon_graph.constant dense<[-1.7, 2.5, 3.9]> : tensor<3xf32>
  %0 = gaon_graph.cast %a : tensor<3xf32> -> tensor<3xi32>
  %i = gaon_graph.constant dense<[-1, 300, 16777217]> : tensor<3xi64>
  %1 = gaon_graph.cast %i : tensor<3xi64> -> tensor<3xf32>
  %2 = gaon_graph.cast %i : tensor<3xi64> -> tensor<3xi8>
  %u = gaon_graph.constant dense<[255, 1]> : tensor<2xui8>
  %3 = gaon_graph.cast %u : tensor<2xui8> -> tensor<2xf32>
  %f = gaon_graph.constant dense<[0.0, -0.5, 2.0]> : tensor<3xf32>
  %4 = gaon_graph.cast %f : tensor<3xf32> -> tensor<3xi1>
  %h = gaon_graph.constant dense<[1.00390625, 1.01171875]> : tensor<2xf32>
  %5 = gaon_graph.cast %h : tensor<2xf32> -> tensor<2xbf16>
  return %0, %1, %2, %3, %4, %5 : tensor<3xi32>, tensor<3xf32>, tensor<3xi8>, tensor<2xf32>, tensor<3xi1>, tensor<2xbf16>
}

// Reductions fold, with and without keep_dims.
// CHECK-LABEL: func.func @fold_reduce
// CHECK-NEXT: %[[SUM:.*]] = gaon_graph.constant dense<[2.000000e+00, 3.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: %[[MEAN:.*]] = gaon_graph.constant dense<{{\[\[}}2.500000e+00, 1.500000e+00, -1.500000e+00]]> : tensor<1x3xf32>
// CHECK-NEXT: %[[MAX:.*]] = gaon_graph.constant dense<5.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[MIN:.*]] = gaon_graph.constant dense<-6.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[PROD:.*]] = gaon_graph.constant dense<{{\[\[}}6], [-4]]> : tensor<2x1xi64>
// CHECK-NEXT: return %[[SUM]], %[[MEAN]], %[[MAX]], %[[MIN]], %[[PROD]]
func.func @fold_reduce() -> (tensor<2xf32>, tensor<1x3xf32>, tensor<f32>, tensor<f32>, tensor<2x1xi64>) {
  %a = gaon_graph.constant dense<[[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]> : tensor<2x3xf32>
  %0 = gaon_graph.reduce_sum %a {axes = array<i64: 1>, keep_dims = false} : tensor<2x3xf32> -> tensor<2xf32>
  %1 = gaon_graph.reduce_mean %a {axes = array<i64: 0>} : tensor<2x3xf32> -> tensor<1x3xf32>
  %2 = gaon_graph.reduce_max %a {axes = array<i64: 0, 1>, keep_dims = false} : tensor<2x3xf32> -> tensor<f32>
  %3 = gaon_graph.reduce_min %a {axes = array<i64: 0, 1>, keep_dims = false} : tensor<2x3xf32> -> tensor<f32>
  %i = gaon_graph.constant dense<[[2, 3], [-1, 4]]> : tensor<2x2xi64>
  %4 = gaon_graph.reduce_prod %i {axes = array<i64: 1>} : tensor<2x2xi64> -> tensor<2x1xi64>
  return %0, %1, %2, %3, %4 : tensor<2xf32>, tensor<1x3xf32>, tensor<f32>, tensor<f32>, tensor<2x1xi64>
}

// Integer reductions fold exactly, wrapping like numpy: an int64 sum past
// 2^53 keeps its low bits (9007199254740993 = 2^53 + 1 is not a double),
// a uint8 product wraps mod 256 (200 * 2 = 400 -> 144), and uint8 max
// compares unsigned (200 > 100).
// CHECK-LABEL: func.func @fold_reduce_integers_exactly
// CHECK-NEXT: %[[SUM:.*]] = gaon_graph.constant dense<9007199254740993> : tensor<1xi64>
// CHECK-NEXT: %[[PROD:.*]] = gaon_graph.constant dense<144> : tensor<1xui8>
// CHECK-NEXT: %[[MAX:.*]] = gaon_graph.constant dense<200> : tensor<1xui8>
// CHECK-NEXT: return %[[SUM]], %[[PROD]], %[[MAX]]
func.func @fold_reduce_integers_exactly() -> (tensor<1xi64>, tensor<1xui8>, tensor<1xui8>) {
  %i = gaon_graph.constant dense<[9007199254740992, 1]> : tensor<2xi64>
  %0 = gaon_graph.reduce_sum %i {axes = array<i64: 0>} : tensor<2xi64> -> tensor<1xi64>
  %u = gaon_graph.constant dense<[200, 2]> : tensor<2xui8>
  %1 = gaon_graph.reduce_prod %u {axes = array<i64: 0>} : tensor<2xui8> -> tensor<1xui8>
  %v = gaon_graph.constant dense<[100, 200]> : tensor<2xui8>
  %2 = gaon_graph.reduce_max %v {axes = array<i64: 0>} : tensor<2xui8> -> tensor<1xui8>
  return %0, %1, %2 : tensor<1xi64>, tensor<1xui8>, tensor<1xui8>
}

// reshape, transpose, concat and a backwards strided slice of constants.
// CHECK-LABEL: func.func @fold_data_movement
// CHECK-NEXT: %[[RESHAPE:.*]] = gaon_graph.constant dense<{{\[\[}}1, 2], [3, 4], [5, 6]]> : tensor<3x2xi32>
// CHECK-NEXT: %[[TRANSPOSE:.*]] = gaon_graph.constant dense<{{\[\[}}1, 4], [2, 5], [3, 6]]> : tensor<3x2xi32>
// CHECK-NEXT: %[[CONCAT:.*]] = gaon_graph.constant dense<{{\[\[}}1, 2, 3, 7], [4, 5, 6, 8]]> : tensor<2x4xi32>
// CHECK-NEXT: %[[SLICE:.*]] = gaon_graph.constant dense<{{\[\[}}6, 4], [3, 1]]> : tensor<2x2xi32>
// CHECK-NEXT: return %[[RESHAPE]], %[[TRANSPOSE]], %[[CONCAT]], %[[SLICE]]
func.func @fold_data_movement() -> (tensor<3x2xi32>, tensor<3x2xi32>, tensor<2x4xi32>, tensor<2x2xi32>) {
  %a = gaon_graph.constant dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi32>
  %0 = gaon_graph.reshape %a : tensor<2x3xi32> -> tensor<3x2xi32>
  %1 = gaon_graph.transpose %a {perm = array<i64: 1, 0>} : tensor<2x3xi32> -> tensor<3x2xi32>
  %b = gaon_graph.constant dense<[[7], [8]]> : tensor<2x1xi32>
  %2 = gaon_graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xi32>, tensor<2x1xi32>) -> tensor<2x4xi32>
  %3 = gaon_graph.slice %a {starts = array<i64: 1, 2>, steps = array<i64: -1, -2>} : tensor<2x3xi32> -> tensor<2x2xi32>
  return %0, %1, %2, %3 : tensor<3x2xi32>, tensor<3x2xi32>, tensor<2x4xi32>, tensor<2x2xi32>
}

// Data movement of i1 constants (one byte per element on the host).
// CHECK-LABEL: func.func @fold_bool_data_movement
// CHECK-NEXT: %[[T:.*]] = gaon_graph.constant dense<{{\[\[}}true, false], [true, false]]> : tensor<2x2xi1>
// CHECK-NEXT: %[[R:.*]] = gaon_graph.constant dense<[true, true, false, false]> : tensor<4xi1>
// CHECK-NEXT: return %[[T]], %[[R]]
func.func @fold_bool_data_movement() -> (tensor<2x2xi1>, tensor<4xi1>) {
  %a = gaon_graph.constant dense<[[true, true], [false, false]]> : tensor<2x2xi1>
  %0 = gaon_graph.transpose %a {perm = array<i64: 1, 0>} : tensor<2x2xi1> -> tensor<2x2xi1>
  %1 = gaon_graph.reshape %a : tensor<2x2xi1> -> tensor<4xi1>
  return %0, %1 : tensor<2x2xi1>, tensor<4xi1>
}

// split folds each result; broadcast of a splat stays a splat; tile repeats.
// CHECK-LABEL: func.func @fold_split_broadcast_tile
// CHECK-NEXT: %[[S0:.*]] = gaon_graph.constant dense<{{\[\[}}1], [4]]> : tensor<2x1xi32>
// CHECK-NEXT: %[[S1:.*]] = gaon_graph.constant dense<{{\[\[}}2, 3], [5, 6]]> : tensor<2x2xi32>
// CHECK-NEXT: %[[SPLAT:.*]] = gaon_graph.constant dense<2.500000e+00> : tensor<2x3xf32>
// CHECK-NEXT: %[[BCAST:.*]] = gaon_graph.constant dense<{{\[\[}}1, 1, 1], [2, 2, 2]]> : tensor<2x3xi32>
// CHECK-NEXT: %[[TILE:.*]] = gaon_graph.constant dense<{{\[\[}}1, 2, 3], [4, 5, 6], [1, 2, 3], [4, 5, 6]]> : tensor<4x3xi32>
// CHECK-NEXT: return %[[S0]], %[[S1]], %[[SPLAT]], %[[BCAST]], %[[TILE]]
func.func @fold_split_broadcast_tile() -> (tensor<2x1xi32>, tensor<2x2xi32>, tensor<2x3xf32>, tensor<2x3xi32>, tensor<4x3xi32>) {
  %a = gaon_graph.constant dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi32>
  %0:2 = gaon_graph.split %a {axis = 1 : i64} : tensor<2x3xi32> -> tensor<2x1xi32>, tensor<2x2xi32>
  %s = gaon_graph.constant dense<2.5> : tensor<1xf32>
  %1 = gaon_graph.broadcast %s : tensor<1xf32> -> tensor<2x3xf32>
  %r = gaon_graph.constant dense<[[1], [2]]> : tensor<2x1xi32>
  %2 = gaon_graph.broadcast %r : tensor<2x1xi32> -> tensor<2x3xi32>
  %3 = gaon_graph.tile %a {repeats = array<i64: 2, 1>} : tensor<2x3xi32> -> tensor<4x3xi32>
  return %0#0, %0#1, %1, %2, %3 : tensor<2x1xi32>, tensor<2x2xi32>, tensor<2x3xf32>, tensor<2x3xi32>, tensor<4x3xi32>
}

// gather (negative index), gather_elements and gather_nd (negative index) fold.
// CHECK-LABEL: func.func @fold_gathers
// CHECK-NEXT: %[[G:.*]] = gaon_graph.constant dense<{{\[\[}}3, 1], [6, 4]]> : tensor<2x2xi32>
// CHECK-NEXT: %[[GE:.*]] = gaon_graph.constant dense<{{\[\[}}3, 1], [5, 5]]> : tensor<2x2xi32>
// CHECK-NEXT: %[[GND:.*]] = gaon_graph.constant dense<[6, 1]> : tensor<2xi32>
// CHECK-NEXT: return %[[G]], %[[GE]], %[[GND]]
func.func @fold_gathers() -> (tensor<2x2xi32>, tensor<2x2xi32>, tensor<2xi32>) {
  %a = gaon_graph.constant dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi32>
  %i = gaon_graph.constant dense<[-1, 0]> : tensor<2xi64>
  %0 = gaon_graph.gather %a, %i {axis = 1 : i64} : (tensor<2x3xi32>, tensor<2xi64>) -> tensor<2x2xi32>
  %e = gaon_graph.constant dense<[[2, 0], [1, 1]]> : tensor<2x2xi64>
  %1 = gaon_graph.gather_elements %a, %e {axis = 1 : i64} : (tensor<2x3xi32>, tensor<2x2xi64>) -> tensor<2x2xi32>
  %n = gaon_graph.constant dense<[[1, 2], [0, -3]]> : tensor<2x2xi64>
  %2 = gaon_graph.gather_nd %a, %n {batch_dims = 0 : i64} : (tensor<2x3xi32>, tensor<2x2xi64>) -> tensor<2xi32>
  return %0, %1, %2 : tensor<2x2xi32>, tensor<2x2xi32>, tensor<2xi32>
}

// Out-of-range gather indices are not folded.
// CHECK-LABEL: func.func @no_fold_gather_out_of_range
// CHECK: %[[G:.*]] = gaon_graph.gather
// CHECK-NEXT: return %[[G]]
func.func @no_fold_gather_out_of_range() -> tensor<1xi32> {
  %a = gaon_graph.constant dense<[1, 2, 3]> : tensor<3xi32>
  %i = gaon_graph.constant dense<[3]> : tensor<1xi64>
  %0 = gaon_graph.gather %a, %i {axis = 0 : i64} : (tensor<3xi32>, tensor<1xi64>) -> tensor<1xi32>
  return %0 : tensor<1xi32>
}

// select with a splat condition returns the chosen operand; with constant
// operands it folds elementwise with broadcasting.
// CHECK-LABEL: func.func @fold_select
// CHECK-NEXT: %[[R:.*]] = gaon_graph.constant dense<[1, -1, 3]> : tensor<3xi32>
// CHECK-NEXT: return %arg0, %arg1, %[[R]]
func.func @fold_select(%x: tensor<3xf32>, %y: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xi32>) {
  %t = gaon_graph.constant dense<true> : tensor<3xi1>
  %0 = gaon_graph.select %t, %x, %y : (tensor<3xi1>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %f = gaon_graph.constant dense<false> : tensor<1xi1>
  %1 = gaon_graph.select %f, %x, %y : (tensor<1xi1>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %c = gaon_graph.constant dense<[true, false, true]> : tensor<3xi1>
  %a = gaon_graph.constant dense<[1, 2, 3]> : tensor<3xi32>
  %b = gaon_graph.constant dense<-1> : tensor<i32>
  %2 = gaon_graph.select %c, %a, %b : (tensor<3xi1>, tensor<3xi32>, tensor<i32>) -> tensor<3xi32>
  return %0, %1, %2 : tensor<3xf32>, tensor<3xf32>, tensor<3xi32>
}

// A splat condition does not fold when the chosen operand would need a
// broadcast to the result type.
// CHECK-LABEL: func.func @no_fold_select_broadcast
// CHECK: %[[S:.*]] = gaon_graph.select %{{.*}}, %arg0, %arg1
// CHECK-NEXT: return %[[S]]
func.func @no_fold_select_broadcast(%x: tensor<1xf32>, %y: tensor<3xf32>) -> tensor<3xf32> {
  %t = gaon_graph.constant dense<true> : tensor<3xi1>
  %0 = gaon_graph.select %t, %x, %y : (tensor<3xi1>, tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// cumsum (reverse) and trilu (lower) fold.
// CHECK-LABEL: func.func @fold_cumsum_trilu
// CHECK-NEXT: %[[C:.*]] = gaon_graph.constant dense<{{\[\[}}6.000000e+00, 5.000000e+00, 3.000000e+00], [1.500000e+01, 1.100000e+01, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-NEXT: %[[T:.*]] = gaon_graph.constant dense<{{\[\[}}1, 0, 0], [1, 1, 0], [1, 1, 1]]> : tensor<3x3xi32>
// CHECK-NEXT: return %[[C]], %[[T]]
func.func @fold_cumsum_trilu() -> (tensor<2x3xf32>, tensor<3x3xi32>) {
  %a = gaon_graph.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %0 = gaon_graph.cumsum %a {axis = 1 : i64, reverse = true} : tensor<2x3xf32>
  %m = gaon_graph.constant dense<1> : tensor<3x3xi32>
  %1 = gaon_graph.trilu %m {upper = false, k = 0 : i64} : tensor<3x3xi32>
  return %0, %1 : tensor<2x3xf32>, tensor<3x3xi32>
}

// trilu with a negative k keeps the strict lower triangle; upper with k = 1
// keeps the strict upper triangle (k is signed).
// CHECK-LABEL: func.func @fold_trilu_signed_k
// CHECK-NEXT: %[[L:.*]] = gaon_graph.constant dense<{{\[\[}}0, 0, 0], [1, 0, 0], [1, 1, 0]]> : tensor<3x3xi32>
// CHECK-NEXT: %[[U:.*]] = gaon_graph.constant dense<{{\[\[}}0, 1, 1], [0, 0, 1], [0, 0, 0]]> : tensor<3x3xi32>
// CHECK-NEXT: return %[[L]], %[[U]]
func.func @fold_trilu_signed_k() -> (tensor<3x3xi32>, tensor<3x3xi32>) {
  %m = gaon_graph.constant dense<1> : tensor<3x3xi32>
  %0 = gaon_graph.trilu %m {upper = false, k = -1 : i64} : tensor<3x3xi32>
  %1 = gaon_graph.trilu %m {upper = true, k = 1 : i64} : tensor<3x3xi32>
  return %0, %1 : tensor<3x3xi32>, tensor<3x3xi32>
}

// Ops that do nothing fold to their operand: same-type cast and reshape,
// identity transpose and slice, single-result split, same-shape broadcast
// and tile, single-input concat.
// CHECK-LABEL: func.func @identity_folds
// CHECK-NOT: gaon_graph
// CHECK: return %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0, %arg0 :
func.func @identity_folds(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = gaon_graph.cast %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = gaon_graph.reshape %0 : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = gaon_graph.transpose %1 {perm = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = gaon_graph.slice %2 {starts = array<i64: 0, 0>, steps = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %4 = gaon_graph.split %3 {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  %5 = gaon_graph.broadcast %4 : tensor<2x3xf32> -> tensor<2x3xf32>
  %6 = gaon_graph.tile %5 {repeats = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %7 = gaon_graph.concat %6 {axis = 0 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// A slice that starts elsewhere or steps backwards is not an identity even
// with the input's type.
// CHECK-LABEL: func.func @no_identity_reverse_slice
// CHECK-NEXT: %[[S:.*]] = gaon_graph.slice %arg0 {starts = array<i64: 2>, steps = array<i64: -1>} : tensor<3xf32> -> tensor<3xf32>
// CHECK-NEXT: return %[[S]]
func.func @no_identity_reverse_slice(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = gaon_graph.slice %x {starts = array<i64: 2>, steps = array<i64: -1>} : tensor<3xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// reshape(reshape(x)) reshapes x once.
// CHECK-LABEL: func.func @fold_reshape_chain
// CHECK-NEXT: %[[R:.*]] = gaon_graph.reshape %arg0 : tensor<2x3x4xf32> -> tensor<4x6xf32>
// CHECK-NEXT: return %[[R]]
func.func @fold_reshape_chain(%x: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %0 = gaon_graph.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %1 = gaon_graph.reshape %0 : tensor<6x4xf32> -> tensor<24xf32>
  %2 = gaon_graph.reshape %1 : tensor<24xf32> -> tensor<4x6xf32>
  return %2 : tensor<4x6xf32>
}

// A reshape chain back to the original type disappears.
// CHECK-LABEL: func.func @fold_reshape_round_trip
// CHECK-NEXT: return %arg0 : tensor<2x3xf32>
func.func @fold_reshape_round_trip(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = gaon_graph.reshape %x : tensor<2x3xf32> -> tensor<6xf32>
  %1 = gaon_graph.reshape %0 : tensor<6xf32> -> tensor<2x3xf32>
  return %1 : tensor<2x3xf32>
}

// Ops on non-constant operands do not fold.
// CHECK-LABEL: func.func @no_fold_dynamic
// CHECK-NEXT: %[[E:.*]] = gaon_graph.exp %arg0
// CHECK-NEXT: %[[A:.*]] = gaon_graph.add %[[E]], %arg0
// CHECK-NEXT: return %[[A]]
func.func @no_fold_dynamic(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = gaon_graph.exp %x : tensor<4xf32>
  %1 = gaon_graph.add %0, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}

// The int round trip of a QuantizeLinear -> DequantizeLinear pair: a value
// rounded and clamped into i8's range casts to i8 and back exactly, so the
// two casts fold to the clamp.
// CHECK-LABEL: func.func @fold_quantize_round_trip
// CHECK: %[[ROUND:.*]] = gaon_graph.round %arg0
// CHECK: %[[ADD:.*]] = gaon_graph.add %[[ROUND]],
// CHECK: %[[CLAMP:.*]] = gaon_graph.clamp %[[ADD]]
// CHECK-NEXT: return %[[CLAMP]]
func.func @fold_quantize_round_trip(%x: tensor<4xf32>) -> tensor<4xf32> {
  %zp = gaon_graph.constant dense<3.0> : tensor<f32>
  %r = gaon_graph.round %x : tensor<4xf32>
  %s = gaon_graph.add %r, %zp : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %c = gaon_graph.clamp %s {max = 127.0 : f64, min = -128.0 : f64} : tensor<4xf32>
  %q = gaon_graph.cast %c : tensor<4xf32> -> tensor<4xi8>
  %d = gaon_graph.cast %q : tensor<4xi8> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// Not folded: bounds past ui8's range (300 wraps or saturates in the cast),
// a zero point that is not an integer, a value that was never rounded, and
// a round trip back to another float type.
// CHECK-LABEL: func.func @no_fold_inexact_round_trips
// CHECK-COUNT-8: gaon_graph.cast
func.func @no_fold_inexact_round_trips(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf16>) {
  %r = gaon_graph.round %x : tensor<4xf32>
  %wide = gaon_graph.clamp %r {max = 300.0 : f64, min = 0.0 : f64} : tensor<4xf32>
  %q0 = gaon_graph.cast %wide : tensor<4xf32> -> tensor<4xui8>
  %d0 = gaon_graph.cast %q0 : tensor<4xui8> -> tensor<4xf32>
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %s = gaon_graph.add %r, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %c1 = gaon_graph.clamp %s {max = 127.0 : f64, min = -128.0 : f64} : tensor<4xf32>
  %q1 = gaon_graph.cast %c1 : tensor<4xf32> -> tensor<4xi8>
  %d1 = gaon_graph.cast %q1 : tensor<4xi8> -> tensor<4xf32>
  %c2 = gaon_graph.clamp %x {max = 127.0 : f64, min = -128.0 : f64} : tensor<4xf32>
  %q2 = gaon_graph.cast %c2 : tensor<4xf32> -> tensor<4xi8>
  %d2 = gaon_graph.cast %q2 : tensor<4xi8> -> tensor<4xf32>
  %c3 = gaon_graph.clamp %r {max = 127.0 : f64, min = -128.0 : f64} : tensor<4xf32>
  %q3 = gaon_graph.cast %c3 : tensor<4xf32> -> tensor<4xi8>
  %d3 = gaon_graph.cast %q3 : tensor<4xi8> -> tensor<4xf16>
  return %d0, %d1, %d2, %d3 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf16>
}
