// RUN: gaon-opt --gaon-npu-attach-chip=chip=rngd --gaon-npu-tile --gaon-npu-partition %s | FileCheck %s
// RUN: gaon-opt --gaon-npu-attach-chip=chip=%S/Inputs/rngd-unicast.json --gaon-npu-tile --gaon-npu-partition %s | FileCheck %s --check-prefix=UNICAST
// RUN: not gaon-opt --gaon-npu-attach-chip=chip=rngd --gaon-npu-partition %s 2>&1 | FileCheck %s --check-prefix=UNTILED

// One row block (128 tokens): the 24 column blocks are split across all 8
// cores, each streaming its own slice of the weights.
// CHECK-LABEL: func.func @weight_streaming
// CHECK: #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 8>
// UNTILED: error: gaon-npu-partition needs the op's tiles (run gaon-npu-tile first)
func.func @weight_streaming(%x: tensor<128x768xbf16>, %w: tensor<768x3072xbf16>) -> tensor<128x3072xbf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<128x768xbf16>, tensor<768x3072xbf16>) -> tensor<128x3072xbf16>
  return %m : tensor<128x3072xbf16>
}

// The FFN down-projection at 128 tokens. Without multicast (UNICAST) K is
// split in pairs: the four 192-column tiles go to four pairs of cores, all
// 8 working. rngd multicasts A, so its 6 column blocks of 128 stream on 6
// cores unsplit.
// CHECK-LABEL: func.func @k_split_pairs
// CHECK: #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 6>
// UNICAST-LABEL: func.func @k_split_pairs
// UNICAST: #gaon_npu.schedule<tile = [128, 192, 128, 2], split = cols, cores = 8>
func.func @k_split_pairs(%h: tensor<128x3072xbf16>, %w: tensor<3072x768xbf16>) -> tensor<128x768xbf16> {
  %m = gaon_graph.matmul %h, %w : (tensor<128x3072xbf16>, tensor<3072x768xbf16>) -> tensor<128x768xbf16>
  return %m : tensor<128x768xbf16>
}

// A K split with row chunks (the FFN down-projection at 1024 tokens):
// the four 512 x 384 tiles go to four pairs, dealt like row blocks.
// CHECK-LABEL: func.func @k_split_row_chunks
// CHECK: #gaon_npu.schedule<tile = [512, 384, 256, 2], split = rows, cores = 8>
func.func @k_split_row_chunks(%h: tensor<1024x3072xbf16>, %w: tensor<3072x768xbf16>) -> tensor<1024x768xbf16> {
  %m = gaon_graph.matmul %h, %w : (tensor<1024x3072xbf16>, tensor<3072x768xbf16>) -> tensor<1024x768xbf16>
  return %m : tensor<1024x768xbf16>
}

// Many row blocks (8192 rows in blocks of 1024): contiguous row ranges, so
// a core reuses its A tile across the column blocks.
// CHECK-LABEL: func.func @row_blocks
// CHECK: #gaon_npu.schedule<tile = [1024, 512, 256], split = rows, cores = 8>
func.func @row_blocks(%x: tensor<8192x4096xbf16>, %w: tensor<4096x4096xbf16>) -> tensor<8192x4096xbf16> {
  %m = gaon_graph.matmul %x, %w : (tensor<8192x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<8192x4096xbf16>
  return %m : tensor<8192x4096xbf16>
}

// Attention splits by (batch, head, query block): with 2 heads the tile
// step halves the query blocks to 32 rows, so 2 x 4 items reach all 8
// cores.
// CHECK-LABEL: func.func @attention_heads
// CHECK: #gaon_npu.schedule<tile = [32, 128], split = heads, cores = 8>
func.func @attention_heads(%q: tensor<1x2x128x64xbf16>, %k: tensor<1x2x128x64xbf16>, %v: tensor<1x2x128x64xbf16>) -> tensor<1x2x128x64xbf16> {
  %o = gaon_graph.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16>) -> tensor<1x2x128x64xbf16>
  return %o : tensor<1x2x128x64xbf16>
}

// A softmax over 3 rows fits one tile: one core.
// CHECK-LABEL: func.func @small_softmax
// CHECK: #gaon_npu.schedule<tile = [1], split = rows, cores = 3>
func.func @small_softmax(%x: tensor<3x64xf32>) -> tensor<3x64xf32> {
  %a = gaon_graph.softmax %x {axis = 1 : i64} : tensor<3x64xf32>
  return %a : tensor<3x64xf32>
}
