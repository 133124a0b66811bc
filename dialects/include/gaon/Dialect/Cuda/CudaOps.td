//===- CudaOps.td - gaon.cuda dialect and operations -------*- tablegen -*-===//
//
// The gaon.cuda dialect (namespace `gaon_cuda`) holds the CUDA backend's
// partition of a gaon.graph function into GPU work: library matmuls
// (cuBLASLt), fusion regions that become one generated kernel each, and the
// launches of those kernels once generated. See docs/cuda-backend.md.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_DIALECT_CUDA_CUDAOPS_TD
#define GAON_DIALECT_CUDA_CUDAOPS_TD

include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Cuda_Dialect : Dialect {
  let name = "gaon_cuda";
  let summary = "CUDA backend: library calls, fusion regions, kernel launches";
  let cppNamespace = "::gaon::cuda";
}

class Cuda_Op<string mnemonic, list<Trait> traits = []>
    : Op<Cuda_Dialect, mnemonic, traits>;

def Cuda_MatMulOp : Cuda_Op<"matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "A (batched) matrix product run by cuBLASLt with an epilogue";
  let description = [{
    `activation(lhs x op(rhs) + residual + bias)` with fp32 accumulation.
    `lhs` is `[..., M, K]`; `rhs` is `[..., K, N]` (or `[..., N, K]` with
    `transpose_rhs`), either with the lhs's batch dimensions or none
    (shared by every batch). `bias` has N elements; `residual` has the
    result's type (cuBLASLt's `beta * C` with beta 1). `activation` is
    `none`, `gelu_tanh` or `relu`: the epilogues cuBLASLt offers. The result
    has the operands' element type, or f32 for f16/bf16 operands without a
    bias; a 2-D rhs may have zero-padded columns beyond the result's N (rows
    aligned for cuBLASLt), which are not computed.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs,
                   Optional<AnyRankedTensor>:$bias,
                   Optional<AnyRankedTensor>:$residual,
                   DefaultValuedAttr<StrAttr, "\"none\"">:$activation,
                   DefaultValuedAttr<BoolAttr, "false">:$transpose_rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`bias` $bias^)? (`residual` $residual^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Cuda_AttentionOp : Cuda_Op<"attention", [Pure]> {
  let summary = "Fused attention reading and writing strided layouts";
  let description = [{
    gaon_graph.attention whose operands and result may be in `[B, S, H, D]`
    ("bshd") instead of `[B, H, S, D]` ("bhsd") order: the fused kernel
    reads Q, K, V and writes the output with strides, so the head split and
    merge transposes around attention never run. Formed by
    `gaon-cuda-fold-attention-layouts`. The mask is as in gaon_graph.attention.

    Q, K and V may also be head ranges of one tensor, e.g. the
    `[B, S, Hq + 2 Hkv, D]` view of a fused QKV projection: the query uses
    heads `[query_head_offset, query_head_offset + H)` of its operand, H
    being the result's heads; key and value use `kv_heads` heads (default:
    all of the key operand's) from their offsets.
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                   AnyRankedTensor:$value, Optional<AnyRankedTensor>:$mask,
                   F64Attr:$scale, DefaultValuedAttr<BoolAttr, "false">:$causal,
                   DefaultValuedAttr<BoolAttr, "false">:$query_bshd,
                   DefaultValuedAttr<BoolAttr, "false">:$key_bshd,
                   DefaultValuedAttr<BoolAttr, "false">:$value_bshd,
                   DefaultValuedAttr<BoolAttr, "false">:$result_bshd,
                   DefaultValuedAttr<I64Attr, "0">:$query_head_offset,
                   DefaultValuedAttr<I64Attr, "0">:$key_head_offset,
                   DefaultValuedAttr<I64Attr, "0">:$value_head_offset,
                   OptionalAttr<I64Attr>:$kv_heads);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`,` $mask^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Heads of the result (and the query); of the key and value.
    int64_t getNumHeads();
    int64_t getNumKvHeads();
  }];
}

def Cuda_FusionOp : Cuda_Op<"fusion", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">, RecursiveMemoryEffects]> {
  let summary = "gaon.graph ops that become one generated GPU kernel";
  let description = [{
    The body computes the results from the block arguments (one per input)
    with gaon.graph ops; `gaon-cuda-lower-fusions` turns it into a gpu.func
    that computes every result element without materializing the
    intermediate values. Formed by `gaon-cuda-form-fusions`.
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    mlir::Block &getBlock() { return getBody().front(); }
  }];
}

def Cuda_YieldOp : Cuda_Op<"yield", [Pure, Terminator, ReturnLike,
                                     HasParent<"FusionOp">]> {
  let summary = "The values a fusion region produces";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let builders = [OpBuilder<(ins), [{ /* empty yield */ }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

def Cuda_LaunchOp : Cuda_Op<"launch", [Pure]> {
  let summary = "Runs a generated kernel over its inputs into its results";
  let description = [{
    Launches `kernel` (a gpu.func, or after serialization an entry of a
    gpu.binary) on a `grid` of `block`s. The kernel's parameters are one
    pointer per input, then one per result, in order.
  }];
  let arguments = (ins SymbolRefAttr:$kernel,
                   Variadic<AnyRankedTensor>:$inputs,
                   DenseI32ArrayAttr:$grid, DenseI32ArrayAttr:$block,
                   DefaultValuedAttr<I32Attr, "0">:$shared_bytes);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
  }];
  let hasVerifier = 1;
}

#endif // GAON_DIALECT_CUDA_CUDAOPS_TD
