"""Run by tests/test_distributed.py under torchrun (2 processes): the fingerprint check with a different data folder per
rank, then the fine-tuning CLI with every file rename (the last step of every atomic write) recorded per rank."""
import json
import os
import sys
from pathlib import Path

import torch

from easytune.distributed import env_world, setup
from easytune.finetune import finetune, main, tiny_backbone
from easytune.reward import ToyReward

roots, out, record = sys.argv[1].split(','), Path(sys.argv[2]), Path(sys.argv[3])
rank = env_world()[0]
torch.set_num_threads(1)
result = {'rank': rank}
setup(4)
try:       # rank r sees folder r: every rank must stop with the same clear error, before fine-tuning anything
    finetune(tiny_backbone('mld'), ToyReward(263), 'easytune', roots[rank], updates=1, val_every=0, progress=False,
             batch_size=4, num_steps=4, k=2)
    result['mismatch_error'] = None
except ValueError as e:
    result['mismatch_error'] = str(e)
renames, real_replace = [], os.replace
def spy(src, dst, *a, **kw):
    renames.append(str(dst)); return real_replace(src, dst, *a, **kw)
os.replace = spy
main(['--backbone', 'mld', '--method', 'easytune', '--tiny', '--reward', 'toy', '--profile', 'smoke', '--data', roots[0],
      '--out', str(out), '--updates', '2', '--val-every', '1', '--val-size', '4', '--checkpoint-every', '1',
      '--threads', '1', '--set', 'num_steps=4', 'k=2'])
os.replace = real_replace
result['renames'] = renames
record.with_name(f'{record.name}.rank{rank}.json').write_text(json.dumps(result))
