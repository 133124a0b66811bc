#!/usr/bin/python3
"""Build a GPT-2-style decoder (or a BERT-style encoder) in plain PyTorch and export it to ONNX.

The model mirrors the structure of Hugging Face's GPT-2 (eager attention path)
without depending on the `transformers` package:

  token embedding + learned position embedding
  N x pre-LN block:
      x = x + attn(ln_1(x))      causal multi-head self-attention, HF-style mask
      x = x + mlp(ln_2(x))       Linear(h, 4h) -> tanh-approx GELU -> Linear(4h, h)
  final LayerNorm, LM head tied to the token embedding

The attention mask input is what HF models take: an int64 [batch, seq] tensor,
1 for real tokens and 0 for padding. As in HF GPT-2 it becomes an additive
[batch, 1, 1, seq] mask ((1 - mask) * finfo.min) that is added to the attention
scores after the causal mask was applied with torch.where on a sliced
lower-triangular buffer.

Export uses the TorchScript exporter (torch.onnx.export, opset 17) with dynamic
axes batch and seq on input_ids, attention_mask and logits, and writes the ONNX
backend-test layout:

  OUT/model.onnx
  OUT/test_data_set_0/input_0.pb    input_ids       int64 [batch, seq]
  OUT/test_data_set_0/input_1.pb    attention_mask  int64 [batch, seq] (all ones)
  OUT/test_data_set_0/output_0.pb   logits          float32 [batch, seq, vocab]

For the tiny config a second set, test_data_set_1, has batch 2 with the second
row right-padded (mask 0 from position 3/4 of seq on), which exercises the mask.

BERT-style encoders (--config bert-tiny, bert-base) mirror Hugging Face's
BertModel (eager attention path):

  word + learned position + token-type embedding (token type 0 for every
  token: there is no token_type_ids input), LayerNorm
  N x post-LN block:
      x = LayerNorm(x + attn(x))     bidirectional multi-head self-attention
                                     with separate q/k/v Linears and the HF
                                     additive padding mask (1 - mask) * finfo.min
      x = LayerNorm(x + mlp(x))      Linear(h, ffn) -> exact erf GELU
                                     0.5*x*(1+erf(x/sqrt(2))) -> Linear(ffn, h)
  output: last_hidden_state float32 [batch, seq, hidden] (no pooler, no head)

For BERT the output file is the same (output_0.pb) but holds last_hidden_state;
bert-tiny also gets the padded test_data_set_1.

Run with Debian's python: /usr/bin/python3 examples/make_example_model.py
(needs python3-torch, python3-onnx, python3-numpy).
"""

import argparse
import dataclasses
import hashlib
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    n_positions: int
    hidden: int
    n_layers: int
    n_heads: int
    layer_norm_eps: float = 1e-5
    seed: int = 0


CONFIGS = {
    "tiny": GPTConfig(vocab_size=256, n_positions=64, hidden=64, n_layers=2,
                      n_heads=4, seed=0),
    "gpt2-small": GPTConfig(vocab_size=50257, n_positions=1024, hidden=768,
                            n_layers=12, n_heads=12, seed=0),
}


@dataclasses.dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    n_positions: int
    hidden: int
    n_layers: int
    n_heads: int
    ffn: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    seed: int = 0


BERT_CONFIGS = {
    "bert-tiny": BertConfig(vocab_size=512, n_positions=64, hidden=64,
                            n_layers=2, n_heads=4, ffn=256, seed=0),
    "bert-base": BertConfig(vocab_size=30522, n_positions=512, hidden=768,
                            n_layers=12, n_heads=12, ffn=3072, seed=0),
}

ALL_CONFIGS = dict(CONFIGS, **BERT_CONFIGS)


def gelu_tanh(x):
    # HF's NewGELUActivation ("gelu_new"), the activation GPT-2 uses.
    return 0.5 * x * (1.0 + torch.tanh(
        math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        assert cfg.hidden % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.hidden // cfg.n_heads
        self.c_attn = nn.Linear(cfg.hidden, 3 * cfg.hidden)
        self.c_proj = nn.Linear(cfg.hidden, cfg.hidden)

    def _split_heads(self, t):
        b, s, _ = t.size()
        return t.view(b, s, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, causal_bias, additive_mask):
        b, s, h = x.size()
        q, k, v = self.c_attn(x).split(h, dim=2)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        # Causal mask as in HF GPT-2 eager attention: slice the shared
        # lower-triangular buffer and replace future positions by finfo.min.
        causal = causal_bias[:, :, :s, :s]
        min_value = torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype)
        w = torch.where(causal, w, min_value)
        w = w + additive_mask
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v)                      # [b, heads, s, head_dim]
        o = o.transpose(1, 2).contiguous().view(b, s, h)
        return self.c_proj(o)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.hidden, 4 * cfg.hidden)
        self.c_proj = nn.Linear(4 * cfg.hidden, cfg.hidden)

    def forward(self, x):
        return self.c_proj(gelu_tanh(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, causal_bias, additive_mask):
        x = x + self.attn(self.ln_1(x), causal_bias, additive_mask)
        x = x + self.mlp(self.ln_2(x))
        return x


class TinyGPT(nn.Module):
    """GPT-2-style decoder; forward(input_ids, attention_mask) -> logits."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.hidden)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight        # tied
        p = cfg.n_positions
        self.register_buffer(
            "causal_bias",
            torch.tril(torch.ones(p, p, dtype=torch.bool)).view(1, 1, p, p))
        self._init_weights(cfg.seed)

    @torch.no_grad()
    def _init_weights(self, seed):
        # GPT-2's init (normal(0, 0.02)), but biases and LayerNorm parameters
        # are random too, so that an importer that drops or swaps them fails
        # the reference comparison.
        g = torch.Generator().manual_seed(seed)
        for name, prm in self.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") \
                    or name == "ln_f.weight":
                prm.copy_(1.0 + 0.1 * torch.randn(prm.shape, generator=g))
            elif "ln_" in name:
                prm.copy_(0.1 * torch.randn(prm.shape, generator=g))
            else:
                prm.copy_(0.02 * torch.randn(prm.shape, generator=g))

    def forward(self, input_ids, attention_mask):
        b, s = input_ids.size()
        positions = torch.arange(0, s, dtype=torch.long,
                                 device=input_ids.device).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        # HF-style extended attention mask: [b, 1, 1, s], 0 keep, finfo.min pad.
        m = attention_mask[:, None, None, :].to(x.dtype)
        additive_mask = (1.0 - m) * torch.finfo(x.dtype).min
        for blk in self.blocks:
            x = blk(x, self.causal_bias, additive_mask)
        x = self.ln_f(x)
        return self.lm_head(x)


# ---------------------------------------------------------------------------
# BERT-style encoder
# ---------------------------------------------------------------------------


def gelu_erf(x):
    # HF's GELUActivation ("gelu"), the exact GELU BERT uses.
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        assert cfg.hidden % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.hidden // cfg.n_heads
        self.query = nn.Linear(cfg.hidden, cfg.hidden)
        self.key = nn.Linear(cfg.hidden, cfg.hidden)
        self.value = nn.Linear(cfg.hidden, cfg.hidden)

    def _split_heads(self, t):
        b, s, _ = t.size()
        return t.view(b, s, self.n_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        b, s, h = x.size()
        q = self._split_heads(self.query(x))
        k = self._split_heads(self.key(x))
        v = self._split_heads(self.value(x))
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        w = w + additive_mask                       # bidirectional, padding only
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v)                      # [b, heads, s, head_dim]
        o = o.permute(0, 2, 1, 3).contiguous().view(b, s, h)
        return o


class BertLayer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = BertSelfAttention(cfg)
        self.attn_out = nn.Linear(cfg.hidden, cfg.hidden)
        self.attn_ln = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.intermediate = nn.Linear(cfg.hidden, cfg.ffn)
        self.output = nn.Linear(cfg.ffn, cfg.hidden)
        self.out_ln = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)

    def forward(self, x, additive_mask):
        x = self.attn_ln(x + self.attn_out(self.attention(x, additive_mask)))
        x = self.out_ln(x + self.output(gelu_erf(self.intermediate(x))))
        return x


class TinyBert(nn.Module):
    """BERT-style encoder; forward(input_ids, attention_mask) -> last hidden state."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.position_embeddings = nn.Embedding(cfg.n_positions, cfg.hidden)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden)
        self.emb_ln = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.n_layers)])
        self._init_weights(cfg.seed)

    @torch.no_grad()
    def _init_weights(self, seed):
        # BERT's init (normal(0, 0.02)); biases and LayerNorm parameters are
        # random too (see TinyGPT._init_weights).
        g = torch.Generator().manual_seed(seed)
        for name, prm in self.named_parameters():
            if "_ln." in name or name.startswith("emb_ln."):
                if name.endswith(".weight"):
                    prm.copy_(1.0 + 0.1 * torch.randn(prm.shape, generator=g))
                else:
                    prm.copy_(0.1 * torch.randn(prm.shape, generator=g))
            else:
                prm.copy_(0.02 * torch.randn(prm.shape, generator=g))

    def forward(self, input_ids, attention_mask):
        b, s = input_ids.size()
        positions = torch.arange(0, s, dtype=torch.long,
                                 device=input_ids.device).unsqueeze(0)
        # Token type 0 everywhere (HF's default when token_type_ids is None).
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings.weight[0])
        x = self.emb_ln(x)
        # HF extended attention mask: [b, 1, 1, s], 0 keep, finfo.min pad.
        m = attention_mask[:, None, None, :].to(x.dtype)
        additive_mask = (1.0 - m) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, additive_mask)
        return x


def is_bert(config_name: str) -> bool:
    return config_name in BERT_CONFIGS


def output_names(config_name: str):
    return ["last_hidden_state"] if is_bert(config_name) else OUTPUT_NAMES


def build_model(config_name: str):
    cfg = ALL_CONFIGS[config_name]
    torch.manual_seed(cfg.seed)
    model = TinyBert(cfg) if is_bert(config_name) else TinyGPT(cfg)
    model.eval()
    return model


def make_inputs(cfg: GPTConfig, batch: int, seq: int, pad_from=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g,
                              dtype=torch.long)
    attention_mask = torch.ones(batch, seq, dtype=torch.long)
    if pad_from is not None and batch > 1:
        attention_mask[1:, pad_from:] = 0
    return input_ids, attention_mask


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

INPUT_NAMES = ["input_ids", "attention_mask"]
OUTPUT_NAMES = ["logits"]
DYNAMIC_AXES = {
    "input_ids": {0: "batch", 1: "seq"},
    "attention_mask": {0: "batch", 1: "seq"},
    "logits": {0: "batch", 1: "seq"},
}


def export_onnx(model, sample_inputs, path, opset=17, out_names=None):
    out_names = out_names or OUTPUT_NAMES
    axes = dict(DYNAMIC_AXES)
    if out_names != OUTPUT_NAMES:
        del axes["logits"]
        axes[out_names[0]] = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(
            model, sample_inputs, path,
            input_names=INPUT_NAMES, output_names=out_names,
            dynamic_axes=axes, opset_version=opset,
            do_constant_folding=True, export_params=True)


def to_external_data(path, data_name="model.onnx.data", dst=None):
    """Save the model at `path` to `dst` (default: `path` itself) with its
    initializers of 1 KB or more in the file `data_name` beside `dst`."""
    import onnx
    dst = dst or path
    model = onnx.load(path)
    data_path = os.path.join(os.path.dirname(os.path.abspath(dst)), data_name)
    if os.path.exists(data_path):
        os.remove(data_path)         # onnx appends to an existing data file
    onnx.save_model(model, dst, save_as_external_data=True,
                    all_tensors_to_one_file=True, location=data_name,
                    size_threshold=1024)


def write_tensor(path, array, name):
    from onnx import numpy_helper
    t = numpy_helper.from_array(np.ascontiguousarray(array), name=name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def write_test_set(model, out_dir, index, inputs, out_names=None):
    out_names = out_names or OUTPUT_NAMES
    d = os.path.join(out_dir, f"test_data_set_{index}")
    os.makedirs(d, exist_ok=True)
    with torch.no_grad():
        logits = model(*inputs)
    files = []
    for k, (name, t) in enumerate(zip(INPUT_NAMES, inputs)):
        p = os.path.join(d, f"input_{k}.pb")
        write_tensor(p, t.numpy(), name)
        files.append(p)
    p = os.path.join(d, "output_0.pb")
    write_tensor(p, logits.numpy().astype(np.float32), out_names[0])
    files.append(p)
    return files, logits.numpy()


# ---------------------------------------------------------------------------
# Verification: a tiny numpy evaluator for the ops this exporter emits.
# ---------------------------------------------------------------------------

def _attr(node, name, default=None):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def numpy_eval(model_proto, feeds):
    """Evaluate an ONNX graph with numpy; only the ops used here."""
    from onnx import numpy_helper
    env = {i.name: numpy_helper.to_array(i) for i in model_proto.graph.initializer}
    env.update(feeds)
    for node in model_proto.graph.node:
        x = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(_attr(node, "value"))
        elif op == "Identity":
            y = x[0]
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=_attr(node, "axis", 0))
        elif op == "Unsqueeze":
            y = x[0]
            for a in sorted(int(a) % (x[0].ndim + len(x[1])) for a in x[1]):
                y = np.expand_dims(y, a)
        elif op == "Squeeze":
            y = np.squeeze(x[0], axis=tuple(int(a) for a in x[1]))
        elif op == "Concat":
            y = np.concatenate(x, axis=_attr(node, "axis"))
        elif op == "Reshape":
            shape = [d if d != 0 else x[0].shape[i] for i, d in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif op == "Transpose":
            y = np.transpose(x[0], _attr(node, "perm"))
        elif op == "MatMul":
            y = np.matmul(x[0], x[1])
        elif op == "Gemm":
            a = x[0].T if _attr(node, "transA", 0) else x[0]
            b = x[1].T if _attr(node, "transB", 0) else x[1]
            y = _attr(node, "alpha", 1.0) * (a @ b)
            if len(x) > 2 and x[2] is not None:
                y = y + _attr(node, "beta", 1.0) * x[2]
        elif op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal", "And"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide, "Pow": np.power, "Equal": np.equal,
                 "And": np.logical_and}[op]
            y = f(x[0], x[1])
            if op in ("Add", "Sub", "Mul", "Div", "Pow"):
                y = y.astype(x[0].dtype)
        elif op == "Erf":
            y = np.vectorize(math.erf, otypes=[np.float64])(x[0]).astype(x[0].dtype)
        elif op in ("Tanh", "Sqrt", "Neg", "Not"):
            y = {"Tanh": np.tanh, "Sqrt": np.sqrt, "Neg": np.negative,
                 "Not": np.logical_not}[op](x[0])
        elif op == "Cast":
            from onnx import mapping   # onnx 1.12; newer: helper.tensor_dtype_to_np_dtype
            y = x[0].astype(mapping.TENSOR_TYPE_TO_NP_TYPE[_attr(node, "to")])
        elif op == "Where":
            y = np.where(x[0], x[1], x[2])
        elif op == "Softmax":
            ax = _attr(node, "axis", -1)
            e = np.exp(x[0] - x[0].max(axis=ax, keepdims=True))
            y = e / e.sum(axis=ax, keepdims=True)
        elif op == "LayerNormalization":
            ax = _attr(node, "axis", -1)
            eps = _attr(node, "epsilon", 1e-5)
            axes = tuple(range(ax % x[0].ndim, x[0].ndim))
            mu = x[0].mean(axis=axes, keepdims=True)
            var = ((x[0] - mu) ** 2).mean(axis=axes, keepdims=True)
            y = (x[0] - mu) / np.sqrt(var + eps) * x[1]
            if len(x) > 2 and x[2] is not None:
                y = y + x[2]
            y = y.astype(x[0].dtype)
        elif op == "Slice":
            data, starts, ends = x[0], x[1], x[2]
            axes = x[3] if len(x) > 3 and x[3] is not None else range(len(starts))
            steps = x[4] if len(x) > 4 and x[4] is not None else [1] * len(starts)
            sl = [slice(None)] * data.ndim
            for s_, e_, a_, st_ in zip(starts, ends, axes, steps):
                e_ = min(int(e_), np.iinfo(np.int64).max)
                sl[int(a_)] = slice(int(s_), int(e_), int(st_))
            y = data[tuple(sl)]
        elif op == "Range":
            y = np.arange(x[0], x[1], x[2]).astype(x[0].dtype)
        elif op == "ConstantOfShape":
            v = _attr(node, "value")
            val = numpy_helper.to_array(v) if v is not None else np.zeros(1, np.float32)
            y = np.full(tuple(x[0]), val.reshape(-1)[0], dtype=val.dtype)
        elif op == "Expand":
            y = x[0] * np.ones(tuple(x[1]), dtype=x[0].dtype)
        elif op == "Split":
            ax = _attr(node, "axis", 0)
            split = x[1] if len(x) > 1 and x[1] is not None else None
            if split is None:
                y = np.split(x[0], len(node.output), axis=ax)
            else:
                y = np.split(x[0], np.cumsum(split)[:-1], axis=ax)
        else:
            raise NotImplementedError(f"numpy_eval: op {op}")
        outs = y if isinstance(y, list) else [y]
        for n, v in zip(node.output, outs):
            env[n] = np.asarray(v)
    return [env[o.name] for o in model_proto.graph.output]


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=sorted(ALL_CONFIGS), default="tiny")
    ap.add_argument("--out", default=None,
                    help="output folder (default: examples/tiny_gpt for tiny)")
    ap.add_argument("--batch", type=int, default=1, help="test input batch")
    ap.add_argument("--seq", type=int, default=16, help="test input seq length")
    ap.add_argument("--external-data", action="store_true",
                    help="store initializers in model.onnx.data beside model.onnx")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip the onnx checker and the numpy re-evaluation")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--init", choices=["torch", "hash"], default="torch",
                    help="weights from torch's seeded RNG (default) or from "
                         "deterministic_init.py, which every machine and "
                         "torch version regenerates bit for bit (benchmarks)")
    args = ap.parse_args(argv)

    out = args.out
    if out is None:
        if args.config != "tiny":
            ap.error("--out is required for configs other than tiny")
        out = os.path.join(here, "tiny_gpt")
    os.makedirs(out, exist_ok=True)
    log = (lambda *a: None) if args.quiet else print

    # Reproducibility: fixed seeds, one thread for the reference forward pass.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    model = build_model(args.config)
    if args.init == "hash":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import deterministic_init
        deterministic_init.init_module(model)
    cfg = model.cfg
    n_params = sum(p.numel() for p in model.parameters())
    if args.seq > cfg.n_positions:
        ap.error(f"--seq {args.seq} > n_positions {cfg.n_positions}")
    log(f"config {args.config}: {cfg}  ({n_params:,} parameters)")

    # Trace with a batch of 2 so that the exporter cannot specialize batch 1.
    trace_inputs = make_inputs(cfg, 2, min(8, cfg.n_positions), pad_from=5, seed=7)
    model_path = os.path.join(out, "model.onnx")
    data_name = "model.onnx.data"
    data_path = os.path.join(out, data_name)
    out_names = output_names(args.config)
    export_onnx(model, trace_inputs, model_path, out_names=out_names)
    if args.external_data:
        to_external_data(model_path, data_name)
    elif os.path.exists(data_path):
        os.remove(data_path)

    written = [model_path] + ([data_path] if args.external_data else [])
    sets = [make_inputs(cfg, args.batch, args.seq, seed=1)]
    if args.config in ("tiny", "bert-tiny"):
        sets.append(make_inputs(cfg, 2, args.seq, pad_from=(3 * args.seq) // 4,
                                seed=2))
    refs = []
    for i, inputs in enumerate(sets):
        files, logits = write_test_set(model, out, i, inputs, out_names)
        written += files
        refs.append((inputs, logits))

    import onnx
    proto = onnx.load(model_path, load_external_data=False)
    ops = {}
    for n in proto.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    n_init = len(proto.graph.initializer)

    if not args.no_verify:
        onnx.checker.check_model(model_path if args.external_data else proto)
        log("onnx.checker.check_model: ok")
        if args.config in ("tiny", "bert-tiny"):
            full = onnx.load(model_path)
            for i, (inputs, ref) in enumerate(refs):
                feeds = {n: t.numpy() for n, t in zip(INPUT_NAMES, inputs)}
                # finfo.min + finfo.min overflows to -inf in the mask, as in torch.
                with np.errstate(over="ignore"):
                    got = numpy_eval(full, feeds)[0]
                err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
                log(f"numpy evaluation of model.onnx vs torch, test_data_set_{i} "
                    f"{list(ref.shape)}: rel L2 error {err:.2e}, "
                    f"max abs {np.abs(got - ref).max():.2e}")
                if not err < 1e-5:
                    print("error: exported graph disagrees with torch", file=sys.stderr)
                    return 1

    log(f"graph: {len(proto.graph.node)} nodes, {n_init} initializers, "
        f"opset {proto.opset_import[0].version}, IR {proto.ir_version}, "
        f"producer {proto.producer_name} {proto.producer_version}")
    log("op types: " + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))
    log("wrote:")
    for p in written:
        log(f"  {os.path.relpath(p)}  {os.path.getsize(p):>12,} bytes  sha256 {sha256(p)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
