// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-npu-fuse-epilogues))' %s | FileCheck %s

// Bias, GELU and residual after a matmul become one gaon_npu.matmul, also
// through the reshapes exporters put around matmuls (the residual is viewed
// in the matmul's shape, the result reshaped back).
// CHECK-LABEL: func.func @full_chain
// CHECK: %[[R:.*]] = gaon_graph.reshape %arg3 : tensor<2x4x8xf32> -> tensor<8x8xf32>
// CHECK: %[[M:.*]] = gaon_npu.matmul %arg0, %arg1 bias %arg2 residual %[[R]] {activation = "gelu_tanh"}
// CHECK: %[[O:.*]] = gaon_graph.reshape %[[M]] : tensor<8x8xf32> -> tensor<2x4x8xf32>
// CHECK-NEXT: return %[[O]]
func.func @full_chain(%x: tensor<8x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>, %h: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<8x8xf32>
  %r = gaon_graph.reshape %m : tensor<8x8xf32> -> tensor<2x4x8xf32>
  %a = gaon_graph.add %r, %b : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %g = gaon_graph.gelu %a {approximate = true} : tensor<2x4x8xf32>
  %o = gaon_graph.add %h, %g : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// A bias alone fuses.
// CHECK-LABEL: func.func @bias_only
// CHECK: gaon_npu.matmul %arg0, %arg1 bias %arg2 : (tensor<4x16xf32>, tensor<16x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
func.func @bias_only(%x: tensor<4x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %a = gaon_graph.add %m, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %a : tensor<4x8xf32>
}

// A matmul result used twice cannot drop its product: nothing fuses.
// CHECK-LABEL: func.func @two_uses
// CHECK-NOT: gaon_npu.matmul
// CHECK: gaon_graph.matmul
func.func @two_uses(%x: tensor<4x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %m = gaon_graph.matmul %x, %w : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %a = gaon_graph.add %m, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %a, %m : tensor<4x8xf32>, tensor<4x8xf32>
}

// An add that broadcasts the product to a larger shape is not an epilogue.
// CHECK-LABEL: func.func @widening_add
// CHECK-NOT: gaon_npu.matmul
func.func @widening_add(%x: tensor<4x16xf32>, %w: tensor<16x8xf32>, %y: tensor<3x4x8xf32>) -> tensor<3x4x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %a = gaon_graph.add %m, %y : (tensor<4x8xf32>, tensor<3x4x8xf32>) -> tensor<3x4x8xf32>
  return %a : tensor<3x4x8xf32>
}

// A cast to f32 as the only use of a matmul becomes the matmul's result
// type (GPT-2's bf16 logits returned as f32).
// CHECK-LABEL: func.func @cast_folds
// CHECK-NOT: gaon_graph.cast
// CHECK: %[[M:.*]] = gaon_npu.matmul %arg0, %arg1 : (tensor<4x16xbf16>, tensor<16x8xbf16>) -> tensor<4x8xf32>
// CHECK-NEXT: return %[[M]]
func.func @cast_folds(%x: tensor<4x16xbf16>, %w: tensor<16x8xbf16>) -> tensor<4x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<4x16xbf16>, tensor<16x8xbf16>) -> tensor<4x8xbf16>
  %c = gaon_graph.cast %m : tensor<4x8xbf16> -> tensor<4x8xf32>
  return %c : tensor<4x8xf32>
}

// The residual of a fused matmul must have its result type: a cast after
// it stays.
// CHECK-LABEL: func.func @cast_after_residual
// CHECK: gaon_npu.matmul %arg0, %arg1 residual %arg2 : (tensor<4x16xbf16>, tensor<16x8xbf16>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
// CHECK: gaon_graph.cast
func.func @cast_after_residual(%x: tensor<4x16xbf16>, %w: tensor<16x8xbf16>, %h: tensor<4x8xbf16>) -> tensor<4x8xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<4x16xbf16>, tensor<16x8xbf16>) -> tensor<4x8xbf16>
  %r = gaon_graph.add %m, %h : (tensor<4x8xbf16>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
  %c = gaon_graph.cast %r : tensor<4x8xbf16> -> tensor<4x8xf32>
  return %c : tensor<4x8xf32>
}
