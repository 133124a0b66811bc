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

// A bias add and then a residual add of the product's shape become
// cuBLASLt's bias epilogue and beta * C, looking through the reshapes
// between them; the result is viewed back in the add's shape.
// CHECK-LABEL: func.func @bias_residual_through_reshapes
// CHECK: %[[R:.*]] = gaon_graph.reshape %arg3 : tensor<2x4x8xf16> -> tensor<8x8xf16>
// CHECK: %[[M:.*]] = gaon_cuda.matmul %arg0, %arg1 bias %arg2 residual %[[R]] : (tensor<8x16xf16>, tensor<16x8xf16>, tensor<8xf16>, tensor<8x8xf16>) -> tensor<8x8xf16>
// CHECK: %[[V:.*]] = gaon_graph.reshape %[[M]] : tensor<8x8xf16> -> tensor<2x4x8xf16>
// CHECK-NOT: gaon_graph.add
// CHECK: return %[[V]]
func.func @bias_residual_through_reshapes(%x: tensor<8x16xf16>, %w: tensor<16x8xf16>, %b: tensor<8xf16>, %r: tensor<2x4x8xf16>) -> tensor<2x4x8xf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %v = gaon_graph.reshape %m : tensor<8x8xf16> -> tensor<2x4x8xf16>
  %a = gaon_graph.add %v, %b : (tensor<2x4x8xf16>, tensor<8xf16>) -> tensor<2x4x8xf16>
  %s = gaon_graph.add %r, %a : (tensor<2x4x8xf16>, tensor<2x4x8xf16>) -> tensor<2x4x8xf16>
  return %s : tensor<2x4x8xf16>
}

// cuBLASLt activates after adding C, so gelu(x W) + r keeps its add; a
// broadcast over columns is neither a bias nor a residual; rows that need padding (5 x f16 is
// not 16 bytes) leave no room for one; a reshape that changes the rows
// stops the chain (the GELU stays outside).
// CHECK-LABEL: func.func @residual_not_absorbed
// CHECK: %[[G:.*]] = gaon_cuda.matmul %arg0, %arg1 {activation = "gelu_tanh"} : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
// CHECK: gaon_graph.add %[[G]], %arg2
// CHECK: %[[B:.*]] = gaon_cuda.matmul %arg0, %arg1 : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
// CHECK: gaon_graph.add %[[B]], %arg3 : (tensor<8x8xf16>, tensor<8x1xf16>)
// CHECK: gaon_cuda.matmul %arg0, %{{.*}} : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
// CHECK: gaon_graph.slice
// CHECK: gaon_graph.add %{{.*}}, %arg5 : (tensor<8x5xf16>, tensor<8x5xf16>)
// CHECK: gaon_cuda.matmul %arg0, %arg1 : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
// CHECK: gaon_graph.reshape %{{.*}} : tensor<8x8xf16> -> tensor<64xf16>
// CHECK: gaon_graph.gelu
func.func @residual_not_absorbed(%x: tensor<8x16xf16>, %w: tensor<16x8xf16>, %r: tensor<8x8xf16>, %col: tensor<8x1xf16>, %w5: tensor<16x5xf16>, %r5: tensor<8x5xf16>) -> (tensor<8x8xf16>, tensor<8x8xf16>, tensor<8x5xf16>, tensor<64xf16>) {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %g = gaon_graph.gelu %m {approximate = true} : tensor<8x8xf16>
  %a = gaon_graph.add %g, %r : (tensor<8x8xf16>, tensor<8x8xf16>) -> tensor<8x8xf16>
  %m2 = gaon_graph.matmul %x, %w : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %b = gaon_graph.add %m2, %col : (tensor<8x8xf16>, tensor<8x1xf16>) -> tensor<8x8xf16>
  %m5 = gaon_graph.matmul %x, %w5 : (tensor<8x16xf16>, tensor<16x5xf16>) -> tensor<8x5xf16>
  %c = gaon_graph.add %m5, %r5 : (tensor<8x5xf16>, tensor<8x5xf16>) -> tensor<8x5xf16>
  %m3 = gaon_graph.matmul %x, %w : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %flat = gaon_graph.reshape %m3 : tensor<8x8xf16> -> tensor<64xf16>
  %h = gaon_graph.gelu %flat {approximate = true} : tensor<64xf16>
  return %a, %b, %c, %h : tensor<8x8xf16>, tensor<8x8xf16>, tensor<8x5xf16>, tensor<64xf16>
}

// A final cast of an f16 product to f32 makes cuBLASLt write f32 from its
// accumulators (no cast kernel) when the f32 rows are 16-byte aligned
// (8 columns). Rows of 5 f32 are not: cuBLASLt would fall back to a slow
// kernel (GPT-2's 50257 logits), so that product is computed padded in f16,
// sliced, and cast by a separate op.
// CHECK-LABEL: func.func @f32_logits
// CHECK: %[[M:.*]] = gaon_cuda.matmul %arg0, %arg1 : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf32>
// CHECK: %[[V:.*]] = gaon_graph.reshape %[[M]] : tensor<8x8xf32> -> tensor<1x8x8xf32>
// CHECK: %[[P:.*]] = gaon_graph.pad %arg2
// CHECK: %[[N:.*]] = gaon_cuda.matmul %arg0, %[[P]] : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
// CHECK: %[[S:.*]] = gaon_graph.slice %[[N]]
// CHECK: %[[C:.*]] = gaon_graph.cast %[[S]] : tensor<8x5xf16> -> tensor<8x5xf32>
// CHECK: return %[[V]], %[[C]]
func.func @f32_logits(%x: tensor<8x16xf16>, %w: tensor<16x8xf16>, %w5: tensor<16x5xf16>) -> (tensor<1x8x8xf32>, tensor<8x5xf32>) {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %v = gaon_graph.reshape %m : tensor<8x8xf16> -> tensor<1x8x8xf16>
  %c = gaon_graph.cast %v : tensor<1x8x8xf16> -> tensor<1x8x8xf32>
  %m5 = gaon_graph.matmul %x, %w5 : (tensor<8x16xf16>, tensor<16x5xf16>) -> tensor<8x5xf16>
  %c5 = gaon_graph.cast %m5 : tensor<8x5xf16> -> tensor<8x5xf32>
  return %c, %c5 : tensor<1x8x8xf32>, tensor<8x5xf32>
}

// With a bias (of f16 type, not D's f32) the cast stays a separate op.
// CHECK-LABEL: func.func @f32_cast_after_bias
// CHECK: %[[M:.*]] = gaon_cuda.matmul %arg0, %arg1 bias %arg2 : (tensor<8x16xf16>, tensor<16x8xf16>, tensor<8xf16>) -> tensor<8x8xf16>
// CHECK: gaon_graph.cast %[[M]] : tensor<8x8xf16> -> tensor<8x8xf32>
func.func @f32_cast_after_bias(%x: tensor<8x16xf16>, %w: tensor<16x8xf16>, %b: tensor<8xf16>) -> tensor<8x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>
  %a = gaon_graph.add %m, %b : (tensor<8x8xf16>, tensor<8xf16>) -> tensor<8x8xf16>
  %c = gaon_graph.cast %a : tensor<8x8xf16> -> tensor<8x8xf32>
  return %c : tensor<8x8xf32>
}
