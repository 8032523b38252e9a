"Tests of easytune.spl: the rules of spl_loss, against a second, loop-based reading of its definition."
import math
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from easytune.spl import spl_loss

torch.set_num_threads(1)

def spl_reference(sim, tau, top_k, thr):
    "A second, loop-based reading of the issue's definition (numpy, float64)."
    s = np.asarray(sim, np.float64); B = len(s); total = 0.0
    for i in range(B):
        correct = (s[i] > s[i, i]).sum() < top_k or (s[i] > thr).any()   # ties count for the ground truth
        j = int(np.argmax(s[i]))
        logits = np.array([s[i, j], s[i, i]]) / tau
        logp = logits - np.logaddexp(logits[0], logits[1])
        q = np.array([0.5, 0.5]) if correct else np.array([0.0, 1.0])
        total += sum(qk * (math.log(qk) - lk) for qk, lk in zip(q, logp) if qk > 0)
    return total / B

sims = st.integers(2, 12).flatmap(lambda n: st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=n * n, max_size=n * n)
                                  .map(lambda v: torch.tensor(v).reshape(n, n)))

# --- spl_loss ------------------------------------------------------------------------------------------------------

def test_spl_all_correct_is_zero():
    S = torch.rand(6, 6) * 0.5
    S += torch.eye(6)                                  # ground truth on top of every row
    assert float(spl_loss(S)) == pytest.approx(0.0, abs=1e-7)
    assert float(spl_loss(S, top_k=1, sim_threshold=2.0)) == pytest.approx(0.0, abs=1e-7)

def test_spl_wrong_row_is_minus_log_p_gt():
    S = torch.tensor([[0.9, 0.2, 0.1], [0.3, 0.1, 0.2], [0.0, 0.1, 0.5]])   # row 1: gt 0.1 is last, top-1 is 0.3
    tau = 0.1
    p_gt = torch.softmax(torch.tensor([0.3, 0.1]) / tau, 0)[1]
    assert float(spl_loss(S, tau=tau, top_k=2)) == pytest.approx(float(-torch.log(p_gt)) / 3, rel=1e-5)
    assert float(spl_loss(S, tau=0.01, top_k=2)) == pytest.approx(float(F.softplus(torch.tensor(20.))) / 3, rel=1e-5)

def test_spl_top_k_and_threshold_rules():
    S = torch.tensor([[0.9, 0.2, 0.1], [0.3, 0.1, 0.2], [0.0, 0.1, 0.5]])
    p = torch.softmax(torch.tensor([0.3, 0.1]) / 0.1, 0)
    half = float((0.5 * torch.log(0.5 / p)).sum()) / 3
    assert float(spl_loss(S, top_k=3)) == pytest.approx(half, rel=1e-5)                   # gt within top-3: "correct"
    assert float(spl_loss(S, top_k=1, sim_threshold=0.25)) == pytest.approx(half, rel=1e-5)  # 0.3 > 0.25: "correct"
    assert float(spl_loss(S, top_k=1, sim_threshold=0.3)) > half                         # 0.3 is not > 0.3: wrong

def test_spl_zero_log_zero_finite_and_gradient_direction():
    S = torch.tensor([[1.0, -1.0], [1.0, -1.0]]).requires_grad_(True)   # row 1 confidently wrong, p_top1 ~ 1
    loss = spl_loss(S, tau=0.01, top_k=1, sim_threshold=2.0)
    assert torch.isfinite(loss) and float(loss.detach()) == pytest.approx(float(F.softplus(torch.tensor(200.))) / 2, rel=1e-5)
    loss.backward()
    assert torch.isfinite(S.grad).all() and S.grad[1, 1] < 0 < S.grad[1, 0]

@settings(max_examples=60, deadline=None)
@given(sims, st.sampled_from([0.01, 0.1, 1.0]), st.integers(1, 12), st.floats(0.0, 1.1))
def test_spl_matches_reference(S, tau, top_k, thr):
    ref = spl_reference(S.numpy(), tau, top_k, thr)
    got = float(spl_loss(S.double(), tau=tau, top_k=top_k, sim_threshold=thr))
    assert got >= -1e-9
    assert got == pytest.approx(ref, rel=1e-6, abs=1e-9)

@settings(max_examples=40, deadline=None)
@given(sims, st.randoms(use_true_random=False))
def test_spl_permutation_invariant(S, rnd):
    n = len(S); perm = list(range(n)); rnd.shuffle(perm); perm = torch.tensor(perm)
    S = S.double() + 1e-6 * torch.arange(n * n, dtype=torch.float64).reshape(n, n)   # break ties (argmax order)
    assert float(spl_loss(S[perm][:, perm])) == pytest.approx(float(spl_loss(S)), rel=1e-9, abs=1e-12)

def test_spl_ties_count_for_the_ground_truth():
    S = torch.tensor([[0.2, 0.2, 0.2], [0.0, 0.0, 0.5], [0.1, 0.1, 0.3]])   # row 0: a 3-way tie -> correct, p = [.5, .5]
    assert float(spl_loss(S, top_k=1, sim_threshold=2.0)) == pytest.approx(
        -math.log(torch.sigmoid(torch.tensor(-5.)).item()) / 3, rel=1e-5)    # only row 1 (gt 0.0 < 0.5) is wrong

def test_spl_rejects_bad_input():
    with pytest.raises(ValueError, match='square'): spl_loss(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='tau'): spl_loss(torch.zeros(2, 2), tau=0)
