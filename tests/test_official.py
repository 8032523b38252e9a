"""Tests for the released architectures (easytune.official, mld_official, mdm_official, released): layouts against the
written description of the files, export -> strict import round trips, the files' quirks, one clear error for a broken
file, missing text weights, and one EasyTune update on each tiny model."""
import copy
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from easytune.evaluator import T2MEvaluator
from easytune.finetune import Finetuner, get_config
from easytune.mdm_official import OfficialMDM, OfficialMDMConfig, build_mdm_network, official_mdm_layout
from easytune.mld_official import (MLD_VARIANTS, OfficialMLD, OfficialMotionLCM, build_mld_network, detect_mld_variant,
                                   official_mld_config, official_mld_layout)
from easytune.official import (CLIP_B, CLIP_L, SENTENCE_T5, TINY_TEXT_FOR_TESTS, CheckpointMismatch, TextTower, TextTowerSpec,
                               evaluator_state, read_released)
from easytune.released import load
from easytune.reward import ToyReward

warnings.filterwarnings('ignore', category=DeprecationWarning)
ROOT = Path(__file__).resolve().parents[1]
TINY = dict(text_dir=TINY_TEXT_FOR_TESTS, text_dim=24, d_model=16, ff=32, layers=3, heads=2, dropout=0.0)
KINDS = list(MLD_VARIANTS) + ['mdm']
TEXTS, LENGTHS = ['a person walks forward', 'someone jumps'], torch.tensor([10, 6])


def tiny(kind, seed=0):
    torch.manual_seed(seed)
    if kind == 'mdm': return OfficialMDM(OfficialMDMConfig(**{**TINY, 'layers': 2})).eval()
    sizes = dict(latent_size=4, latent_dim=8) if kind.endswith('v2') else dict(latent_dim=16)
    if kind.startswith('mlcm'):
        m = OfficialMotionLCM(official_mld_config(kind, **TINY, **sizes, time_cond_dim=8))
        with torch.no_grad(): m.denoiser.time_embedding.cond_proj.weight.normal_()
        return m.eval()
    return OfficialMLD(official_mld_config(kind, **TINY, **sizes)).eval()


def layout(m):
    return official_mdm_layout(m.config) if isinstance(m, OfficialMDM) else official_mld_layout(m.config)


def reload(kind, path):
    cls = {'mdm': OfficialMDM}.get(kind, OfficialMotionLCM if kind.startswith('mlcm') else OfficialMLD)
    return cls.from_released(path, text_dir=TINY_TEXT_FOR_TESTS, heads=2, dropout=0.0)


@pytest.fixture(scope='module')
def models():
    return {k: tiny(k) for k in KINDS}


# --- full-size layouts, without allocating weights -----------------------------------------------------------------

def test_full_size_mld_family_matches_the_description():
    for v in MLD_VARIANTS:
        c = official_mld_config(v)
        with torch.device('meta'): net = build_mld_network(c)
        shapes = {f'{n}.{k}': tuple(t.shape) for n, mod in net.items() for k, t in mod.state_dict().items()}
        assert shapes == official_mld_layout(c), v
    lay = official_mld_layout(official_mld_config('mld'))
    # 3 stacks of 9 layers (decoder layers have 18 tensors, encoder layers 12), 4 skip Linears and a norm each
    assert sum(k.startswith('vae.encoder.') for k in lay) == 9 * 12 + 8 + 2
    assert sum(k.startswith('vae.decoder.') for k in lay) == 9 * 18 + 8 + 2
    assert lay['denoiser.time_embedding.linear_1.weight'] == (256, 768) and lay['denoiser.emb_proj.1.weight'] == (256, 768)
    assert lay['vae.query_pos_decoder.pe'] == (500, 1, 256) and lay['vae.final_layer.weight'] == (263, 256)
    v2 = official_mld_layout(official_mld_config('mlcm-v2'))
    assert v2['vae.global_motion_token'] == (32, 256) and v2['vae.latent_post.weight'] == (256, 32)
    assert v2['denoiser.time_embedding.cond_proj.weight'] == (768, 256) and 'denoiser.mem_pos.pe' not in v2
    assert 'denoiser.latent_pre.weight' not in official_mld_layout(official_mld_config('mlcm-v1'))


def test_full_size_mdm_matches_the_description():
    c = OfficialMDMConfig()
    with torch.device('meta'): net = build_mdm_network(c)
    shapes = {f'{n}.{k}': tuple(t.shape) for n, mod in net.items() for k, t in mod.state_dict().items()}
    assert shapes == official_mdm_layout(c, buffers=False)
    lay = official_mdm_layout(c)
    assert len([k for k in lay if k.startswith('seqTransEncoder.layers.')]) == 8 * 12
    assert lay['embed_timestep.sequence_pos_encoder.pe'] == lay['sequence_pos_encoder.pe'] == (5000, 1, 512)
    assert lay['seqTransEncoder.layers.0.self_attn.in_proj_weight'] == (1536, 512)
    assert lay['embed_text.weight'] == (512, 512) and lay['output_process.poseFinal.weight'] == (263, 512)


# --- round trips ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
def test_export_has_exactly_the_released_keys_and_reimports_bit_identically(kind, models, tmp_path):
    m = models[kind]
    rf = read_released(m.export_official(tmp_path / 'f.ckpt'))
    assert {k: tuple(v.shape) for k, v in rf.state_dict.items()} == layout(m)
    assert rf.layout == {'mld': 'lightning', 'mdm': 'plain'}.get(kind, 'state_dict')
    back = reload(kind, tmp_path / 'f.ckpt')
    assert back.config == m.config
    x, c = torch.randn(*m.latent_shape(LENGTHS)), m.encode_text(TEXTS)
    with torch.no_grad():
        assert torch.equal(back.denoise(x, 123, c, LENGTHS), m.denoise(x, 123, c, LENGTHS))
        assert torch.equal(back.decode(x, LENGTHS), m.decode(x, LENGTHS))


def test_mld_lightning_file_with_evaluator_and_stripped_text_encoder(models, tmp_path):
    m, ev = models['mld'], T2MEvaluator()
    sd = {**m.official_state_dict(), **evaluator_state(ev)}
    assert not any(k.startswith('text_encoder.') for k in sd)
    torch.save({'state_dict': sd, 'epoch': 1999, 'global_step': 5, 'optimizer_states': []}, tmp_path / 'mld.ckpt')
    back = reload('mld', tmp_path / 'mld.ckpt')
    assert back.load_report['loaded'] == len(official_mld_layout(m.config)) and len(back.passthrough) == len(evaluator_state(ev))
    out = read_released(back.export_official(tmp_path / 'again.ckpt')).state_dict
    assert all(torch.equal(out[k], v) for k, v in evaluator_state(ev).items())
    kept = {**sd, 'text_encoder.text_model.final_layer_norm.weight': torch.ones(4)}       # a file that kept its tower
    assert OfficialMLD(m.config).load_official(kept)['loaded'] == len(official_mld_layout(m.config))


def test_mdm_ema_file_and_table_buffers(models, tmp_path):
    m = models['mdm']
    sd = m.official_state_dict()
    avg = {k: v if k.endswith('.pe') else v * 2 for k, v in sd.items()}
    avg['sequence_pos_encoder.pe'] = avg['embed_timestep.sequence_pos_encoder.pe'] = torch.zeros(196, 1, 16)   # older size
    avg['clip_model.ln_final.weight'] = torch.ones(3)
    torch.save({'model': sd, 'model_avg': avg}, tmp_path / 'model000475000.pt')
    rf = read_released(tmp_path / 'model000475000.pt')
    assert rf.layout == 'ema' and "loaded 'model_avg'" in rf.note
    back = OfficialMDM.from_released(rf, text_dir=TINY_TEXT_FOR_TESTS, heads=2)
    assert torch.equal(back.embed_text.weight, 2 * m.embed_text.weight)
    assert torch.equal(back.sequence_pos_encoder.pe, m.sequence_pos_encoder.pe)


def test_motionlcm_v1_v2_and_other_checkpoints_are_told_apart(models):
    assert [detect_mld_variant(models[v].official_state_dict()) for v in MLD_VARIANTS] == list(MLD_VARIANTS)
    v1 = models['mlcm-v1'].official_state_dict()
    with pytest.raises(ValueError, match='ControlNet'): detect_mld_variant({**v1, 'controlnet.x': torch.zeros(1)})
    with pytest.raises(CheckpointMismatch, match='VAE-only'): detect_mld_variant({k: v for k, v in v1.items() if k.startswith('vae.')})


@pytest.mark.parametrize('kind', ['mld', 'mlcm-v2', 'mdm'])
def test_missing_extra_and_misshaped_keys_give_one_error(kind, models, tmp_path):
    m = models[kind]
    sd = dict(m.official_state_dict())
    gone = sorted(k for k in sd if k.endswith('norm1.bias'))[0]
    grown = 'embed_text.weight' if kind == 'mdm' else 'denoiser.emb_proj.1.weight'
    del sd[gone]
    sd['head.extra.weight'] = torch.zeros(2)
    sd[grown] = torch.zeros(sd[grown].shape[0], sd[grown].shape[1] + 1)
    torch.save(sd if kind == 'mdm' else {'state_dict': sd}, tmp_path / 'broken.ckpt')
    before = copy.deepcopy(m.state_dict())
    with pytest.raises(CheckpointMismatch) as e: m.load_official(read_released(tmp_path / 'broken.ckpt').state_dict, 'broken.ckpt')
    msg = str(e.value)
    assert msg.count('broken.ckpt') == 1 and f'1 missing: {gone}' in msg and '1 unexpected: head.extra.weight' in msg
    assert f'1 mis-shaped: {grown} [16, 25] (expected [16, 24])' in msg
    assert all(torch.equal(v, before[k]) or v.isnan().all() for k, v in m.state_dict().items())      # nothing loaded


# --- text towers ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('family,model_id,dim', [('clip', CLIP_L, 768), ('clip', CLIP_B, 512), ('sentence-t5', SENTENCE_T5, 768)])
def test_missing_text_weights_say_where_what_and_how(family, model_id, dim, tmp_path):
    folder = tmp_path / 'weights'
    with pytest.raises(FileNotFoundError) as e: TextTower(TextTowerSpec(family, model_id, str(folder), dim))
    msg = str(e.value)
    assert str(folder) in msg and repr(model_id) in msg and f'hf download {model_id} --local-dir {folder}' in msg


def test_released_load_checks_the_normalisation(models, tmp_path):
    m = models['mld-v1']; m.export_official(tmp_path / 'mld_humanml_v1.ckpt')
    mu, sd = np.zeros(263, np.float32), np.ones(263, np.float32)
    (tmp_path / 'm').mkdir(); (tmp_path / 'd').mkdir()
    np.save(tmp_path / 'm' / 'mean.npy', mu); np.save(tmp_path / 'm' / 'std.npy', sd)
    np.save(tmp_path / 'd' / 'Mean.npy', mu); np.save(tmp_path / 'd' / 'Std.npy', sd)
    back = load('mld', tmp_path / 'mld_humanml_v1.ckpt', TINY_TEXT_FOR_TESTS, tmp_path / 'm', tmp_path / 'd', verbose=False, heads=2)
    assert back.config.variant == 'mld-v1' and torch.equal(back.feature_std, torch.ones(263))
    np.save(tmp_path / 'd' / 'Mean.npy', mu + 1e-3)
    with pytest.raises(ValueError, match='differ from'):
        load('mld', tmp_path / 'mld_humanml_v1.ckpt', TINY_TEXT_FOR_TESTS, tmp_path / 'm', tmp_path / 'd', heads=2)


# --- samplers and guidance ------------------------------------------------------------------------------------------

def test_schedulers_follow_the_releases(models):
    assert models['mld'].make_sampler().timesteps[[0, -1]].tolist() == [981, 1]
    assert models['mlcm-v1'].make_sampler().timesteps.tolist() == [999] and models['mlcm-v1'].guidance_w() == 6.5
    assert models['mlcm-v2'].make_sampler().timesteps.tolist() == [799] and models['mlcm-v2'].guidance_w() == 7.0
    assert models['mdm'].make_sampler().timesteps.tolist() == list(range(999, -1, -1))
    assert torch.equal(models['mdm'].null_condition(2), torch.zeros(2, 24))
    sched = models['mld'].schedule
    assert math.isclose(float(sched.betas[0]), 0.00085, rel_tol=1e-9) and math.isclose(float(sched.betas[-1]), 0.012, rel_tol=1e-9)


# --- fine-tuning ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind', KINDS)
def test_one_easytune_update_changes_only_denoiser_parameters(kind, models):
    m = copy.deepcopy(models[kind])
    before = {k: v.clone() for k, v in m.state_dict().items()}
    kw = dict(sampler='lcm', num_steps=1) if kind.startswith('mlcm') else dict(num_steps=3)
    ft = Finetuner(m, ToyReward(263), get_config('easytune', batch_size=2, lr=1e-2, **kw))
    logs = ft.update(TEXTS, LENGTHS, torch.Generator().manual_seed(0))
    names = {n for n, p in m.named_parameters() if any(p is q for q in m.denoiser_parameters())}
    changed = {k for k, v in m.state_dict().items() if not torch.equal(v.nan_to_num(), before[k].nan_to_num())}
    assert changed and changed <= names and math.isfinite(logs['reward'])
    if kind != 'mdm': assert not any(k.startswith('vae.') for k in changed)


# --- the optional extra ------------------------------------------------------------------------------------------------

def test_package_imports_and_round_trips_without_the_official_extra(tmp_path):
    code = f"""
import sys
for name in ('transformers', 'sentence_transformers', 'huggingface_hub', 'tokenizers'): sys.modules[name] = None
import torch
import easytune.released, easytune.official
from easytune.mld_official import OfficialMLD, official_mld_config
m = OfficialMLD(official_mld_config('mld', text_dir={str(tmp_path)!r}, text_dim=24, d_model=16, latent_dim=16, ff=32, layers=3, heads=2))
m.export_official({str(tmp_path / 'x.ckpt')!r})
m.load_official(easytune.official.read_released({str(tmp_path / 'x.ckpt')!r}).state_dict)
(tmp := __import__('pathlib').Path({str(tmp_path)!r}) / 'config.json').write_text('{{}}')
try: m.encode_text(['a person walks'])
except ImportError as e: print('IMPORT-ERROR', e)
"""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'IMPORT-ERROR' in out.stdout and "pip install 'easytune[official]'" in out.stdout


def test_kit_ml_sized_models_round_trip_and_load_with_their_own_normalisation(tmp_path):
    "KIT-ML's 251-d features: the sizes come from the file, and the 251-d mean/std are accepted (263-d ones are not)."
    torch.manual_seed(0)
    m = OfficialMLD(official_mld_config('mld-v1', **TINY, latent_dim=16, feat_dim=251)).eval()
    m.export_official(tmp_path / 'mld_kit.ckpt')
    (tmp_path / 'd').mkdir(); (tmp_path / 'bad').mkdir()
    np.save(tmp_path / 'd' / 'Mean.npy', np.zeros(251, np.float32)); np.save(tmp_path / 'd' / 'Std.npy', np.ones(251, np.float32))
    back = load('mld', tmp_path / 'mld_kit.ckpt', TINY_TEXT_FOR_TESTS, data_root=tmp_path / 'd', verbose=False, heads=2)
    assert back.config.feat_dim == 251 and back.feature_mean.shape == (251,)
    x = torch.randn(*m.latent_shape(LENGTHS))
    with torch.no_grad(): assert back.decode(x, LENGTHS).shape == (2, 10, 251) and torch.equal(back.decode(x, LENGTHS), m.decode(x, LENGTHS))
    np.save(tmp_path / 'bad' / 'Mean.npy', np.zeros(263, np.float32)); np.save(tmp_path / 'bad' / 'Std.npy', np.ones(263, np.float32))
    with pytest.raises(ValueError, match='makes 251-d features'):
        load('mld', tmp_path / 'mld_kit.ckpt', TINY_TEXT_FOR_TESTS, data_root=tmp_path / 'bad', verbose=False, heads=2)
