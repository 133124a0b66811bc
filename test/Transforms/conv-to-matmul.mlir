// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-conv-to-matmul))' %s | FileCheck %s

// ViT's patch embedding (kernel = stride = 8 on a 32 x 32 image, bias): the
// patches [2, 16, 3*8*8] times the weights [192, 64], plus the bias, back to
// NCHW [2, 64, 4, 4].
// CHECK-LABEL: func.func @vit_patches
// CHECK: %[[X:.*]] = gaon_graph.reshape %arg0 : tensor<2x3x32x32xf32> -> tensor<2x3x4x8x4x8xf32>
// CHECK: %[[XT:.*]] = gaon_graph.transpose %[[X]] {perm = array<i64: 0, 2, 4, 1, 3, 5>} : tensor<2x3x4x8x4x8xf32> -> tensor<2x4x4x3x8x8xf32>
// CHECK: %[[ROWS:.*]] = gaon_graph.reshape %[[XT]] : tensor<2x4x4x3x8x8xf32> -> tensor<2x16x192xf32>
// CHECK: %[[W:.*]] = gaon_graph.reshape %arg1 : tensor<64x3x8x8xf32> -> tensor<64x192xf32>
// CHECK: %[[WT:.*]] = gaon_graph.transpose %[[W]] {perm = array<i64: 1, 0>} : tensor<64x192xf32> -> tensor<192x64xf32>
// CHECK: %[[M:.*]] = gaon_graph.matmul %[[ROWS]], %[[WT]] : (tensor<2x16x192xf32>, tensor<192x64xf32>) -> tensor<2x16x64xf32>
// CHECK: %[[B:.*]] = gaon_graph.add %[[M]], %arg2 : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
// CHECK: %[[T:.*]] = gaon_graph.transpose %[[B]] {perm = array<i64: 0, 2, 1>} : tensor<2x16x64xf32> -> tensor<2x64x16xf32>
// CHECK: %[[Y:.*]] = gaon_graph.reshape %[[T]] : tensor<2x64x16xf32> -> tensor<2x64x4x4xf32>
// CHECK-NOT: gaon_graph.conv
// CHECK: return %[[Y]]
func.func @vit_patches(%x: tensor<2x3x32x32xf32>, %w: tensor<64x3x8x8xf32>, %b: tensor<64xf32>) -> tensor<2x64x4x4xf32> {
  %y = gaon_graph.conv %x, %w, %b {dilations = array<i64: 1, 1>, groups = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 8, 8>} : (tensor<2x3x32x32xf32>, tensor<64x3x8x8xf32>, tensor<64xf32>) -> tensor<2x64x4x4xf32>
  return %y : tensor<2x64x4x4xf32>
}

// 1-D patches without bias (kernel = stride = 4 over 12 steps): no add.
// CHECK-LABEL: func.func @patches_1d
// CHECK: gaon_graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x3x4xf32> -> tensor<1x3x2x4xf32>
// CHECK: gaon_graph.matmul %{{.*}}, %{{.*}} : (tensor<1x3x8xf32>, tensor<8x5xf32>) -> tensor<1x3x5xf32>
// CHECK-NOT: gaon_graph.add
// CHECK-NOT: gaon_graph.conv
func.func @patches_1d(%x: tensor<1x2x12xf32>, %w: tensor<5x2x4xf32>) -> tensor<1x5x3xf32> {
  %y = gaon_graph.conv %x, %w {dilations = array<i64: 1>, groups = 1 : i64, pads = array<i64: 0, 0>, strides = array<i64: 4>} : (tensor<1x2x12xf32>, tensor<5x2x4xf32>) -> tensor<1x5x3xf32>
  return %y : tensor<1x5x3xf32>
}

// Whisper's second convolution (kernel 3, padding 1, stride 2) by im2col:
// zeros concatenated on both sides, one stride-2 slice per kernel offset at
// 0, 1, 2, stacked after the channels, [2, 4*3, 4] -> rows [2, 4, 12].
// CHECK-LABEL: func.func @im2col_padded_strided
// CHECK: %[[Z:.*]] = gaon_graph.constant dense<0.000000e+00> : tensor<2x4x1xf32>
// CHECK: %[[P:.*]] = gaon_graph.concat %[[Z]], %arg0, %[[Z]] {axis = 2 : i64} : (tensor<2x4x1xf32>, tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x10xf32>
// CHECK: gaon_graph.slice %[[P]] {starts = array<i64: 0, 0, 0>, steps = array<i64: 1, 1, 2>} : tensor<2x4x10xf32> -> tensor<2x4x4xf32>
// CHECK: gaon_graph.slice %[[P]] {starts = array<i64: 0, 0, 1>, steps = array<i64: 1, 1, 2>} : tensor<2x4x10xf32> -> tensor<2x4x4xf32>
// CHECK: gaon_graph.slice %[[P]] {starts = array<i64: 0, 0, 2>, steps = array<i64: 1, 1, 2>} : tensor<2x4x10xf32> -> tensor<2x4x4xf32>
// CHECK: %[[S:.*]] = gaon_graph.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = 2 : i64} : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x3x4xf32>
// CHECK: %[[C:.*]] = gaon_graph.reshape %[[S]] : tensor<2x4x3x4xf32> -> tensor<2x12x4xf32>
// CHECK: %[[R:.*]] = gaon_graph.transpose %[[C]] {perm = array<i64: 0, 2, 1>} : tensor<2x12x4xf32> -> tensor<2x4x12xf32>
// CHECK: gaon_graph.matmul %[[R]], %{{.*}} : (tensor<2x4x12xf32>, tensor<12x6xf32>) -> tensor<2x4x6xf32>
// CHECK-NOT: gaon_graph.conv
func.func @im2col_padded_strided(%x: tensor<2x4x8xf32>, %w: tensor<6x4x3xf32>, %b: tensor<6xf32>) -> tensor<2x6x4xf32> {
  %y = gaon_graph.conv %x, %w, %b {dilations = array<i64: 1>, groups = 1 : i64, pads = array<i64: 1, 1>, strides = array<i64: 2>} : (tensor<2x4x8xf32>, tensor<6x4x3xf32>, tensor<6xf32>) -> tensor<2x6x4xf32>
  return %y : tensor<2x6x4xf32>
}

// A 2-D 2x2 kernel with dilation 2: offsets (0,0) (0,2) (2,0) (2,2) in the
// weights' row-major order.
// CHECK-LABEL: func.func @im2col_dilated_2d
// CHECK: gaon_graph.slice %arg0 {starts = array<i64: 0, 0, 0, 0>, steps = array<i64: 1, 1, 1, 1>} : tensor<1x2x5x5xf32> -> tensor<1x2x3x3xf32>
// CHECK: gaon_graph.slice %arg0 {starts = array<i64: 0, 0, 0, 2>,
// CHECK: gaon_graph.slice %arg0 {starts = array<i64: 0, 0, 2, 0>,
// CHECK: gaon_graph.slice %arg0 {starts = array<i64: 0, 0, 2, 2>,
// CHECK: gaon_graph.matmul %{{.*}}, %{{.*}} : (tensor<1x9x8xf32>, tensor<8x3xf32>) -> tensor<1x9x3xf32>
// CHECK-NOT: gaon_graph.conv
func.func @im2col_dilated_2d(%x: tensor<1x2x5x5xf32>, %w: tensor<3x2x2x2xf32>) -> tensor<1x3x3x3xf32> {
  %y = gaon_graph.conv %x, %w {dilations = array<i64: 2, 2>, groups = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x2x5x5xf32>, tensor<3x2x2x2xf32>) -> tensor<1x3x3x3xf32>
  return %y : tensor<1x3x3x3xf32>
}

// 10 steps with kernel = stride = 4 are not whole patches (the convolution
// drops the last two): im2col, not the patch layout.
// CHECK-LABEL: func.func @remainder_by_im2col
// CHECK: gaon_graph.slice %arg0 {starts = array<i64: 0, 0, 3>, steps = array<i64: 1, 1, 4>} : tensor<1x2x10xf32> -> tensor<1x2x2xf32>
// CHECK-NOT: gaon_graph.conv
func.func @remainder_by_im2col(%x: tensor<1x2x10xf32>, %w: tensor<4x2x4xf32>) -> tensor<1x4x2xf32> {
  %y = gaon_graph.conv %x, %w {dilations = array<i64: 1>, groups = 1 : i64, pads = array<i64: 0, 0>, strides = array<i64: 4>} : (tensor<1x2x10xf32>, tensor<4x2x4xf32>) -> tensor<1x4x2xf32>
  return %y : tensor<1x4x2xf32>
}

// More kernel offsets than gaon-conv-to-matmul slices one by one (65 > 64):
// the input as [N, positions, C] rows, one gather of the 65 rows each of the
// 6 outputs reads ([6, 65] constant indices, p + k here) to [N, P, K, C],
// channel-major rows [N, P, C*K], then the matmul.
// CHECK-LABEL: func.func @many_offsets_gather
// CHECK: %[[I:.*]] = gaon_graph.constant dense_resource<conv_rows{{.*}}> : tensor<6x65xi64>
// CHECK: %[[T:.*]] = gaon_graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1>} : tensor<1x2x70xf32> -> tensor<1x70x2xf32>
// CHECK: %[[G:.*]] = gaon_graph.gather %[[T]], %[[I]] {axis = 1 : i64} : (tensor<1x70x2xf32>, tensor<6x65xi64>) -> tensor<1x6x65x2xf32>
// CHECK: %[[GT:.*]] = gaon_graph.transpose %[[G]] {perm = array<i64: 0, 1, 3, 2>} : tensor<1x6x65x2xf32> -> tensor<1x6x2x65xf32>
// CHECK: %[[ROWS:.*]] = gaon_graph.reshape %[[GT]] : tensor<1x6x2x65xf32> -> tensor<1x6x130xf32>
// CHECK: gaon_graph.matmul %[[ROWS]], %{{.*}} : (tensor<1x6x130xf32>, tensor<130x3xf32>) -> tensor<1x6x3xf32>
// CHECK-NOT: gaon_graph.conv
func.func @many_offsets_gather(%x: tensor<1x2x70xf32>, %w: tensor<3x2x65xf32>) -> tensor<1x3x6xf32> {
  %y = gaon_graph.conv %x, %w {dilations = array<i64: 1>, groups = 1 : i64, pads = array<i64: 0, 0>, strides = array<i64: 1>} : (tensor<1x2x70xf32>, tensor<3x2x65xf32>) -> tensor<1x3x6xf32>
  return %y : tensor<1x3x6xf32>
}

// A grouped convolution is one batched matmul over its groups: here 2
// groups of 2 input and 3 output channels, patches of 4. The rows'
// channel-major columns [N*P, G, Cg*K] go group-first, the weights
// [O, Cg, K] become [G, Cg*K, Og], and the [G, N*P, Og] product returns
// to [N, P, O] (output channel g * Og + og).
// CHECK-LABEL: func.func @grouped_batched
// CHECK: %[[ROWS:.*]] = gaon_graph.reshape %{{.*}} -> tensor<2x2x8xf32>
// CHECK: %[[G:.*]] = gaon_graph.transpose %[[ROWS]] {perm = array<i64: 1, 0, 2>} : tensor<2x2x8xf32> -> tensor<2x2x8xf32>
// CHECK: %[[W:.*]] = gaon_graph.reshape %arg1 : tensor<6x2x4xf32> -> tensor<2x3x8xf32>
// CHECK: %[[WT:.*]] = gaon_graph.transpose %[[W]] {perm = array<i64: 0, 2, 1>} : tensor<2x3x8xf32> -> tensor<2x8x3xf32>
// CHECK: %[[P:.*]] = gaon_graph.matmul %[[G]], %[[WT]] : (tensor<2x2x8xf32>, tensor<2x8x3xf32>) -> tensor<2x2x3xf32>
// CHECK: %[[PT:.*]] = gaon_graph.transpose %[[P]] {perm = array<i64: 1, 0, 2>} : tensor<2x2x3xf32> -> tensor<2x2x3xf32>
// CHECK: gaon_graph.reshape %[[PT]] : tensor<2x2x3xf32> -> tensor<1x2x6xf32>
// CHECK-NOT: gaon_graph.conv
func.func @grouped_batched(%x: tensor<1x4x8xf32>, %w: tensor<6x2x4xf32>) -> tensor<1x6x2xf32> {
  %y = gaon_graph.conv %x, %w {dilations = array<i64: 1>, groups = 2 : i64, pads = array<i64: 0, 0>, strides = array<i64: 4>} : (tensor<1x4x8xf32>, tensor<6x2x4xf32>) -> tensor<1x6x2xf32>
  return %y : tensor<1x6x2xf32>
}
