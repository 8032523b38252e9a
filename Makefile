# easytune: one place for the commands the README and CI use.
# `make report`: reproduce the paper's Table 1 on the embedded dataset (cached pretraining on first use) -> reports/index.html.
#                `make report REPORTS=all PRETRAIN=all` renders every report; `REPORTS=dataset` only the dataset overview.
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
report:
	$(if $(and $(PRETRAIN),$(filter-out smoke,$(PROFILE))),$(PY) -m easytune.pretrain --backbone $(PRETRAIN) --jobs $(JOBS) --profile cpu --seed $(SEED) $(if $(DATA),--data $(DATA),),)
	$(PY) -m easytune.reproduce $(REPORTS) --profile $(PROFILE) --seed $(SEED) $(if $(DATA),--data $(DATA),)

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
