"""Tests for easytune.spm, the paper's SPM reward model (EasyTune, arXiv 2602.07967) in its checkpoint layout: the
full-size keys and shapes against the written description, the reward contract, the noise-aware time token, export ->
strict import round trips, planted quirks of broken files, and the SPM as the reward of a fine-tuning update."""
import contextlib
import copy
import io
import math
import warnings

import pytest
import torch

from easytune.finetune import Finetuner, get_config, get_reward, main, tiny_backbone
from easytune.official import TINY_TEXT_FOR_TESTS, CheckpointMismatch, torch_load
from easytune.spm import SPM, SPMConfig, load_spm, spm_layout, spm_mode, t5_token_embeddings

warnings.filterwarnings('ignore', category=DeprecationWarning)
TINY = dict(d_model=16, ff=32, layers=3, heads=2, dropout=0.0, text_dim=32, text_dir=TINY_TEXT_FOR_TESTS, sentence_dim=24)
LOAD = dict(heads=2, dropout=0.0, sentence_dim=24)          # not recorded in a file
TEXTS, LENGTHS = ['a person walks forward', 'someone jumps', 'a man waves his hand'], torch.tensor([20, 12, 5])


def tiny_spm(mode='M1T0', seed=0, **kw):
    torch.manual_seed(seed)
    return SPM(SPMConfig(mode=mode, **{**TINY, **kw})).freeze()


@pytest.fixture(scope='module')
def spm():
    return tiny_spm()


@pytest.fixture(scope='module')
def exported(spm, tmp_path_factory):
    return spm.export_official(tmp_path_factory.mktemp('spm') / 'spm_M1T0.pth')


def motion(seed=1, B=3, T=20):
    return torch.randn((B, T, 263), generator=torch.Generator().manual_seed(seed))


# --- the layout ---------------------------------------------------------------------------------------------------------

def _described_keys():
    "The SPM file's keys and shapes, written out from the description (independently of easytune.official's helpers)."
    d, ff, L = 256, 1024, 9
    def layer(p, cross):
        out = {}
        for a in ['self_attn'] + (['multihead_attn'] if cross else []):
            out.update({f'{p}.{a}.in_proj_weight': (3 * d, d), f'{p}.{a}.in_proj_bias': (3 * d,),
                        f'{p}.{a}.out_proj.weight': (d, d), f'{p}.{a}.out_proj.bias': (d,)})
        out.update({f'{p}.linear1.weight': (ff, d), f'{p}.linear1.bias': (ff,), f'{p}.linear2.weight': (d, ff), f'{p}.linear2.bias': (d,)})
        for n in range(1, 4 if cross else 3): out.update({f'{p}.norm{n}.weight': (d,), f'{p}.norm{n}.bias': (d,)})
        return out
    def stack(p, cross):
        out = {**layer(f'{p}.middle_block', cross), f'{p}.norm.weight': (d,), f'{p}.norm.bias': (d,)}
        for i in range((L - 1) // 2):
            out.update({**layer(f'{p}.input_blocks.{i}', cross), **layer(f'{p}.output_blocks.{i}', cross),
                        f'{p}.linear_blocks.{i}.weight': (d, 2 * d), f'{p}.linear_blocks.{i}.bias': (d,)})
        return out
    keys = {**stack('motion_encoder', False), **stack('text_encoder', False), **stack('decoder', True)}
    keys.update({f'{n}.pe': (500, 1, d) for n in ('query_motion_pos_encoder', 'query_text_pos_encoder', 'query_pos_decoder')})
    for s in ('motion', 'text'):
        keys.update({f'global_{s}_token': (1, d), f'dist_{s}_layer.weight': (2 * d, d), f'dist_{s}_layer.bias': (2 * d,)})
    keys.update({'skel_embedding.weight': (d, 263), 'skel_embedding.bias': (d,), 'text_embedding.weight': (d, 1024),
                 'text_embedding.bias': (d,), 'final_layer.weight': (263, d), 'final_layer.bias': (263,),
                 'time_embedding.linear_1.weight': (d, 512), 'time_embedding.linear_1.bias': (d,),
                 'time_embedding.linear_2.weight': (d, d), 'time_embedding.linear_2.bias': (d,)})
    return keys


def test_full_size_keys_and_shapes_on_meta_match_the_description():
    with torch.device('meta'): m = SPM()
    got = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert got == _described_keys() == spm_layout()
    assert len(got) == 427 and m.text_encoder.norm is m.motion_encoder.norm
    assert m.text_encoder.middle_block is not m.motion_encoder.middle_block
    assert (m.time_proj.num_channels, m.time_proj.flip_sin_to_cos, m.time_proj.shift) == (512, True, 0)
    assert type(m.motion_encoder.middle_block.activation).__name__ == 'GELU'


def test_mode_is_read_from_the_path():
    assert spm_mode('checkpoints/spm/M1T0_epoch=99.pth') == 'M1T0' and spm_mode('checkpoints/spm/M0T0.pth') == 'M0T0'
    assert spm_mode('checkpoints/spm/best.pth') == 'M0T0'


# --- the reward contract ------------------------------------------------------------------------------------------------

def test_scores_are_cosines_with_a_finite_gradient_on_valid_frames(spm):
    x = motion().requires_grad_(True)
    r = spm.reward(x, TEXTS, LENGTHS)
    assert r.shape == (3,) and (r.abs() <= 1).all() and r.std() > 0
    r.sum().backward()
    assert torch.isfinite(x.grad).all() and all(x.grad[i, :n].abs().sum() > 0 for i, n in enumerate(LENGTHS.tolist()))
    assert x.grad[1, 12:].abs().sum() == 0 and x.grad[2, 5:].abs().sum() == 0
    assert spm.frozen and not spm.training and all(p.grad is None for p in spm.parameters())
    with torch.no_grad(): assert torch.equal(spm.reward(x, TEXTS, LENGTHS), r.detach())


def test_text_stream_reads_token_embeddings_with_their_mask(spm):
    emb, valid = t5_token_embeddings(spm.text_tower, TEXTS)
    assert emb.shape[::2] == (3, 32) and valid.sum(1).tolist() == [5, 3, 6]
    assert (emb[~valid] == 0).all() and not emb.requires_grad
    with pytest.raises(TypeError, match='single string'): t5_token_embeddings(spm.text_tower, 'a person walks')
    wide = SPM(SPMConfig(**{**TINY, 'text_dim': 64}))
    with pytest.raises(ValueError, match='gives 32-d token embeddings, this SPM reads 64-d'): wide.encode_text(TEXTS)


def test_trainable_when_not_frozen():
    m = SPM(SPMConfig(mode='M1T0', **TINY)).train()
    mu_t, _ = m.encode_text(TEXTS)
    mu_m, _ = m.encode_motion(motion(), LENGTHS, 3)
    rec = m.decode(mu_m, LENGTHS)
    (torch.nn.functional.cosine_similarity(mu_t, mu_m).sum() + rec.square().mean()).backward()
    assert m.text_embedding.weight.grad.abs().sum() > 0 and m.final_layer.weight.grad.abs().sum() > 0
    assert m.motion_encoder.norm.weight.grad is m.text_encoder.norm.weight.grad     # one shared norm


# --- the time token -----------------------------------------------------------------------------------------------------

@torch.no_grad()
def test_noise_aware_time_token(spm):
    x = motion(2)
    r0, rn, r9 = (spm.reward(x, TEXTS, LENGTHS, t) for t in (0, None, 9))
    assert torch.equal(rn, r0) and not torch.allclose(r9, r0)
    per_sample = spm.reward(x, TEXTS, LENGTHS, torch.tensor([9, 0, 9]))
    assert torch.allclose(per_sample[1], r0[1], atol=1e-6) and torch.allclose(per_sample[[0, 2]], r9[[0, 2]], atol=1e-6)
    none = tiny_spm(clean_time_token=False)
    assert not torch.allclose(none.reward(x, TEXTS, LENGTHS), none.reward(x, TEXTS, LENGTHS, 0))
    clean = tiny_spm('M0T0')
    assert torch.equal(clean.reward(x, TEXTS, LENGTHS, 0), clean.reward(x, TEXTS, LENGTHS))
    with pytest.raises(ValueError, match='M0T0'): clean.reward(x, TEXTS, LENGTHS, 9)
    with pytest.raises(ValueError, match='0, 1000'): spm.reward(x, TEXTS, LENGTHS, -1)


# --- files ------------------------------------------------------------------------------------------------------------

def test_export_then_strict_import_gives_bit_identical_scores(spm, exported):
    raw = torch_load(exported)
    assert list(raw) == ['state_dict'] and set(raw['state_dict']) == set(spm_layout(spm.config))
    assert not any('clip' in k for k in raw['state_dict'])
    assert torch.equal(raw['state_dict']['motion_encoder.norm.bias'], raw['state_dict']['text_encoder.norm.bias'])
    with contextlib.redirect_stdout(io.StringIO()) as out: back = load_spm(exported, TINY_TEXT_FOR_TESTS, **LOAD)
    assert 'SPM M1T0 (noise-aware)' in out.getvalue() and back.config == spm.config and back.frozen
    x = motion(3)
    with torch.no_grad():
        for t in (None, 0, 250):
            assert torch.equal(back.reward(x, TEXTS, LENGTHS, t), spm.reward(x, TEXTS, LENGTHS, t))
    assert load_spm(exported, TINY_TEXT_FOR_TESTS, mode='M0T0', verbose=False, **LOAD).noise_aware is False


def _plant(exported, tmp_path, edit, name='spm.pth'):
    sd = {k: v.clone() for k, v in torch_load(exported)['state_dict'].items()}
    edit(sd)
    torch.save({'state_dict': sd}, tmp_path / name)
    return tmp_path / name


def _load(path): return load_spm(path, TINY_TEXT_FOR_TESTS, verbose=False, **LOAD)


def _differ(sd): sd['text_encoder.norm.weight'][3] += 1e-3
def _missing(sd): del sd['time_embedding.linear_2.bias']
def _extra(sd): sd['motion_encoder.adapter.weight'] = torch.zeros(3)
def _misshaped(sd): sd['global_text_token'] = torch.zeros(2, 16)
def _missing_norm_copy(sd): del sd['text_encoder.norm.weight']


@pytest.mark.parametrize('edit, message', [
    (_differ, 'motion_encoder.norm.weight and text_encoder.norm.weight differ'),
    (_missing, '1 missing: time_embedding.linear_2.bias'),
    (_extra, '1 unexpected: motion_encoder.adapter.weight'),
    (_misshaped, '1 mis-shaped: global_text_token [2, 16] (expected [1, 16])'),
    (_missing_norm_copy, '1 missing: text_encoder.norm.weight')])
def test_broken_files_fail_with_one_clear_error(exported, tmp_path, edit, message):
    with pytest.raises(CheckpointMismatch, match='SPM') as e: _load(_plant(exported, tmp_path, edit))
    assert message in str(e.value), str(e.value)


def test_all_problems_in_one_message(exported, tmp_path):
    def edit(sd): _missing(sd); _extra(sd); _misshaped(sd)
    with pytest.raises(CheckpointMismatch) as e: _load(_plant(exported, tmp_path, edit))
    assert all(s in str(e.value) for s in ('1 missing', '1 unexpected', '1 mis-shaped'))


def test_clip_keys_are_set_aside_and_reported(spm, exported, tmp_path):
    def edit(sd): sd['clip_model.token_embedding.weight'] = torch.zeros(5, 4); sd['text_clip.proj'] = torch.zeros(2)
    path = _plant(exported, tmp_path, edit, 'spm_M1T0.pth')
    with contextlib.redirect_stdout(io.StringIO()) as out: m = load_spm(path, TINY_TEXT_FOR_TESTS, **LOAD)
    assert sorted(k for ks in m.load_report['ignored'].values() for k in ks) == ['clip_model.token_embedding.weight', 'text_clip.proj']
    assert "set aside 2 tensors: keys containing 'clip'" in out.getvalue()
    with torch.no_grad(): assert torch.equal(m.reward(motion(), TEXTS, LENGTHS), spm.reward(motion(), TEXTS, LENGTHS))


def test_missing_file_and_missing_text_weights(exported, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth: checkpoint file not found'): _load(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='sentence-t5-large.*no weights in the folder'):
        load_spm(exported, tmp_path / 'no-t5', verbose=False, **LOAD)


# --- fine-tuning ------------------------------------------------------------------------------------------------------

def test_one_easytune_update_on_a_tiny_mld_moves_only_the_denoiser(spm):
    bb = tiny_backbone('mld')
    assert bb.config.feat_dim == spm.config.feat_dim == 263
    reward = copy.deepcopy(spm)
    before, rw_before = copy.deepcopy(bb.state_dict()), copy.deepcopy(reward.state_dict())
    ft = Finetuner(bb, reward, get_config('easytune', num_steps=4, k=2, lr=1e-2))
    logs = ft.update(TEXTS[:2], [16, 12], torch.Generator().manual_seed(0))
    den = {n for n, p in bb.named_parameters() if any(p is q for q in bb.denoiser_parameters())}
    changed = {k for k, v in bb.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and changed <= den and math.isfinite(logs['reward']) and logs['n_opt_steps'] == 2
    assert all(torch.equal(v, reward.state_dict()[k]) for k, v in rw_before.items())
    assert reward.frozen and all(p.grad is None for p in reward.parameters())


def test_get_reward_spm_official(exported):
    with contextlib.redirect_stdout(io.StringIO()):
        rw = get_reward('spm-official', feat_dim=263, ckpt=exported, text_model=TINY_TEXT_FOR_TESTS)
    assert isinstance(rw, SPM) and rw.noise_aware and rw.frozen
    with pytest.raises(ValueError, match='--reward-ckpt'): get_reward('spm-official')
    with pytest.raises(FileNotFoundError, match='checkpoint file not found'): get_reward('spm-official', ckpt='/nonexistent/spm.pth')
    with pytest.raises(ValueError, match='263-d motion features, the backbone makes 6-d'):
        with contextlib.redirect_stdout(io.StringIO()):
            get_reward('spm-official', feat_dim=6, ckpt=exported, text_model=TINY_TEXT_FOR_TESTS)


@pytest.mark.parametrize('argv, message', [(['--reward', 'spm-official'], 'needs --reward-ckpt'),
                                           (['--reward', 'spm-official', '--reward-ckpt', '/nonexistent/x.pth'], 'not found'),
                                           (['--reward', 'toy', '--reward-ckpt', '/nonexistent/x.pth'], 'spm-official only')])
def test_cli_checks_the_reward_checkpoint_before_any_work(argv, message, capsys, monkeypatch):
    import easytune.pretrain
    monkeypatch.setattr(easytune.pretrain, 'pretrain', lambda *a, **k: pytest.fail('pretrained before checking --reward-ckpt'))
    with pytest.raises(SystemExit): main(['--backbone', 'mld', '--data', '/nonexistent', *argv])
    assert message in capsys.readouterr().err
