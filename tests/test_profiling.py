"""Tests for easytune.profiling: saved-bytes accounting on hand-built graphs, RSS/CUDA fields, time to reward levels."""
import gc
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from hypothesis import given, settings, strategies as st

from easytune import profiling as P

torch.set_num_threads(1)
fast = settings(max_examples=25, deadline=None)


def matmul_chain(K, n, d, per_step, seed=0):
    """K products h <- h @ W_k (parameters W_k): the chain saves h_0..h_{K-1} and nothing else."""
    g = torch.Generator().manual_seed(seed)
    Ws = [nn.Parameter(torch.randn(d, d, generator=g)) for _ in range(K)]

    def update():
        h = torch.randn(n, d, generator=g)
        for W in Ws:
            if per_step:
                h = h.detach()
            h = h @ W
            if per_step:
                h.sum().backward()          # sum saves nothing
        if not per_step:
            h.sum().backward()
        return Ws
    return update


@fast
@given(K=st.integers(1, 8), n=st.integers(1, 6), d=st.integers(1, 12))
def test_matmul_chain_saves_K_inputs(K, n, d):
    r = P.measure_update(matmul_chain(K, n, d, per_step=False))
    assert r['saved_bytes'] == K * n * d * 4
    r = P.measure_update(matmul_chain(K, n, d, per_step=True))
    assert r['saved_bytes'] == n * d * 4          # one step alive at a time


@fast
@given(K=st.integers(1, 6), d=st.integers(2, 10))
def test_float64_and_shared_storage(K, d):
    x = torch.randn(3, d, dtype=torch.float64, requires_grad=True)

    def fn():
        y = x
        for _ in range(K):
            y = y * x                     # saves y and x; x is the same storage every time
        y.sum().backward()
    r = P.measure_update(fn)
    # storages: x, and the K-1 intermediate products y_1..y_{K-1} (y_K is not saved by sum)
    assert r['saved_bytes'] == K * 3 * d * 8
    assert P.measure_update(fn, exclude=[x])['saved_bytes'] == (K - 1) * 3 * d * 8


def test_views_count_whole_storage_and_parameters_are_free():
    big = torch.randn(100, 10, requires_grad=True)
    lin = nn.Linear(10, 10)

    def fn():
        lin(big[:2].exp()).sum().backward()       # exp saves its [2, 10] output; linear saves that input
    r = P.measure_update(fn)
    assert r['saved_bytes'] == 2 * 10 * 4          # the weight (a parameter) is not counted

    def fn2():
        (big[:2] * lin.weight[:2]).sum().backward()  # saves a view of big (whole storage) and a view of a parameter
    assert P.measure_update(fn2)['saved_bytes'] == 100 * 10 * 4


def test_graph_dropped_without_backward_is_released():
    x = torch.randn(5, 5, requires_grad=True)
    tr = P.SavedTensorTracker()
    with tr:
        y = (x * 2).exp()
        assert tr.live == 5 * 5 * 4
        del y
        gc.collect()
        assert tr.live == 0
        z = x.exp().exp()                          # two saved outputs
        assert tr.live == 2 * 5 * 5 * 4
    assert tr.peak == 2 * 5 * 5 * 4


def test_retain_graph_keeps_peak_and_second_backward_works():
    x = torch.randn(4, 4, requires_grad=True)

    def fn():
        y = x.exp()
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        return x.grad.clone()
    r = P.measure_update(fn)
    assert r['saved_bytes'] == 4 * 4 * 4
    torch.testing.assert_close(r['result'], 2 * x.detach().exp())


def test_trace_and_fields():
    r = P.measure_update(matmul_chain(3, 2, 4, per_step=False), trace=True)
    live = [b for _, b in r['saved_trace']]
    assert max(live) == r['saved_bytes'] and live[-1] == 0
    assert set(P.MEASURES) <= set(r)
    assert r['cuda_peak_delta'] is None and r['seconds'] > 0
    if r['rss_peak_delta'] is not None:
        assert r['rss_peak_delta'] >= 0
        big = P.measure_update(lambda: torch.ones(12_500_000).sum())   # 50 MB transient
        assert big['rss_peak_delta'] >= 45e6


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only error')
def test_cuda_request_without_cuda_fails():
    with pytest.raises(ValueError, match='CUDA'):
        P.measure_update(lambda: None, device='cuda')


def test_extra_memory_subtracts_sampling():
    upd = matmul_chain(4, 3, 5, per_step=False)

    def sample():
        with torch.no_grad():
            return torch.randn(3, 5) @ torch.randn(5, 5)
    e = P.extra_memory(upd, sample)
    assert e['sample']['saved_bytes'] == 0 and e['saved_bytes'] == 4 * 3 * 5 * 4
    assert e['seconds'] == pytest.approx(e['update']['seconds'] - e['sample']['seconds'])


def test_memory_sweep_shapes():
    df = P.memory_sweep(lambda m, s: matmul_chain(s, 2, 3, per_step=(m == 'step')), ['chain', 'step'], [1, 2, 5])
    assert list(df.columns[:2]) == ['method', 'steps'] and len(df) == 6
    chain = df[df.method == 'chain'].set_index('steps').saved_bytes
    assert chain.to_dict() == {1: 24, 2: 48, 5: 120}
    assert (df[df.method == 'step'].saved_bytes == 24).all()


@fast
@given(rewards=st.lists(st.floats(0, 1), min_size=1, max_size=30), level=st.floats(0, 1),
       dt=st.floats(0.01, 10))
def test_time_to_levels_matches_brute_force(rewards, level, dt):
    h = pd.DataFrame({'seconds': np.arange(1, len(rewards) + 1) * dt, 'reward': rewards})
    got = P.time_to_levels(h, [level])[level]
    first = next((i for i, r in enumerate(rewards) if r >= level), None)
    if first is None:
        assert math.isnan(got)
    else:
        assert got == pytest.approx((first + 1) * dt)
    per_row = P.time_to_levels(h.assign(seconds=dt), [level], cumulative=False)[level]
    assert (math.isnan(got) and math.isnan(per_row)) or per_row == pytest.approx(got)


def test_speedup_table():
    h = pd.DataFrame({'seconds': [10., 20., 30.], 'reward': [0.6, 0.75, 0.86]})
    tab = P.speedup_table({'easytune': h, 'draft-50': h.assign(seconds=h.seconds * 4, reward=[0.6, 0.7, 0.76])},
                          [0.7, 0.75, 0.85], reference='draft-50')
    assert tab.loc['easytune', 't@0.75'] == 20 and tab.loc['draft-50', 't@0.75'] == 120
    assert tab.loc['easytune', 'speedup@0.75'] == 6 and tab.loc['easytune', 'speedup@0.7'] == 4
    assert math.isnan(tab.loc['easytune', 'speedup@0.85'])


def test_format_bytes():
    assert P.format_bytes(0) == '0 B'
    assert P.format_bytes(1023) == '1023 B'
    assert P.format_bytes(1024 ** 2 * 22.1) == '22.10 MiB'
    assert P.format_bytes(float('nan')) == 'n/a'


def test_measurement_does_not_change_gradients():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.LayerNorm(8))
    x = torch.randn(5, 6)

    def grads():
        net.zero_grad()
        net(x).pow(2).sum().backward()
        return [p.grad.clone() for p in net.parameters()]
    ref = grads()
    got = P.measure_update(grads)['result']
    for a, b in zip(ref, got):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
