//===- NpuOps.td - gaon.npu operations ---------------------*- tablegen -*-===//

#ifndef GAON_DIALECT_NPU_NPUOPS_TD
#define GAON_DIALECT_NPU_NPUOPS_TD

include "gaon/Dialect/Npu/NpuDialect.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Npu_MatMulOp : Op<Npu_Dialect, "matmul",
                      [Pure, AttrSizedOperandSegments]> {
  let summary = "Matrix product with an epilogue fused on the vector unit";
  let description = [{
    `act(lhs x rhs + bias) + residual * residual_scale`, computed by one
    NPU kernel: the epilogue runs on each output tile while the tensor unit
    works on the next, so the product never goes to DRAM before its bias,
    activation and residual are applied. Formed by
    `gaon-npu-fuse-epilogues` from gaon_graph.matmul and the elementwise
    ops that follow it.

    `activation` is one of none, relu, gelu, gelu_tanh, silu.
    `residual_scale` (one element per output column, with a residual only)
    multiplies the residual per column: `gaon-npu-fold-norm-affine` moves a
    layer norm's scale there when the norm also feeds the residual.

    With `dequant_scale` (one f32: the scale of `lhs` times the scale of
    `rhs`) the product is an int8 one: `lhs` and `rhs` are i8, the tensor
    unit accumulates in int32 and the epilogue first multiplies by
    `dequant_scale`, then applies the rest. `gaon-npu-quantize-matmuls` forms it (--dtype int8).
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs,
                   Optional<AnyRankedTensor>:$bias,
                   Optional<AnyRankedTensor>:$residual,
                   Optional<AnyRankedTensor>:$residual_scale,
                   Optional<AnyRankedTensor>:$dequant_scale,
                   DefaultValuedAttr<StrAttr, "\"none\"">:$activation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`bias` $bias^)? (`residual` $residual^)?
    (`residual_scale` $residual_scale^)?
    (`dequant_scale` $dequant_scale^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Npu_QuantizeOp : Op<Npu_Dialect, "quantize", [Pure]> {
  let summary = "Dynamic symmetric int8 quantization of an activation";
  let description = [{
    Quantizes a whole float tensor with one scale found at run time, like
    onnxruntime's dynamic quantization (per tensor; symmetric here):
    `a = (max|input| + 1e-30) / 127`, `result = round_half_even(input / a)`
    saturated to [-127, 127] (computed as `input * (127 / (max|input| +
    1e-30))`), and `dequant_scale = a * weight_scale` (one f32 each): the
    scale that turns the int32 product of `result` with weights quantized
    by `weight_scale` back into real values (the `dequant_scale` operand of
    gaon_npu.matmul). Formed by
    `gaon-npu-quantize-matmuls`.
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight_scale);
  let results = (outs AnyRankedTensor:$result,
                      AnyRankedTensor:$dequant_scale);
  let assemblyFormat = [{
    $input `,` $weight_scale attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Npu_AttentionOp : Op<Npu_Dialect, "attention", [Pure]> {
  let summary = "Attention reading and writing token-major rows of heads";
  let description = [{
    `softmax(Q K^T * scale + mask) V` per head, like gaon_graph.attention,
    but on the layouts the projections produce and consume, so the head
    split and merge transposes (and the slicing of a fused QKV product) are
    folded into the kernel's strided DMA instead of running as copies.
    `query` is `[B, Sq, Wq]`: head `h` of Q is columns
    `[query_offset + h * head_dim, ... + head_dim)`; `key` and `value` are
    `[B, Sk, Wk]`, `[B, Sk, Wv]` with `kv_heads` heads of `head_dim` and
    `value_dim` columns at their offsets. The result is `[B, Sq, heads *
    value_dim]` (heads merged). `mask` broadcasts to `[B, heads, Sq, Sk]`;
    `causal` masks keys j > i (Sq == Sk). Formed by
    `gaon-npu-fold-attention-layouts`.
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                   AnyRankedTensor:$value, Optional<AnyRankedTensor>:$mask,
                   F64Attr:$scale, DefaultValuedAttr<BoolAttr, "false">:$causal,
                   I64Attr:$heads, I64Attr:$kv_heads, I64Attr:$head_dim,
                   I64Attr:$value_dim, I64Attr:$query_offset,
                   I64Attr:$key_offset, I64Attr:$value_offset);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // GAON_DIALECT_NPU_NPUOPS_TD
