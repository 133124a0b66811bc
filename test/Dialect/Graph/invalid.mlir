// RUN: gaon-opt %s -split-input-file -verify-diagnostics
// Each verifier error of gaon_graph, one case each.

// A constant's value type is its result type.
func.func @constant_type_mismatch() {
  // expected-error @+1 {{failed to verify that all of {value, result} have same type}}
  %0 = "gaon_graph.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return
}

// -----

// Binary operands must share the element type.
func.func @binary_element_types(%a: tensor<2xf32>, %b: tensor<2xi32>) {
  // expected-error @+1 {{'gaon_graph.add' op operand element types differ: 'f32' vs 'i32'}}
  %0 = gaon_graph.add %a, %b : (tensor<2xf32>, tensor<2xi32>) -> tensor<2xf32>
  return
}

// -----

// Arithmetic keeps the operand element type.
func.func @binary_result_element(%a: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{'gaon_graph.mul' op result element type must be 'f32'}}
  %0 = gaon_graph.mul %a, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf16>
  return
}

// -----

// Comparisons produce i1.
func.func @comparison_result_element(%a: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{'gaon_graph.less' op result element type must be 'i1'}}
  %0 = gaon_graph.less %a, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return
}

// -----

// Operand shapes must broadcast.
func.func @binary_no_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.sub' op operand shapes [2x3] and [4] do not broadcast}}
  %0 = gaon_graph.sub %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

// The result has the broadcast shape.
func.func @binary_result_shape(%a: tensor<2x1xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'gaon_graph.div' op result shape [2x1] does not match the expected [2x3]}}
  %0 = gaon_graph.div %a, %b : (tensor<2x1xf32>, tensor<3xf32>) -> tensor<2x1xf32>
  return
}

// -----

// Unary ops keep their operand type.
func.func @unary_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.exp' op requires the same type for all operands and results}}
  %0 = "gaon_graph.exp"(%x) : (tensor<4xf32>) -> tensor<4xf16>
  return
}

// -----

// cast changes only the element type.
func.func @cast_shape(%x: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.cast' op requires the same shape for all operands and results}}
  %0 = gaon_graph.cast %x : tensor<4xf32> -> tensor<2x2xi32>
  return
}

// -----

// select needs an i1 condition.
func.func @select_condition(%c: tensor<4xi32>, %a: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.select' op condition must have i1 elements}}
  %0 = gaon_graph.select %c, %a, %a : (tensor<4xi32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// select's values and result share the element type.
func.func @select_values(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{'gaon_graph.select' op value and result element types must match}}
  %0 = gaon_graph.select %c, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

// select's three operands must broadcast together.
func.func @select_broadcast(%c: tensor<3xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.select' op operand shapes do not broadcast}}
  %0 = gaon_graph.select %c, %a, %a : (tensor<3xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// select's result has the broadcast shape.
func.func @select_result_shape(%c: tensor<2x1xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.select' op result shape [4] does not match the expected [2x4]}}
  %0 = gaon_graph.select %c, %a, %a : (tensor<2x1xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// matmul needs matrices (the importer reshapes ONNX vectors).
func.func @matmul_rank(%a: tensor<4xf32>, %b: tensor<4x2xf32>) {
  // expected-error @+1 {{'gaon_graph.matmul' op operands must have rank >= 2}}
  %0 = gaon_graph.matmul %a, %b : (tensor<4xf32>, tensor<4x2xf32>) -> tensor<2xf32>
  return
}

// -----

// The contraction dimensions must agree.
func.func @matmul_contraction(%a: tensor<3x4xf32>, %b: tensor<5x2xf32>) {
  // expected-error @+1 {{'gaon_graph.matmul' op contraction sizes differ: lhs [3x4] rhs [5x2]}}
  %0 = gaon_graph.matmul %a, %b : (tensor<3x4xf32>, tensor<5x2xf32>) -> tensor<3x2xf32>
  return
}

// -----

// Float products keep the element type.
func.func @matmul_element_types(%a: tensor<3x4xf16>, %b: tensor<4x2xf16>) {
  // expected-error @+1 {{'gaon_graph.matmul' op element types must match (integer products may widen the result)}}
  %0 = gaon_graph.matmul %a, %b : (tensor<3x4xf16>, tensor<4x2xf16>) -> tensor<3x2xf32>
  return
}

// -----

// Batch dimensions must broadcast.
func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<3x4x2xf32>) {
  // expected-error @+1 {{'gaon_graph.matmul' op batch dimensions do not broadcast}}
  %0 = gaon_graph.matmul %a, %b : (tensor<2x3x4xf32>, tensor<3x4x2xf32>) -> tensor<2x3x2xf32>
  return
}

// -----

// The product's shape is batch x M x N.
func.func @matmul_result_shape(%a: tensor<2x3x4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+1 {{'gaon_graph.matmul' op result shape [3x5] does not match the expected [2x3x5]}}
  %0 = gaon_graph.matmul %a, %b : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return
}

// -----

// conv input and weight have the same rank >= 3.
func.func @conv_rank(%x: tensor<1x3x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'gaon_graph.conv' op input and weight must have the same rank >= 3}}
  %0 = gaon_graph.conv %x, %w {strides = array<i64: 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1>, groups = 1 : i64} : (tensor<1x3x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6xf32>
  return
}

// -----

// One stride and dilation per spatial dimension, two pads.
func.func @conv_attr_sizes(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'gaon_graph.conv' op strides/dilations need one value per spatial dimension, pads two}}
  %0 = gaon_graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

// Input channels = weight channels x groups.
func.func @conv_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'gaon_graph.conv' op channel counts do not match the group count}}
  %0 = gaon_graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

// The bias has one value per output channel.
func.func @conv_bias(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'gaon_graph.conv' op bias shape [3] is not the output channel count [4]}}
  %0 = gaon_graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<3xf32>) -> tensor<1x4x6x6xf32>
  return
}

// -----

// The dilated window must fit the padded input.
func.func @conv_window(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'gaon_graph.conv' op window does not fit the padded input}}
  %0 = gaon_graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 2, 2>, groups = 1 : i64} : (tensor<1x3x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x1x1xf32>
  return
}

// -----

// conv's result shape follows from pads, strides and dilations.
func.func @conv_result_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'gaon_graph.conv' op result shape [1x4x8x8] does not match the expected [1x4x4x4]}}
  %0 = gaon_graph.conv %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return
}

// -----

// Reduction axes are in range.
func.func @reduce_axis_range(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reduce_sum' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.reduce_sum %x {axes = array<i64: 2>} : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

// Negative axes are normalized by the importer, never stored.
func.func @reduce_negative_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reduce_mean' op axis -1 is out of range for rank 2}}
  %0 = gaon_graph.reduce_mean %x {axes = array<i64: -1>} : tensor<2x3xf32> -> tensor<2x1xf32>
  return
}

// -----

// Reduction axes are not repeated.
func.func @reduce_axis_repeated(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reduce_max' op axis 1 is repeated}}
  %0 = gaon_graph.reduce_max %x {axes = array<i64: 1, 1>} : tensor<2x3xf32> -> tensor<2x1xf32>
  return
}

// -----

// Reductions keep the element type.
func.func @reduce_element_type(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reduce_min' op result element type must match the input}}
  %0 = gaon_graph.reduce_min %x {axes = array<i64: 1>} : tensor<2x3xf32> -> tensor<2x1xf16>
  return
}

// -----

// Without keep_dims the reduced dimensions disappear.
func.func @reduce_result_shape(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reduce_prod' op result shape [2x1] does not match the expected [2]}}
  %0 = gaon_graph.reduce_prod %x {axes = array<i64: 1>, keep_dims = false} : tensor<2x3xf32> -> tensor<2x1xf32>
  return
}

// -----

// argmax's axis is in range.
func.func @argmax_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.argmax' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.argmax %x {axis = 2 : i64} : tensor<2x3xf32> -> tensor<2x3xi64>
  return
}

// -----

// argmax returns i64 indices.
func.func @argmax_element(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.argmax' op result must have i64 elements}}
  %0 = gaon_graph.argmax %x {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2x1xi32>
  return
}

// -----

// argmax keeps the axis as size 1 by default.
func.func @argmax_shape(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.argmax' op result shape [2] does not match the expected [2x1]}}
  %0 = gaon_graph.argmax %x {axis = 1 : i64} : tensor<2x3xf32> -> tensor<2xi64>
  return
}

// -----

// softmax's axis is in range.
func.func @softmax_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.softmax' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.softmax %x {axis = 2 : i64} : tensor<2x3xf32>
  return
}

// -----

// layer_norm's axis is in range.
func.func @layer_norm_axis(%x: tensor<2x4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.layer_norm' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.layer_norm %x, %s {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

// layer_norm's scale broadcasts to the normalized dimensions.
func.func @layer_norm_scale(%x: tensor<2x4xf32>, %s: tensor<5xf32>) {
  // expected-error @+1 {{'gaon_graph.layer_norm' op parameter shape [5] does not broadcast to the normalized shape [4]}}
  %0 = gaon_graph.layer_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x4xf32>, tensor<5xf32>) -> tensor<2x4xf32>
  return
}

// -----

// A parameter may not be larger than the normalized shape.
func.func @layer_norm_bias(%x: tensor<2x4xf32>, %s: tensor<4xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{'gaon_graph.layer_norm' op parameter shape [2x4] does not broadcast to the normalized shape [4]}}
  %0 = gaon_graph.layer_norm %x, %s, %b {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x4xf32>, tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

// layer_norm's result has the input's type.
func.func @layer_norm_result(%x: tensor<2x4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.layer_norm' op result type must match the input}}
  %0 = gaon_graph.layer_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf16>
  return
}

// -----

// rms_norm's axis is in range.
func.func @rms_norm_axis(%x: tensor<2x4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.rms_norm' op axis 3 is out of range for rank 2}}
  %0 = gaon_graph.rms_norm %x, %s {axis = 3 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

// rms_norm's scale broadcasts to the normalized dimensions.
func.func @rms_norm_scale(%x: tensor<2x4xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{'gaon_graph.rms_norm' op parameter shape [3] does not broadcast to the normalized shape [4]}}
  %0 = gaon_graph.rms_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x4xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  return
}

// -----

// rms_norm's result has the input's type.
func.func @rms_norm_result(%x: tensor<2x4xf32>, %s: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.rms_norm' op result type must match the input}}
  %0 = gaon_graph.rms_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<8xf32>
  return
}

// -----

// reshape keeps the element type.
func.func @reshape_element(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reshape' op element types must match}}
  %0 = gaon_graph.reshape %x : tensor<2x3xf32> -> tensor<6xi32>
  return
}

// -----

// reshape keeps the element count.
func.func @reshape_count(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.reshape' op element counts differ: [2x3] vs [7]}}
  %0 = gaon_graph.reshape %x : tensor<2x3xf32> -> tensor<7xf32>
  return
}

// -----

// transpose has one perm entry per dimension.
func.func @transpose_perm_size(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.transpose' op perm needs one entry per dimension}}
  %0 = gaon_graph.transpose %x {perm = array<i64: 1, 0, 2>} : tensor<2x3xf32> -> tensor<3x2xf32>
  return
}

// -----

// transpose's perm is a permutation.
func.func @transpose_not_permutation(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.transpose' op perm is not a permutation}}
  %0 = gaon_graph.transpose %x {perm = array<i64: 0, 0>} : tensor<2x3xf32> -> tensor<2x2xf32>
  return
}

// -----

// transpose's result is the permuted shape.
func.func @transpose_result(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{'gaon_graph.transpose' op result shape [3x2x4] does not match the expected [4x2x3]}}
  %0 = gaon_graph.transpose %x {perm = array<i64: 2, 0, 1>} : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  return
}

// -----

// concat needs inputs.
func.func @concat_empty() {
  // expected-error @+1 {{'gaon_graph.concat' op needs at least one input}}
  %0 = "gaon_graph.concat"() {axis = 0 : i64} : () -> tensor<0xf32>
  return
}

// -----

// concat's axis is in range.
func.func @concat_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.concat' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.concat %a, %a {axis = 2 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x6xf32>
  return
}

// -----

// concat inputs share rank and element type.
func.func @concat_types(%a: tensor<2x3xf32>, %b: tensor<2x3xf16>) {
  // expected-error @+1 {{'gaon_graph.concat' op inputs must share rank and element type}}
  %0 = gaon_graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x3xf16>) -> tensor<2x6xf32>
  return
}

// -----

// concat inputs agree outside the axis.
func.func @concat_other_dims(%a: tensor<2x3xf32>, %b: tensor<3x3xf32>) {
  // expected-error @+1 {{'gaon_graph.concat' op inputs differ outside the concat axis}}
  %0 = gaon_graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x6xf32>
  return
}

// -----

// concat's result adds up the axis.
func.func @concat_result(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{'gaon_graph.concat' op result shape [2x6] does not match the expected [2x7]}}
  %0 = gaon_graph.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x6xf32>
  return
}

// -----

// slice has one start and one step per dimension.
func.func @slice_attr_sizes(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.slice' op starts and steps need one entry per dimension}}
  %0 = gaon_graph.slice %x {starts = array<i64: 0>, steps = array<i64: 1, 1>} : tensor<4x4xf32> -> tensor<4x4xf32>
  return
}

// -----

// slice keeps the rank.
func.func @slice_rank(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.slice' op result rank must match the input}}
  %0 = gaon_graph.slice %x {starts = array<i64: 0, 0>, steps = array<i64: 1, 1>} : tensor<4x4xf32> -> tensor<16xf32>
  return
}

// -----

// slice steps are non-zero.
func.func @slice_zero_step(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.slice' op step of dimension 1 is zero}}
  %0 = gaon_graph.slice %x {starts = array<i64: 0, 0>, steps = array<i64: 1, 0>} : tensor<4x4xf32> -> tensor<4x2xf32>
  return
}

// -----

// slice stays inside the input (here walking backwards past element 0).
func.func @slice_out_of_bounds(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.slice' op slice of dimension 0 (start 1, step -1, 3 elements) leaves the input of size 4}}
  %0 = gaon_graph.slice %x {starts = array<i64: 1, 0>, steps = array<i64: -1, 1>} : tensor<4x4xf32> -> tensor<3x4xf32>
  return
}

// -----

// split's axis is in range.
func.func @split_axis(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.split' op axis 2 is out of range for rank 2}}
  %0:2 = gaon_graph.split %x {axis = 2 : i64} : tensor<4x4xf32> -> tensor<4x2xf32>, tensor<4x2xf32>
  return
}

// -----

// split results share the input's rank and element type.
func.func @split_types(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.split' op results must share the input's rank and type}}
  %0:2 = gaon_graph.split %x {axis = 1 : i64} : tensor<4x4xf32> -> tensor<4x2xf32>, tensor<4x2xf16>
  return
}

// -----

// split results agree with the input outside the axis.
func.func @split_other_dims(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.split' op results differ from the input outside the axis}}
  %0:2 = gaon_graph.split %x {axis = 1 : i64} : tensor<4x4xf32> -> tensor<4x2xf32>, tensor<3x2xf32>
  return
}

// -----

// split results cover the axis exactly.
func.func @split_sizes(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.split' op result sizes sum to 5, not the input's 4}}
  %0:2 = gaon_graph.split %x {axis = 1 : i64} : tensor<4x4xf32> -> tensor<4x2xf32>, tensor<4x3xf32>
  return
}

// -----

// broadcast only grows size-1 or missing dimensions.
func.func @broadcast_shape(%x: tensor<3xf32>) {
  // expected-error @+1 {{'gaon_graph.broadcast' op cannot broadcast [3] to [2x4]}}
  %0 = gaon_graph.broadcast %x : tensor<3xf32> -> tensor<2x4xf32>
  return
}

// -----

// broadcast never shrinks (the result is the broadcast of both shapes).
func.func @broadcast_shrink(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.broadcast' op cannot broadcast [2x3] to [3]}}
  %0 = gaon_graph.broadcast %x : tensor<2x3xf32> -> tensor<3xf32>
  return
}

// -----

// tile has one repeat count per dimension.
func.func @tile_repeats(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.tile' op repeats need one entry per dimension}}
  %0 = gaon_graph.tile %x {repeats = array<i64: 2>} : tensor<2x3xf32> -> tensor<4x3xf32>
  return
}

// -----

// tile's result multiplies each dimension.
func.func @tile_result(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.tile' op result shape [4x3] does not match the expected [4x6]}}
  %0 = gaon_graph.tile %x {repeats = array<i64: 2, 2>} : tensor<2x3xf32> -> tensor<4x3xf32>
  return
}

// -----

// pad has low/high entries per dimension.
func.func @pad_sizes(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.pad' op low/high need one entry per dimension}}
  %0 = gaon_graph.pad %x {low = array<i64: 1>, high = array<i64: 1, 1>, value = 0.0 : f64} : tensor<2x3xf32> -> tensor<4x4xf32>
  return
}

// -----

// pad's result adds low and high.
func.func @pad_result(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{'gaon_graph.pad' op result shape [4x4] does not match the expected [4x5]}}
  %0 = gaon_graph.pad %x {low = array<i64: 1, 1>, high = array<i64: 1, 1>, value = 0.0 : f64} : tensor<2x3xf32> -> tensor<4x4xf32>
  return
}

// -----

// gather's axis is in range.
func.func @gather_axis(%d: tensor<2x3xf32>, %i: tensor<4xi64>) {
  // expected-error @+1 {{'gaon_graph.gather' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.gather %d, %i {axis = 2 : i64} : (tensor<2x3xf32>, tensor<4xi64>) -> tensor<2x3x4xf32>
  return
}

// -----

// gather's indices are integers.
func.func @gather_indices(%d: tensor<2x3xf32>, %i: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.gather' op indices must be integers}}
  %0 = gaon_graph.gather %d, %i {axis = 0 : i64} : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<4x3xf32>
  return
}

// -----

// gather's result: data[:axis] + indices + data[axis+1:].
func.func @gather_result(%d: tensor<2x3xf32>, %i: tensor<4xi64>) {
  // expected-error @+1 {{'gaon_graph.gather' op result shape [4x3] does not match the expected [2x4]}}
  %0 = gaon_graph.gather %d, %i {axis = 1 : i64} : (tensor<2x3xf32>, tensor<4xi64>) -> tensor<4x3xf32>
  return
}

// -----

// gather_elements' axis is in range.
func.func @gather_elements_axis(%d: tensor<2x3xf32>, %i: tensor<2x3xi64>) {
  // expected-error @+1 {{'gaon_graph.gather_elements' op axis 2 is out of range for rank 2}}
  %0 = gaon_graph.gather_elements %d, %i {axis = 2 : i64} : (tensor<2x3xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>
  return
}

// -----

// gather_elements' indices have the data's rank.
func.func @gather_elements_indices(%d: tensor<2x3xf32>, %i: tensor<6xi64>) {
  // expected-error @+1 {{'gaon_graph.gather_elements' op indices must be integers of the data's rank}}
  %0 = gaon_graph.gather_elements %d, %i {axis = 0 : i64} : (tensor<2x3xf32>, tensor<6xi64>) -> tensor<6xf32>
  return
}

// -----

// gather_elements' result has the indices' shape.
func.func @gather_elements_result(%d: tensor<2x3xf32>, %i: tensor<2x1xi64>) {
  // expected-error @+1 {{'gaon_graph.gather_elements' op result shape [2x3] does not match the expected [2x1]}}
  %0 = gaon_graph.gather_elements %d, %i {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x1xi64>) -> tensor<2x3xf32>
  return
}

// -----

// gather_nd's indices are integers of rank >= 1.
func.func @gather_nd_indices(%d: tensor<2x3xf32>, %i: tensor<i64>) {
  // expected-error @+1 {{'gaon_graph.gather_nd' op indices must be integers of rank >= 1}}
  %0 = gaon_graph.gather_nd %d, %i {batch_dims = 0 : i64} : (tensor<2x3xf32>, tensor<i64>) -> tensor<2x3xf32>
  return
}

// -----

// gather_nd's index depth fits the data rank.
func.func @gather_nd_depth(%d: tensor<2x3xf32>, %i: tensor<4x3xi64>) {
  // expected-error @+1 {{'gaon_graph.gather_nd' op index depth 3 with 0 batch dims exceeds the data rank}}
  %0 = gaon_graph.gather_nd %d, %i {batch_dims = 0 : i64} : (tensor<2x3xf32>, tensor<4x3xi64>) -> tensor<4xf32>
  return
}

// -----

// gather_nd's batch dimensions agree between indices and data.
func.func @gather_nd_batch(%d: tensor<2x3x4xf32>, %i: tensor<3x5x1xi64>) {
  // expected-error @+1 {{'gaon_graph.gather_nd' op the first 1 (batch) dimensions of indices [3x5x1] and data [2x3x4] differ}}
  %0 = gaon_graph.gather_nd %d, %i {batch_dims = 1 : i64} : (tensor<2x3x4xf32>, tensor<3x5x1xi64>) -> tensor<3x5x4xf32>
  return
}

// -----

// gather_nd's result: indices[:-1] + data[batch_dims + depth:].
func.func @gather_nd_result(%d: tensor<2x3x4xf32>, %i: tensor<5x2xi64>) {
  // expected-error @+1 {{'gaon_graph.gather_nd' op result shape [5x3x4] does not match the expected [5x4]}}
  %0 = gaon_graph.gather_nd %d, %i {batch_dims = 0 : i64} : (tensor<2x3x4xf32>, tensor<5x2xi64>) -> tensor<5x3x4xf32>
  return
}

// -----

// trilu needs matrices.
func.func @trilu_rank(%x: tensor<4xf32>) {
  // expected-error @+1 {{'gaon_graph.trilu' op input must have rank >= 2}}
  %0 = gaon_graph.trilu %x {upper = true, k = 0 : i64} : tensor<4xf32>
  return
}

// -----

// attention operands are [B, H, S, D].
func.func @attention_rank(%q: tensor<8x4x64xf32>, %k: tensor<1x8x6x64xf32>) {
  // expected-error @+1 {{'gaon_graph.attention' op query, key and value must be [B, H, S, D]}}
  %0 = gaon_graph.attention %q, %k, %k {scale = 0.125 : f64} : (tensor<8x4x64xf32>, tensor<1x8x6x64xf32>, tensor<1x8x6x64xf32>) -> tensor<8x4x64xf32>
  return
}

// -----

// key and value agree in batch, heads and length.
func.func @attention_kv(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x6x64xf32>, %v: tensor<1x8x5x64xf32>) {
  // expected-error @+1 {{'gaon_graph.attention' op key and value differ in batch, heads or length}}
  %0 = gaon_graph.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x8x4x64xf32>, tensor<1x8x6x64xf32>, tensor<1x8x5x64xf32>) -> tensor<1x8x4x64xf32>
  return
}

// -----

// query and key agree in batch and head size.
func.func @attention_qk(%q: tensor<1x8x4x32xf32>, %k: tensor<1x8x6x64xf32>) {
  // expected-error @+1 {{'gaon_graph.attention' op query and key batch or head size differ}}
  %0 = gaon_graph.attention %q, %k, %k {scale = 0.125 : f64} : (tensor<1x8x4x32xf32>, tensor<1x8x6x64xf32>, tensor<1x8x6x64xf32>) -> tensor<1x8x4x64xf32>
  return
}

// -----

// Query heads are a multiple of key/value heads.
func.func @attention_heads(%q: tensor<1x8x4x64xf32>, %k: tensor<1x3x6x64xf32>) {
  // expected-error @+1 {{'gaon_graph.attention' op query heads must be a multiple of key/value heads}}
  %0 = gaon_graph.attention %q, %k, %k {scale = 0.125 : f64} : (tensor<1x8x4x64xf32>, tensor<1x3x6x64xf32>, tensor<1x3x6x64xf32>) -> tensor<1x8x4x64xf32>
  return
}

// -----

// The mask broadcasts to the [B, H, Sq, Sk] scores.
func.func @attention_mask(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x6x64xf32>, %m: tensor<1x1x4x4xf32>) {
  // expected-error @+1 {{'gaon_graph.attention' op mask does not broadcast to the scores}}
  %0 = gaon_graph.attention %q, %k, %k, %m {scale = 0.125 : f64} : (tensor<1x8x4x64xf32>, tensor<1x8x6x64xf32>, tensor<1x8x6x64xf32>, tensor<1x1x4x4xf32>) -> tensor<1x8x4x64xf32>
  return
}

// -----

// attention's result is [B, H, Sq, Dv].
func.func @attention_result(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x6x64xf32>) {
  // expected-error @+1 {{'gaon_graph.attention' op result shape [1x8x6x64] does not match the expected [1x8x4x64]}}
  %0 = gaon_graph.attention %q, %k, %k {scale = 0.125 : f64} : (tensor<1x8x4x64xf32>, tensor<1x8x6x64xf32>, tensor<1x8x6x64xf32>) -> tensor<1x8x6x64xf32>
  return
}
