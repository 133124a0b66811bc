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
    `act(lhs x rhs + bias) + residual`, computed by one NPU kernel: the
    epilogue runs on each output tile while the tensor unit works on the
    next, so the product never goes to DRAM before its bias, activation and
    residual are applied. Formed by `gaon-npu-fuse-epilogues` from
    gaon_graph.matmul and the elementwise ops that follow it.

    `activation` is one of none, relu, gelu, gelu_tanh, silu.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs,
                   Optional<AnyRankedTensor>:$bias,
                   Optional<AnyRankedTensor>:$residual,
                   DefaultValuedAttr<StrAttr, "\"none\"">:$activation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`bias` $bias^)? (`residual` $residual^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // GAON_DIALECT_NPU_NPUOPS_TD
