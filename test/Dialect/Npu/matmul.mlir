// RUN: gaon-opt --split-input-file --verify-diagnostics %s | FileCheck %s
// gaon_npu.matmul: its printed form round-trips with a residual scale, and
// the verifier refuses a residual scale without a residual or of the wrong
// size.

// A residual scale prints after the residual it scales.
// CHECK-LABEL: func.func @residual_scale
// CHECK: gaon_npu.matmul %arg0, %arg1 bias %arg2 residual %arg3 residual_scale %arg4 : (tensor<4x8xbf16>, tensor<8x2xbf16>, tensor<2xf32>, tensor<4x2xbf16>, tensor<2xbf16>) -> tensor<4x2xbf16>
func.func @residual_scale(%x: tensor<4x8xbf16>, %w: tensor<8x2xbf16>, %b: tensor<2xf32>, %r: tensor<4x2xbf16>, %g: tensor<2xbf16>) -> tensor<4x2xbf16> {
  %0 = gaon_npu.matmul %x, %w bias %b residual %r residual_scale %g : (tensor<4x8xbf16>, tensor<8x2xbf16>, tensor<2xf32>, tensor<4x2xbf16>, tensor<2xbf16>) -> tensor<4x2xbf16>
  return %0 : tensor<4x2xbf16>
}

// -----

// A residual scale needs a residual to scale.
func.func @scale_without_residual(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>, %g: tensor<2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{residual_scale needs a residual}}
  %0 = gaon_npu.matmul %x, %w residual_scale %g : (tensor<4x8xf32>, tensor<8x2xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// One scale per output column.
func.func @scale_size(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>, %r: tensor<4x2xf32>, %g: tensor<3xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{residual_scale must have one element per output column}}
  %0 = gaon_npu.matmul %x, %w residual %r residual_scale %g : (tensor<4x8xf32>, tensor<8x2xf32>, tensor<4x2xf32>, tensor<3xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}
