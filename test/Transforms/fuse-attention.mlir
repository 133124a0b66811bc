// RUN: gaon-opt --pass-pipeline='builtin.module(func.func(gaon-fuse-attention))' %s | FileCheck %s

// softmax(Q K^T * scale + mask) V with K^T given as a transpose of K becomes
// one attention op taking K itself (the two transposes compose away).
// CHECK-LABEL: func.func @scaled_masked
// CHECK: %[[A:.*]] = gaon_graph.attention %arg0, %arg1, %arg2, %arg3 {scale = 2.500000e-01 : f64}
// CHECK-NOT: gaon_graph.softmax
// CHECK: return %[[A]]
func.func @scaled_masked(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %m: tensor<1x1x4x4xf32>) -> tensor<1x2x4x8xf32> {
  %c = gaon_graph.constant dense<0.25> : tensor<f32>
  %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %sc = gaon_graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %a = gaon_graph.add %sc, %m : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = gaon_graph.softmax %a {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// torch.export splits the scale between Q and K^T (sqrt of it on each side);
// the factors multiply into one scale.
// CHECK-LABEL: func.func @split_scale
// CHECK: gaon_graph.attention %arg0, %{{.*}}, %arg2 {scale = 2.500000e-01 : f64}
func.func @split_scale(%q: tensor<1x1x4x8xf32>, %kt: tensor<1x1x8x4xf32>, %v: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %h = gaon_graph.constant dense<0.5> : tensor<f32>
  %qs = gaon_graph.mul %q, %h : (tensor<1x1x4x8xf32>, tensor<f32>) -> tensor<1x1x4x8xf32>
  %ks = gaon_graph.mul %kt, %h : (tensor<1x1x8x4xf32>, tensor<f32>) -> tensor<1x1x8x4xf32>
  %s = gaon_graph.matmul %qs, %ks : (tensor<1x1x4x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x1x4x4xf32>
  %p = gaon_graph.softmax %s {axis = 3 : i64} : tensor<1x1x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// HF GPT-2's eager attention writes finfo.min where the causal mask is false
// (a select) and then adds the padding mask: both become one additive mask,
// select(causal, 0, min) + padding.
// CHECK-LABEL: func.func @causal_select
// CHECK: %[[SEL:.*]] = gaon_graph.select %arg3, %{{.*}}, %{{.*}} : (tensor<1x1x4x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x4x4xf32>
// CHECK: %[[MASK:.*]] = gaon_graph.add %[[SEL]], %arg4 : (tensor<1x1x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x1x4x4xf32>
// CHECK: gaon_graph.attention %arg0, %{{.*}}, %arg2, %[[MASK]] {scale = 1.250000e-01 : f64}
func.func @causal_select(%q: tensor<1x2x4x8xf32>, %kt: tensor<1x2x8x4xf32>, %v: tensor<1x2x4x8xf32>, %causal: tensor<1x1x4x4xi1>, %pad: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %d = gaon_graph.constant dense<8.0> : tensor<f32>
  %min = gaon_graph.constant dense<-3.40282347E+38> : tensor<f32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %sd = gaon_graph.div %s, %d : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %w = gaon_graph.select %causal, %sd, %min : (tensor<1x1x4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %a = gaon_graph.add %w, %pad : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %p = gaon_graph.softmax %a {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// A select that writes an ordinary value (here 0) is not a mask: the
// softmax stays.
// CHECK-LABEL: func.func @select_not_a_mask
// CHECK-NOT: gaon_graph.attention
// CHECK: gaon_graph.softmax
func.func @select_not_a_mask(%q: tensor<1x1x4x8xf32>, %kt: tensor<1x1x8x4xf32>, %v: tensor<1x1x4x8xf32>, %c: tensor<1x1x4x4xi1>) -> tensor<1x1x4x8xf32> {
  %z = gaon_graph.constant dense<0.0> : tensor<f32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x1x4x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x1x4x4xf32>
  %w = gaon_graph.select %c, %s, %z : (tensor<1x1x4x4xi1>, tensor<1x1x4x4xf32>, tensor<f32>) -> tensor<1x1x4x4xf32>
  %p = gaon_graph.softmax %w {axis = 3 : i64} : tensor<1x1x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// torch's SDPA export guards the probabilities, select(isnan(p), 0, p), with
// isnan imported as not(p == p); the attention op gives zeros for a row with
// every key masked itself, so the guard fuses away with the softmax.
// CHECK-LABEL: func.func @nan_guard
// CHECK: %[[A:.*]] = gaon_graph.attention %arg0, %arg1, %arg2, %arg3 {scale = 2.500000e-01 : f64}
// CHECK-NOT: gaon_graph.select
// CHECK-NOT: gaon_graph.softmax
// CHECK: return %[[A]]
func.func @nan_guard(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>, %m: tensor<1x1x4x4xf32>) -> tensor<1x2x4x8xf32> {
  %c = gaon_graph.constant dense<0.25> : tensor<f32>
  %zero = gaon_graph.constant dense<0.0> : tensor<1xf32>
  %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %sc = gaon_graph.mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %a = gaon_graph.add %sc, %m : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = gaon_graph.softmax %a {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %eq = gaon_graph.equal %p, %p : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi1>
  %nan = gaon_graph.not %eq : tensor<1x2x4x4xi1>
  %g = gaon_graph.select %nan, %zero, %p : (tensor<1x2x4x4xi1>, tensor<1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = gaon_graph.matmul %g, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// A select that is not the NaN guard (here it writes 0 where p == p, i.e.
// everywhere but NaNs) changes the probabilities: no fusion.
// CHECK-LABEL: func.func @not_a_nan_guard
// CHECK: gaon_graph.softmax
// CHECK-NOT: gaon_graph.attention
func.func @not_a_nan_guard(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %zero = gaon_graph.constant dense<0.0> : tensor<1xf32>
  %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = gaon_graph.softmax %s {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %eq = gaon_graph.equal %p, %p : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi1>
  %g = gaon_graph.select %eq, %zero, %p : (tensor<1x2x4x4xi1>, tensor<1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = gaon_graph.matmul %g, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// HF's repeat_kv (reshape to [B,Hkv,1,S,D], broadcast G times, reshape to
// [B,Hkv*G,S,D]) on K and V: the attention reads the 2 uncopied heads.
// CHECK-LABEL: func.func @grouped_query_heads
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2 {scale = 2.500000e-01 : f64} : (tensor<1x4x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NOT: gaon_graph.broadcast
func.func @grouped_query_heads(%q: tensor<1x4x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %c = gaon_graph.constant dense<0.25> : tensor<f32>
  %k1 = gaon_graph.reshape %k : tensor<1x2x4x8xf32> -> tensor<1x2x1x4x8xf32>
  %k2 = gaon_graph.broadcast %k1 : tensor<1x2x1x4x8xf32> -> tensor<1x2x2x4x8xf32>
  %k3 = gaon_graph.reshape %k2 : tensor<1x2x2x4x8xf32> -> tensor<1x4x4x8xf32>
  %v1 = gaon_graph.reshape %v : tensor<1x2x4x8xf32> -> tensor<1x2x1x4x8xf32>
  %v2 = gaon_graph.broadcast %v1 : tensor<1x2x1x4x8xf32> -> tensor<1x2x2x4x8xf32>
  %v3 = gaon_graph.reshape %v2 : tensor<1x2x2x4x8xf32> -> tensor<1x4x4x8xf32>
  %kt = gaon_graph.transpose %k3 {perm = array<i64: 0, 1, 3, 2>} : tensor<1x4x4x8xf32> -> tensor<1x4x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x4x4x8xf32>, tensor<1x4x8x4xf32>) -> tensor<1x4x4x4xf32>
  %sc = gaon_graph.mul %s, %c : (tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
  %p = gaon_graph.softmax %sc {axis = 3 : i64} : tensor<1x4x4x4xf32>
  %o = gaon_graph.matmul %p, %v3 : (tensor<1x4x4x4xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// Copies of K's heads but not of V's (V has all 4 heads of its own): the
// attention keeps the copied K (the op needs one head count for K and V).
// CHECK-LABEL: func.func @only_key_heads_copied
// CHECK: gaon_graph.broadcast
// CHECK: gaon_graph.attention {{.*}} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
func.func @only_key_heads_copied(%q: tensor<1x4x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %k1 = gaon_graph.reshape %k : tensor<1x2x4x8xf32> -> tensor<1x2x1x4x8xf32>
  %k2 = gaon_graph.broadcast %k1 : tensor<1x2x1x4x8xf32> -> tensor<1x2x2x4x8xf32>
  %k3 = gaon_graph.reshape %k2 : tensor<1x2x2x4x8xf32> -> tensor<1x4x4x8xf32>
  %kt = gaon_graph.transpose %k3 {perm = array<i64: 0, 1, 3, 2>} : tensor<1x4x4x8xf32> -> tensor<1x4x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x4x4x8xf32>, tensor<1x4x8x4xf32>) -> tensor<1x4x4x4xf32>
  %p = gaon_graph.softmax %s {axis = 3 : i64} : tensor<1x4x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x4x4x4xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// Falcon's multi-query attention: the products broadcast one key/value
// head against 4 query heads. One attention op over the single head.
// CHECK-LABEL: func.func @broadcast_single_kv_head
// CHECK: gaon_graph.attention %arg0, %arg1, %arg2 {scale = 2.500000e-01 : f64} : (tensor<1x4x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NOT: gaon_graph.softmax
func.func @broadcast_single_kv_head(%q: tensor<1x4x4x8xf32>, %k: tensor<1x1x4x8xf32>, %v: tensor<1x1x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %c = gaon_graph.constant dense<0.25> : tensor<f32>
  %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>} : tensor<1x1x4x8xf32> -> tensor<1x1x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x4x4x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x4x4x4xf32>
  %sc = gaon_graph.mul %s, %c : (tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
  %p = gaon_graph.softmax %sc {axis = 3 : i64} : tensor<1x4x4x4xf32>
  %o = gaon_graph.matmul %p, %v : (tensor<1x4x4x4xf32>, tensor<1x1x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// Gemma's repeat_kv of its one key/value head, whose head split the
// canonicalizer merged into the reshape ([B, S, D] straight to
// [B, 1, 1, S, D]): the attention reads a [B, 1, S, D] view of the source.
// CHECK-LABEL: func.func @repeat_of_merged_split
// CHECK-DAG: %[[K:.*]] = gaon_graph.reshape %arg1 : tensor<1x4x8xf32> -> tensor<1x1x4x8xf32>
// CHECK-DAG: %[[V:.*]] = gaon_graph.reshape %arg2 : tensor<1x4x8xf32> -> tensor<1x1x4x8xf32>
// CHECK: gaon_graph.attention %arg0, %[[K]], %[[V]] {scale = 1.000000e+00 : f64} : (tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
func.func @repeat_of_merged_split(%q: tensor<1x2x4x8xf32>, %k: tensor<1x4x8xf32>, %v: tensor<1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %k1 = gaon_graph.reshape %k : tensor<1x4x8xf32> -> tensor<1x1x1x4x8xf32>
  %k2 = gaon_graph.broadcast %k1 : tensor<1x1x1x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %k3 = gaon_graph.reshape %k2 : tensor<1x1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  %v1 = gaon_graph.reshape %v : tensor<1x4x8xf32> -> tensor<1x1x1x4x8xf32>
  %v2 = gaon_graph.broadcast %v1 : tensor<1x1x1x4x8xf32> -> tensor<1x1x2x4x8xf32>
  %v3 = gaon_graph.reshape %v2 : tensor<1x1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  %kt = gaon_graph.transpose %k3 {perm = array<i64: 0, 1, 3, 2>} : tensor<1x2x4x8xf32> -> tensor<1x2x8x4xf32>
  %s = gaon_graph.matmul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = gaon_graph.softmax %s {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %o = gaon_graph.matmul %p, %v3 : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}
