# TowerNAS developer entry points. Every target creates .venv and installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned: an unpinned torch pulls a multi-GB CUDA build. On a CUDA machine, override
# TORCH_SPEC (e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu124").
TORCH_SPEC ?= torch==2.13.0
# faiss-cpu by default; EXTRAS=gpu,dev,tune,distributed,docs installs faiss-gpu instead (same `faiss` module). tune:
# the Optuna sweeper (recipes/tune/); distributed: Ray for independent jobs (jobs.engine=ray); docs: MkDocs +
# mkdocstrings (make docs, and tests/test_docs.py builds the site).
EXTRAS ?= cpu,dev,tune,distributed,docs
PYTEST_ARGS ?= -n 2

.PHONY: install test search retrain rank cascade bench docs clean-venv

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The tower search (ARGS="dataset=ml-1m budget=M"); a ranker search: ARGS="task=ctr ranker_search.budget.flops=120098"
# (task=rating: explicit ratings). `make bench-ranker-fidelity` measures the ranker supernet's fidelity. The joint
# cascade search: ARGS="task=cascade cascade.retriever=<artifact> cascade_search.flops=400000" (`make
# bench-cascade-search` compares it with the hand-built cascades).
search: install
	$(PY) -m towernas.search $(ARGS)

retrain: install
	$(PY) -m towernas.retrain $(ARGS)

# The CTR task: one ranker on labelled pairs (ARGS="ranker=din rank.seeds=[0,1,2]"); the rating task (MSE on explicit
# ratings, RMSE/MAE): ARGS="rank.task=rating ranker=mf".
rank: install
	$(PY) -m towernas.rank $(ARGS)

# Retrieve -> rank on the latest `make retrain` export (ARGS="cascade.negatives=[uniform,top,top_random,dns]").
cascade: install
	$(PY) -m towernas.cascade $(ARGS)

# The documentation site (docs/ + the API pages from the docstrings) -> site/index.html; fails on any warning.
docs: install
	$(PY) -m mkdocs build --strict -d site

# Benchmarks: `make bench-<name>` runs benchmarks/bench_<name>.py (dashes for underscores: bench-own-data) with
# ARGS, e.g. `make bench-fidelity ARGS="--dataset ml-100k"`; `make bench ARGS=--list` lists every one with what it
# measures, and docs/benchmarks.md what each writes and how long it takes. `make bench` alone runs the quick suite
# (data, eval, complexity, search, rankers; ARGS="--quick --only data,eval") -> bench_results/results.{json,md}.
bench: install
	$(PY) -m benchmarks.run $(ARGS)

bench-%: install
	$(PY) -m benchmarks.run $(subst -,_,$*) $(ARGS)

clean-venv:
	rm -rf $(VENV)
