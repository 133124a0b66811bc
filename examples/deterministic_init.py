"""Weights that any machine regenerates bit for bit, from parameter names.

torch.randn with a seed is not guaranteed to give the same numbers across
torch versions, so benchmarks that compare Gaon (compiled here) with torch
(run on the GPU machine, another torch) initialize both from this counter-
based generator instead: splitmix64 over (sha256(name) + index), mapped to
uniform [-1, 1) and scaled to the standard deviations of BERT/GPT-2 init.
Only NumPy integer arithmetic: identical on every platform and version.
"""
import hashlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SQRT3 = 3.0 ** 0.5


def uniform(name, count):
    """`count` float32 values in [-1, 1) determined by `name`."""
    seed = np.uint64(int.from_bytes(
        hashlib.sha256(name.encode()).digest()[:8], "little"))
    with np.errstate(over="ignore"):
        z = (np.arange(count, dtype=np.uint64) + seed) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    # 24 random bits: exactly representable in float32.
    return ((z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23)
            - np.float32(1.0))


def parameter_values(name, shape, is_norm_weight, is_norm_bias):
    """The value of parameter `name`: N(0, 0.02)-like for weights and
    biases, 1 + N(0, 0.1)-like for norm scales, N(0, 0.1)-like for norm
    shifts (random, so an importer that drops them fails comparisons)."""
    count = int(np.prod(shape)) if len(shape) else 1
    u = uniform(name, count).reshape(shape)
    if is_norm_weight:
        return (np.float32(1.0) + np.float32(0.1 * _SQRT3) * u).astype(
            np.float32)
    if is_norm_bias:
        return (np.float32(0.1 * _SQRT3) * u).astype(np.float32)
    return (np.float32(0.02 * _SQRT3) * u).astype(np.float32)


def init_module(module):
    """Sets every parameter of a torch module from `parameter_values`."""
    import torch
    norms = {name for name, m in module.named_modules()
             if isinstance(m, torch.nn.LayerNorm)}
    with torch.no_grad():
        for name, prm in module.named_parameters():
            owner, _, leaf = name.rpartition(".")
            is_norm = owner in norms
            values = parameter_values(name, tuple(prm.shape),
                                      is_norm and leaf == "weight",
                                      is_norm and leaf == "bias")
            prm.copy_(torch.from_numpy(values))
