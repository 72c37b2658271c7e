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

.PHONY: install test search retrain rank cascade bench bench-fidelity docs clean-venv

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

search: install
	$(PY) -m towernas.search $(ARGS)

retrain: install
	$(PY) -m towernas.retrain $(ARGS)

# The CTR task: one ranker on labelled pairs (ARGS="ranker=din rank.seeds=[0,1,2]").
rank: install
	$(PY) -m towernas.rank $(ARGS)

# Retrieve -> rank on the latest `make retrain` export (ARGS="cascade.negatives=[uniform,top,top_random,dns]").
cascade: install
	$(PY) -m towernas.cascade $(ARGS)

# The documentation site (docs/ + the API pages from the docstrings) -> site/index.html; fails on any warning.
docs: install
	$(PY) -m mkdocs build --strict -d site

# Every benchmark by name: ARGS=--list prints them (name, make command, what it measures), ARGS="fidelity --quick"
# runs one; without a name the quick suite (ARGS="--quick --only data,eval") writes bench_results/results.{json,md}.
bench: install
	$(PY) -m benchmarks.run $(ARGS)

# The search's fidelity gate (~1 h on 2 cores; resumes): writes bench_results/fidelity.{json,md}.
# ARGS="--dataset ml-100k" on real MovieLens-100K (bash ../shared/data/get-ml-100k.sh) -> fidelity-ml-100k.*;
# ARGS="--space autotower" for the paper's space, ARGS="--budget M", ARGS="--quick" for a smoke run.
bench-fidelity: install
	$(PY) -m benchmarks.bench_fidelity $(ARGS)

# The issue's "done when" comparison (hours on 2 cores; resumes): searched towers vs random search at equal
# compute vs the baselines, on test, budgets L and M x seeds 0,1,2; writes bench_results/compare.{json,md}.
# ARGS="--budgets L --seeds 0" for one cell, ARGS="--dataset ml-100k" on real data, ARGS="--quick" for a smoke run.
.PHONY: bench-compare
bench-compare: install
	$(PY) -m benchmarks.bench_compare $(ARGS)

# Why validation and test disagree (~15 min per dataset on 2 cores; resumes): the in-budget towers and baselines x
# seeds under the default protocol, a refit on train + validation before test, and a late validation inside the
# train period; Kendall tau of each selection score against test. ARGS="--dataset synthetic" for the embedded set.
# Writes bench_results/protocol-<dataset>.{json,md}.
.PHONY: bench-protocol
bench-protocol: install
	$(PY) -m benchmarks.bench_protocol $(ARGS)

# Which training recipe (temperature, history dropout) every two-tower model should get by default (~20 min per
# dataset on 2 cores; resumes): 4 in-budget models x recipes x 3 seeds. Writes bench_results/recipe-<dataset>.{json,md}.
.PHONY: bench-recipe
bench-recipe: install
	$(PY) -m benchmarks.bench_recipe $(ARGS)

# Does the cascade's ranker help, and which ranker training (lists, inputs) does? (both datasets: run it twice)
.PHONY: bench-cascade
bench-cascade: install
	$(PY) -m benchmarks.bench_cascade $(ARGS)

# Bayes ceilings of the embedded dataset (top-k and CTR) from the generator's hidden structure, ~1 min per
# seed: what a retriever, a cascade or a ranker can still win. Writes bench_results/ceiling.{json,md}.
.PHONY: bench-ceiling
bench-ceiling: install
	$(PY) -m benchmarks.bench_ceiling $(ARGS)

# Negative-sampler throughput (B 1024 x 256 negatives over 160k items, vs torch.randint / torch.multinomial),
# ~1 min: writes bench_results/samplers.{json,md}. ARGS="--quick" for a smoke run.
.PHONY: bench-samplers
bench-samplers: install
	$(PY) -m benchmarks.bench_samplers $(ARGS)

# Samplers and add-ons on the embedded dataset: searched towers and GoogleDNN-L x {none, each loss control,
# each sampler, each add-on} x seeds 0,1,2 (~1 h on 2 cores; resumes; ARGS="--shard 0/2" and "--shard 1/2"
# in two shells split it): writes bench_results/addons-synthetic.{json,md}.
.PHONY: bench-addons
bench-addons: install
	$(PY) -m benchmarks.bench_addons $(ARGS)

# The GoogleDNN-L sweep recipe (20 TPE trials, resumes) and its confirmation on fresh seeds vs the defaults
# (~40 min on 2 cores): writes bench_results/sweep-google_dnn.{json,md}.
.PHONY: bench-sweep
bench-sweep: install
	$(PY) -m benchmarks.bench_sweep $(ARGS)

# Weight decay learned by hypergradient vs tuned by Optuna on the same number of GoogleDNN-L retrains (~20 min;
# resumes): writes bench_results/tuning.{json,md}.
.PHONY: bench-tuning
bench-tuning: install
	$(PY) -m benchmarks.bench_tuning $(ARGS)

clean-venv:
	rm -rf $(VENV)

# The whole pipeline at Amazon Books size (165k users x 160k items x 5.1M interactions, generated in the real
# formats): load, search (profile=paper, early-stopped), retrain, full-ranking eval vs raw faiss, sampled-vs-full
# fitness agreement. Resumes; writes bench_results/scale.{json,md}.
.PHONY: bench-scale
bench-scale: install
	$(PY) -m benchmarks.bench_scale $(ARGS)

# Users' own data at scale: a generated 10M-row interactions table (CSV and Parquet) -> processed dataset, peak
# memory over the processed arrays (~3 min): writes bench_results/own-data.{json,md}. ARGS="--quick" for 1M rows.
.PHONY: bench-own-data
bench-own-data: install
	$(PY) -m benchmarks.bench_own_data $(ARGS)

# Supernet steps/s and loss at precision=fp32, bf16, fp16 on the paper-sized dataset (~3 min on 2 cores):
# writes bench_results/precision.{json,md}. ARGS="--dataset synthetic" for the embedded set, "--device cuda" on a GPU.
.PHONY: bench-precision
bench-precision: install
	$(PY) -m benchmarks.bench_precision $(ARGS)
