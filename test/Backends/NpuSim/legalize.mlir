// RUN: gaon-opt --gaon-npu-legalize %s -split-input-file -verify-diagnostics | FileCheck %s

// Supported ops pass unchanged.
// CHECK-LABEL: func.func @supported
// CHECK: gaon_graph.matmul
func.func @supported(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>) -> tensor<4x2xf32> {
  %m = gaon_graph.matmul %x, %w : (tensor<4x8xf32>, tensor<8x2xf32>) -> tensor<4x2xf32>
  return %m : tensor<4x2xf32>
}

// -----

// CumSum has a kernel: RoBERTa's position ids (cumsum of an int64 mask over
// the sequence axis) pass unchanged.
// CHECK-LABEL: func.func @cumsum_i64
// CHECK: gaon_graph.cumsum %{{.*}} {axis = 1 : i64}
func.func @cumsum_i64(%x: tensor<2x7xi64>) -> tensor<2x7xi64> {
  %c = gaon_graph.cumsum %x {axis = 1 : i64} : tensor<2x7xi64>
  return %c : tensor<2x7xi64>
}

// -----

// ... and so do float scans along an outer axis, exclusive and reverse.
// CHECK-LABEL: func.func @cumsum_bf16_exclusive_reverse
// CHECK: gaon_graph.cumsum %{{.*}} {axis = 0 : i64, exclusive = true, reverse = true}
func.func @cumsum_bf16_exclusive_reverse(%x: tensor<5x3xbf16>) -> tensor<5x3xbf16> {
  %c = gaon_graph.cumsum %x {axis = 0 : i64, exclusive = true, reverse = true} : tensor<5x3xbf16>
  return %c : tensor<5x3xbf16>
}

// -----

// GatherElements has a kernel too (RoBERTa's token-type ids gathered by its
// position ids along axis 1).
// CHECK-LABEL: func.func @gather_elements
// CHECK: gaon_graph.gather_elements %{{.*}}, %{{.*}} {axis = 1 : i64}
func.func @gather_elements(%x: tensor<2x514xi64>, %i: tensor<2x7xi64>) -> tensor<2x7xi64> {
  %g = gaon_graph.gather_elements %x, %i {axis = 1 : i64} : (tensor<2x514xi64>, tensor<2x7xi64>) -> tensor<2x7xi64>
  return %g : tensor<2x7xi64>
}

// -----

// A convolution has no NPU kernel yet: the error names the op.
func.func @conv(%x: tensor<1x1x4x4xf32>, %w: tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32> {
  // expected-error @below {{cannot run 'gaon_graph.conv' on npu-sim: this op is not supported by the npu-sim backend yet}}
  %c = gaon_graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32>
  return %c : tensor<1x1x2x2xf32>
}

// -----

// f64 has no NPU data path.
func.func @f64(%x: tensor<4xf64>) -> tensor<4xf64> {
  // expected-error @below {{element type f64 is not supported}}
  %e = gaon_graph.exp %x : tensor<4xf64>
  return %e : tensor<4xf64>
}

// -----

// The narrow integers are storage types of the vector unit: uint8 (the
// activations of quantized models) and int16 pass unchanged.
// CHECK-LABEL: func.func @narrow_integers
// CHECK: gaon_graph.cast %{{.*}} : tensor<4xui8> -> tensor<4xf32>
// CHECK: gaon_graph.max %{{.*}}, %{{.*}} : (tensor<4xi16>, tensor<4xi16>) -> tensor<4xi16>
func.func @narrow_integers(%x: tensor<4xui8>, %y: tensor<4xi16>) -> (tensor<4xf32>, tensor<4xi16>) {
  %c = gaon_graph.cast %x : tensor<4xui8> -> tensor<4xf32>
  %m = gaon_graph.max %y, %y : (tensor<4xi16>, tensor<4xi16>) -> tensor<4xi16>
  return %c, %m : tensor<4xf32>, tensor<4xi16>
}

// -----

// uint64 is not: the vector unit's integer arithmetic is int64. The
// message lists the types that are supported.
func.func @uint64(%x: tensor<4xui64>) -> tensor<4xui64> {
  // expected-error @below {{element type ui64 is not supported (f32, bf16, f16, i1, i8, ui8, i16, ui16, i32, ui32, i64 are)}}
  %m = gaon_graph.max %x, %x : (tensor<4xui64>, tensor<4xui64>) -> tensor<4xui64>
  return %m : tensor<4xui64>
}

// -----

// Gathers along another axis than 0 are not embedding lookups.
func.func @gather_axis1(%x: tensor<4x8xf32>, %i: tensor<2xi64>) -> tensor<4x2xf32> {
  // expected-error @below {{gather along axis 1 is not supported}}
  %g = gaon_graph.gather %x, %i {axis = 1 : i64} : (tensor<4x8xf32>, tensor<2xi64>) -> tensor<4x2xf32>
  return %g : tensor<4x2xf32>
}
