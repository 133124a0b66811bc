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
