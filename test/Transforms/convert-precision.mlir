// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-convert-precision))' %s | FileCheck %s
// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-convert-precision{dtype=f16}))' %s | FileCheck %s --check-prefix=F16
// RUN: not gaon-opt --pass-pipeline='builtin.module(func.func(gaon-convert-precision{dtype=f8}))' %s 2>&1 | FileCheck %s --check-prefix=BAD

// f32 arguments are cast on entry, constants rounded to nearest even
// (1 + 2^-8 is a tie and rounds to 1.0), ops compute in bf16 and the f32
// result is cast back; the i64 argument and result are untouched.
// CHECK-LABEL: func.func @mixed(%arg0: tensor<4xf32>, %arg1: tensor<4xi64>) -> (tensor<4xf32>, tensor<4xi64>)
// CHECK: %[[X:.*]] = gaon_graph.cast %arg0 : tensor<4xf32> -> tensor<4xbf16>
// CHECK: %[[W:.*]] = gaon_graph.constant dense<[1.000000e+00, 2.500000e+00, 3.000000e+00, 1.000000e+00]> : tensor<4xbf16>
// CHECK: %[[Y:.*]] = gaon_graph.mul %[[X]], %[[W]] : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
// CHECK: %[[R:.*]] = gaon_graph.cast %[[Y]] : tensor<4xbf16> -> tensor<4xf32>
// CHECK: return %[[R]], %arg1
// F16-LABEL: func.func @mixed
// F16: gaon_graph.mul {{.*}} -> tensor<4xf16>
func.func @mixed(%x: tensor<4xf32>, %i: tensor<4xi64>) -> (tensor<4xf32>, tensor<4xi64>) {
  %w = gaon_graph.constant dense<[1.0, 2.5, 3.0, 1.00390625]> : tensor<4xf32>
  %y = gaon_graph.mul %x, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %y, %i : tensor<4xf32>, tensor<4xi64>
}

// A cast from an integer to f32 now produces bf16; comparisons keep i1.
// CHECK-LABEL: func.func @mask
// CHECK: gaon_graph.cast %arg0 : tensor<2xi64> -> tensor<2xbf16>
// CHECK: gaon_graph.less {{.*}} -> tensor<2xi1>
func.func @mask(%m: tensor<2xi64>) -> tensor<2xi1> {
  %f = gaon_graph.cast %m : tensor<2xi64> -> tensor<2xf32>
  %z = gaon_graph.constant dense<0.5> : tensor<f32>
  %c = gaon_graph.less %f, %z : (tensor<2xf32>, tensor<f32>) -> tensor<2xi1>
  return %c : tensor<2xi1>
}

// The float32 minimum that exporters use for masks saturates to bf16's
// largest finite value (-3.389e38) instead of becoming -inf, so that
// (1 - mask) * min stays finite.
// CHECK-LABEL: func.func @saturate
// CHECK: gaon_graph.constant dense<-3.389530e+38> : tensor<bf16>
func.func @saturate() -> tensor<f32> {
  %m = gaon_graph.constant dense<-3.40282347E+38> : tensor<f32>
  return %m : tensor<f32>
}

// A quantization step (QuantizeLinear then DequantizeLinear) stays f32:
// its input is cast up at the island's edge, its scale and zero point
// stay exact f32 constants, and its output is cast down for the next op.
// CHECK-LABEL: func.func @quantize_island
// CHECK-DAG: %[[S:.*]] = gaon_graph.constant dense<3.000000e-03> : tensor<f32>
// CHECK-DAG: %[[ZP:.*]] = gaon_graph.constant dense<1.280000e+02> : tensor<f32>
// CHECK: %[[X:.*]] = gaon_graph.exp {{.*}} : tensor<4xbf16>
// CHECK: %[[UP:.*]] = gaon_graph.cast %[[X]] : tensor<4xbf16> -> tensor<4xf32>
// CHECK: %[[D:.*]] = gaon_graph.div %[[UP]], %[[S]] : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK: gaon_graph.round %[[D]] : tensor<4xf32>
// CHECK: gaon_graph.clamp {{.*}} : tensor<4xf32>
// CHECK: gaon_graph.sub {{.*}} -> tensor<4xf32>
// CHECK: %[[DQ:.*]] = gaon_graph.mul {{.*}} -> tensor<4xf32>
// CHECK: %[[DOWN:.*]] = gaon_graph.cast %[[DQ]] : tensor<4xf32> -> tensor<4xbf16>
// CHECK: gaon_graph.tanh %[[DOWN]] : tensor<4xbf16>
func.func @quantize_island(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = gaon_graph.constant dense<0.003> : tensor<f32>
  %zp = gaon_graph.constant dense<128.0> : tensor<f32>
  %e = gaon_graph.exp %x : tensor<4xf32>
  %d = gaon_graph.div %e, %s : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %r = gaon_graph.round %d : tensor<4xf32>
  %a = gaon_graph.add %r, %zp : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %c = gaon_graph.clamp %a {max = 255.0 : f64, min = 0.0 : f64} : tensor<4xf32>
  %b = gaon_graph.sub %c, %zp : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %m = gaon_graph.mul %b, %s : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %t = gaon_graph.tanh %m : tensor<4xf32>
  return %t : tensor<4xf32>
}

// Index arithmetic stays f32: the coordinate (argument %p, read directly,
// not through the entry cast) is floored into an index (the cast to i64)
// and the fraction t = p - floor(p) weights the gathered values; both are
// computed in f32, and only the weight is cast down where it meets the
// bf16 values. The other argument %v is cast on entry as usual.
// CHECK-LABEL: func.func @index_island
// CHECK: %[[V:.*]] = gaon_graph.cast %arg1 : tensor<4xf32> -> tensor<4xbf16>
// CHECK: %[[F:.*]] = gaon_graph.floor %arg0 : tensor<4xf32>
// CHECK: %[[I:.*]] = gaon_graph.cast %[[F]] : tensor<4xf32> -> tensor<4xi64>
// CHECK: %[[G:.*]] = gaon_graph.gather %[[V]], %[[I]] {{.*}} -> tensor<4xbf16>
// CHECK: %[[T:.*]] = gaon_graph.sub %arg0, %[[F]] : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK: %[[TD:.*]] = gaon_graph.cast %[[T]] : tensor<4xf32> -> tensor<4xbf16>
// CHECK: gaon_graph.mul %[[TD]], %[[G]] : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
func.func @index_island(%p: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<4xf32> {
  %f = gaon_graph.floor %p : tensor<4xf32>
  %i = gaon_graph.cast %f : tensor<4xf32> -> tensor<4xi64>
  %g = gaon_graph.gather %v, %i {axis = 0 : i64} : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
  %t = gaon_graph.sub %p, %f : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %y = gaon_graph.mul %t, %g : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// BAD: gaon-convert-precision: unknown dtype 'f8' (bf16 or f16)
