// RUN: gaon-opt --split-input-file --verify-diagnostics --gaon-npu-attach-chip=chip=tiny --gaon-npu-plan-memory %s | FileCheck %s

// DRAM is laid out as [weights | inputs | outputs | arena], 64-byte aligned:
// the 2x8 f32 weight (64 bytes) at 0, the input at 64, the output at 128;
// the matmul result that is returned (128 bytes) is written straight into its
// output slot; the reshape shares its input's address; the intermediate exp
// goes to the arena after the outputs (256).
// CHECK-LABEL: module attributes
// CHECK-SAME: gaon_npu.layout = {arena_bytes = 64 : i64, arena_lower_bound_bytes = 64 : i64, dram_bytes = 320 : i64, inputs_bytes = 64 : i64, outputs_bytes = 128 : i64, weights_bytes = 64 : i64}
// CHECK: func.func @main(%arg0: tensor<4x2xf32> {gaon_npu.dram = array<i64: 64>}) -> (tensor<4x8xf32> {gaon_npu.dram = array<i64: 128>})
// CHECK: gaon_graph.constant {gaon_npu.dram = array<i64: 0>}
// CHECK: gaon_graph.exp %arg0 {gaon_npu.dram = array<i64: 256>}
// CHECK: gaon_graph.reshape %{{.*}} {gaon_npu.dram = array<i64: 256>}
// CHECK: gaon_graph.matmul %{{.*}} {gaon_npu.dram = array<i64: 128>}
module {
  func.func @main(%x: tensor<4x2xf32>) -> tensor<4x8xf32> {
    %w = gaon_graph.constant dense<1.0> : tensor<2x8xf32>
    %e = gaon_graph.exp %x : tensor<4x2xf32>
    %r = gaon_graph.reshape %e : tensor<4x2xf32> -> tensor<4x2xf32>
    %m = gaon_graph.matmul %r, %w : (tensor<4x2xf32>, tensor<2x8xf32>) -> tensor<4x8xf32>
    return %m : tensor<4x8xf32>
  }
}

// -----

// A model larger than the chip's DRAM is an error that says what the
// bytes are and by how much they exceed the chip's (tiny: 256 MiB; a
// 256 MiB input and its 256 MiB exp).
// expected-error @+1 {{the model needs 536870912 bytes of DRAM (weights 0, inputs and outputs 536870912, activations 0), but chip 'tiny' has 268435456 (268435456 bytes too many)}}
module {
  func.func @main(%x: tensor<8192x8192xf32>) -> tensor<8192x8192xf32> {
    %e = gaon_graph.exp %x : tensor<8192x8192xf32>
    return %e : tensor<8192x8192xf32>
  }
}
