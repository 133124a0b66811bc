// RUN: gaon-opt --gaon-npu-attach-chip=chip=rngd --gaon-npu-tile %s | FileCheck %s
// RUN: gaon-opt --gaon-npu-attach-chip=chip=%S/Inputs/rngd-unicast.json --gaon-npu-tile %s | FileCheck %s --check-prefix=UNICAST
// RUN: not gaon-opt --gaon-npu-attach-chip=chip=tiny --gaon-npu-tile %s 2>&1 | FileCheck %s --check-prefix=TINY
// RUN: not gaon-opt --gaon-npu-tile %s 2>&1 | FileCheck %s --check-prefix=NOCHIP

// A weight matmul with 128 tokens on RNGD (32 MiB scratchpad, 128x128
// array, 8 cores): one m-block of all 128 rows, k one array fold deep
// (weight streaming: the first matmul waits for a smaller first slice), n
// narrowed to one fold so each of the 8 cores gets two column blocks.
// CHECK-LABEL: func.func @weight_matmul
// CHECK: gaon_npu.matmul {{.*}}gaon_npu.schedule = #gaon_npu.schedule<tile = [128, 128, 128]>
func.func @weight_matmul(%x: tensor<128x768xbf16>, %w: tensor<768x3072xbf16>, %b: tensor<3072xbf16>) -> tensor<128x3072xbf16> {
  %m = gaon_npu.matmul %x, %w bias %b {activation = "gelu"} : (tensor<128x768xbf16>, tensor<768x3072xbf16>, tensor<3072xbf16>) -> tensor<128x3072xbf16>
  return %m : tensor<128x3072xbf16>
}

// A large GEMM keeps the full tiles: m 1024, n four folds, k two folds.
// CHECK-LABEL: func.func @large_matmul
// CHECK: gaon_graph.matmul {{.*}}#gaon_npu.schedule<tile = [1024, 512, 256]>
func.func @large_matmul(%x: tensor<8192x4096xbf16>, %w: tensor<4096x4096xbf16>) -> tensor<8192x4096xbf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<8192x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<8192x4096xbf16>
  return %m : tensor<8192x4096xbf16>
}

// A compute-bound FFN matmul with a GELU epilogue (BERT-base, 8 x 128
// tokens): the default 512 x 512 tiles give 12 tiles for 8 cores; among
// tiles that split M and N evenly in whole array folds, the cost model
// picks 512 x 256 (24 tiles, 3 per core). With a GELU the kernel runs each
// tile in 128-row chunks, so only the last chunk's GELU (11 cycles per
// lane group) is exposed and taller tiles (B read twice, not four times)
// cost no longer tail.
// CHECK-LABEL: func.func @ffn_gelu
// CHECK: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [512, 256, 256]>
func.func @ffn_gelu(%x: tensor<1024x768xbf16>, %w: tensor<768x3072xbf16>, %b: tensor<3072xbf16>) -> tensor<1024x3072xbf16> {
  %m = gaon_npu.matmul %x, %w bias %b {activation = "gelu"} : (tensor<1024x768xbf16>, tensor<768x3072xbf16>, tensor<3072xbf16>) -> tensor<1024x3072xbf16>
  return %m : tensor<1024x3072xbf16>
}

// The FFN down-projection at 128 tokens (K = 3072, N = 768). Without
// multicast DMA (UNICAST), every core reading all of A (6 x 786 KB) costs
// more DRAM time than pairs of cores each reading half of K and exchanging
// partial sums of half their 192 columns over the network, so K is split
// in pairs: tile [m, n, k, 2]. rngd multicasts A (read once), so plain
// weight streaming wins.
// CHECK-LABEL: func.func @k_split_pairs
// CHECK: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [128, 128, 128]>
// UNICAST-LABEL: func.func @k_split_pairs
// UNICAST: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [128, 192, 128, 2]>
func.func @k_split_pairs(%h: tensor<128x3072xbf16>, %w: tensor<3072x768xbf16>, %b: tensor<768xbf16>, %r: tensor<128x768xbf16>) -> tensor<128x768xbf16> {
  %m = gaon_npu.matmul %h, %w bias %b residual %r : (tensor<128x3072xbf16>, tensor<3072x768xbf16>, tensor<768xbf16>, tensor<128x768xbf16>) -> tensor<128x768xbf16>
  return %m : tensor<128x768xbf16>
}

// The output projection (K = 768) reads too little of A for the exchange
// to pay: plain weight streaming.
// CHECK-LABEL: func.func @no_k_split
// CHECK: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [128, 128, 128]>
func.func @no_k_split(%h: tensor<128x768xbf16>, %w: tensor<768x768xbf16>, %b: tensor<768xbf16>, %r: tensor<128x768xbf16>) -> tensor<128x768xbf16> {
  %m = gaon_npu.matmul %h, %w bias %b residual %r : (tensor<128x768xbf16>, tensor<768x768xbf16>, tensor<768xbf16>, tensor<128x768xbf16>) -> tensor<128x768xbf16>
  return %m : tensor<128x768xbf16>
}

// The FFN down-projection at 1024 tokens (compute bound): every split
// into eight plain tiles reads ~31 MB (A and B re-read); 512 x 384 tiles
// with K split in pairs (one tile per pair, row chunks exchanged) read 25
// MB and keep the tensor units busier: tile [512, 384, 256, 2].
// CHECK-LABEL: func.func @k_split_row_chunks
// CHECK: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [512, 384, 256, 2]>
func.func @k_split_row_chunks(%h: tensor<1024x3072xbf16>, %w: tensor<3072x768xbf16>, %b: tensor<768xbf16>, %r: tensor<1024x768xbf16>) -> tensor<1024x768xbf16> {
  %m = gaon_npu.matmul %h, %w bias %b residual %r : (tensor<1024x3072xbf16>, tensor<3072x768xbf16>, tensor<768xbf16>, tensor<1024x768xbf16>) -> tensor<1024x768xbf16>
  return %m : tensor<1024x768xbf16>
}

// The output projection at 1024 tokens (K = 768): exchanging 512 x 384
// tiles' chunks would keep the links busier than the tensor units, so
// plain tiles.
// CHECK-LABEL: func.func @no_k_split_row_chunks
// CHECK: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [256, 128, 256]>
func.func @no_k_split_row_chunks(%h: tensor<1024x768xbf16>, %w: tensor<768x768xbf16>, %b: tensor<768xbf16>, %r: tensor<1024x768xbf16>) -> tensor<1024x768xbf16> {
  %m = gaon_npu.matmul %h, %w bias %b residual %r : (tensor<1024x768xbf16>, tensor<768x768xbf16>, tensor<768xbf16>, tensor<1024x768xbf16>) -> tensor<1024x768xbf16>
  return %m : tensor<1024x768xbf16>
}

// GPT-2's LM head at 1024 tokens (N = 50257, weight streaming over a
// resident A): 512-wide tiles would leave 13 of 99 tiles (52 array folds)
// on some cores; 256-wide ones leave 25 of 197 (50 folds), the fewest.
// CHECK-LABEL: func.func @lm_head_balanced
// CHECK: gaon_npu.matmul {{.*}}#gaon_npu.schedule<tile = [1024, 256, 128]>
func.func @lm_head_balanced(%h: tensor<1024x768xbf16>, %w: tensor<768x50257xbf16>) -> tensor<1024x50257xf32> {
  %m = gaon_npu.matmul %h, %w : (tensor<1024x768xbf16>, tensor<768x50257xbf16>) -> tensor<1024x50257xf32>
  return %m : tensor<1024x50257xf32>
}

// Attention: 128-row query blocks (one array fold); the key block holds
// every key (256), as up to 1024 keys do: fewer blocks, fewer online
// softmax rescales.
// CHECK-LABEL: func.func @attention
// CHECK: gaon_graph.attention {{.*}}#gaon_npu.schedule<tile = [128, 256]>
func.func @attention(%q: tensor<1x12x256x64xbf16>, %k: tensor<1x12x256x64xbf16>, %v: tensor<1x12x256x64xbf16>) -> tensor<1x12x256x64xbf16> {
  %o = gaon_graph.attention %q, %k, %v {scale = 0.125 : f64, causal = true} : (tensor<1x12x256x64xbf16>, tensor<1x12x256x64xbf16>, tensor<1x12x256x64xbf16>) -> tensor<1x12x256x64xbf16>
  return %o : tensor<1x12x256x64xbf16>
}

// Attention over 2048 keys: key blocks of 1024.
// CHECK-LABEL: func.func @long_attention
// CHECK: gaon_graph.attention {{.*}}#gaon_npu.schedule<tile = [128, 1024]>
func.func @long_attention(%q: tensor<1x12x2048x64xbf16>, %k: tensor<1x12x2048x64xbf16>, %v: tensor<1x12x2048x64xbf16>) -> tensor<1x12x2048x64xbf16> {
  %o = gaon_graph.attention %q, %k, %v {scale = 0.125 : f64, causal = true} : (tensor<1x12x2048x64xbf16>, tensor<1x12x2048x64xbf16>, tensor<1x12x2048x64xbf16>) -> tensor<1x12x2048x64xbf16>
  return %o : tensor<1x12x2048x64xbf16>
}

// Row ops: an even share of rows per core (1024 / 8), at most ~8k
// elements per tile (8192 / 128 = 64 rows, 8192 / 768 = 10 rows): small
// tiles pipeline finely.
// CHECK-LABEL: func.func @row_ops
// CHECK: gaon_graph.softmax {{.*}}#gaon_npu.schedule<tile = [64]>
// CHECK: gaon_graph.layer_norm {{.*}}#gaon_npu.schedule<tile = [10]>
func.func @row_ops(%x: tensor<1024x128xf32>, %y: tensor<1024x768xf32>, %s: tensor<768xf32>) -> (tensor<1024x128xf32>, tensor<1024x768xf32>) {
  %a = gaon_graph.softmax %x {axis = 1 : i64} : tensor<1024x128xf32>
  %n = gaon_graph.layer_norm %y, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<1024x768xf32>, tensor<768xf32>) -> tensor<1024x768xf32>
  return %a, %n : tensor<1024x128xf32>, tensor<1024x768xf32>
}

// Elementwise ops have no schedule.
// CHECK-LABEL: func.func @elementwise
// CHECK-NOT: gaon_npu.schedule
// CHECK: return
func.func @elementwise(%x: tensor<16xf32>) -> tensor<16xf32> {
  %e = gaon_graph.exp %x : tensor<16xf32>
  return %e : tensor<16xf32>
}

// On the tiny preset (1 MiB scratchpad) one row of 65536 fp32 elements,
// double-buffered with its fp32 scratch, does not fit: a clear error.
// TINY: error: cannot schedule for npu-sim chip 'tiny': layerNorm: a row of 65536 elements does not fit the scratchpad of chip tiny (1048576 bytes per core)
func.func @long_row(%x: tensor<4x65536xf32>, %s: tensor<65536xf32>) -> tensor<4x65536xf32> {
  %n = gaon_graph.layer_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<4x65536xf32>, tensor<65536xf32>) -> tensor<4x65536xf32>
  return %n : tensor<4x65536xf32>
}

// Without a chip there is nothing to size tiles against.
// NOCHIP: error: gaon-npu-tile needs the chip (run gaon-npu-attach-chip first)
