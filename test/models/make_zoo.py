#!/usr/bin/env python3
"""Export small random-weight transformers of many families to ONNX.

The six models in ../shared/models cover GPT-2, BERT and LLaMA. Issue 5 asks
that any transformer the importer handles compiles and passes, so this script
builds more families from Hugging Face `transformers` model classes (config
only: no download), with the real model code and random weights, and exports
each the two ways real users do:

  NAME_torchscript   torch.onnx.export(dynamo=False), opset 17, dynamic axes
  NAME_dynamo        torch.onnx.export(dynamo=True), opset 18, static shapes

in the ONNX backend-test layout (model.onnx, test_data_set_0/input_N.pb,
output_0.pb computed by torch in float32; causal LMs also get test_data_set_1,
left-padded, whose first query rows see no key). onnxruntime, where installed,
checks every export against torch's output; an export it does not reproduce
is reported and left out.

Sizes follow ../shared/models: hidden 64, 2 layers, 4 heads of 16, FFN 128,
vocab 512, batch 2 x 16 tokens with the second row padded from position 12.
Norm scales and all biases are random (an importer that drops one fails).

Needs torch, transformers, onnx (and onnxscript for the dynamo exports);
the GPU machine's python3 has them (not this machine's):

  python3 test/models/make_zoo.py --out OUTDIR [--only vit,t5,...]
"""

import argparse
import os
import sys
import time
import traceback

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

BATCH, SEQ, PAD_FROM = 2, 16, 12
COMMON = dict(vocab_size=512)


def text_inputs(gen, vocab=512, low=2):
    ids = torch.randint(low, vocab, (BATCH, SEQ), generator=gen)
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    mask[1, PAD_FROM:] = 0
    return ids, mask


def build(name):
    """(model, input names, example inputs, output field, dynamic axes)."""
    import transformers as tf
    gen = torch.Generator().manual_seed(1234)
    lm = dict(vocab_size=512, hidden_size=64, num_hidden_layers=2,
              num_attention_heads=4, intermediate_size=128,
              max_position_embeddings=64, use_cache=False)
    text_axes = {"input_ids": {0: "batch", 1: "seq"},
                 "attention_mask": {0: "batch", 1: "seq"}}
    if name == "vit":
        cfg = tf.ViTConfig(image_size=32, patch_size=8, num_channels=3,
                           hidden_size=64, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=128)
        model = tf.ViTModel(cfg, add_pooling_layer=False)
        pixels = torch.randn(BATCH, 3, 32, 32, generator=gen)
        return (model, ["pixel_values"], (pixels,), "last_hidden_state",
                {"pixel_values": {0: "batch"}, "out": {0: "batch"}})
    if name == "t5":
        cfg = tf.T5Config(vocab_size=512, d_model=64, d_kv=16, d_ff=128,
                          num_layers=2, num_decoder_layers=2, num_heads=4,
                          relative_attention_num_buckets=32,
                          relative_attention_max_distance=64,
                          feed_forward_proj="gated-gelu", use_cache=False,
                          decoder_start_token_id=0, pad_token_id=0)
        model = tf.T5Model(cfg)
        ids, mask = text_inputs(gen)
        dec = torch.randint(2, 512, (BATCH, 8), generator=gen)
        axes = dict(text_axes)
        axes["decoder_input_ids"] = {0: "batch", 1: "dec_seq"}
        axes["out"] = {0: "batch", 1: "dec_seq"}
        return (model, ["input_ids", "attention_mask", "decoder_input_ids"],
                (ids, mask, dec), "last_hidden_state", axes)
    ids, mask = text_inputs(gen)
    names = ["input_ids", "attention_mask"]
    axes = dict(text_axes)
    axes["out"] = {0: "batch", 1: "seq"}
    if name == "distilbert":
        cfg = tf.DistilBertConfig(vocab_size=512, dim=64, n_layers=2,
                                  n_heads=4, hidden_dim=128,
                                  max_position_embeddings=64)
        return tf.DistilBertModel(cfg), names, (ids, mask), \
            "last_hidden_state", axes
    if name == "roberta":
        cfg = tf.RobertaConfig(vocab_size=512, hidden_size=64,
                               num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=128,
                               max_position_embeddings=66, pad_token_id=1)
        return tf.RobertaModel(cfg, add_pooling_layer=False), names, \
            (ids, mask), "last_hidden_state", axes
    if name == "gpt_neox":
        cfg = tf.GPTNeoXConfig(rotary_pct=0.25, **lm)
        return tf.GPTNeoXForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "qwen2":
        cfg = tf.Qwen2Config(num_key_value_heads=2, **lm)
        return tf.Qwen2ForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "mistral":
        cfg = tf.MistralConfig(num_key_value_heads=2, **lm)
        return tf.MistralForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "phi":
        cfg = tf.PhiConfig(partial_rotary_factor=0.5, **lm)
        return tf.PhiForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "albert":
        cfg = tf.AlbertConfig(vocab_size=512, embedding_size=32,
                              hidden_size=64, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=128,
                              max_position_embeddings=64)
        return tf.AlbertModel(cfg, add_pooling_layer=False), names, \
            (ids, mask), "last_hidden_state", axes
    if name == "opt":
        cfg = tf.OPTConfig(vocab_size=512, hidden_size=64,
                           num_hidden_layers=2, ffn_dim=128,
                           num_attention_heads=4, max_position_embeddings=64,
                           word_embed_proj_dim=64, use_cache=False)
        return tf.OPTForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "bloom":
        cfg = tf.BloomConfig(vocab_size=512, hidden_size=64, n_layer=2,
                             n_head=4, use_cache=False)
        return tf.BloomForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "falcon":
        cfg = tf.FalconConfig(vocab_size=512, hidden_size=64,
                              num_hidden_layers=2, num_attention_heads=4,
                              new_decoder_architecture=False,
                              multi_query=True, parallel_attn=True,
                              alibi=False, max_position_embeddings=64,
                              use_cache=False)
        return tf.FalconForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "gemma":
        cfg = tf.GemmaConfig(num_key_value_heads=1, head_dim=16, **lm)
        return tf.GemmaForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "gptj":
        cfg = tf.GPTJConfig(vocab_size=512, n_embd=64, n_layer=2, n_head=4,
                            rotary_dim=8, n_positions=64, use_cache=False)
        return tf.GPTJForCausalLM(cfg), names, (ids, mask), "logits", axes
    if name == "gpt_bigcode":
        cfg = tf.GPTBigCodeConfig(vocab_size=512, n_embd=64, n_layer=2,
                                  n_head=4, n_positions=64, multi_query=True,
                                  use_cache=False)
        return tf.GPTBigCodeForCausalLM(cfg), names, (ids, mask), "logits", \
            axes
    if name == "bart":
        cfg = tf.BartConfig(vocab_size=512, d_model=64, encoder_layers=2,
                            decoder_layers=2, encoder_attention_heads=4,
                            decoder_attention_heads=4, encoder_ffn_dim=128,
                            decoder_ffn_dim=128, max_position_embeddings=64,
                            use_cache=False)
        dec = torch.randint(2, 512, (BATCH, 8), generator=gen)
        axes["decoder_input_ids"] = {0: "batch", 1: "dec_seq"}
        axes["out"] = {0: "batch", 1: "dec_seq"}
        return (tf.BartModel(cfg), names + ["decoder_input_ids"],
                (ids, mask, dec), "last_hidden_state", axes)
    if name == "whisper":
        cfg = tf.WhisperConfig(vocab_size=512, d_model=64, encoder_layers=2,
                               decoder_layers=2, encoder_attention_heads=4,
                               decoder_attention_heads=4, encoder_ffn_dim=128,
                               decoder_ffn_dim=128, num_mel_bins=16,
                               max_source_positions=16,
                               max_target_positions=64, use_cache=False,
                               pad_token_id=1, bos_token_id=2,
                               eos_token_id=2, decoder_start_token_id=3)
        features = torch.randn(BATCH, 16, 32, generator=gen)
        dec = torch.randint(2, 512, (BATCH, 8), generator=gen)
        return (tf.WhisperModel(cfg), ["input_features", "decoder_input_ids"],
                (features, dec), "last_hidden_state",
                {"input_features": {0: "batch"},
                 "decoder_input_ids": {0: "batch", 1: "dec_seq"},
                 "out": {0: "batch", 1: "dec_seq"}})
    built = build_more(name, gen, lm, names, (ids, mask), axes)
    if built is None:
        raise SystemExit(f"unknown model {name}")
    return built


def image_case(model, gen, size=32):
    pixels = torch.randn(BATCH, 3, size, size, generator=gen)
    return (model, ["pixel_values"], (pixels,), "last_hidden_state",
            {"pixel_values": {0: "batch"}, "out": {0: "batch"}})


def seq2seq_case(model, gen, names, inputs, axes):
    dec = torch.randint(2, 512, (BATCH, 8), generator=gen)
    axes = dict(axes)
    axes["decoder_input_ids"] = {0: "batch", 1: "dec_seq"}
    axes["out"] = {0: "batch", 1: "dec_seq"}
    return (model, names + ["decoder_input_ids"], inputs + (dec,),
            "last_hidden_state", axes)


class DecodeStep(nn.Module):
    """A causal LM continuing from a key/value cache given as tensors
    (past_K_key, past_K_value per layer), as generation runs it after the
    prompt: NEW tokens at positions PAST.. with a mask over all of them."""

    def __init__(self, model, layers):
        super().__init__()
        self.model, self.layers = model, layers

    def forward(self, input_ids, attention_mask, **past):
        from transformers import DynamicCache
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[f"past_{i}_key"], past[f"past_{i}_value"], i)
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          past_key_values=cache, use_cache=True)


DECODE_PAST, DECODE_NEW = 12, 4


def decode_case(family, causal, gen):
    model = causal[family]()
    cfg = model.config
    kv = getattr(cfg, "num_key_value_heads", None) or \
        cfg.num_attention_heads
    dim = getattr(cfg, "head_dim", None) or \
        cfg.hidden_size // cfg.num_attention_heads
    layers = cfg.num_hidden_layers
    ids = torch.randint(2, 512, (BATCH, DECODE_NEW), generator=gen)
    # The second row's prompt was left-padded by 3 tokens.
    mask = torch.ones(BATCH, DECODE_PAST + DECODE_NEW, dtype=torch.int64)
    mask[1, :3] = 0
    names, inputs = ["input_ids", "attention_mask"], [ids, mask]
    for i in range(layers):
        for part in ("key", "value"):
            names.append(f"past_{i}_{part}")
            inputs.append(torch.randn(BATCH, kv, DECODE_PAST, dim,
                                      generator=gen))
    return DecodeStep(model, layers), names, tuple(inputs), "logits", {}


def build_more(name, gen, lm, names, inputs, axes):
    """The families added in session 11 (None: unknown)."""
    import transformers as tf
    text = dict(vocab_size=512, hidden_size=64, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=128,
                max_position_embeddings=64)
    s2s = dict(vocab_size=512, d_model=64, encoder_layers=2,
               decoder_layers=2, encoder_attention_heads=4,
               decoder_attention_heads=4, encoder_ffn_dim=128,
               decoder_ffn_dim=128, max_position_embeddings=64,
               pad_token_id=1, decoder_start_token_id=2, use_cache=False)
    causal = {
        "phi3": lambda: tf.Phi3ForCausalLM(tf.Phi3Config(
            num_key_value_heads=2, pad_token_id=0, bos_token_id=1,
            eos_token_id=2, **lm)),
        "gemma2": lambda: tf.Gemma2ForCausalLM(tf.Gemma2Config(
            num_key_value_heads=2, head_dim=16, sliding_window=8,
            attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
            query_pre_attn_scalar=16, **lm)),
        "qwen3": lambda: tf.Qwen3ForCausalLM(tf.Qwen3Config(
            num_key_value_heads=2, head_dim=16, **lm)),
        "stablelm": lambda: tf.StableLmForCausalLM(tf.StableLmConfig(
            num_key_value_heads=4, partial_rotary_factor=0.25,
            qk_layernorm=True, use_qkv_bias=True, **lm)),
        "starcoder2": lambda: tf.Starcoder2ForCausalLM(tf.Starcoder2Config(
            num_key_value_heads=2, **lm)),
        "olmo": lambda: tf.OlmoForCausalLM(tf.OlmoConfig(
            clip_qkv=8.0, pad_token_id=1, bos_token_id=None, eos_token_id=2,
            **lm)),
        "granite": lambda: tf.GraniteForCausalLM(tf.GraniteConfig(
            num_key_value_heads=2, embedding_multiplier=12.0,
            attention_multiplier=0.1, residual_multiplier=0.22,
            logits_scaling=8.0, **lm)),
        "codegen": lambda: tf.CodeGenForCausalLM(tf.CodeGenConfig(
            vocab_size=512, n_embd=64, n_layer=2, n_head=4, rotary_dim=8,
            n_positions=64, n_ctx=64, use_cache=False)),
        "mpt": lambda: tf.MptForCausalLM(tf.MptConfig(
            d_model=64, n_heads=4, n_layers=2, expansion_ratio=2,
            max_seq_len=64, vocab_size=512, use_cache=False)),
    }
    if name in causal:
        return causal[name](), names, inputs, "logits", axes
    if name.endswith("_decode"):
        return decode_case(name[:-len("_decode")], causal, gen)
    if name == "deberta_v2":
        cfg = tf.DebertaV2Config(relative_attention=True, position_buckets=32,
                                 pos_att_type=["p2c", "c2p"],
                                 max_relative_positions=-1,
                                 norm_rel_ebd="layer_norm", share_att_key=True,
                                 position_biased_input=False,
                                 type_vocab_size=0, **text)
        return tf.DebertaV2Model(cfg), names, inputs, "last_hidden_state", axes
    if name == "electra":
        cfg = tf.ElectraConfig(embedding_size=32, **text)
        return tf.ElectraModel(cfg), names, inputs, "last_hidden_state", axes
    if name == "mobilebert":
        cfg = tf.MobileBertConfig(embedding_size=32, intra_bottleneck_size=32,
                                  true_hidden_size=32,
                                  num_feedforward_networks=2,
                                  normalization_type="no_norm",
                                  trigram_input=True, use_bottleneck=True,
                                  **dict(text, intermediate_size=64))
        return (tf.MobileBertModel(cfg, add_pooling_layer=False), names,
                inputs, "last_hidden_state", axes)
    if name == "clip_text":
        cfg = tf.CLIPTextConfig(hidden_act="quick_gelu", eos_token_id=2,
                                **text)
        return tf.CLIPTextModel(cfg), names, inputs, "last_hidden_state", axes
    if name == "clip_vision":
        cfg = tf.CLIPVisionConfig(hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4,
                                  image_size=32, patch_size=8, num_channels=3)
        return image_case(tf.CLIPVisionModel(cfg), gen)
    if name == "swin":
        cfg = tf.SwinConfig(image_size=32, patch_size=2, num_channels=3,
                            embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                            window_size=4, mlp_ratio=2.0)
        return image_case(tf.SwinModel(cfg, add_pooling_layer=False), gen)
    if name == "convnext":
        cfg = tf.ConvNextConfig(num_channels=3, patch_size=4,
                                num_stages=2, hidden_sizes=[16, 32],
                                depths=[1, 1],
                                image_size=32)
        return image_case(tf.ConvNextModel(cfg), gen)
    if name in ("wav2vec2", "hubert"):
        # 640 samples -> 31 frames; group norm; a 128-tap positional conv.
        config, model = ((tf.Wav2Vec2Config, tf.Wav2Vec2Model)
                         if name == "wav2vec2" else
                         (tf.HubertConfig, tf.HubertModel))
        cfg = config(vocab_size=32, hidden_size=64, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=128,
                     conv_dim=(16, 16, 16), conv_stride=(5, 2, 2),
                     conv_kernel=(10, 3, 3), num_conv_pos_embeddings=128,
                     num_conv_pos_embedding_groups=16,
                     feat_extract_norm="group")
        audio = torch.randn(BATCH, 640, generator=gen)
        return (model(cfg), ["input_values"], (audio,), "last_hidden_state",
                {"input_values": {0: "batch", 1: "samples"},
                 "out": {0: "batch", 1: "frames"}})
    vit = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=128, patch_size=8)
    if name == "dinov2":
        # 48 x 48 pixels against positions made for 32 x 32: the position
        # embeddings are resized bicubically (a cubic Resize).
        cfg = tf.Dinov2Config(image_size=32, **vit)
        return image_case(tf.Dinov2Model(cfg), gen, size=48)
    if name == "yolos":
        cfg = tf.YolosConfig(image_size=[32, 32], num_detection_tokens=4,
                             **vit)
        return image_case(tf.YolosModel(cfg, add_pooling_layer=False), gen,
                          size=48)
    if name == "beit":
        cfg = tf.BeitConfig(image_size=32, use_relative_position_bias=True,
                            **vit)
        return image_case(tf.BeitModel(cfg, add_pooling_layer=False), gen)
    if name == "segformer":
        cfg = tf.SegformerConfig(num_channels=3, num_encoder_blocks=2,
                                 depths=[1, 1], sr_ratios=[2, 1],
                                 hidden_sizes=[16, 32], patch_sizes=[7, 3],
                                 strides=[4, 2], num_attention_heads=[1, 2],
                                 mlp_ratios=[2, 2], decoder_hidden_size=32,
                                 num_labels=4)
        model, names_, inputs_, _, axes_ = image_case(
            tf.SegformerForSemanticSegmentation(cfg), gen)
        return model, names_, inputs_, "logits", axes_
    if name == "detr":
        backbone = tf.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32],
                                   depths=[1, 1], layer_type="basic",
                                   out_features=["stage2"])
        cfg = tf.DetrConfig(use_timm_backbone=False,
                            use_pretrained_backbone=False,
                            backbone_config=backbone, d_model=32,
                            encoder_layers=1, decoder_layers=1,
                            encoder_attention_heads=2,
                            decoder_attention_heads=2, encoder_ffn_dim=64,
                            decoder_ffn_dim=64, num_queries=8)
        return image_case(tf.DetrModel(cfg), gen, size=64)
    if name == "marian":
        return seq2seq_case(tf.MarianModel(tf.MarianConfig(**s2s)), gen,
                            names, inputs, axes)
    if name == "mbart":
        return seq2seq_case(tf.MBartModel(tf.MBartConfig(**s2s)), gen, names,
                            inputs, axes)
    return None


MODELS = ["vit", "t5", "distilbert", "roberta", "gpt_neox", "qwen2",
          "mistral", "phi", "albert", "opt", "bloom", "falcon", "gemma",
          "gptj", "gpt_bigcode", "bart", "whisper",
          # session 11
          "deberta_v2", "electra", "mobilebert", "clip_text", "clip_vision",
          "swin", "convnext", "wav2vec2", "marian", "mbart", "phi3", "gemma2",
          "qwen3", "stablelm", "starcoder2", "olmo", "granite", "codegen",
          "mpt", "qwen3_decode", "starcoder2_decode",
          "dinov2", "yolos", "beit", "segformer", "detr", "hubert"]


def randomize(model, seed):
    """Random norm scales/shifts and biases (HF initializes them to 1 / 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() != 1:
                continue
            noise = torch.randn(p.shape, generator=gen)
            low = pname.lower()
            is_scale = pname.endswith("weight") and (
                "norm" in low or "ln" in low)
            p.copy_(1.0 + 0.1 * noise if is_scale else 0.05 * noise)


class Wrapped(nn.Module):
    """Keyword inputs in, one tensor out (no cache, no tuple)."""

    def __init__(self, model, names, field):
        super().__init__()
        self.model, self.names, self.field = model, names, field

    def forward(self, *args):
        out = self.model(**dict(zip(self.names, args)))
        return getattr(out, self.field)


def write_case(dst, model_path, data_sets):
    """model.onnx and test_data_set_N/ for each (inputs, output)."""
    os.makedirs(dst, exist_ok=True)
    os.replace(model_path, os.path.join(dst, "model.onnx"))
    m = onnx.load(os.path.join(dst, "model.onnx"))
    graph_inputs = [i.name for i in m.graph.input]
    for n, (inputs, output) in enumerate(data_sets):
        folder = os.path.join(dst, f"test_data_set_{n}")
        os.makedirs(folder, exist_ok=True)
        for i, (tensor, gname) in enumerate(zip(inputs, graph_inputs)):
            t = numpy_helper.from_array(tensor.numpy(), gname)
            with open(os.path.join(folder, f"input_{i}.pb"), "wb") as f:
                f.write(t.SerializeToString())
        t = numpy_helper.from_array(output, m.graph.output[0].name)
        with open(os.path.join(folder, "output_0.pb"), "wb") as f:
            f.write(t.SerializeToString())
    return m


def left_padded(inputs):
    """Causal LMs batched for generation pad on the left: the second row's
    first 4 tokens are masked, so its first query rows see no key at all
    (torch's SDPA gives zeros there; the export guards the NaN)."""
    ids, mask = inputs
    mask = torch.ones_like(mask)
    mask[1, :4] = 0
    return (ids, mask)


def ort_check(path, inputs, ref):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs)}
    got = sess.run(None, feed)[0]
    return float(np.abs(got - ref).max())


def export(name, exporter, out_dir):
    torch.manual_seed(0)  # HF's weight init draws from the global generator
    model, names, inputs, field, axes = build(name)
    randomize(model, seed=7)
    model.eval()
    wrapped = Wrapped(model, names, field).eval()
    sets = [inputs]
    if field == "logits" and len(inputs) == 2:
        sets.append(left_padded(inputs))
    with torch.no_grad():
        refs = [wrapped(*x).float().numpy() for x in sets]
    ref = refs[0]
    tmp = os.path.join(out_dir, f".{name}_{exporter}.onnx")
    t0 = time.time()
    if exporter == "torchscript":
        torch.onnx.export(wrapped, inputs, tmp, dynamo=False,
                          opset_version=17, input_names=names,
                          output_names=["out"], dynamic_axes=axes or None)
    else:
        torch.onnx.export(wrapped, inputs, tmp, dynamo=True,
                          opset_version=18, input_names=names,
                          output_names=["out"], external_data=False)
    secs = time.time() - t0
    errs = [ort_check(tmp, x, r) for x, r in zip(sets, refs)]
    bad = [e is not None and not e <= 1e-4 * max(1.0, float(np.abs(r).max()))
           for e, r in zip(errs, refs)]
    if bad[0]:
        raise RuntimeError(f"onnxruntime differs from torch: max abs {errs[0]}")
    # torch.export traces HF's mask code for the example input only: the
    # dynamo exports of the causal LMs give other answers than torch for a
    # left-padded batch (onnxruntime: 0.14-0.35 max abs). Such a set is the
    # exporter's limit, not a test of the compiler: it is left out.
    for i in reversed(range(1, len(sets))):
        if bad[i]:
            print(f"{name}_{exporter}: test_data_set_{i} left out: "
                  f"onnxruntime differs from torch by {errs[i]:.3g}")
            del sets[i], refs[i], errs[i]
    err = max(errs) if None not in errs else None
    dst = os.path.join(out_dir, f"{name}_{exporter}")
    m = write_case(dst, tmp, list(zip(sets, refs)))
    ops = sorted({n.op_type for n in m.graph.node})
    return (f"{name}_{exporter}: {len(sets)} data sets, "
            f"opset {m.opset_import[0].version}, "
            f"{len(m.graph.node)} nodes, export {secs:.1f} s, ort max abs "
            f"{err}, out {list(ref.shape)}; ops: {' '.join(ops)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=",".join(MODELS))
    ap.add_argument("--exporters", default="torchscript,dynamo")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    failed = 0
    for name in args.only.split(","):
        for exporter in args.exporters.split(","):
            try:
                print(export(name, exporter, args.out), flush=True)
            except Exception as e:  # report and go on with the others
                failed += 1
                print(f"{name}_{exporter}: FAILED: {type(e).__name__}: "
                      f"{str(e)[:400]}", flush=True)
                traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
