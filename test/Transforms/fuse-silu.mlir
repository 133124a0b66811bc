// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-fuse-silu))' %s | FileCheck %s

// Fuses x * sigmoid(x) (LLaMA's SiLU) into one op.
// CHECK-LABEL: func.func @silu
// CHECK-NEXT: %[[S:.*]] = gaon_graph.silu %arg0 : tensor<2x8xf32>
// CHECK-NEXT: return %[[S]] : tensor<2x8xf32>
func.func @silu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %s = gaon_graph.sigmoid %x : tensor<2x8xf32>
  %r = gaon_graph.mul %x, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}

// The operands may come in either order, in any float type.
// CHECK-LABEL: func.func @silu_sigmoid_first
// CHECK-NEXT: %[[S:.*]] = gaon_graph.silu %arg0 : tensor<4xbf16>
// CHECK-NEXT: return %[[S]] : tensor<4xbf16>
func.func @silu_sigmoid_first(%x: tensor<4xbf16>) -> tensor<4xbf16> {
  %s = gaon_graph.sigmoid %x : tensor<4xbf16>
  %r = gaon_graph.mul %s, %x : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  return %r : tensor<4xbf16>
}

// A sigmoid with other users stays for them; the product still fuses.
// CHECK-LABEL: func.func @silu_shared_sigmoid
// CHECK-NEXT: %[[G:.*]] = gaon_graph.sigmoid %arg0 : tensor<4xf32>
// CHECK-NEXT: %[[S:.*]] = gaon_graph.silu %arg0 : tensor<4xf32>
// CHECK-NEXT: return %[[S]], %[[G]]
func.func @silu_shared_sigmoid(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %s = gaon_graph.sigmoid %x : tensor<4xf32>
  %r = gaon_graph.mul %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r, %s : tensor<4xf32>, tensor<4xf32>
}

// SwiGLU: silu(x) * gate fuses the inner product and keeps the gating mul.
// CHECK-LABEL: func.func @swiglu
// CHECK-NEXT: %[[S:.*]] = gaon_graph.silu %arg0 : tensor<2x8xf32>
// CHECK-NEXT: %[[M:.*]] = gaon_graph.mul %[[S]], %arg1 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[M]]
func.func @swiglu(%x: tensor<2x8xf32>, %g: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %s = gaon_graph.sigmoid %x : tensor<2x8xf32>
  %a = gaon_graph.mul %x, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %r = gaon_graph.mul %a, %g : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}

// x * sigmoid(y) is a gate, not SiLU, and stays as is.
// CHECK-LABEL: func.func @not_silu_other_operand
// CHECK-NOT: gaon_graph.silu
// CHECK: %[[G:.*]] = gaon_graph.sigmoid %arg1
// CHECK-NEXT: gaon_graph.mul %arg0, %[[G]]
func.func @not_silu_other_operand(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %s = gaon_graph.sigmoid %y : tensor<4xf32>
  %r = gaon_graph.mul %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// x * tanh(x) is not SiLU either.
// CHECK-LABEL: func.func @not_silu_tanh
// CHECK-NOT: gaon_graph.silu
// CHECK: gaon_graph.tanh %arg0
// CHECK-NEXT: gaon_graph.mul
func.func @not_silu_tanh(%x: tensor<4xf32>) -> tensor<4xf32> {
  %t = gaon_graph.tanh %x : tensor<4xf32>
  %r = gaon_graph.mul %x, %t : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
