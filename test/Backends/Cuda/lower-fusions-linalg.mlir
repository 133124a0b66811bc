// RUN: gaon-opt --split-input-file --pass-pipeline='builtin.module(func.func(gaon-cuda-fusions-to-linalg),gaon-cuda-lower-fusions)' %s | FileCheck %s
// REQUIRES: cuda-compiler

// gaon-cuda-lower-fusions on linalg bodies (gaon-cuda-fusions-to-linalg):
// the kernels keep the elemental kernels' launch shapes and memory access
// (test/Backends/Cuda/lower-fusions.mlir has the same cases from gaon_graph
// bodies).

// An elementwise chain fuses into one generic and becomes one thread per
// element (4 blocks of 256 for 1000 elements): nothing of linalg, affine or
// scf.parallel is left, each input is loaded once (the [8] bias at the
// column index), at the thread's linear index where the input has the
// result's shape, and the result is stored there.
// CHECK-LABEL: func.func @elementwise
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0, %arg1) {block = array<i32: 256, 1, 1>, grid = array<i32: 4, 1, 1>
// CHECK: gpu.func @fusion_0(%[[X:.*]]: memref<1000xf16>, %[[B:.*]]: memref<8xf16>, %[[OUT:.*]]: memref<1000xf16>)
// CHECK-NOT: linalg.
// CHECK-NOT: affine.
// CHECK-NOT: scf.parallel
// CHECK-NOT: expand_shape
// CHECK: %[[LIN:.*]] = arith.addi
// CHECK: arith.cmpi ult, %[[LIN]], %c1000
// CHECK: scf.if
// CHECK: %[[COL:.*]] = arith.remui %[[LIN]], %c8
// CHECK: memref.load %[[X]][%[[LIN]]]
// CHECK: memref.load %[[B]][%[[COL]]]
// CHECK-NOT: memref.load
// CHECK: arith.extf
// CHECK: arith.addf
// CHECK: math.tanh
// CHECK: arith.truncf
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[LIN]]]
// CHECK-NOT: memref.load
// CHECK: gpu.return
func.func @elementwise(%x: tensor<125x8xf16>, %b: tensor<8xf16>) -> tensor<125x8xf16> {
  %0 = gaon_cuda.fusion(%x, %b) : (tensor<125x8xf16>, tensor<8xf16>) -> tensor<125x8xf16> {
  ^bb0(%a: tensor<125x8xf16>, %c: tensor<8xf16>):
    %s = gaon_graph.add %a, %c : (tensor<125x8xf16>, tensor<8xf16>) -> tensor<125x8xf16>
    %t = gaon_graph.tanh %s : tensor<125x8xf16>
    gaon_cuda.yield %t : tensor<125x8xf16>
  }
  return %0 : tensor<125x8xf16>
}

// -----

// A large elementwise generic (8M elements) gives each thread 8 elements,
// 256 apart: each element's loads and math in an scf.if yielding its
// value, then the 8 stores, so that all 16 loads are in flight together
// (the same schedule as lower-fusions.mlir's @large_elementwise).
// CHECK-LABEL: func.func @large_elementwise
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0, %arg1) {block = array<i32: 256, 1, 1>, grid = array<i32: 4096, 1, 1>
// CHECK: gpu.func @fusion_0(%[[X:.*]]: memref<8388608xf16>, %[[B:.*]]: memref<4096xf16>, %[[OUT:.*]]: memref<8388608xf16>)
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f16)
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[B]]
// CHECK-NOT: memref.store
// CHECK-COUNT-8: memref.store %{{.*}}, %[[OUT]]
// CHECK-NOT: memref.store
// CHECK: gpu.return
func.func @large_elementwise(%x: tensor<2048x4096xf16>, %b: tensor<4096xf16>) -> tensor<2048x4096xf16> {
  %0 = gaon_cuda.fusion(%x, %b) : (tensor<2048x4096xf16>, tensor<4096xf16>) -> tensor<2048x4096xf16> {
  ^bb0(%a: tensor<2048x4096xf16>, %c: tensor<4096xf16>):
    %s = gaon_graph.add %a, %c : (tensor<2048x4096xf16>, tensor<4096xf16>) -> tensor<2048x4096xf16>
    %t = gaon_graph.tanh %s : tensor<2048x4096xf16>
    gaon_cuda.yield %t : tensor<2048x4096xf16>
  }
  return %0 : tensor<2048x4096xf16>
}

// -----

// A transpose and reshape compute the source index with unsigned divisions
// (no affine left); booleans are bytes in memory, compared with zero on
// load and widened on store.
// CHECK-LABEL: func.func @index_maps_and_bools
// CHECK: gpu.func @fusion_0(%{{.*}}: memref<24xf32>, %[[M:.*]]: memref<24xi8>, %[[OUT:.*]]: memref<24xi8>)
// CHECK-NOT: affine.
// CHECK: arith.divui
// CHECK: memref.load %{{.*}} : memref<24xf32>
// CHECK: memref.load %[[M]]
// CHECK: arith.cmpi ne
// CHECK: arith.cmpf ogt
// CHECK: arith.andi
// CHECK: arith.extui %{{.*}} : i1 to i8
// CHECK: memref.store %{{.*}}, %[[OUT]]
func.func @index_maps_and_bools(%x: tensor<3x4x2xf32>, %m: tensor<6x4xi1>) -> tensor<6x4xi1> {
  %0 = gaon_cuda.fusion(%x, %m) : (tensor<3x4x2xf32>, tensor<6x4xi1>) -> tensor<6x4xi1> {
  ^bb0(%a: tensor<3x4x2xf32>, %n: tensor<6x4xi1>):
    %zero = gaon_graph.constant dense<0.0> : tensor<f32>
    %t = gaon_graph.transpose %a {perm = array<i64: 0, 2, 1>} : tensor<3x4x2xf32> -> tensor<3x2x4xf32>
    %r = gaon_graph.reshape %t : tensor<3x2x4xf32> -> tensor<6x4xf32>
    %p = gaon_graph.greater %r, %zero : (tensor<6x4xf32>, tensor<f32>) -> tensor<6x4xi1>
    %q = gaon_graph.and %p, %n : (tensor<6x4xi1>, tensor<6x4xi1>) -> tensor<6x4xi1>
    gaon_cuda.yield %q : tensor<6x4xi1>
  }
  return %0 : tensor<6x4xi1>
}

// -----

// A layer norm with its residual add runs one block per row (6 rows of 768):
// each of the 256 threads reads its 3 elements of both inputs once (no
// loop), the mean and the variance are block reductions (shuffles, shared
// memory) of those registers, and the 3 normalized values are written.
// CHECK-LABEL: func.func @layer_norm
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0, %arg1, %arg2, %arg3) {block = array<i32: 256, 1, 1>, grid = array<i32: 6, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK-SAME: workgroup(%[[SMEM:.*]] : memref<32xf32, #gpu.address_space<workgroup>>)
// CHECK: gpu.block_id  x
// CHECK-NOT: scf.for
// CHECK-COUNT-3: memref.load %arg1
// CHECK-NOT: memref.load %arg0
// CHECK-NOT: memref.load %arg1
// CHECK: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %[[SMEM]]
// CHECK: gpu.barrier
// CHECK: gpu.shuffle  xor
// CHECK: math.rsqrt
// CHECK-NOT: memref.load %arg0
// CHECK-NOT: memref.load %arg1
// CHECK-COUNT-3: memref.store %{{.*}}, %arg4
// CHECK-NOT: scf.for
// CHECK: gpu.return
func.func @layer_norm(%x: tensor<2x3x768xf32>, %r: tensor<2x3x768xf32>, %g: tensor<768xf32>, %b: tensor<768xf32>) -> tensor<2x3x768xf32> {
  %0 = gaon_cuda.fusion(%x, %r, %g, %b) : (tensor<2x3x768xf32>, tensor<2x3x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<2x3x768xf32> {
  ^bb0(%a: tensor<2x3x768xf32>, %q: tensor<2x3x768xf32>, %s: tensor<768xf32>, %c: tensor<768xf32>):
    %y = gaon_graph.add %a, %q : (tensor<2x3x768xf32>, tensor<2x3x768xf32>) -> tensor<2x3x768xf32>
    %n = gaon_graph.layer_norm %y, %s, %c {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x3x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<2x3x768xf32>
    gaon_cuda.yield %n : tensor<2x3x768xf32>
  }
  return %0 : tensor<2x3x768xf32>
}

// -----

// A softmax row of 100 f16 runs on 128 threads, one element each, read
// once: threads past the end read the last element (minui, in bounds), give
// the identity to the max and the sum (select), and skip the store (scf.if);
// the result is rounded to f16 before the store.
// CHECK-LABEL: func.func @softmax_ragged_row
// CHECK: block = array<i32: 128, 1, 1>, grid = array<i32: 4, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: %[[VALID:.*]] = arith.cmpi ult, %{{.*}}, %c100
// CHECK: arith.minui %{{.*}}, %c99
// CHECK: memref.load %arg0
// CHECK-NOT: memref.load %arg0
// CHECK: arith.select %[[VALID]]
// CHECK: math.exp
// CHECK: arith.select %[[VALID]]
// CHECK: scf.if %[[VALID]] {
// CHECK: arith.divf
// CHECK: arith.truncf
// CHECK: memref.store %{{.*}}, %arg1
func.func @softmax_ragged_row(%x: tensor<4x100xf16>) -> tensor<4x100xf16> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x100xf16>) -> tensor<4x100xf16> {
  ^bb0(%a: tensor<4x100xf16>):
    %n = gaon_graph.softmax %a {axis = 1 : i64} : tensor<4x100xf16>
    gaon_cuda.yield %n : tensor<4x100xf16>
  }
  return %0 : tensor<4x100xf16>
}

// -----

// An RMS norm row of 4096 is 16 elements per thread, more than the 8 kept
// in registers: each pass loops over the row (strided scf.for) and reads
// the row again.
// CHECK-LABEL: func.func @long_row
// CHECK: block = array<i32: 256, 1, 1>, grid = array<i32: 2, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: scf.for
// CHECK: memref.load %arg0
// CHECK: gpu.shuffle  xor
// CHECK: math.rsqrt
// CHECK: scf.for
// CHECK: memref.load %arg0
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %arg2
func.func @long_row(%x: tensor<2x4096xf32>, %g: tensor<4096xf32>) -> tensor<2x4096xf32> {
  %0 = gaon_cuda.fusion(%x, %g) : (tensor<2x4096xf32>, tensor<4096xf32>) -> tensor<2x4096xf32> {
  ^bb0(%a: tensor<2x4096xf32>, %s: tensor<4096xf32>):
    %n = gaon_graph.rms_norm %a, %s {axis = 1 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x4096xf32>, tensor<4096xf32>) -> tensor<2x4096xf32>
    gaon_cuda.yield %n : tensor<2x4096xf32>
  }
  return %0 : tensor<2x4096xf32>
}

// -----

// A mean over the trailing axis is a row reduction whose result is one
// value per row: thread 0 stores it at the row's index.
// CHECK-LABEL: func.func @reduce_mean
// CHECK: block = array<i32: 32, 1, 1>, grid = array<i32: 4, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: %[[ROW:.*]] = gpu.block_id  x
// CHECK: gpu.shuffle  xor
// CHECK: arith.divf
// CHECK: arith.cmpi eq, %{{.*}}, %c0
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %arg1[%[[ROW]]]
func.func @reduce_mean(%x: tensor<4x8xf32>) -> tensor<4x1xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xf32>) -> tensor<4x1xf32> {
  ^bb0(%a: tensor<4x8xf32>):
    %r = gaon_graph.reduce_mean %a {axes = array<i64: 1>, keep_dims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
    gaon_cuda.yield %r : tensor<4x1xf32>
  }
  return %0 : tensor<4x1xf32>
}
