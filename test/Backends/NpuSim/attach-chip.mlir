// RUN: gaon-opt --gaon-npu-attach-chip=chip=tiny %s | FileCheck %s
// RUN: not gaon-opt --gaon-npu-attach-chip=chip=nosuchchip %s 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// The tiny preset is recorded on the module with the sizes passes read and
// its full description.
// CHECK-LABEL: module attributes
// CHECK-SAME: gaon_npu.chip = #gaon_npu.chip<name = "tiny", cores = {{[0-9]+}}, tensor_rows = {{[0-9]+}}
// CHECK-SAME: json = "{
// CHECK: func.func @f
module {
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}

// An unknown preset is an error that lists the presets.
// UNKNOWN: error: cannot find chip 'nosuchchip' (presets: rngd, atom, tiny
