// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-fuse-gelu))' %s | FileCheck %s

// Fuses BERT's exact GELU 0.5 * x * (1 + erf(x / sqrt(2))).
// CHECK-LABEL: func.func @erf_gelu
// CHECK-NEXT: %[[G:.*]] = gaon_graph.gelu %arg0 : tensor<2x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @erf_gelu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = gaon_graph.constant dense<1.41421354> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %d = gaon_graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = gaon_graph.erf %d : tensor<2x8xf32>
  %a = gaon_graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = gaon_graph.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %r = gaon_graph.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}

// Fuses GPT-2's tanh form with the half applied first and pow(x, 3).
// CHECK-LABEL: func.func @tanh_gelu
// CHECK-NEXT: %[[G:.*]] = gaon_graph.gelu %arg0 {approximate = true} : tensor<4xf32>
// CHECK-NEXT: return %[[G]]
func.func @tanh_gelu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %three = gaon_graph.constant dense<3.0> : tensor<f32>
  %c = gaon_graph.constant dense<0.044715> : tensor<f32>
  %k = gaon_graph.constant dense<0.797884583> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %h = gaon_graph.mul %half, %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %p = gaon_graph.pow %x, %three : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %cp = gaon_graph.mul %c, %p : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %s = gaon_graph.add %x, %cp : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %ks = gaon_graph.mul %k, %s : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %t = gaon_graph.tanh %ks : tensor<4xf32>
  %a = gaon_graph.add %one, %t : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %r = gaon_graph.mul %h, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// A wrong constant (0.6 instead of 0.5) is not GELU and stays as is.
// CHECK-LABEL: func.func @not_gelu
// CHECK-NOT: gaon_graph.gelu
// CHECK: gaon_graph.erf
func.func @not_gelu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %sqrt2 = gaon_graph.constant dense<1.41421354> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %half = gaon_graph.constant dense<0.6> : tensor<f32>
  %d = gaon_graph.div %x, %sqrt2 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %e = gaon_graph.erf %d : tensor<4xf32>
  %a = gaon_graph.add %e, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %m = gaon_graph.mul %x, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = gaon_graph.mul %m, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// The exact form written with a multiply by 1/sqrt(2) and the half applied
// to x first: 0.5 * x * (1 + erf(x * 0.7071)).
// CHECK-LABEL: func.func @erf_gelu_times_inv_sqrt2
// CHECK-NEXT: %[[G:.*]] = gaon_graph.gelu %arg0 : tensor<4xf32>
// CHECK-NEXT: return %[[G]]
func.func @erf_gelu_times_inv_sqrt2(%x: tensor<4xf32>) -> tensor<4xf32> {
  %inv = gaon_graph.constant dense<0.707106769> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %h = gaon_graph.mul %x, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %d = gaon_graph.mul %x, %inv : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %e = gaon_graph.erf %d : tensor<4xf32>
  %a = gaon_graph.add %one, %e : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %r = gaon_graph.mul %h, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// The tanh form with x^3 written as x * x * x and operands swapped.
// CHECK-LABEL: func.func @tanh_gelu_cube_as_products
// CHECK-NEXT: %[[G:.*]] = gaon_graph.gelu %arg0 {approximate = true} : tensor<4xf32>
// CHECK-NEXT: return %[[G]]
func.func @tanh_gelu_cube_as_products(%x: tensor<4xf32>) -> tensor<4xf32> {
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %c = gaon_graph.constant dense<0.044715> : tensor<f32>
  %k = gaon_graph.constant dense<0.797884583> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %x2 = gaon_graph.mul %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %x3 = gaon_graph.mul %x2, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %cp = gaon_graph.mul %x3, %c : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %s = gaon_graph.add %cp, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %ks = gaon_graph.mul %s, %k : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %t = gaon_graph.tanh %ks : tensor<4xf32>
  %a = gaon_graph.add %t, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %m = gaon_graph.mul %x, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = gaon_graph.mul %m, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// Near miss: the inner product x * (1 + erf(.)) is also returned, so the
// tree cannot be replaced as a whole.
// CHECK-LABEL: func.func @not_gelu_shared_inner
// CHECK-NOT: gaon_graph.gelu
// CHECK: %[[M:.*]] = gaon_graph.mul %arg0
// CHECK: return %{{.*}}, %[[M]]
func.func @not_gelu_shared_inner(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %sqrt2 = gaon_graph.constant dense<1.41421354> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %half = gaon_graph.constant dense<0.5> : tensor<f32>
  %d = gaon_graph.div %x, %sqrt2 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %e = gaon_graph.erf %d : tensor<4xf32>
  %a = gaon_graph.add %e, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %m = gaon_graph.mul %x, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = gaon_graph.mul %m, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %r, %m : tensor<4xf32>, tensor<4xf32>
}

// Near miss: the 0.5 constant broadcasts x to a larger shape; gelu keeps
// its operand's type, so this is not a GELU of x.
// CHECK-LABEL: func.func @not_gelu_broadcasting_half
// CHECK-NOT: gaon_graph.gelu
// CHECK: gaon_graph.erf
// CHECK: gaon_graph.mul {{.*}} : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
func.func @not_gelu_broadcasting_half(%x: tensor<4xf32>) -> tensor<2x4xf32> {
  %sqrt2 = gaon_graph.constant dense<1.41421354> : tensor<f32>
  %one = gaon_graph.constant dense<1.0> : tensor<f32>
  %half = gaon_graph.constant dense<0.5> : tensor<2x4xf32>
  %d = gaon_graph.div %x, %sqrt2 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %e = gaon_graph.erf %d : tensor<4xf32>
  %a = gaon_graph.add %e, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %m = gaon_graph.mul %x, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = gaon_graph.mul %m, %half : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}
