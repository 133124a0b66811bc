// RUN: gaon-opt --gaon-npu-attach-chip --gaon-npu-quantize-matmuls %s | FileCheck %s
// RUN: not gaon-opt --gaon-npu-quantize-matmuls %s 2>&1 | FileCheck %s --check-prefix=NOCHIP

// A fused matmul over constant weights: the weights become int8 at one
// scale per tensor (max |W| = 2 -> scale 2/127; 1 -> round(63.5) = 64
// (half to even), -2 -> -127, 0.5 -> round(31.75) = 32), the activation is
// quantized at run time by gaon_npu.quantize, and the matmul keeps its
// bias and activation and takes the quantize's dequant_scale.
// CHECK-LABEL: func.func @fused
// CHECK-DAG: %[[WQ:.*]] = gaon_graph.constant dense<{{\[\[}}64, -127], [32, 0]]> : tensor<2x2xi8>
// CHECK-DAG: %[[WS:.*]] = gaon_graph.constant dense<0.0157480314> : tensor<1xf32>
// CHECK: %[[Q:.*]], %[[S:.*]] = gaon_npu.quantize %arg0, %[[WS]] : (tensor<3x2xbf16>, tensor<1xf32>) -> (tensor<3x2xi8>, tensor<1xf32>)
// CHECK: gaon_npu.matmul %[[Q]], %[[WQ]] bias %arg1 dequant_scale %[[S]] {activation = "gelu"} : (tensor<3x2xi8>, tensor<2x2xi8>, tensor<2xbf16>, tensor<1xf32>) -> tensor<3x2xbf16>
func.func @fused(%x: tensor<3x2xbf16>, %b: tensor<2xbf16>) -> tensor<3x2xbf16> {
  %w = gaon_graph.constant dense<[[1.0, -2.0], [0.5, 0.0]]> : tensor<2x2xbf16>
  %y = gaon_npu.matmul %x, %w bias %b {activation = "gelu"} : (tensor<3x2xbf16>, tensor<2x2xbf16>, tensor<2xbf16>) -> tensor<3x2xbf16>
  return %y : tensor<3x2xbf16>
}

// Plain gaon_graph.matmuls (no epilogue) become int8 gaon_npu.matmuls; two
// products over the same weights share one int8 copy (0.25 at scale
// 0.25/127 -> 127) and the float weights are gone.
// CHECK-LABEL: func.func @shared_weights
// CHECK: %[[WQ:.*]] = gaon_graph.constant dense<127> : tensor<4x3xi8>
// CHECK-NEXT: %[[WS:.*]] = gaon_graph.constant dense<0.00196850393> : tensor<1xf32>
// CHECK-NOT: gaon_graph.constant
// CHECK: %[[Q0:.*]], %[[S0:.*]] = gaon_npu.quantize %arg0, %[[WS]]
// CHECK-NEXT: gaon_npu.matmul %[[Q0]], %[[WQ]] dequant_scale %[[S0]] :
// CHECK-NEXT: %[[Q1:.*]], %[[S1:.*]] = gaon_npu.quantize %arg1, %[[WS]]
// CHECK-NEXT: gaon_npu.matmul %[[Q1]], %[[WQ]] dequant_scale %[[S1]] :
func.func @shared_weights(%x: tensor<2x4xbf16>, %z: tensor<5x4xbf16>) -> (tensor<2x3xbf16>, tensor<5x3xbf16>) {
  %w = gaon_graph.constant dense<0.25> : tensor<4x3xbf16>
  %y = gaon_graph.matmul %x, %w : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
  %u = gaon_graph.matmul %z, %w : (tensor<5x4xbf16>, tensor<4x3xbf16>) -> tensor<5x3xbf16>
  return %y, %u : tensor<2x3xbf16>, tensor<5x3xbf16>
}

// A product whose rhs is not a constant (attention's Q K^T, say) stays.
// CHECK-LABEL: func.func @not_weights
// CHECK-NOT: gaon_npu.quantize
// CHECK: gaon_graph.matmul %arg0, %arg1
func.func @not_weights(%a: tensor<2x4xbf16>, %b: tensor<4x3xbf16>) -> tensor<2x3xbf16> {
  %y = gaon_graph.matmul %a, %b : (tensor<2x4xbf16>, tensor<4x3xbf16>) -> tensor<2x3xbf16>
  return %y : tensor<2x3xbf16>
}

// Without a chip the pass cannot know the tensor unit's int8 rate.
// NOCHIP: error: gaon-npu-quantize-matmuls needs the chip attached
