//===- Passes.td - NPU simulator backend passes ------------*- tablegen -*-===//

#ifndef GAON_BACKENDS_NPUSIM_PASSES_TD
#define GAON_BACKENDS_NPUSIM_PASSES_TD

include "mlir/Pass/PassBase.td"

def NpuAttachChip : Pass<"gaon-npu-attach-chip", "mlir::ModuleOp"> {
  let summary = "Attaches the target chip description as #gaon_npu.chip";
  let description = [{
    Loads a chip description (a preset name: rngd, atom, tiny; or a JSON
    file) and records it on the module, so that later passes read the chip's
    sizes. An unknown preset or an invalid file is an error naming the field.

    After:
      module attributes {gaon_npu.chip = #gaon_npu.chip<name = "rngd", ...>}
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"rngd\"",
           "Preset name or chip description file">
  ];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuPrepare : Pass<"gaon-npu-prepare", "mlir::func::FuncOp"> {
  let summary = "Rewrites ops into the forms the NPU kernels implement";
  let description = [{
    - gather_nd with constant indices -> gather along axis 0 of a flattened
      view, with constant linear indices;
    - clamp -> max and min with constant bounds;
    - layer_norm and rms_norm over several trailing dimensions -> over one
      (the input viewed as [outer, inner]);
    - softmax over an inner axis -> transpose, softmax over the last axis,
      transpose back;
    - log-softmax -> x - max - log(sum(exp(x - max))) with reductions.
    (Constant causal masks became the causal flag in gaon-graph-optimize:
    gaon-fold-causal-masks.)

    Before:
      %y = gaon_graph.clamp %x {max = 6.0 : f64, min = 0.0 : f64} : tensor<4xf32>
    After:
      %a = gaon_graph.max %x, %zero : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
      %y = gaon_graph.min %a, %six : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def NpuFuseEpilogues : Pass<"gaon-npu-fuse-epilogues", "mlir::func::FuncOp"> {
  let summary = "Fuses bias, activation and residual adds into the matmul";
  let description = [{
    A matmul whose only use is a bias add (one value per output column),
    then an activation (relu, gelu, silu), then a residual add of the
    result's shape, becomes one gaon_npu.matmul: the epilogue runs on the
    vector unit while the tensor unit computes the next tile, and the
    intermediate products never go to DRAM. Any prefix of the chain fuses.
    A float cast as the only use of a matmul (without residual) becomes the
    fused matmul's result type (the kernel rounds straight to it).

    Before:
      %m = gaon_graph.matmul %x, %w
      %b = gaon_graph.add %m, %bias
      %g = gaon_graph.gelu %b
      %r = gaon_graph.add %g, %h
    After:
      %r = gaon_npu.matmul %x, %w bias %bias residual %h {activation = "gelu"}
  }];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuFuseSiblingMatmuls
    : Pass<"gaon-npu-fuse-sibling-matmuls", "mlir::func::FuncOp"> {
  let summary = "Merges matmuls that share A and have constant weights";
  let description = [{
    gaon_npu.matmul ops with the same A, constant weights (and constant
    biases, or none), the same activation and no residual become one
    matmul over the weights concatenated along N, followed by a split of
    its result: A is read once instead of once per projection, and the
    wider product keeps every core streaming weights (BERT's separate Q,
    K, V projections).

    Before:
      %q = gaon_npu.matmul %x, %wq bias %bq : ... -> tensor<1x128x768xbf16>
      %k = gaon_npu.matmul %x, %wk bias %bk : ... -> tensor<1x128x768xbf16>
    After:
      %w = gaon_graph.constant ... : tensor<768x1536xbf16>
      %m = gaon_npu.matmul %x, %w bias %b : ... -> tensor<1x128x1536xbf16>
      %s:2 = gaon_graph.split %m {axis = 2 : i64} : ... -> tensor<1x128x768xbf16>, ...
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def NpuFoldNormAffine
    : Pass<"gaon-npu-fold-norm-affine", "mlir::func::FuncOp"> {
  let summary = "Folds a layer norm's scale and shift into the matmuls it feeds";
  let description = [{
    A gaon_graph.layer_norm over the last axis with constant scale (and
    shift) whose result only feeds gaon_npu.matmul ops as A, over constant
    weights and constant biases (or none): `(x^ g + b) W + c = x^ (diag(g)
    W) + (b W + c)`, so the weights' rows are scaled by g and b W joins the
    bias at compile time (rounded once to the weights' and bias' dtypes),
    and the norm keeps a scale of ones and no shift, which the kernel
    skips (two of its seven vector passes per row). GPT-2's pre-norms feed
    only the QKV and FFN up-projections; BERT's post-norm output also feeds
    the residual and keeps its affine.

    Before:
      %n = gaon_graph.layer_norm %x, %g, %b {axis = 2 : i64, ...}
      %y = gaon_npu.matmul %n, %w bias %c : ...
    After:
      %n = gaon_graph.layer_norm %x, %ones {axis = 2 : i64, ...}
      %y = gaon_npu.matmul %n, %w_scaled bias %c_shifted : ...
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def NpuFoldAttentionLayouts
    : Pass<"gaon-npu-fold-attention-layouts", "mlir::func::FuncOp"> {
  let summary = "Folds head split/merge transposes and QKV slices into attention";
  let description = [{
    An attention whose Q, K and V are `transpose(reshape(x), [0, 2, 1, 3])`
    of token-major projections (optionally slices of one fused QKV product
    along its last axis) and whose result is transposed back becomes a
    gaon_npu.attention over the projections' rows: the kernel's DMA reads
    each head block at its stride and writes the merged rows, so the
    transposes, slices and their DRAM round trips disappear.

    Before:
      %s:3 = gaon_graph.split %qkv {axis = 2} : tensor<1x128x2304xbf16> -> ...
      %q = gaon_graph.transpose (reshape %s#0 -> 1x128x12x64) -> 1x12x128x64
      ... (k, v alike)
      %a = gaon_graph.attention %q, %k, %v {causal = true, scale = 0.125}
      %m = gaon_graph.transpose %a {perm = [0, 2, 1, 3]} -> 1x128x12x64
    After:
      %o = gaon_npu.attention %qkv, %qkv, %qkv {heads = 12, kv_heads = 12,
             head_dim = 64, value_dim = 64, query_offset = 0,
             key_offset = 768, value_offset = 1536, causal = true, ...}
             : ... -> tensor<1x128x768xbf16>
      %m = gaon_graph.reshape %o : tensor<1x128x768xbf16> -> tensor<1x128x12x64xbf16>
  }];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuFoldAttentionScale
    : Pass<"gaon-npu-fold-attention-scale", "mlir::func::FuncOp"> {
  let summary = "Folds a power-of-two attention scale into Q's projection";
  let description = [{
    A gaon_npu.attention whose query is the product of a gaon_npu.matmul
    over constant weights (and bias) that only this attention reads, with
    no activation or residual: the scale (a power of two, so exactly)
    multiplies the weight columns and bias entries that form Q, and the
    attention's scale becomes 1, so the kernel does not scale Q per item.

    Before:
      %qkv = gaon_npu.matmul %x, %w bias %b : ... -> tensor<1x128x2304xbf16>
      %o = gaon_npu.attention %qkv, %qkv, %qkv {scale = 0.125,
             query_offset = 0, key_offset = 768, value_offset = 1536, ...}
    After:
      %qkv = gaon_npu.matmul %x, %w' bias %b' : ...   (columns 0..767 / 8)
      %o = gaon_npu.attention %qkv, %qkv, %qkv {scale = 1.0, ...}
  }];
}

def NpuQuantizeMatmuls
    : Pass<"gaon-npu-quantize-matmuls", "mlir::ModuleOp"> {
  let summary = "Runs matmuls over constant weights in int8 (--dtype int8)";
  let description = [{
    Every matmul (gaon_graph.matmul or gaon_npu.matmul) whose rhs is a 2-D
    float constant becomes an int8 product, as onnxruntime's dynamic
    quantization does by default: the weights are quantized once, here,
    symmetric per tensor (`w = max|W| / 127`, `Wq = round_half_even(W /
    w)`); the activation is quantized at run time by a gaon_npu.quantize
    (one scale per tensor, found on the chip), whose `dequant_scale` (the
    activation's scale times `w`) the matmul's epilogue applies before its
    bias, activation and residual. Everything else stays in the precision
    the graph was converted to (bf16). Fails when the chip's tensor unit has
    no int8 rate.

    Before:
      %y = gaon_npu.matmul %x, %w bias %b : (tensor<128x768xbf16>,
             tensor<768x3072xbf16>, tensor<3072xbf16>) -> tensor<128x3072xbf16>
    After:
      %q, %s = gaon_npu.quantize %x, %ws : (tensor<128x768xbf16>,
             tensor<1xf32>) -> (tensor<128x768xi8>, tensor<1xf32>)
      %y = gaon_npu.matmul %q, %wq bias %b dequant_scale %s : ...
  }];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuLegalize : Pass<"gaon-npu-legalize", "mlir::ModuleOp"> {
  let summary = "Checks that every op and element type can run on the NPU";
  let description = [{
    Reports, for each op the NPU lowering cannot handle, the op, its types
    and the reason, so that a model fails at compile time with a clear
    message instead of producing a wrong stream.
  }];
}

def NpuTile : Pass<"gaon-npu-tile", "mlir::ModuleOp"> {
  let summary = "Chooses tile sizes that fit the chip's scratchpad";
  let description = [{
    For every matmul (gaon_graph and gaon_npu), attention, softmax, layer
    norm and RMS norm, chooses the tile sizes from the #gaon_npu.chip on the
    module (scratchpad bytes, tensor-array shape, cores): the largest tiles
    whose double-buffered slots fit one core's scratchpad, split further so
    that every core gets work; for compute-bound matmuls (several row
    blocks) halved tiles are taken when a cost estimate (busiest core's
    tensor and epilogue work, DRAM traffic, the last exposed epilogue) says
    they are faster. A weight-streaming matmul (one row block) whose A is
    deep enough that every core reading all of it costs more DRAM time
    than exchanging partial sums over the network gets a fourth entry,
    `tile = [m, n, k, 2]`: pairs of cores split K, each reading half of A
    (the FFN down-projection at 128 tokens). Fails, naming the sizes, when
    nothing fits (e.g. a norm whose single row exceeds the scratchpad).

    Before:
      %y = gaon_npu.matmul %x, %w : (tensor<128x768xbf16>, tensor<768x3072xbf16>) -> ...
    After:
      %y = gaon_npu.matmul %x, %w {gaon_npu.schedule =
             #gaon_npu.schedule<tile = [128, 128, 128]>} : ...
  }];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuPartition : Pass<"gaon-npu-partition", "mlir::ModuleOp"> {
  let summary = "Splits each kernel's tiles across the chip's cores";
  let description = [{
    With the tiles chosen by gaon-npu-tile, records how the work is dealt
    to cores and to how many: `rows` (contiguous output row blocks, a core
    reuses its A tile across column blocks), `cols` (one row block: every
    core streams its own slice of the weights; with a K split, `tile =
    [m, n, k, 2]`, the column tiles go to pairs of cores) or `heads`
    (attention's batch x head x query-block items, round-robin).

    Before:
      #gaon_npu.schedule<tile = [128, 128, 128]>
    After:
      #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 8>
  }];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuDoubleBuffer : Pass<"gaon-npu-double-buffer", "mlir::ModuleOp"> {
  let summary = "Chooses scratchpad slots per operand, checked against its size";
  let description = [{
    Records how many scratchpad slots each operand gets so that the loads
    of the next tile overlap the compute of this one: matmul [A, B, C]
    (A = 1 keeps A resident: all of it when there is one row block, B then
    streaming in two slots per DMA engine; with several row blocks the
    block a core works on, two blocks deep, when they fit), attention [Q,
    K/V, scores] = [3, 4, 2] (Q is scaled one item ahead; K/V load two
    blocks ahead), row ops [in, out]; a K split in pairs [1, 2, 2] (A's
    half resident; every tile has its own B, C and exchange slots).
    Deeper buffering falls back to double buffering where it does not fit;
    a schedule that does not fit even then is an error naming the bytes.
    A matmul over a resident A whose B is a constant (no kernel writes it)
    gets `prefetch = true` when each core's slice of B (one row block:
    weight streaming) or first B block (several row blocks) takes between
    128 KiB and a quarter of the scratchpad: the emitter loads it during
    earlier kernels (the previous one and up to 7 before it, by their
    spare DRAM time), before this kernel's fence.

    Before:
      #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 8>
    After:
      #gaon_npu.schedule<tile = [128, 128, 128], split = cols, cores = 8,
                         buffers = [1, 4, 2]>
  }];
  let dependentDialects = ["gaon::npu::NpuDialect"];
}

def NpuPlanMemory : Pass<"gaon-npu-plan-memory", "mlir::ModuleOp"> {
  let summary = "Assigns every tensor an address in the NPU's DRAM";
  let description = [{
    Lays DRAM out as [weights | inputs | outputs | arena]. Weights and
    constants, graph inputs and graph outputs get their own regions;
    intermediate tensors share the arena, placed by the runtime's planner
    from their live ranges (reshapes alias their input; elementwise ops may
    reuse their input's storage in place). Addresses are recorded as
    `gaon_npu.dram` attributes (one per result) and the layout as
    `gaon_npu.layout` on the module. Fails, naming the sizes, when the model
    does not fit the chip's DRAM.

    After:
      %3 = gaon_graph.add %1, %2 {gaon_npu.dram = array<i64: 1048576>} : ...
  }];
  let options = [
    Option<"reuse", "reuse", "bool", /*default=*/"true",
           "Share arena memory between tensors whose lives do not overlap "
           "(off: every tensor keeps its own memory, for debugging)">
  ];
}

#endif // GAON_BACKENDS_NPUSIM_PASSES_TD
