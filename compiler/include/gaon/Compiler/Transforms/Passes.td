//===- Passes.td - Target-independent gaon.graph passes ----*- tablegen -*-===//

#ifndef GAON_COMPILER_TRANSFORMS_PASSES_TD
#define GAON_COMPILER_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseGelu : Pass<"gaon-fuse-gelu", "mlir::func::FuncOp"> {
  let summary = "Fuses the erf and tanh GELU expansions into gaon_graph.gelu";
  let description = [{
    Exporters expand GELU into elementwise arithmetic. This pass recognizes
    the exact form `0.5 * x * (1 + erf(x / sqrt(2)))` (BERT) and the tanh
    form `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))` (GPT-2),
    whatever the association of the products.

    Before:
      %d = gaon_graph.div %x, %sqrt2
      %e = gaon_graph.erf %d
      %a = gaon_graph.add %e, %one
      %m = gaon_graph.mul %x, %a
      %r = gaon_graph.mul %m, %half
    After:
      %r = gaon_graph.gelu %x
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def ConvToMatmul : Pass<"gaon-conv-to-matmul", "mlir::func::FuncOp"> {
  let summary = "Rewrites convolutions as matmuls";
  let description = [{
    Transformers convolve only at their inputs: a vision transformer embeds
    its image with a convolution whose stride equals its kernel (ViT, DeiT,
    CLIP, SigLIP), an audio one filters its features with small 1-D kernels
    (Whisper: kernel 3, padding 1, stride 1 and 2). Both become one matmul,
    which every backend runs well, with the same products and sums:

    - Patches (stride = kernel, no padding or dilation, dims a multiple of
      the kernel): each output pixel reads its own patch. A reshape and a
      transpose lay the patches out as rows:
        [N, C, P1*K1, P2*K2] -> [N, C, P1, K1, P2, K2]
          -> [N, P1, P2, C, K1, K2] -> [N, P1*P2, C*K1*K2]
    - Anything else (im2col): zero padding by concatenation, then one
      strided slice of the padded input per kernel offset (at most 64
      offsets), stacked after the channels:
        [N, C, Ktot, O1..Or] -> [N, C*Ktot, P] -> [N, P, C*Ktot]

    then `matmul` with the weights [O, C*K...] transposed, the bias added,
    and the result transposed and reshaped back to [N, O, O1..Or].
    With G groups the rows' channel-major columns split into G blocks of
    C/G*K, and the product is one batched matmul over the groups:
        [N*P, G, C/G*K] -> [G, N*P, C/G*K] x [G, C/G*K, O/G]
          -> [N*P, G, O/G] -> [N, P, O]
    Kernels with more than 64 offsets that are not patches are left alone
    (the backends name them in their errors).
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def FuseSilu : Pass<"gaon-fuse-silu", "mlir::func::FuncOp"> {
  let summary = "Fuses x * sigmoid(x) into gaon_graph.silu";
  let description = [{
    Before:
      %s = gaon_graph.sigmoid %x
      %r = gaon_graph.mul %x, %s
    After:
      %r = gaon_graph.silu %x
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def FuseRmsNorm : Pass<"gaon-fuse-rms-norm", "mlir::func::FuncOp"> {
  let summary = "Fuses x * rsqrt(mean(x^2) + eps) * w into gaon_graph.rms_norm";
  let description = [{
    Recognizes LLaMA-style RMS normalization over the last dimension, with
    the reciprocal square root written as rsqrt, reciprocal(sqrt) or
    1 / sqrt, and an optional scale.

    Before:
      %p = gaon_graph.pow %x, %two
      %m = gaon_graph.reduce_mean %p {axes = array<i64: 2>}
      %a = gaon_graph.add %m, %eps
      %s = gaon_graph.sqrt %a
      %r = gaon_graph.reciprocal %s
      %n = gaon_graph.mul %x, %r
      %y = gaon_graph.mul %w, %n
    After:
      %y = gaon_graph.rms_norm %x, %w {axis = 2, epsilon = ...}
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def FuseAttention : Pass<"gaon-fuse-attention", "mlir::func::FuncOp"> {
  let summary = "Fuses softmax(Q K^T * scale + mask) V into gaon_graph.attention";
  let description = [{
    Recognizes scaled dot-product attention as exporters emit it: the scale
    as a multiplication or division of the scores by a constant, or split
    between Q and K^T (torch.export's decomposition of SDPA), an optional
    additive mask, and K^T given as a transpose. The fused op takes K as
    [B, H, Sk, D]; the transpose that produced K^T composes with the new one.

    Before:
      %kt = gaon_graph.transpose %k {perm = array<i64: 0, 1, 3, 2>}
      %s = gaon_graph.matmul %q, %kt
      %c = gaon_graph.mul %s, %scale
      %m = gaon_graph.add %c, %mask
      %p = gaon_graph.softmax %m {axis = 3}
      %o = gaon_graph.matmul %p, %v
    After:
      %o = gaon_graph.attention %q, %k, %v, %mask {scale = 0.25}
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def FoldCausalMasks : Pass<"gaon-fold-causal-masks", "mlir::func::FuncOp"> {
  let summary = "Turns constant causal attention masks into the causal flag";
  let description = [{
    A gaon_graph.attention whose mask is a constant [.., S, S] that is 0 on
    and below the diagonal and <= -1e30 above it (exported GPT-2's folded
    causal select), or such a constant plus another mask of the same type,
    becomes `causal = true` with the other mask or none. Kernels then skip
    the masked key blocks instead of reading an S x S mask per layer.
    Masks that are only nearly causal (e.g. -1e4 above the diagonal, where
    exp does not reach 0) are left alone.

    Before:
      %c = gaon_graph.constant dense<[[0, -3.4e38], [0, 0]]> : tensor<2x2xf32>
      %o = gaon_graph.attention %q, %k, %v, %c {scale = 0.5 : f64}
    After:
      %o = gaon_graph.attention %q, %k, %v {causal = true, scale = 0.5 : f64}
  }];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

def ConvertPrecision : Pass<"gaon-convert-precision", "mlir::func::FuncOp"> {
  let summary = "Computes in bf16 or f16: converts f32 weights and activations";
  let description = [{
    Rewrites every f32 tensor inside the function to the target float type:
    constants are rounded (to nearest even), every op producing f32 produces
    the new type, f32 arguments are cast on entry and f32 results cast back
    on return, so the function's signature is unchanged. Backends keep fp32
    accumulation in their matmul, reduction and normalization kernels.

    Before:
      func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
        %w = gaon_graph.constant dense<...> : tensor<4xf32>
        %y = gaon_graph.mul %x, %w : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        return %y : tensor<4xf32>
      }
    After:
      func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
        %xb = gaon_graph.cast %x : tensor<4xf32> -> tensor<4xbf16>
        %w = gaon_graph.constant dense<...> : tensor<4xbf16>
        %y = gaon_graph.mul %xb, %w : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
        %yf = gaon_graph.cast %y : tensor<4xbf16> -> tensor<4xf32>
        return %yf : tensor<4xf32>
      }
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"bf16\"",
           "Element type to compute in: bf16 or f16">
  ];
  let dependentDialects = ["gaon::graph::GraphDialect"];
}

#endif // GAON_COMPILER_TRANSFORMS_PASSES_TD
