// RUN: gaon-opt --gaon-npu-attach-chip=chip=rngd --gaon-npu-tile --gaon-npu-partition --gaon-npu-double-buffer %s | FileCheck %s
// RUN: gaon-opt --gaon-npu-attach-chip=chip=%S/Inputs/rngd-unicast.json --gaon-npu-tile --gaon-npu-partition --gaon-npu-double-buffer %s | FileCheck %s --check-prefix=UNICAST
// RUN: not gaon-opt --gaon-npu-attach-chip=chip=tiny --gaon-npu-double-buffer --split-input-file %S/Inputs/oversized-schedule.mlir 2>&1 | FileCheck %s --check-prefix=TOOBIG

// Weight streaming: A resident (one slot, loaded once), B in four slots
// over the two DMA engines, two fp32 C slots.
// CHECK-LABEL: func.func @weight_streaming
// CHECK: #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 8, buffers = [1, 4, 2]>
func.func @weight_streaming(%x: tensor<128x768xbf16>, %w: tensor<768x3072xbf16>) -> tensor<128x3072xbf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<128x768xbf16>, tensor<768x3072xbf16>) -> tensor<128x3072xbf16>
  return %m : tensor<128x3072xbf16>
}

// Constant weights streamed past a resident A are prefetched: each core's
// slice of B is loaded while the previous kernel finishes.
// CHECK-LABEL: func.func @constant_weights
// CHECK: #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 6, buffers = [1, 4, 2], prefetch = true>
func.func @constant_weights(%x: tensor<128x768xbf16>) -> tensor<128x768xbf16> {
  %w = gaon_graph.constant dense<1.0> : tensor<768x768xbf16>
  %m = gaon_graph.matmul %x, %w : (tensor<128x768xbf16>, tensor<768x768xbf16>) -> tensor<128x768xbf16>
  return %m : tensor<128x768xbf16>
}

// A K split in pairs over constant weights (the UNICAST run, no multicast):
// A's half resident ([1, ...]; the B and C entries are unused: every tile
// has its own slots), each core's B blocks (1536 x 192) prefetched. rngd
// multicasts A: plain weight streaming, A resident, B prefetched.
// CHECK-LABEL: func.func @k_split_pairs
// CHECK: #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 6, buffers = [1, 4, 2], prefetch = true>
// UNICAST-LABEL: func.func @k_split_pairs
// UNICAST: #gaon_npu.schedule<tile = [128, 192, 128, 2], split = cols, cores = 8, buffers = [1, 2, 2], prefetch = true>
func.func @k_split_pairs(%h: tensor<128x3072xbf16>) -> tensor<128x768xbf16> {
  %w = gaon_graph.constant dense<1.0> : tensor<3072x768xbf16>
  %m = gaon_graph.matmul %h, %w : (tensor<128x3072xbf16>, tensor<3072x768xbf16>) -> tensor<128x768xbf16>
  return %m : tensor<128x768xbf16>
}

// A K split with row chunks over constant weights: each core's first
// (only) B block, 1536 x 384 of its K part, is prefetched.
// CHECK-LABEL: func.func @k_split_row_chunks
// CHECK: #gaon_npu.schedule<tile = [512, 384, 256, 2], split = rows, cores = 8, buffers = [1, 2, 2], prefetch = true>
func.func @k_split_row_chunks(%h: tensor<1024x3072xbf16>) -> tensor<1024x768xbf16> {
  %w = gaon_graph.constant dense<1.0> : tensor<3072x768xbf16>
  %m = gaon_graph.matmul %h, %w : (tensor<1024x3072xbf16>, tensor<3072x768xbf16>) -> tensor<1024x768xbf16>
  return %m : tensor<1024x768xbf16>
}

// Several row blocks: A and B double-buffered.
// CHECK-LABEL: func.func @row_blocks
// CHECK: buffers = [2, 2, 2]>
func.func @row_blocks(%x: tensor<8192x4096xbf16>, %w: tensor<4096x4096xbf16>) -> tensor<8192x4096xbf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<8192x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<8192x4096xbf16>
  return %m : tensor<8192x4096xbf16>
}

// Several row blocks with a short K: each core keeps the m-block it works
// on resident (two 256 x 768 blocks, the next loading while the current
// one computes) instead of reloading A's k-slices for every output tile;
// B in two slots on one engine, the other engine only stores. (Tiles: 24
// of 256 x 128, 3 per core.)
// CHECK-LABEL: func.func @resident_blocks
// CHECK: #gaon_npu.schedule<tile = [256, 128, 256], split = rows, cores = 8, buffers = [1, 2, 2]>
func.func @resident_blocks(%x: tensor<1024x768xbf16>, %w: tensor<768x768xbf16>) -> tensor<1024x768xbf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<1024x768xbf16>, tensor<768x768xbf16>) -> tensor<1024x768xbf16>
  return %m : tensor<1024x768xbf16>
}

// The same with constant weights: each core's first B block (768 x 128,
// 192 KiB) is prefetched during the previous kernel.
// CHECK-LABEL: func.func @resident_blocks_constant
// CHECK: #gaon_npu.schedule<tile = [256, 128, 256], split = rows, cores = 8, buffers = [1, 2, 2], prefetch = true>
func.func @resident_blocks_constant(%x: tensor<1024x768xbf16>) -> tensor<1024x768xbf16> {
  %w = gaon_graph.constant dense<1.0> : tensor<768x768xbf16>
  %m = gaon_graph.matmul %x, %w : (tensor<1024x768xbf16>, tensor<768x768xbf16>) -> tensor<1024x768xbf16>
  return %m : tensor<1024x768xbf16>
}

// Row ops pipeline two of everything; attention three Q blocks (Q is
// scaled one item ahead), four K/V blocks (the loader runs two blocks
// ahead of the scores) and two score blocks.
// CHECK-LABEL: func.func @attention_and_norm
// CHECK: gaon_graph.attention {{.*}}split = heads, cores = 8, buffers = [3, 4, 2]>
// CHECK: gaon_graph.rms_norm {{.*}}split = rows, cores = 8, buffers = [2, 2]>
func.func @attention_and_norm(%q: tensor<1x12x128x64xbf16>, %k: tensor<1x12x128x64xbf16>, %v: tensor<1x12x128x64xbf16>, %x: tensor<128x768xbf16>, %s: tensor<768xbf16>) -> (tensor<1x12x128x64xbf16>, tensor<128x768xbf16>) {
  %o = gaon_graph.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x12x128x64xbf16>, tensor<1x12x128x64xbf16>, tensor<1x12x128x64xbf16>) -> tensor<1x12x128x64xbf16>
  %n = gaon_graph.rms_norm %x, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64} : (tensor<128x768xbf16>, tensor<768xbf16>) -> tensor<128x768xbf16>
  return %o, %n : tensor<1x12x128x64xbf16>, tensor<128x768xbf16>
}

// Tiles chosen for a larger scratchpad (or by hand) are checked against
// this chip's: 512^3 fp32 tiles double-buffered need ~6 MiB, tiny has 1 MiB.
// TOOBIG: error: cannot schedule for npu-sim chip 'tiny': matmul: tiles [512, 512, 512] double-buffered need 6292480 scratchpad bytes per core; chip tiny has 1048576
// Deeper buffering falls back to double buffering where it does not fit:
// an A resident in the 1 MiB scratchpad leaves room for two B slots only.
// TOOBIG: gaon_npu.schedule = #gaon_npu.schedule<tile = [64, 512, 64], split = cols, cores = 2, buffers = [1, 2, 2]>
