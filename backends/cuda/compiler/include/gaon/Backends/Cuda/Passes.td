//===- Passes.td - CUDA backend passes ---------------------*- tablegen -*-===//

#ifndef GAON_BACKENDS_CUDA_PASSES_TD
#define GAON_BACKENDS_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CudaMergeSiblingMatmuls
    : Pass<"gaon-cuda-merge-sibling-matmuls", "mlir::func::FuncOp"> {
  let summary = "Merges projections of one input that feed attention into "
                "one matmul";
  let description = [{
    gaon_graph.matmul ops with the same lhs and constant 2-D weights
    [K, N_i] (each optionally followed by the add of a constant bias of N_i
    elements) whose results reach attention operands become one matmul by
    the concatenated weights [K, sum N_i] (plus the concatenated bias),
    split back on the last axis. At batch 1 this turns the Q, K and V
    projections into one GEMM that fills the GPU; the split then folds into
    the attention (gaon-cuda-fold-attention-layouts).
  }];
}

def CudaFormMatmuls : Pass<"gaon-cuda-form-matmuls", "mlir::func::FuncOp"> {
  let summary = "Turns matmuls and their epilogues into cuBLASLt matmuls";
  let description = [{
    gaon_graph.matmul becomes gaon_cuda.matmul, absorbing what cuBLASLt can
    apply in its epilogue: a following add of a bias with one element per
    output column, then a GELU (the tanh form; the exact erf form too when
    the element type is f16/bf16, whose rounding exceeds the two forms'
    difference of < 5e-4) or a ReLU. A transpose of the last two dims of a
    2-D rhs is folded into `transpose_rhs`. Matmuls whose rhs broadcasts in
    some batch dims but not all are left alone (and rejected later).

    Before:
      %0 = gaon_graph.matmul %x, %w : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32>
      %1 = gaon_graph.add %0, %b : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
    After:
      %1 = gaon_cuda.matmul %x, %w bias %b : (...) -> tensor<2x8xf32>
  }];
  let dependentDialects = ["gaon::cuda::CudaDialect"];
}

def CudaFoldAttentionLayouts
    : Pass<"gaon-cuda-fold-attention-layouts", "mlir::func::FuncOp"> {
  let summary = "Folds head split/merge transposes into attention strides";
  let description = [{
    gaon_graph.attention operands produced by a transpose [0, 2, 1, 3]
    (exporters' head split) are read in their [B, S, H, D] form, and a
    single transpose [0, 2, 1, 3] of the result (the head merge) is written
    directly: the result is a gaon_cuda.attention with `*_bshd` flags, and
    the fused kernel uses strides instead of the four transposes.

    Before:
      %q = gaon_graph.transpose %x {perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x2x4xf16> -> tensor<1x2x8x4xf16>
      %o = gaon_graph.attention %q, %q, %q {scale = 0.5 : f64} : ...
      %m = gaon_graph.transpose %o {perm = array<i64: 0, 2, 1, 3>} : ...
    After:
      %m = gaon_cuda.attention %x, %x, %x {key_bshd = true, query_bshd = true,
           result_bshd = true, scale = 0.5 : f64, value_bshd = true} : ...

    When Q, K and V are reshaped parts of one split on the last axis (a
    fused QKV projection), whole heads each, the attention reads them as
    head ranges (`*_head_offset`, `kv_heads`) of the split input's
    [B, S, W / D, D] view and the split disappears.
  }];
  let dependentDialects = ["gaon::cuda::CudaDialect"];
}

def CudaFormFusions : Pass<"gaon-cuda-form-fusions", "mlir::func::FuncOp"> {
  let summary = "Groups elementwise, data-movement and reduction ops into "
                "fusion regions, one generated kernel each";
  let description = [{
    Every gaon.graph op other than constants, reshapes, attention and the
    matmuls cuBLASLt runs is placed in a gaon_cuda.fusion. A fusion has one
    root (the op whose value leaves it); producers whose every use is inside
    the fusion are pulled in and recomputed per element instead of being
    written to memory. Reductions, softmax and norms (row ops) can only be
    roots: their producers fuse into them, their consumers start new
    fusions. Splat constants are cloned into the bodies; other constants
    stay outside as inputs (weights).
  }];
  let options = [
    Option<"maxOpsPerFusion", "max-ops", "unsigned", /*default=*/"64",
           "Largest number of ops pulled into one fusion">
  ];
  let dependentDialects = ["gaon::cuda::CudaDialect"];
}

def CudaFusionsToLinalg
    : Pass<"gaon-cuda-fusions-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Rewrites fusion bodies from gaon_graph ops into linalg on "
                "tensors";
  let description = [{
    The body of each gaon_cuda.fusion becomes linalg on tensors: every
    elementwise op (unary, binary, cast, clamp, select, broadcast,
    transpose, reshape) an all-parallel linalg.generic whose indexing maps
    carry the operand index maps (numpy broadcasting as constant-0 results,
    reshapes as linearize/delinearize maps); a row op at the root (softmax
    over the last axis, layer/RMS norm, float reductions over trailing
    axes) the linalg.fill + linalg.generic ops with `reduction` iterators
    over the row, and the parallel generics, that the row kernel runs.
    Bodies compute in the kernels' compute type (f32 for f16/bf16 data);
    a last generic rounds the result to its element type.
    Fusions with ops that have no linalg form here (gathers, concat, pad,
    slice, tile, split, trilu, serial reductions, matmul, ...) keep their
    gaon_graph body. gaon-cuda-lower-fusions lowers both.

    Before:
      %s = gaon_graph.add %a, %c : (tensor<4x8xf16>, tensor<8xf16>) -> tensor<4x8xf16>
    After:
      %s = linalg.generic {indexing_maps = [(d0, d1) -> (d0, d1),
             (d0, d1) -> (d1), (d0, d1) -> (d0, d1)], ...}
             ins(%a, %c : tensor<4x8xf16>, tensor<8xf16>) outs(%e : tensor<4x8xf32>) {
        ^bb0(%x: f16, %y: f16, %o: f32):
          ... arith.extf, arith.addf ...
      }
      %r = linalg.generic ... { arith.truncf ... } -> tensor<4x8xf16>
  }];
  let dependentDialects = [
    "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect",
    "mlir::arith::ArithDialect", "mlir::math::MathDialect"
  ];
}

def CudaLowerFusions : Pass<"gaon-cuda-lower-fusions", "mlir::ModuleOp"> {
  let summary = "Generates a gpu.func for every fusion and launches it";
  let description = [{
    Each gaon_cuda.fusion becomes a gpu.func in the module's
    `gpu.module @gaon_kernels` and a gaon_cuda.launch of it. Kernels take
    one bare pointer per input and result (flat memrefs) and compute
    elements from indices, through the fused ops' index maps (broadcast,
    transpose, reshape, slice, concat, gather, ...), with math in f32 for
    f16/bf16 data.
    Linalg bodies (gaon-cuda-fusions-to-linalg) are lowered with upstream
    elementwise fusion and linalg-to-parallel-loops, the loop mapped onto
    the same one-thread-per-element schedule, and reduction generics through
    the row schedule; gaon_graph bodies by elemental emission.
    Schedules: elementwise roots use one thread per output element (256 per
    block); row ops over the innermost dimension (softmax, layer_norm,
    rms_norm, reductions) use one block per row with warp shuffles and
    shared memory for the cross-thread reductions; other reductions loop
    over the reduced elements in each thread.
  }];
  let options = [
    Option<"blockSize", "block-size", "unsigned", /*default=*/"256",
           "Threads per block of elementwise kernels">
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect", "mlir::arith::ArithDialect",
    "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect", "mlir::linalg::LinalgDialect",
    "mlir::affine::AffineDialect"
  ];
}

#endif // GAON_BACKENDS_CUDA_PASSES_TD
