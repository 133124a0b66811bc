// RUN: gaon-opt --split-input-file --verify-diagnostics --gaon-cuda-lower-fusions %s | FileCheck %s
// REQUIRES: cuda-compiler

// An elementwise fusion becomes a kernel with one thread per element: a
// bounds check, loads widened to f32, the math, a narrowing store; the
// launch covers 1000 elements with 4 blocks of 256 threads.
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: func.func @elementwise
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0, %arg1) {block = array<i32: 256, 1, 1>, grid = array<i32: 4, 1, 1>
// CHECK: gpu.module @gaon_kernels
// CHECK: gpu.func @fusion_0(%{{.*}}: memref<1000xf16>, %{{.*}}: memref<8xf16>, %[[OUT:.*]]: memref<1000xf16>)
// CHECK-SAME: kernel
// CHECK: gpu.thread_id  x
// CHECK: arith.cmpi ult
// CHECK: scf.if
// CHECK: memref.load
// CHECK: arith.extf
// CHECK: math.tanh
// CHECK: arith.truncf
// CHECK: memref.store %{{.*}}, %[[OUT]]
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

// A large elementwise fusion (8M elements, a cast like GPT-2's logits)
// gives each thread 8 elements, 256 apart (coalesced); each element's load
// and widening is an scf.if yielding its value, and the 8 stores come after
// all 8 loads, so that the loads are in flight together. 4096 blocks of
// 256 threads cover the 8M elements.
// CHECK-LABEL: func.func @large_elementwise
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0) {block = array<i32: 256, 1, 1>, grid = array<i32: 4096, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: memref.load %arg0
// CHECK-NOT: memref.store
// CHECK-COUNT-8: memref.store %{{.*}}, %arg1
// CHECK-NOT: memref.store
// CHECK: gpu.return
func.func @large_elementwise(%x: tensor<2048x4096xf16>) -> tensor<2048x4096xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<2048x4096xf16>) -> tensor<2048x4096xf32> {
  ^bb0(%a: tensor<2048x4096xf16>):
    %c = gaon_graph.cast %a : tensor<2048x4096xf16> -> tensor<2048x4096xf32>
    gaon_cuda.yield %c : tensor<2048x4096xf32>
  }
  return %0 : tensor<2048x4096xf32>
}

// -----


// A layer norm over the last dimension runs one block per row (6 rows of
// 768): each of the 256 threads reads its 3 elements once into registers
// (no loop), warp shuffles and shared memory reduce the mean and then the
// variance from those registers, and the 3 normalized values are written.
// CHECK-LABEL: func.func @layer_norm
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0, %arg1, %arg2) {block = array<i32: 256, 1, 1>, grid = array<i32: 6, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK-SAME: workgroup(%[[SMEM:.*]] : memref<32xf32, #gpu.address_space<workgroup>>)
// CHECK: gpu.block_id  x
// CHECK-NOT: scf.for
// CHECK-COUNT-3: memref.load %arg0
// CHECK-NOT: memref.load %arg0
// CHECK: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %[[SMEM]]
// CHECK: gpu.barrier
// CHECK: math.rsqrt
// CHECK-NOT: memref.load %arg0
// CHECK-COUNT-3: memref.store %{{.*}}, %arg3
// CHECK-NOT: scf.for
// CHECK: gpu.return
func.func @layer_norm(%x: tensor<2x3x768xf32>, %g: tensor<768xf32>, %b: tensor<768xf32>) -> tensor<2x3x768xf32> {
  %0 = gaon_cuda.fusion(%x, %g, %b) : (tensor<2x3x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<2x3x768xf32> {
  ^bb0(%a: tensor<2x3x768xf32>, %s: tensor<768xf32>, %c: tensor<768xf32>):
    %n = gaon_graph.layer_norm %a, %s, %c {axis = 2 : i64, epsilon = 1.0e-5 : f64} : (tensor<2x3x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<2x3x768xf32>
    gaon_cuda.yield %n : tensor<2x3x768xf32>
  }
  return %0 : tensor<2x3x768xf32>
}

// -----

// A reduction over a leading axis is not a row op: each output element
// loops over the reduced axis itself (serial schedule).
// CHECK-LABEL: func.func @leading_reduce
// CHECK: gaon_cuda.launch @gaon_kernels::@fusion_0(%arg0) {block = array<i32: 256, 1, 1>, grid = array<i32: 1, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: scf.if
// CHECK: scf.for {{.*}} iter_args
// CHECK: arith.addf
func.func @leading_reduce(%x: tensor<16x4xf32>) -> tensor<1x4xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<16x4xf32>) -> tensor<1x4xf32> {
  ^bb0(%a: tensor<16x4xf32>):
    %r = gaon_graph.reduce_sum %a {axes = array<i64: 0>} : tensor<16x4xf32> -> tensor<1x4xf32>
    gaon_cuda.yield %r : tensor<1x4xf32>
  }
  return %0 : tensor<1x4xf32>
}

// -----

// Transpose, slice and gather are index maps: a gathered embedding row is
// loaded at the index read from the ids tensor (negative ids wrap).
// CHECK-LABEL: func.func @gather
// CHECK: gpu.func @fusion_0
// CHECK: memref.load %{{.*}} : memref<6xi64>
// CHECK: arith.index_cast
// CHECK: arith.select
// CHECK: arith.minui
// CHECK: memref.load %{{.*}} : memref<400xf32>
func.func @gather(%table: tensor<100x4xf32>, %ids: tensor<2x3xi64>) -> tensor<2x3x4xf32> {
  %0 = gaon_cuda.fusion(%table, %ids) : (tensor<100x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32> {
  ^bb0(%t: tensor<100x4xf32>, %i: tensor<2x3xi64>):
    %g = gaon_graph.gather %t, %i {axis = 0 : i64} : (tensor<100x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
    gaon_cuda.yield %g : tensor<2x3x4xf32>
  }
  return %0 : tensor<2x3x4xf32>
}

// -----

// An op without a GPU lowering is an error naming the op.
func.func @unsupported(%x: tensor<1x1x4x4xf32>, %w: tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32> {
  %0 = gaon_cuda.fusion(%x, %w) : (tensor<1x1x4x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32> {
  ^bb0(%a: tensor<1x1x4x4xf32>, %b: tensor<1x1x3x3xf32>):
    // expected-error @+1 {{cannot run on the cuda target: convolution is not supported by the cuda backend yet}}
    %c = gaon_graph.conv %a, %b {dilations = array<i64: 1, 1>, groups = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32>
    gaon_cuda.yield %c : tensor<1x1x2x2xf32>
  }
  return %0 : tensor<1x1x2x2xf32>
}

// -----

// Trilu is an index map: the kernel compares column - row with k and
// selects the input or zero.
// CHECK-LABEL: func.func @trilu
// CHECK: gpu.func @fusion_0
// CHECK: arith.subi
// CHECK: arith.cmpi sle
// CHECK: arith.select
func.func @trilu(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %t = gaon_graph.trilu %a {k = 0 : i64, upper = false} : tensor<4x4xf32>
    gaon_cuda.yield %t : tensor<4x4xf32>
  }
  return %0 : tensor<4x4xf32>
}

// -----

// An i8 max reduction starts from -128, not 0.
// CHECK-LABEL: func.func @int_max
// CHECK: gpu.func @fusion_0
// CHECK: arith.constant -128 : i8
// CHECK: arith.maxsi
func.func @int_max(%x: tensor<4x8xi8>) -> tensor<1x8xi8> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xi8>) -> tensor<1x8xi8> {
  ^bb0(%a: tensor<4x8xi8>):
    %r = gaon_graph.reduce_max %a {axes = array<i64: 0>} : tensor<4x8xi8> -> tensor<1x8xi8>
    gaon_cuda.yield %r : tensor<1x8xi8>
  }
  return %0 : tensor<1x8xi8>
}

// -----

// Unsigned integers run as signless ones (memref<4xi8> parameters) through
// the unsigned arith ops: divui, maxui, an unsigned compare, uitofp and
// fptoui for the casts (uint8 200 is 200.0, not -56.0).
// CHECK-LABEL: func.func @unsigned_elementwise
// CHECK: gpu.func @fusion_0(%{{.*}}: memref<4xi8>, %{{.*}}: memref<4xi8>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<4xi8>, %{{.*}}: memref<4xi8>)
// CHECK-DAG: arith.divui
// CHECK-DAG: arith.maxui
// CHECK-DAG: arith.cmpi ult
// CHECK-DAG: arith.uitofp
// CHECK-DAG: arith.fptoui
// CHECK-NOT: arith.divsi
// CHECK-NOT: arith.maxsi
// CHECK-NOT: arith.sitofp
func.func @unsigned_elementwise(%x: tensor<4xui8>, %y: tensor<4xui8>, %f: tensor<4xf32>) -> (tensor<4xui8>, tensor<4xui8>) {
  %0:2 = gaon_cuda.fusion(%x, %y, %f) : (tensor<4xui8>, tensor<4xui8>, tensor<4xf32>) -> (tensor<4xui8>, tensor<4xui8>) {
  ^bb0(%a: tensor<4xui8>, %b: tensor<4xui8>, %c: tensor<4xf32>):
    %d = gaon_graph.div %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
    %m = gaon_graph.max %d, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
    %l = gaon_graph.less %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xi1>
    %s = gaon_graph.select %l, %a, %m : (tensor<4xi1>, tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
    %af = gaon_graph.cast %s : tensor<4xui8> -> tensor<4xf32>
    %sum = gaon_graph.add %af, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %q = gaon_graph.cast %sum : tensor<4xf32> -> tensor<4xui8>
    gaon_cuda.yield %s, %q : tensor<4xui8>, tensor<4xui8>
  }
  return %0#0, %0#1 : tensor<4xui8>, tensor<4xui8>
}

// -----

// An integer clamp (DeBERTa clips its int64 relative positions) compares
// signed, with the bounds rounded inward (0.5 -> 1, 63.7 -> 63).
// CHECK-LABEL: func.func @int_clamp
// CHECK: gpu.func @fusion_0
// CHECK: %[[LO:.*]] = arith.constant 1 : i64
// CHECK: %[[X:.*]] = arith.maxsi %{{.*}}, %[[LO]] : i64
// CHECK: %[[HI:.*]] = arith.constant 63 : i64
// CHECK: arith.minsi %[[X]], %[[HI]] : i64
func.func @int_clamp(%x: tensor<16xi64>) -> tensor<16xi64> {
  %0 = gaon_cuda.fusion(%x) : (tensor<16xi64>) -> tensor<16xi64> {
  ^bb0(%a: tensor<16xi64>):
    %c = gaon_graph.clamp %a {min = 0.5 : f64, max = 63.7 : f64} : tensor<16xi64>
    gaon_cuda.yield %c : tensor<16xi64>
  }
  return %0 : tensor<16xi64>
}

// -----

// An unsigned clamp compares unsigned; its lower bound 0 is the type's own,
// so only the upper one is applied (200 as i8 is -56).
// CHECK-LABEL: func.func @unsigned_clamp
// CHECK: gpu.func @fusion_0
// CHECK: arith.constant -56 : i8
// CHECK: arith.minui
// CHECK-NOT: arith.maxui
// CHECK-NOT: arith.minsi
func.func @unsigned_clamp(%x: tensor<16xui8>) -> tensor<16xui8> {
  %0 = gaon_cuda.fusion(%x) : (tensor<16xui8>) -> tensor<16xui8> {
  ^bb0(%a: tensor<16xui8>):
    %c = gaon_graph.clamp %a {min = -3.0 : f64, max = 200.0 : f64} : tensor<16xui8>
    gaon_cuda.yield %c : tensor<16xui8>
  }
  return %0 : tensor<16xui8>
}

// -----

// Integer pow is exact: square and multiply over the exponent's bits in an
// scf.for (wrapping like numpy); a negative exponent selects the truncated
// 1 / x^|y| (1, -1 or 0).
// CHECK-LABEL: func.func @int_pow
// CHECK: gpu.func @fusion_0
// CHECK: scf.for
// CHECK: arith.andi
// CHECK: arith.muli
// CHECK: arith.shrui
// CHECK: scf.yield
// CHECK: arith.cmpi slt
// CHECK: arith.select
func.func @int_pow(%x: tensor<4xi32>, %y: tensor<4xi32>) -> tensor<4xi32> {
  %0 = gaon_cuda.fusion(%x, %y) : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32> {
  ^bb0(%a: tensor<4xi32>, %b: tensor<4xi32>):
    %p = gaon_graph.pow %a, %b : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
    gaon_cuda.yield %p : tensor<4xi32>
  }
  return %0 : tensor<4xi32>
}

// -----

// An unsigned max reduction starts from 0 (not -128) and compares
// unsigned.
// CHECK-LABEL: func.func @unsigned_max
// CHECK: gpu.func @fusion_0
// CHECK: arith.constant 0 : i8
// CHECK: arith.maxui
func.func @unsigned_max(%x: tensor<4x8xui8>) -> tensor<1x8xui8> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xui8>) -> tensor<1x8xui8> {
  ^bb0(%a: tensor<4x8xui8>):
    %r = gaon_graph.reduce_max %a {axes = array<i64: 0>} : tensor<4x8xui8> -> tensor<1x8xui8>
    gaon_cuda.yield %r : tensor<1x8xui8>
  }
  return %0 : tensor<1x8xui8>
}

// -----

// ... and an unsigned min from 255 (all ones: -1 as i8).
// CHECK-LABEL: func.func @unsigned_min
// CHECK: gpu.func @fusion_0
// CHECK: arith.constant -1 : i8
// CHECK: arith.minui
func.func @unsigned_min(%x: tensor<4x8xui8>) -> tensor<4x1xui8> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xui8>) -> tensor<4x1xui8> {
  ^bb0(%a: tensor<4x8xui8>):
    %r = gaon_graph.reduce_min %a {axes = array<i64: 1>} : tensor<4x8xui8> -> tensor<4x1xui8>
    gaon_cuda.yield %r : tensor<4x1xui8>
  }
  return %0 : tensor<4x1xui8>
}

// -----

// Argmax of unsigned data compares unsigned (200 beats 100, as it would
// not in i8).
// CHECK-LABEL: func.func @unsigned_argmax
// CHECK: gpu.func @fusion_0
// CHECK: arith.cmpi ugt
// CHECK-NOT: arith.cmpi sgt
func.func @unsigned_argmax(%x: tensor<2x3xui8>) -> tensor<2x1xi64> {
  %0 = gaon_cuda.fusion(%x) : (tensor<2x3xui8>) -> tensor<2x1xi64> {
  ^bb0(%a: tensor<2x3xui8>):
    %r = gaon_graph.argmax %a {axis = 1 : i64} : tensor<2x3xui8> -> tensor<2x1xi64>
    gaon_cuda.yield %r : tensor<2x1xi64>
  }
  return %0 : tensor<2x1xi64>
}

// -----

// A row op of unsigned data (softmax takes floats only) is a clear error
// naming the op.
func.func @unsigned_softmax(%x: tensor<2x3xui8>) -> tensor<2x3xui8> {
  %0 = gaon_cuda.fusion(%x) : (tensor<2x3xui8>) -> tensor<2x3xui8> {
  ^bb0(%a: tensor<2x3xui8>):
    // expected-error @+1 {{cannot run on the cuda target: unsigned integer operands are not supported by this op on the cuda target}}
    %r = gaon_graph.softmax %a {axis = 1 : i64} : tensor<2x3xui8>
    gaon_cuda.yield %r : tensor<2x3xui8>
  }
  return %0 : tensor<2x3xui8>
}

// -----

// f64 data is computed in f64 (libdevice math), also in the serial
// reductions, whose identities take the element type.
// CHECK-LABEL: func.func @f64_sum
// CHECK: gpu.func @fusion_0
// CHECK: arith.constant 0.000000e+00 : f64
// CHECK: arith.addf {{.*}} : f64
func.func @f64_sum(%x: tensor<4x8xf64>) -> tensor<4x1xf64> {
  %0 = gaon_cuda.fusion(%x) : (tensor<4x8xf64>) -> tensor<4x1xf64> {
  ^bb0(%a: tensor<4x8xf64>):
    %r = gaon_graph.reduce_sum %a {axes = array<i64: 1>} : tensor<4x8xf64> -> tensor<4x1xf64>
    gaon_cuda.yield %r : tensor<4x1xf64>
  }
  return %0 : tensor<4x1xf64>
}

// -----

// A softmax row of 100 f16 runs on 128 threads, one element each: threads
// past the end read the last element (minui, in bounds), give the identity
// to the max and the sum (select), and skip the store (scf.if).
// CHECK-LABEL: func.func @softmax_ragged_row
// CHECK: block = array<i32: 128, 1, 1>, grid = array<i32: 4, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: %[[VALID:.*]] = arith.cmpi ult, %{{.*}}, %c100
// CHECK: arith.minui %{{.*}}, %c99
// CHECK: memref.load %arg0
// CHECK: arith.select %[[VALID]]
// CHECK: math.exp
// CHECK: arith.select %[[VALID]]
// CHECK: scf.if %[[VALID]] {
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

// A row of 4096 is 16 elements per thread, more than the 8 kept in
// registers: each pass loops over the row again (strided scf.for).
// CHECK-LABEL: func.func @long_row
// CHECK: block = array<i32: 256, 1, 1>, grid = array<i32: 2, 1, 1>
// CHECK: gpu.func @fusion_0
// CHECK: scf.for
// CHECK: gpu.shuffle  xor
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %arg2
func.func @long_row(%x: tensor<2x4096xf32>, %g: tensor<4096xf32>) -> tensor<2x4096xf32> {
  %0 = gaon_cuda.fusion(%x, %g) : (tensor<2x4096xf32>, tensor<4096xf32>) -> tensor<2x4096xf32> {
  ^bb0(%a: tensor<2x4096xf32>, %s: tensor<4096xf32>):
    %n = gaon_graph.rms_norm %a, %s {axis = 1 : i64, epsilon = 1.0e-6 : f64} : (tensor<2x4096xf32>, tensor<4096xf32>) -> tensor<2x4096xf32>
    gaon_cuda.yield %n : tensor<2x4096xf32>
  }
  return %0 : tensor<2x4096xf32>
}
