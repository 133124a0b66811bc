"""Timing torch calls the way the GPU probes time Gaon's kernels.

Shared by bench/cuda_gemm_probe.py and bench/cuda_attention_probe.py (run on
the GPU machine): the median of CUDA-event times around single calls, and
the median per call of back-to-back calls captured in one CUDA graph.
"""


def median(values):
    return sorted(values)[len(values) // 2]


def single_us(call, runs, before=None, skip_first=False):
    """Median microseconds of `call(r)` between two CUDA events over `runs`
    runs; `before(r)` runs first, untimed (e.g. an L2 flush)."""
    import torch
    times = []
    for r in range(runs):
        if before:
            before(r)
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        call(r)
        e1.record()
        e1.synchronize()
        if r or not skip_first:
            times.append(e0.elapsed_time(e1) * 1e3)
    return median(times)


def graph_us(call, count, replays=11):
    """Median microseconds per call of `call(0) ... call(count - 1)` captured
    in one CUDA graph (warmed up on a side stream), over `replays` replays
    after a first untimed one."""
    import torch
    g = torch.cuda.CUDAGraph()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        call(0)
    torch.cuda.current_stream().wait_stream(side)
    with torch.cuda.graph(g):
        for i in range(count):
            call(i)
    g.replay()
    per = []
    for _ in range(replays):
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        g.replay()
        e1.record()
        e1.synchronize()
        per.append(e0.elapsed_time(e1) * 1e3 / count)
    del g
    return median(per)
