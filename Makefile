# easytune: one place for the commands the README and CI use.
# `make report`: reproduce the paper's Table 1 on the embedded dataset (cached pretraining on first use) -> reports/index.html.
#                `make report REPORTS=all PRETRAIN=all` renders every report; `REPORTS=dataset` only the dataset overview.
#                `make report PROFILE=paper DATA=... CKPT=... EVALUATOR=...`: Table 1 with the released MLD and the official
#                evaluator (every input checked first, in one error); REPORTS=table4 adds CKPT_MLCM= and CKPT_MDM=.
# `make test`  : library in sync with notebooks, notebooks clean, notebook tests, papermill smoke, pytest.
PY      ?= python
DATA    ?=
SEED    ?= 0
SMOKE   := _runs/smoke


.PHONY: data readme report test sync-check nbtest smoke pytest clean-runs

data:
	$(PY) -c "from easytune.pretrain import default_data_root as d; print(d(seed=$(SEED)))"

# REPORTS: report names or 'all'; PROFILE: smoke | cpu | paper; DATA: a HumanML3D-format folder (empty: the embedded dataset)
REPORTS ?= table1
PROFILE ?= cpu
# PRETRAIN: the models to train first, JOBS at a time (Table 1 needs these three; REPORTS=all wants PRETRAIN=all).
# Cached models are reused; the smoke profile trains its tiny models inside the notebooks.
PRETRAIN ?= evaluator,mld,reward
JOBS    ?= 2
# The released models and the official evaluator (Table 1 and Table 4; README "Your own data and the released
# checkpoints"); each one given replaces easytune's own model of that kind, which is then not pretrained:
#   CKPT       an MLD-family checkpoint (MotionLCM's mld_humanml_v1.ckpt, or MLD's): Table 1's base model, Table 4's MLD
#   CKPT_MLCM  MotionLCM's motionlcm_humanml_v1.ckpt (Table 4)      CKPT_MDM  MDM's model000475000.pt (Table 4)
#   EVALUATOR  the T2M evaluator: text-to-motion's checkpoints/t2m (MLD: deps/t2m) with text_mot_match/model/finest.tar
#              and Comp_v6_KLD01/meta (or meta/)
#   GLOVE      its our_vab_* folder (empty: glove/ in EVALUATOR or up to two folders above it, e.g. deps/glove)
#   TEXT_MODELS a folder of the text towers by name (clip-vit-large-patch14, sentence-t5-large, clip-vit-base-patch32;
#              empty: the offline Hugging Face cache)
#   REWARD     an easytune reward file (empty: easytune's reward model, pretrained on DATA)
CKPT       ?=
CKPT_MLCM  ?=
CKPT_MDM   ?=
EVALUATOR  ?=
GLOVE      ?=
TEXT_MODELS ?=
REWARD     ?=
comma := ,
INPUT_ARGS = $(strip $(if $(DATA),--data $(DATA)) $(if $(CKPT),--ckpt $(CKPT)) $(if $(CKPT_MLCM),--ckpt-mlcm $(CKPT_MLCM)) \
             $(if $(CKPT_MDM),--ckpt-mdm $(CKPT_MDM)) $(if $(EVALUATOR),--evaluator $(EVALUATOR)) $(if $(GLOVE),--glove $(GLOVE)) \
             $(if $(TEXT_MODELS),--text-models $(TEXT_MODELS)) $(if $(REWARD),--reward $(REWARD)))
GIVEN      = $(if $(EVALUATOR),evaluator) $(if $(CKPT),mld) $(if $(CKPT_MLCM),mlcm) $(if $(CKPT_MDM),mdm) $(if $(REWARD),reward)
PRETRAIN_KINDS = $(if $(filter all,$(PRETRAIN)),evaluator mld mlcm mdm reward,$(subst $(comma), ,$(PRETRAIN)))
TO_PRETRAIN = $(subst $(eval) ,$(comma),$(strip $(filter-out $(GIVEN),$(PRETRAIN_KINDS))))
report:
	$(PY) -m easytune.reproduce $(REPORTS) --check --profile $(PROFILE) --seed $(SEED) $(INPUT_ARGS)
	$(if $(and $(TO_PRETRAIN),$(filter-out smoke,$(PROFILE))),$(PY) -m easytune.pretrain --backbone $(TO_PRETRAIN) --jobs $(JOBS) --profile cpu --seed $(SEED) $(if $(DATA),--data $(DATA),),)
	$(PY) -m easytune.reproduce $(REPORTS) --profile $(PROFILE) --seed $(SEED) $(INPUT_ARGS)

# README.md is generated from nbs/index.ipynb, nbdev's front page (nbdev_readme needs quarto, so the markdown cells
# are joined here): edit the notebook, then `make readme`.
readme:
	$(PY) -c "import nbformat; nb = nbformat.read('nbs/index.ipynb', as_version=4); open('README.md', 'w').write('<!-- generated from nbs/index.ipynb by make readme: edit the notebook, not this file -->\n\n' + '\n\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown') + '\n')"

sync-check:
	$(MAKE) --no-print-directory readme
	git diff --exit-code --stat -- README.md || (echo "README.md is out of sync with nbs/index.ipynb: run make readme and commit"; exit 1)
	nbdev_export
	git diff --exit-code --stat -- easytune || (echo "easytune/ is out of sync with nbs/: run nbdev_export and commit"; exit 1)
	test -z "$$(git status --porcelain -- easytune)" || (git status --porcelain -- easytune; echo "nbdev_export created untracked files"; exit 1)
	nbdev_clean
	git diff --exit-code --stat -- nbs || (echo "notebooks are not clean: run nbdev_clean and commit"; exit 1)

nbtest:
	nbdev_test --n_workers 0 --timing

# papermill + nbconvert through the report runner (catches kernel/loopback problems nbdev_test cannot see)
smoke:
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(PY) -m easytune.reproduce dataset --profile smoke --out $(SMOKE)

pytest:
	$(PY) -m pytest -q tests

test: sync-check nbtest smoke pytest

clean-runs:
	rm -rf _runs
