"""Tests for LoRA fine-tuning (easytune.lora, FinetuneConfig.lora_rank): adapters only are trained, LoRA off changes
nothing, merging keeps the outputs, resume is bit-identical, and the released architectures take adapters too."""
import copy
import re

import pandas as pd
import pytest
import torch

pytest.importorskip('peft')

from easytune.data import make_toy_folder
from easytune.finetune import Finetuner, finetune, get_config, tiny_backbone
from easytune.lora import attach_lora, has_lora, lora_targets, merge_lora
from easytune.mdm_official import OfficialMDM, OfficialMDMConfig
from easytune.mld_official import OfficialMLD, official_mld_config
from easytune.official import TINY_TEXT_FOR_TESTS
from easytune.profiling import measure_update
from easytune.reward import ToyReward

TEXTS, LENS = ['a person walks', 'a person jumps', 'someone waves'], torch.tensor([8, 6, 4])
TINY = dict(text_dir=TINY_TEXT_FOR_TESTS, text_dim=24, d_model=16, ff=32, layers=3, heads=2, dropout=0.0)


def official(kind):
    torch.manual_seed(0)
    if kind == 'mdm_official': return OfficialMDM(OfficialMDMConfig(**{**TINY, 'layers': 2})).eval()
    return OfficialMLD(official_mld_config('mld', **TINY, latent_dim=16)).eval()


def same(a, b): return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())   # bitwise, NaN == NaN


def model(kind): return official(kind) if kind.endswith('official') else tiny_backbone(kind)


def ft_for(bb, **kw):
    return Finetuner(bb, ToyReward(bb.config.feat_dim), get_config(kw.pop('method', 'easytune'), batch_size=3, num_steps=4,
                                                                  k=2, lr=1e-2, **kw))


def out(bb, seed=0):
    "A guided denoiser output (no grad, eval mode: where PyTorch's fused fast path would apply)."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(bb.latent_shape(LENS), generator=g)
    with torch.no_grad():
        return bb.guided(x, 500, bb.encode_text(TEXTS), LENS, 2.0, bb.null_condition(len(TEXTS)))


@pytest.mark.parametrize('kind', ['mld', 'mdm', 'mlcm', 'toy', 'mld_official', 'mdm_official'])
def test_targets_attention_and_mlp_of_the_denoiser(kind):
    bb = model(kind)
    names = lora_targets(bb)
    assert names and all(n.split('.')[-1] in ('self_attn', 'linear1', 'linear2') for n in names) or names == ['net']
    den = {id(p) for p in bb.denoiser_parameters()}
    mods = dict(bb.named_modules())
    assert all(id(p) in den for n in names for p in mods[n].parameters())      # never the VAE or a text tower
    if kind != 'toy': assert any(isinstance(mods[n], torch.nn.MultiheadAttention) for n in names)


@pytest.mark.parametrize('kind,method', [('mld', 'easytune'), ('mdm', 'draft-10'), ('toy', 'easytune-chain'),
                                         ('mdm_official', 'easytune')])
def test_only_adapters_change_and_merge_keeps_outputs(kind, method):
    bb = model(kind); before = {k: v.clone() for k, v in bb.state_dict().items()}
    ft = ft_for(bb, method=method, lora_rank=4)
    assert {id(p) for p in ft.optimizer.param_groups[0]['params']} == {id(p) for p in ft.opt_params}
    assert len(ft.params) == len([n for n, _ in bb.named_parameters() if 'lora_' in n])
    for k in range(2): ft.update(TEXTS, LENS, torch.Generator().manual_seed(k))
    after = bb.state_dict()
    base = lambda k: re.sub(r'parametrizations\.(\w+)\.original', r'\1', k.replace('.base_layer', ''))   # the wrapped weights
    assert {base(k) for k in after if 'lora_' not in k} == set(before)
    changed = {k for k in after if 'lora_' in k or not same(after[k], before[base(k)])}
    assert changed and all('lora_B' in k or 'lora_A' in k for k in changed), sorted(changed)[:5]
    assert any('lora_B' in k and after[k].abs().sum() > 0 for k in changed)     # B left zero: the adapters moved
    adapted = out(bb)
    assert not torch.allclose(adapted, out(model(kind)), atol=1e-4)             # the adapters act on the outputs
    merge_lora(bb)
    assert not has_lora(bb) and list(bb.state_dict()) == list(before)
    torch.testing.assert_close(out(bb), adapted, atol=1e-5, rtol=0)


def test_lora_off_is_the_plain_run():
    a, b = tiny_backbone('mld'), tiny_backbone('mld')
    fa, fb = ft_for(a), ft_for(b, lora_rank=0, lora_alpha=4.0, lora_targets='all-linear')
    assert not has_lora(b) and [id(p) for p in fb.params] == [id(p) for p in b.denoiser_parameters()]
    for k in range(2):
        fa.update(TEXTS, LENS, torch.Generator().manual_seed(k)); fb.update(TEXTS, LENS, torch.Generator().manual_seed(k))
    assert all(same(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_trainable_parameters_and_saved_bytes():
    counts, saved = {}, {}
    for rank in (0, 2):
        bb = tiny_backbone('mld'); ft = ft_for(bb, lora_rank=rank)
        m = measure_update(lambda: ft.update(TEXTS, LENS, torch.Generator().manual_seed(0)), exclude=[bb])
        counts[rank], saved[rank] = sum(p.numel() for p in ft.opt_params), m['saved_bytes']
    assert counts[2] < counts[0] / 4 and saved[2] > 0 and saved[0] > 0


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_toy_folder(tmp_path_factory.mktemp('lora') / 'toy', [40 + 4 * i for i in range(14)],
                           splits={'train': [f'{i:06d}' for i in range(10)], 'val': [f'{i:06d}' for i in range(10, 14)]})


@pytest.mark.parametrize('kind,method', [('mld', 'easytune'), ('toy', 'easytune-chain')])
def test_resume_with_lora_is_bit_identical(root, tmp_path, kind, method):
    kw = dict(updates=3, val_every=2, val_size=2, progress=False, batch_size=2, num_steps=3, k=2, lr=1e-2, seed=1,
              lora_rank=4)
    bb1 = tiny_backbone(kind); bb1, h1 = finetune(bb1, ToyReward(bb1.config.feat_dim), method, root, **kw)
    ck = tmp_path / 'run.ckpt'
    bb2 = tiny_backbone(kind); finetune(bb2, ToyReward(bb2.config.feat_dim), method, root, checkpoint=ck, checkpoint_every=2,
                                        stop_after=2, **kw)
    assert any('lora_A' in k for k in torch.load(ck, weights_only=False)['finetuner']['model'])   # the adapters are saved
    torch.manual_seed(123)
    bb3 = tiny_backbone(kind); bb3, h3 = finetune(bb3, ToyReward(bb3.config.feat_dim), method, root, checkpoint=ck, **kw)
    cols = ['update', 'reward', 'val_reward', 'n_opt_steps', 'grad_norm']
    pd.testing.assert_frame_equal(h1[cols], h3[cols])
    assert not has_lora(bb1) and not has_lora(bb3)                       # merged at the end: plain state dicts
    assert all(same(x, y) for x, y in zip(bb1.state_dict().values(), bb3.state_dict().values()))
    bb1.save(tmp_path / 'm.pt'); type(bb1).load(tmp_path / 'm.pt')


def test_errors_and_reuse():
    with pytest.raises(ValueError, match='lora_rank'): get_config('easytune', lora_rank=-1)
    with pytest.raises(ValueError, match='lora_targets'): get_config('easytune', lora_targets='qkv')
    bb = tiny_backbone('toy'); p = attach_lora(bb, 2)
    assert [id(q) for q in attach_lora(bb, 2)] == [id(q) for q in p]    # the same spec: the same adapters
    with pytest.raises(ValueError, match='already attached'): attach_lora(bb, 4)
    c = copy.deepcopy(bb); merge_lora(c); assert has_lora(bb) and not has_lora(c)


def test_finetune_cost_lora_variant():
    from easytune.bench import finetune_cost, format_cost
    res = finetune_cost('smoke', backbones=('mld',), steps=(4,), methods=('easytune',), progress=False, lora_rank=4)
    t = res['table'].set_index('variant')
    assert set(t.index) == {'plain', 'lean', 'lora-r4'}
    assert 0 < t.loc['lora-r4', 'trainable_params'] < t.loc['plain', 'trainable_params'] and t.loc['lora-r4', 'saved_mib'] > 0
    assert 'lora-r4_easytune_mem_ratio' in res['ratios']['by_backbone']['mld'] and 'LoRA' in format_cost(res)
