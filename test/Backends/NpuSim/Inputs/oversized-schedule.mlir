// Input of double-buffer.mlir: schedules whose tiles were not chosen for
// the tiny preset.
func.func @oversized(%x: tensor<512x512xf32>, %w: tensor<512x512xf32>) -> tensor<512x512xf32> {
  %m = gaon_graph.matmul %x, %w {gaon_npu.schedule = #gaon_npu.schedule<tile = [512, 512, 512], split = rows, cores = 2>} : (tensor<512x512xf32>, tensor<512x512xf32>) -> tensor<512x512xf32>
  return %m : tensor<512x512xf32>
}

// -----

func.func @tight(%x: tensor<64x1024xf32>, %w: tensor<1024x1024xf32>) -> tensor<64x1024xf32> {
  %m = gaon_graph.matmul %x, %w {gaon_npu.schedule = #gaon_npu.schedule<tile = [64, 512, 64], split = cols, cores = 2>} : (tensor<64x1024xf32>, tensor<1024x1024xf32>) -> tensor<64x1024xf32>
  return %m : tensor<64x1024xf32>
}
