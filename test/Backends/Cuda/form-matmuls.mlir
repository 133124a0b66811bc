// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-cuda-form-matmuls))' %s | FileCheck %s
// REQUIRES: cuda-compiler

// A bias add and a tanh GELU after a matmul go into cuBLASLt's epilogue.
// CHECK-LABEL: func.func @bias_gelu
// CHECK: %[[M:.*]] = gaon_cuda.matmul %arg0, %arg1 bias %arg2 {activation = "gelu_tanh"} : (tensor<8x16xf32>, tensor<16x4xf32>, tensor<4xf32>) -> tensor<8x4xf32>
// CHECK-NEXT: return %[[M]]
func.func @bias_gelu(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %b: tensor<4xf32>) -> tensor<8x4xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  %a = gaon_graph.add %b, %m : (tensor<4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %g = gaon_graph.gelu %a {approximate = true} : tensor<8x4xf32>
  return %g : tensor<8x4xf32>
}

// The exact (erf) GELU stays outside in f32, where the tanh form's error
// would show; in f16 it fuses.
// CHECK-LABEL: func.func @erf_gelu
// CHECK: gaon_cuda.matmul %arg0, %arg1 bias %arg2 : (tensor<8x16xf32>
// CHECK-NEXT: gaon_graph.gelu
// CHECK: gaon_cuda.matmul %arg3, %arg4 bias %arg5 {activation = "gelu_tanh"} : (tensor<8x16xf16>, tensor<16x8xf16>
func.func @erf_gelu(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %b: tensor<4xf32>,
                    %xh: tensor<8x16xf16>, %wh: tensor<16x8xf16>, %bh: tensor<8xf16>) -> (tensor<8x4xf32>, tensor<8x8xf16>) {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  %a = gaon_graph.add %m, %b : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<8x4xf32>
  %g = gaon_graph.gelu %a : tensor<8x4xf32>
  %mh = gaon_graph.matmul %xh, %wh : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %ah = gaon_graph.add %mh, %bh : (tensor<8x8xf16>, tensor<8xf16>) -> tensor<8x8xf16>
  %gh = gaon_graph.gelu %ah : tensor<8x8xf16>
  return %g, %gh : tensor<8x4xf32>, tensor<8x8xf16>
}

// Batched products with the lhs's batch dims stay batched; a [1, K, N] rhs
// is viewed as [K, N] and shared by every batch.
// CHECK-LABEL: func.func @batched
// CHECK: gaon_cuda.matmul %arg0, %arg1 : (tensor<2x3x8x16xf32>, tensor<2x3x16x8xf32>) -> tensor<2x3x8x8xf32>
// CHECK: %[[V:.*]] = gaon_graph.reshape %arg2 : tensor<1x16x4xf32> -> tensor<16x4xf32>
// CHECK: gaon_cuda.matmul %arg0, %[[V]] : (tensor<2x3x8x16xf32>, tensor<16x4xf32>) -> tensor<2x3x8x4xf32>
func.func @batched(%q: tensor<2x3x8x16xf32>, %k: tensor<2x3x16x8xf32>, %w: tensor<1x16x4xf32>) -> (tensor<2x3x8x8xf32>, tensor<2x3x8x4xf32>) {
  %s = gaon_graph.matmul %q, %k : (tensor<2x3x8x16xf32>, tensor<2x3x16x8xf32>) -> tensor<2x3x8x8xf32>
  %p = gaon_graph.matmul %q, %w : (tensor<2x3x8x16xf32>, tensor<1x16x4xf32>) -> tensor<2x3x8x4xf32>
  return %s, %p : tensor<2x3x8x8xf32>, tensor<2x3x8x4xf32>
}

// A product used twice keeps it: the add is not absorbed. Integer products
// and rhs batch broadcasting that cuBLASLt cannot express stay graph ops.
// CHECK-LABEL: func.func @not_absorbed
// CHECK: %[[M:.*]] = gaon_cuda.matmul %arg0, %arg1 : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
// CHECK: gaon_graph.add %[[M]], %arg2
// CHECK: gaon_graph.matmul %arg3, %arg4 : (tensor<2x3xi32>
// CHECK: gaon_graph.matmul %arg5, %arg6 : (tensor<2x3x8x16xf32>, tensor<3x16x8xf32>)
func.func @not_absorbed(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>, %b: tensor<4xf32>,
                        %i: tensor<2x3xi32>, %j: tensor<3x2xi32>,
                        %q: tensor<2x3x8x16xf32>, %r: tensor<3x16x8xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<2x2xi32>, tensor<2x3x8x8xf32>) {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf32>, tensor<16x4xf32>) -> tensor<8x4xf32>
  %a = gaon_graph.add %m, %b : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<8x4xf32>
  %n = gaon_graph.matmul %i, %j : (tensor<2x3xi32>, tensor<3x2xi32>) -> tensor<2x2xi32>
  %s = gaon_graph.matmul %q, %r : (tensor<2x3x8x16xf32>, tensor<3x16x8xf32>) -> tensor<2x3x8x8xf32>
  return %m, %a, %n, %s : tensor<8x4xf32>, tensor<8x4xf32>, tensor<2x2xi32>, tensor<2x3x8x8xf32>
}

// f16 rows of N = 5 are not 16-byte aligned: the constant rhs is padded to 8 columns at
// compile time (the unpadded one is erased), the argument bias at run time,
// and the product is sliced back to 5 columns for its consumer.
// CHECK-LABEL: func.func @padded_columns
// CHECK-NOT: tensor<16x5xf16>
// CHECK: %[[W:.*]] = gaon_graph.constant dense_resource<padded> : tensor<16x8xf16>
// CHECK: %[[B:.*]] = gaon_graph.pad %arg1 {high = array<i64: 3>, low = array<i64: 0>
// CHECK: %[[M:.*]] = gaon_cuda.matmul %arg0, %[[W]] bias %[[B]] : (tensor<4x16xf16>, tensor<16x8xf16>, tensor<8xf16>) -> tensor<4x8xf16>
// CHECK: %[[S:.*]] = gaon_graph.slice %[[M]] {starts = array<i64: 0, 0>, steps = array<i64: 1, 1>} : tensor<4x8xf16> -> tensor<4x5xf16>
// CHECK: gaon_graph.cast %[[S]]
func.func @padded_columns(%x: tensor<4x16xf16>, %b: tensor<5xf16>) -> tensor<4x5xf32> {
  %w = gaon_graph.constant dense<1.0> : tensor<16x5xf16>
  %m = gaon_graph.matmul %x, %w : (tensor<4x16xf16>, tensor<16x5xf16>) -> tensor<4x5xf16>
  %a = gaon_graph.add %m, %b : (tensor<4x5xf16>, tensor<5xf16>) -> tensor<4x5xf16>
  %c = gaon_graph.cast %a : tensor<4x5xf16> -> tensor<4x5xf32>
  return %c : tensor<4x5xf32>
}

// A [1, K, N] rhs with a batched [4, M, K] lhs is shared by every batch.
// CHECK-LABEL: func.func @unit_batch_rhs
// CHECK: %[[V:.*]] = gaon_graph.reshape %arg1 : tensor<1x16x8xf32> -> tensor<16x8xf32>
// CHECK: gaon_cuda.matmul %arg0, %[[V]] : (tensor<4x2x16xf32>, tensor<16x8xf32>) -> tensor<4x2x8xf32>
func.func @unit_batch_rhs(%x: tensor<4x2x16xf32>, %w: tensor<1x16x8xf32>) -> tensor<4x2x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<4x2x16xf32>, tensor<1x16x8xf32>) -> tensor<4x2x8xf32>
  return %m : tensor<4x2x8xf32>
}
