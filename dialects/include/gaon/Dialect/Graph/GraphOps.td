//===- GraphOps.td - gaon.graph operations -----------------*- tablegen -*-===//

#ifndef GAON_DIALECT_GRAPH_GRAPHOPS_TD
#define GAON_DIALECT_GRAPH_GRAPHOPS_TD

include "gaon/Dialect/Graph/GraphDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

def Graph_ConstantOp : Graph_Op<"constant", [ConstantLike, Pure,
    AllTypesMatch<["value", "result"]>]> {
  let summary = "A constant tensor (weights use dense_resource storage)";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops (NumPy broadcasting)
//===----------------------------------------------------------------------===//

// Each elementwise op names its kind; verifiers and folders are shared and
// dispatch on it (see GraphOps.cpp and GraphFolders.cpp).
class Graph_BinaryOp<string mnemonic, string kind, bit isCompare = 0>
    : Graph_Op<mnemonic, [Pure]> {
  let summary = "Elementwise " # mnemonic # " with NumPy broadcasting";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    static constexpr ::gaon::graph::BinaryKind kKind =
        ::gaon::graph::BinaryKind::}] # kind # [{;
  }];
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return verifyBinaryOp(getOperation(), }] # !if(isCompare, "true", "false") # [{);
    }
    ::mlir::OpFoldResult $cppClass::fold(FoldAdaptor adaptor) {
      return foldBinaryOp(getOperation(), kKind, adaptor.getLhs(),
                          adaptor.getRhs());
    }
  }];
}

def Graph_AddOp : Graph_BinaryOp<"add", "Add"> { let hasCanonicalizer = 1; }
def Graph_SubOp : Graph_BinaryOp<"sub", "Sub">;
def Graph_MulOp : Graph_BinaryOp<"mul", "Mul"> { let hasCanonicalizer = 1; }
def Graph_DivOp : Graph_BinaryOp<"div", "Div"> { let hasCanonicalizer = 1; }
def Graph_PowOp : Graph_BinaryOp<"pow", "Pow">;
def Graph_MaxOp : Graph_BinaryOp<"max", "Max">;
def Graph_MinOp : Graph_BinaryOp<"min", "Min">;
def Graph_ModOp : Graph_BinaryOp<"mod", "Mod">;
def Graph_AndOp : Graph_BinaryOp<"and", "And">;
def Graph_OrOp : Graph_BinaryOp<"or", "Or">;
def Graph_XorOp : Graph_BinaryOp<"xor", "Xor">;
def Graph_EqualOp : Graph_BinaryOp<"equal", "Equal", 1>;
def Graph_LessOp : Graph_BinaryOp<"less", "Less", 1>;
def Graph_LessEqualOp : Graph_BinaryOp<"less_equal", "LessEqual", 1>;
def Graph_GreaterOp : Graph_BinaryOp<"greater", "Greater", 1>;
def Graph_GreaterEqualOp : Graph_BinaryOp<"greater_equal", "GreaterEqual", 1>;

class Graph_UnaryOp<string mnemonic, string kind>
    : Graph_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise " # mnemonic;
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasFolder = 1;
  let extraClassDeclaration = [{
    static constexpr ::gaon::graph::UnaryKind kKind =
        ::gaon::graph::UnaryKind::}] # kind # [{;
  }];
  let extraClassDefinition = [{
    ::mlir::OpFoldResult $cppClass::fold(FoldAdaptor adaptor) {
      return foldUnaryOp(getOperation(), kKind, adaptor.getInput());
    }
  }];
}

def Graph_NegOp : Graph_UnaryOp<"neg", "Neg">;
def Graph_AbsOp : Graph_UnaryOp<"abs", "Abs">;
def Graph_ExpOp : Graph_UnaryOp<"exp", "Exp">;
def Graph_LogOp : Graph_UnaryOp<"log", "Log">;
def Graph_SqrtOp : Graph_UnaryOp<"sqrt", "Sqrt">;
def Graph_RsqrtOp : Graph_UnaryOp<"rsqrt", "Rsqrt">;
def Graph_ReciprocalOp : Graph_UnaryOp<"reciprocal", "Reciprocal">;
def Graph_TanhOp : Graph_UnaryOp<"tanh", "Tanh">;
def Graph_ErfOp : Graph_UnaryOp<"erf", "Erf">;
def Graph_SigmoidOp : Graph_UnaryOp<"sigmoid", "Sigmoid">;
def Graph_ReluOp : Graph_UnaryOp<"relu", "Relu">;
def Graph_SiluOp : Graph_UnaryOp<"silu", "Silu">;
def Graph_SinOp : Graph_UnaryOp<"sin", "Sin">;
def Graph_CosOp : Graph_UnaryOp<"cos", "Cos">;
def Graph_FloorOp : Graph_UnaryOp<"floor", "Floor">;
def Graph_CeilOp : Graph_UnaryOp<"ceil", "Ceil">;
def Graph_RoundOp : Graph_UnaryOp<"round", "Round">;
def Graph_SignOp : Graph_UnaryOp<"sign", "Sign">;
def Graph_NotOp : Graph_UnaryOp<"not", "Not">;

def Graph_GeluOp : Graph_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU activation, exact (erf) or tanh-approximated";
  let arguments = (ins AnyRankedTensor:$input,
                   DefaultValuedAttr<BoolAttr, "false">:$approximate);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Graph_CastOp : Graph_Op<"cast", [Pure, SameOperandsAndResultShape]> {
  let summary = "Converts element type (float/int/bool, round to nearest even)";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def Graph_SelectOp : Graph_Op<"select", [Pure]> {
  let summary = "Elementwise `cond ? lhs : rhs` with NumPy broadcasting";
  let arguments = (ins AnyRankedTensor:$condition, AnyRankedTensor:$lhs,
                   AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$condition `,` $lhs `,` $rhs attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_ClampOp : Graph_Op<"clamp", [Pure, SameOperandsAndResultType]> {
  let summary = "Clamps to [min, max] (ONNX Clip with constant bounds)";
  let arguments = (ins AnyRankedTensor:$input, F64Attr:$min, F64Attr:$max);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Contractions
//===----------------------------------------------------------------------===//

def Graph_MatMulOp : Graph_Op<"matmul", [Pure]> {
  let summary = "Batched matrix product with broadcast batch dimensions";
  let description = [{
    `lhs` is `[batch..., M, K]` and `rhs` is `[batch..., K, N]` (both rank >= 2);
    batch dimensions broadcast as in NumPy. The importer rewrites ONNX's rank-1
    cases into rank-2 products with reshapes.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_ConvOp : Graph_Op<"conv", [Pure]> {
  let summary = "N-d convolution in NC[spatial] layout (ONNX Conv semantics)";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight,
                   Optional<AnyRankedTensor>:$bias,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, I64Attr:$groups);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

class Graph_ReduceOp<string mnemonic, string kind>
    : Graph_Op<mnemonic, [Pure]> {
  let summary = "Reduces `input` over `axes` with " # mnemonic;
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                   DefaultValuedAttr<BoolAttr, "true">:$keep_dims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    static constexpr ::gaon::graph::ReduceKind kKind =
        ::gaon::graph::ReduceKind::}] # kind # [{;
  }];
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return verifyReduceOp(getOperation(), getAxes(), getKeepDims());
    }
    ::mlir::OpFoldResult $cppClass::fold(FoldAdaptor adaptor) {
      return foldReduceOp(getOperation(), kKind, adaptor.getInput(),
                          getAxes());
    }
  }];
}

def Graph_ReduceSumOp : Graph_ReduceOp<"reduce_sum", "Sum">;
def Graph_ReduceMeanOp : Graph_ReduceOp<"reduce_mean", "Mean">;
def Graph_ReduceMaxOp : Graph_ReduceOp<"reduce_max", "Max">;
def Graph_ReduceMinOp : Graph_ReduceOp<"reduce_min", "Min">;
def Graph_ReduceProdOp : Graph_ReduceOp<"reduce_prod", "Prod">;

def Graph_ArgMaxOp : Graph_Op<"argmax", [Pure]> {
  let summary = "Index of the largest element along `axis` (first on ties)";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "true">:$keep_dims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Graph_CumSumOp : Graph_Op<"cumsum", [Pure, SameOperandsAndResultType]> {
  let summary = "Cumulative sum along `axis`";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "false">:$exclusive,
                   DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Graph_SoftmaxOp : Graph_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax along `axis` (log-softmax when `log` is set)";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "false">:$log);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Graph_LayerNormOp : Graph_Op<"layer_norm", [Pure]> {
  let summary = "Layer normalization over the dimensions from `axis` on";
  let description = [{
    `(x - mean) / sqrt(var + epsilon) * scale + bias`, with mean and variance
    over dimensions `axis..rank-1`; `scale` and `bias` have the normalized
    shape (or broadcast to it).
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                   Optional<AnyRankedTensor>:$bias, I64Attr:$axis,
                   F64Attr:$epsilon);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $scale (`,` $bias^)? attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

def Graph_RmsNormOp : Graph_Op<"rms_norm", [Pure]> {
  let summary = "RMS normalization: x / sqrt(mean(x^2) + epsilon) * scale";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$scale,
                   I64Attr:$axis, F64Attr:$epsilon);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $scale attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def Graph_ReshapeOp : Graph_Op<"reshape", [Pure]> {
  let summary = "Reinterprets the row-major elements with the result's shape";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Graph_TransposeOp : Graph_Op<"transpose", [Pure]> {
  let summary = "Permutes dimensions: result dim i is input dim perm[i]";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Graph_ConcatOp : Graph_Op<"concat", [Pure]> {
  let summary = "Concatenates tensors along `axis`";
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_SliceOp : Graph_Op<"slice", [Pure]> {
  let summary = "Strided slice with one normalized start/step per dimension";
  let description = [{
    Result dimension i holds input elements `starts[i] + j * steps[i]` for
    `j < result.shape[i]`. Starts are in range and steps non-zero (negative
    steps walk backwards); the importer normalizes ONNX's clamped ends.
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$starts,
                   DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_SplitOp : Graph_Op<"split", [Pure]> {
  let summary = "Splits along `axis` into results sized by their types";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_BroadcastOp : Graph_Op<"broadcast", [Pure]> {
  let summary = "Broadcasts (NumPy rules) to the result's shape (ONNX Expand)";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_TileOp : Graph_Op<"tile", [Pure]> {
  let summary = "Repeats the input `repeats[i]` times along dimension i";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$repeats);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_PadOp : Graph_Op<"pad", [Pure]> {
  let summary = "Constant padding: `low`/`high` elements per dimension";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$low,
                   DenseI64ArrayAttr:$high, F64Attr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Graph_GatherOp : Graph_Op<"gather", [Pure]> {
  let summary = "Takes slices of `data` along `axis` at `indices` (ONNX Gather)";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                   I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Graph_GatherElementsOp : Graph_Op<"gather_elements", [Pure]> {
  let summary = "Elementwise gather along `axis` (ONNX GatherElements)";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                   I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_GatherNdOp : Graph_Op<"gather_nd", [Pure]> {
  let summary = "Gathers slices addressed by the last index dimension "
                "(ONNX GatherND)";
  let arguments = (ins AnyRankedTensor:$data, AnyRankedTensor:$indices,
                   I64Attr:$batch_dims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `,` $indices attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_TriluOp : Graph_Op<"trilu", [Pure, SameOperandsAndResultType]> {
  let summary = "Keeps the upper or lower triangle (diagonal offset `k`)";
  let arguments = (ins AnyRankedTensor:$input, BoolAttr:$upper, I64Attr:$k);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Fused transformer ops (formed by passes; not produced by the importer)
//===----------------------------------------------------------------------===//

def Graph_AttentionOp : Graph_Op<"attention", [Pure]> {
  let summary = "Scaled dot-product attention softmax(Q K^T * scale + mask) V";
  let description = [{
    `query` is `[B, H, Sq, D]`, `key` and `value` are `[B, Hkv, Sk, D]` with
    `H % Hkv == 0` (grouped-query attention). The optional additive `mask`
    broadcasts to `[B, H, Sq, Sk]`. With `causal`, positions j > i + (Sk-Sq)
    are masked as well. A query row whose scores are all -inf (every key
    masked) gives zeros, as torch's scaled_dot_product_attention does, not
    the NaN of a plain softmax.
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                   AnyRankedTensor:$value, Optional<AnyRankedTensor>:$mask,
                   F64Attr:$scale,
                   DefaultValuedAttr<BoolAttr, "false">:$causal);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$query `,` $key `,` $value (`,` $mask^)? attr-dict `:` "
                       "functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // GAON_DIALECT_GRAPH_GRAPHOPS_TD
