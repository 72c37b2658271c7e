"""``python -m towernas.search task=cascade``: the joint search of K0 and the ranker under a budget per request, end
to end on the tiny dataset (its budget, its validation winner, its served cascade, its resume), its cost model
against the counter, and one-line errors."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import TINY, compose_config
from towernas import retrain
from towernas.cascade.candidates import Candidates
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.stages import RankerStage
from towernas.cascade.sweep import cascade_at, request_cost
from towernas.complexity.rankers import RankerCostModel
from towernas.data import load_dataset
from towernas.rankers import Catalog
from towernas.rankers.arch import ArchRanker
from towernas.search import cascade as joint
from towernas.search.cascade import K0_PREFIX, RequestCostModel, run_cascade_search, search_config
from towernas.space.ranker_arch import RankerArch
from towernas.space.ranker_space import RankerSpace


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A tiny dataset's exported retriever (``make retrain``'s artifact)."""
    root = tmp_path_factory.mktemp("joint")
    old = os.environ.get("TOWERNAS_DATA")
    os.environ["TOWERNAS_DATA"] = str(root / "data")
    retrain.run_retrain(compose_config("retrain.baselines=[google_dnn_paper]", "retrain.max_epochs=2",
                                       name="retrain"), root / "retrain")
    yield root / "retrain" / "retriever"
    if old is None:
        os.environ.pop("TOWERNAS_DATA")
    else:
        os.environ["TOWERNAS_DATA"] = old


def _cfg(artifact, *overrides):
    return compose_config(f"cascade.retriever={artifact}", *overrides, name="search_cascade")


def test_the_search_serves_its_validation_winner_within_the_budget_and_resumes(artifact, tmp_path, monkeypatch):
    from towernas.serving import Cascade as ServedCascade

    budget = "cascade_search.flops=400000"
    out = run_cascade_search(_cfg(artifact, budget), tmp_path / "run")
    points, best = out["points"], out["best"]
    assert {p["k0"] for p in points} == {10, 20, 40}  # every finalist served at every K0
    assert all(p["within_budget"] == (p["cost"]["flops"] <= 400_000) for p in points)
    inside = [p for p in points if p["within_budget"]]
    assert best["within_budget"] and best["valid"]["ndcg@10"] == max(p["valid"]["ndcg@10"] for p in inside)
    assert any(p["hand_built"] for p in points) and any(not p["hand_built"] for p in points)
    assert out["validation"]["score"] == best["valid"]["ndcg@10"]
    arch = RankerArch.load(tmp_path / "run" / "best.json")
    assert (arch.history, *arch.blocks) == tuple(best["path"]) and arch.provenance["k0"] == best["k0"]
    served = ServedCascade.load(tmp_path / "run" / "cascade")
    [(name, _, k)] = served.rankers
    assert (name, served.k0, k) == ("arch", best["k0"], min(20, best["k0"]))
    assert served.meta["metadata"]["request_cost"] == best["cost"]
    assert "| K0 | ranker path |" in (tmp_path / "run" / "summary.md").read_text()
    # a rerun resumes: no supernet epoch and no finalist is trained again
    monkeypatch.setattr(joint, "train_finalist", lambda *a, **k: pytest.fail("trained a finalist again"))
    from towernas.cascade import run as cascade_run
    monkeypatch.setattr(cascade_run, "fit_ranker", lambda *a, **k: pytest.fail("trained the supernet again"))
    again = run_cascade_search(_cfg(artifact, budget), tmp_path / "run")
    assert again["points"] == points and again["best"] == best


@pytest.fixture(scope="module")
def lists(artifact):
    """The search's config, the data, the retriever and its lists (``Candidates``), the rankers' catalogue."""
    cfg = search_config(_cfg(artifact))
    data = load_dataset(cfg.dataset, progress=False)
    retriever = RetrieverStage.load(artifact, data)
    cands = Candidates(retriever, data, cfg, None, "cpu")
    catalog = Catalog.from_data(data, cfg.cascade.pair_features, cands.served_statistics, ratings=cfg.cascade.ratings)
    return cfg, data, retriever, cands, catalog


SPACE = RankerSpace(blocks=("FM", "MLP-16", "EW-ip", "DP", "CROSS-1", "SA-1"), depth=3, embed=4, block=4)


def _fused(path, catalog, retriever):
    from towernas.cascade.fusion import RetrieverScoreFusion

    return RetrieverScoreFusion(ArchRanker(catalog, **SPACE.arch(tuple(path)).hyperparameters()), retriever.items)


def test_the_request_cost_model_equals_the_counter_on_random_genomes(lists):
    """``RequestCostModel`` (one count per history and K0, then the ranker cost model) against the mechanical count
    of each genome's whole request, its ranker built."""
    cfg, data, retriever, cands, catalog = lists

    def build(path):
        return _fused(path, catalog, retriever)

    model = RequestCostModel(RankerCostModel(catalog, SPACE), SPACE, [10, 40], build, retriever, data,
                             cands.queries["valid"])
    rng = random.Random(0)
    for _ in range(6):
        path = tuple(rng.choice(s) for s in SPACE.slots())
        for k0 in (10, 40):
            counted = request_cost(cascade_at(retriever, [RankerStage("x", build(path), 20)], k0), data,
                                   cands.queries["valid"]).flops
            assert model.flops((f"{K0_PREFIX}{k0}", *path)) == counted, (k0, path)


def test_a_path_scored_once_at_the_longest_k0_reads_as_reranking_each_shorter_list(lists):
    """``at_every_k0`` scores the top-40 once and cuts it; reranking each top-K0 apart gives the same metric."""
    from towernas.cascade.run import early_stop_metrics

    cfg, data, retriever, cands, catalog = lists
    torch.manual_seed(0)
    ranker = _fused(("target", "FM", "MLP-16", "DP"), catalog, retriever)
    once = joint.at_every_k0(ranker, [10, 20, 40], 20, "ndcg@10", data, cands, "cpu", True)
    for k0 in (10, 20, 40):
        apart = early_stop_metrics(ranker, 20, data, cands, cfg, "cpu", k0=k0)["ndcg@10"]
        assert once[k0] == pytest.approx(apart, abs=1e-6)
    assert len(set(once.values())) > 1  # the K0s differ: the test can tell them apart


@pytest.mark.parametrize("override, message", [
    ("cascade_search.flops=10", r"cascade_search.flops=10: no cascade of this space fits; the cheapest \(K0=10\)"),
    ("cascade_search.flops=-1", r"cascade_search.flops=-1: expected a positive integer"),
    ("cascade_search.k0s=[]", r"cascade_search.k0s=\[\]: expected a non-empty list of positive integers"),
    ("cascade_search.k0s=[10,0]", r"cascade_search.k0s=\[10, 0\]: expected a non-empty list"),
    ("cascade.negatives=[dns]", r"cascade.negatives=\['dns'\]: the joint search trains with one negative mode"),
    ("cascade.second_ranker=fm", r"cascade.second_ranker='fm': the joint search chooses one ranker stage"),
    ("ranker_search.finetune_steps=-1", r"ranker_search.finetune_steps=-1: expected an integer >= 0"),
    ("cascade.select=ndcg@20", r"cascade.select='ndcg@20': the joint search selects on one of \['ndcg@10'"),
    ("ranker_search.space.blocks=[FM,NOPE]", r"ranker_search.space.blocks: 'NOPE' is unknown"),
])
def test_bad_settings_are_one_line_and_write_no_supernet(artifact, tmp_path, override, message):
    with pytest.raises(Exception, match=message) as err:
        run_cascade_search(_cfg(artifact, override), tmp_path / "run")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run" / joint.SUPERNET_FILE).exists()


def test_the_cli_runs_task_cascade_and_prints_one_line_errors(artifact, tmp_path):
    env = {**os.environ}
    out = subprocess.run([sys.executable, "-m", "towernas.search", "task=cascade", *TINY["search_cascade"],
                          f"cascade.retriever={artifact}", "cascade_search.flops=10",
                          f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith("towernas.search: error: cascade_search.flops=10: no cascade")


def test_hand_built_paths_enter_at_the_largest_k0_that_fits():
    slot = [f"{K0_PREFIX}{k}" for k in (10, 50, 200)]
    assert joint.largest_k0(("mean", "FM"), slot, lambda g: g[0] != "k0=200") == "k0=50"
    assert joint.largest_k0(("mean", "FM"), slot, lambda g: False) == "k0=10"
    assert np.isclose(joint.k0_of(("k0=50", "mean")), 50)
