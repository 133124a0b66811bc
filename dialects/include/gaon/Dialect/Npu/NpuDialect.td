//===- NpuDialect.td - gaon.npu dialect definition ---------*- tablegen -*-===//
//
// The gaon.npu dialect describes the simulated NPU's side of a program. Its
// namespace is `gaon_npu`. The chip a module is compiled for is an attribute
// on the module, so passes read the chip's sizes instead of constants.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_DIALECT_NPU_NPUDIALECT_TD
#define GAON_DIALECT_NPU_NPUDIALECT_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"

def Npu_Dialect : Dialect {
  let name = "gaon_npu";
  let summary = "The simulated NPU: chip description and lowering state";
  let cppNamespace = "::gaon::npu";
  let useDefaultAttributePrinterParser = 1;
}

def Npu_ChipAttr : AttrDef<Npu_Dialect, "Chip"> {
  let mnemonic = "chip";
  let summary = "The NPU a module is compiled for";
  let description = [{
    Built from a chip description file (backends/npu_sim/presets/*.json or a
    user's file). The sizes that lowering passes read are parameters; the
    full description travels as `json` so that the artifact can embed the
    exact chip it was compiled for.

    ```mlir
    #gaon_npu.chip<name = "rngd", cores = 8, tensor_rows = 128,
                   tensor_cols = 128, scratchpad_bytes = 33554432,
                   dram_bytes = 51539607552, clock_mhz = 1000, json = "...">
    ```
  }];
  let parameters = (ins
    StringRefParameter<"preset or file name">:$name,
    "int64_t":$cores,
    "int64_t":$tensor_rows,
    "int64_t":$tensor_cols,
    "int64_t":$scratchpad_bytes,
    "int64_t":$dram_bytes,
    "int64_t":$clock_mhz,
    StringRefParameter<"the full chip description">:$json
  );
  let assemblyFormat = [{
    `<` `name` `=` $name `,` `cores` `=` $cores `,`
        `tensor_rows` `=` $tensor_rows `,` `tensor_cols` `=` $tensor_cols `,`
        `scratchpad_bytes` `=` $scratchpad_bytes `,`
        `dram_bytes` `=` $dram_bytes `,` `clock_mhz` `=` $clock_mhz `,`
        `json` `=` $json `>`
  }];
}

// A keyword (rows, cols, heads), absent until gaon-npu-partition ran.
def Npu_SplitParameter : AttrOrTypeParameter<"::llvm::StringRef",
                                             "how work is dealt to cores"> {
  let allocator = [{$_dst = $_allocator.copyInto($_self);}];
  let parser = [{
    [&]() -> ::mlir::FailureOr<::llvm::StringRef> {
      ::llvm::StringRef keyword;
      if ($_parser.parseKeyword(&keyword))
        return ::mlir::failure();
      return keyword;
    }()
  }];
  let printer = [{$_printer << $_self}];
  let defaultValue = "::llvm::StringRef()";
}

def Npu_ScheduleAttr : AttrDef<Npu_Dialect, "Schedule"> {
  let mnemonic = "schedule";
  let summary = "How one kernel is tiled, split across cores and buffered";
  let description = [{
    Recorded on an op (as `gaon_npu.schedule`) by the scheduling passes,
    each adding its decision, and followed by the kernel that emission
    picks for the op:

    - `tile` (gaon-npu-tile): matmul [m, n, k]; attention [query block,
      key block]; softmax, layer norm, RMS norm [rows];
    - `split`, `cores` (gaon-npu-partition): how the tiles are dealt to
      cores (`rows`, `cols` or `heads`) and to how many;
    - `buffers` (gaon-npu-double-buffer): scratchpad slots per operand,
      matmul [A, B, C] (A = 1: A stays resident, per row block when there
      are several), attention [Q, K/V,
      scores], row ops [in, out]; `prefetch` (matmul with constant B and A
      resident): each core's slice of B is loaded into free scratchpad
      while the previous kernel finishes, before this kernel's fence.

    ```mlir
    #gaon_npu.schedule<tile = [128, 128, 256], split = cols, cores = 8,
                       buffers = [1, 4, 2]>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "tile sizes">:$tile,
    Npu_SplitParameter:$split,
    DefaultValuedParameter<"int64_t", "0", "cores that get work">:$cores,
    OptionalArrayRefParameter<"int64_t", "slots per operand">:$buffers,
    DefaultValuedParameter<"bool", "false",
                           "B loaded before the kernel's fence">:$prefetch
  );
  let assemblyFormat = [{
    `<` `tile` `=` `[` $tile `]` (`,` `split` `=` $split^)?
        (`,` `cores` `=` $cores^)? (`,` `buffers` `=` `[` $buffers^ `]`)?
        (`,` `prefetch` `=` $prefetch^)? `>`
  }];
  let genVerifyDecl = 1;
}

#endif // GAON_DIALECT_NPU_NPUDIALECT_TD
