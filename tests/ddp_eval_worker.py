"""Run by tests/test_distributed.py under torchrun (2 processes): `evaluate(shard=True)` on every rank (each samples
its batches, embeddings and plausibility sums all-gathered) and, on rank 0, the same evaluation in one process; rank 0 writes both."""
import json
import sys
from pathlib import Path

import torch

from easytune.data import build_vocabulary
from easytune.distributed import env_world, setup, teardown
from easytune.evaluator import EvaluatorConfig, LearnedWordVectors, T2MEvaluator
from easytune.finetune import tiny_backbone
from easytune.metrics import evaluate

root, record = Path(sys.argv[1]), Path(sys.argv[2])
torch.set_num_threads(1)
rank = env_world()[0]
setup()
torch.manual_seed(0)
ev = T2MEvaluator(EvaluatorConfig(dim_word=8, dim_text_hidden=16, dim_motion_hidden=16, dim_movement_enc_hidden=16,
                                  dim_movement_latent=16, dim_coemb=8)).eval()
words = LearnedWordVectors(build_vocabulary(root, splits=('test',)), dim=8)
bb = tiny_backbone('mld', 0)
generator = lambda captions, lengths, seed: bb.generate(captions, lengths, seed=seed, sampler=bb.make_sampler('ddim', 4))
kw = dict(replications=2, batch_size=8, diversity_pairs=10, mm=True, mm_texts=5, mm_repeats=4, progress=False, per_replication=True,
          physical=True)
sharded = evaluate(generator, root, ev, words, shard=True, **kw)[1]
out = {f'sharded{rank}': sharded.to_dict(orient='list')}
if rank == 0: out['single'] = evaluate(generator, root, ev, words, **kw)[1].to_dict(orient='list')
record.with_name(f'{record.name}.rank{rank}.json').write_text(json.dumps(out))
teardown()
