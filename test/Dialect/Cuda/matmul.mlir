// RUN: gaon-opt --split-input-file --verify-diagnostics %s | FileCheck %s
// REQUIRES: cuda-compiler
// gaon_cuda.matmul: its printed form round-trips, and the verifier refuses
// operands cuBLASLt could not run as written.

// A bias and a residual print after the operands they follow.
// CHECK-LABEL: func.func @bias_and_residual
// CHECK: gaon_cuda.matmul %arg0, %arg1 bias %arg2 residual %arg3 {activation = "relu"} : (tensor<4x8xf16>, tensor<8x2xf16>, tensor<2xf16>, tensor<4x2xf16>) -> tensor<4x2xf16>
func.func @bias_and_residual(%x: tensor<4x8xf16>, %w: tensor<8x2xf16>, %b: tensor<2xf16>, %r: tensor<4x2xf16>) -> tensor<4x2xf16> {
  %0 = gaon_cuda.matmul %x, %w bias %b residual %r {activation = "relu"} : (tensor<4x8xf16>, tensor<8x2xf16>, tensor<2xf16>, tensor<4x2xf16>) -> tensor<4x2xf16>
  return %0 : tensor<4x2xf16>
}

// -----

// A residual alone (no bias) is allowed.
// CHECK-LABEL: func.func @residual_only
// CHECK: gaon_cuda.matmul %arg0, %arg1 residual %arg2 :
func.func @residual_only(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>, %r: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %0 = gaon_cuda.matmul %x, %w residual %r : (tensor<4x8xf32>, tensor<8x2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// The residual is cuBLASLt's C, read with the result's layout.
func.func @residual_shape(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>, %r: tensor<1x2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{residual must have the result's type}}
  %0 = gaon_cuda.matmul %x, %w residual %r : (tensor<4x8xf32>, tensor<8x2xf32>, tensor<1x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @bias_size(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>, %b: tensor<3xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{bias must have one element per output column}}
  %0 = gaon_cuda.matmul %x, %w bias %b : (tensor<4x8xf32>, tensor<8x2xf32>, tensor<3xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @activation(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{unknown activation 'silu'}}
  %0 = gaon_cuda.matmul %x, %w {activation = "silu"} : (tensor<4x8xf32>, tensor<8x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// f16 operands may produce f32 (cuBLASLt converts in its epilogue), and a
// 2-D rhs may have zero-padded columns beyond the result's N.
// CHECK-LABEL: func.func @f32_result_wider_rhs
// CHECK: gaon_cuda.matmul %arg0, %arg1 : (tensor<4x8xf16>, tensor<8x8xf16>) -> tensor<4x5xf32>
func.func @f32_result_wider_rhs(%x: tensor<4x8xf16>, %w: tensor<8x8xf16>) -> tensor<4x5xf32> {
  %0 = gaon_cuda.matmul %x, %w : (tensor<4x8xf16>, tensor<8x8xf16>) -> tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

// An f32 result with a bias: the bias would not have D's type.
func.func @f32_result_with_bias(%x: tensor<4x8xf16>, %w: tensor<8x2xf16>, %b: tensor<2xf16>) -> tensor<4x2xf32> {
  // expected-error @+1 {{result element type must be the operands' (or f32 for f16/bf16 operands without a bias)}}
  %0 = gaon_cuda.matmul %x, %w bias %b : (tensor<4x8xf16>, tensor<8x2xf16>, tensor<2xf16>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// A narrower rhs than the result is not a matmul.
func.func @narrow_rhs(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{operand and result shapes do not form a matmul}}
  %0 = gaon_cuda.matmul %x, %w : (tensor<4x8xf32>, tensor<8x2xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}
