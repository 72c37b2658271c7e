"""``python -m towernas.search task=ctr|rating``: the ranker search end to end on the tiny dataset, its resume,
best.json read back by ``towernas.rank ranker=arch``, and one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import TINY, compose_config
from towernas.search import rankers
from towernas.search.rankers import finalists, hand_built, run_ranker_search
from towernas.space.ranker_arch import RankerArch
from towernas.space.ranker_space import RankerSpace

pytestmark = pytest.mark.usefixtures("data_root")


def _cfg(*overrides):
    return compose_config(*overrides, name="search_ranker")


def test_a_ctr_search_writes_best_json_within_budget_and_resumes(tmp_path, monkeypatch):
    out = run_ranker_search(_cfg("ranker_search.budget.flops=60000"), tmp_path / "run")
    best = RankerArch.load(tmp_path / "run" / "best.json")
    assert json.loads((tmp_path / "run" / "best.json").read_text())["kind"] == "ranker"
    assert best.complexity["flops_per_candidate"] <= 60_000 and best.provenance["task"] == "ctr"
    rows = out["finalists"]
    assert rows and all(r["cost"]["flops"] <= 60_000 for r in rows)
    assert [r["valid"]["auc"] for r in rows] == sorted((r["valid"]["auc"] for r in rows), reverse=True)
    assert (best.history, *best.blocks) == tuple(rows[0]["genome"])  # the validation winner
    assert out["validation"] == {"metric": "auc", "mean": rows[0]["valid"]["auc"], "of": "best",
                                 "score": rows[0]["valid"]["auc"]}
    assert "| genome | hand-built |" in (tmp_path / "run" / "summary.md").read_text()
    # a rerun resumes: nothing is trained again
    monkeypatch.setattr(rankers, "train_finalist", lambda *a, **k: pytest.fail("trained a finalist again"))
    monkeypatch.setattr(rankers, "fit_ranker", lambda *a, **k: pytest.fail("trained the supernet again"))
    again = run_ranker_search(_cfg("ranker_search.budget.flops=60000"), tmp_path / "run")
    assert again["finalists"] == rows and again["best"] == out["best"]
    # the leaderboard reads the run: its finalists, the winner first
    from towernas.leaderboard import build_site

    build_site([tmp_path / "run"], tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    assert "Ranker searches" in html and html.index(" ".join(rows[0]["genome"])) < html.index(
        " ".join(rows[-1]["genome"]))


def test_best_json_trains_with_towernas_rank(tmp_path):
    from towernas import rank

    run_ranker_search(_cfg("ranker_search.budget.flops=60000", "seed=1"), tmp_path / "search")
    result = rank.run_rank(compose_config("ranker=arch", f"ranker.arch={tmp_path / 'search' / 'best.json'}",
                                          name="rank"), tmp_path / "rank")
    assert result["table"][0]["model"] == "arch" and 0 <= result["table"][0]["auc"] <= 1


def test_a_rating_search_selects_on_rmse(tmp_path):
    out = run_ranker_search(_cfg("task=rating", "ranker_search.budget.flops=60000"), tmp_path / "run")
    rows = out["finalists"]
    assert out["validation"]["metric"] == "rmse" and out["validation"]["score"] == -rows[0]["valid"]["rmse"]
    assert [r["valid"]["rmse"] for r in rows] == sorted(r["valid"]["rmse"] for r in rows)
    assert RankerArch.load(tmp_path / "run" / "best.json").provenance["metric"] == "rmse"


@pytest.mark.parametrize("override, message", [
    ("task=cascade", r"task='cascade': the ranker search runs one of \['ctr', 'rating'\]; task=towers is the tower "
                     r"search, task=cascade the joint cascade search"),
    ("ranker_search.budget.flops=10", r"ranker budget R100k \(flops per candidate <= 10\) admits no ranker"),
    ("ranker_search.budget.flops=-1", r"ranker_search.budget.flops=-1: expected a positive number"),
    ("ranker_search.supernet_epochs=0", r"ranker_search.supernet_epochs=0: expected a positive integer"),
    ("ranker_search.finetune_steps=-1", r"ranker_search.finetune_steps=-1: expected an integer >= 0"),
    ("ranker_search.space.blocks=[FM,NOPE]", r"ranker_search.space.blocks: 'NOPE' is unknown"),
    ("rank.select=auc task=rating", r"rank.select='auc': rank.task=rating selects on one of"),
])
def test_bad_settings_are_one_line_before_any_training(tmp_path, override, message):
    with pytest.raises(Exception, match=message) as err:
        run_ranker_search(_cfg(*override.split()), tmp_path / "run")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run" / "ranker_supernet.pt").exists()


def test_the_cli_dispatches_on_task_and_prints_one_line_errors(tmp_path):
    env = {**os.environ, "TOWERNAS_DATA": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-m", "towernas.search", "task=ctr", *TINY["search_ranker"],
                          "ranker_search.budget.flops=10", f"hydra.run.dir={tmp_path / 'run'}"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith("towernas.search: error: ranker budget R100k")
    towers = subprocess.run([sys.executable, "-m", "towernas.search", "task=towers", *TINY["config"],
                             "budget.flops=1000", f"hydra.run.dir={tmp_path / 'towers'}"],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert towers.stderr.strip().splitlines()[-1].startswith("towernas.search: error: budget L")  # the tower search


def test_finalists_are_distinct_and_the_hand_built_follow():
    evaluated = [(("mean", "FM", "skip"), -0.9), (("mean", "FM", "DP"), -0.8), (("target", "DP", "FM"), -0.7)]
    assert finalists(evaluated, 2, 2, [("mean", "FM", "MLP-64")]) == [
        ("mean", "FM", "skip"), ("target", "DP", "FM"), ("mean", "FM", "MLP-64")]
    space = RankerSpace(blocks=("FM", "MLP-16", "MLP-64"), depth=3)
    admits = lambda g: "MLP-64" not in g  # noqa: E731
    assert hand_built(space, admits) == [("mean", "FM", "MLP-16", "skip"), ("target", "FM", "MLP-16", "skip")]


def test_the_ranker_search_config_has_the_main_configs_groups_and_their_values():
    """``conf/search_ranker.yaml`` lists ``conf/config.yaml``'s groups after its own schema (a schema merged after
    a group would reset that group's values): the evolution keys are the tower search's."""
    import yaml

    from tests.conftest import CONF_DIR

    def groups(name):
        return [d for d in yaml.safe_load((CONF_DIR / f"{name}.yaml").read_text())["defaults"] if isinstance(d, dict)]

    assert [d for d in groups("search_ranker") if "ranker" not in d] == groups("config")
    assert compose_config(name="search_ranker", tiny=False).search == compose_config(tiny=False).search


def test_a_path_is_scored_after_fine_tuning_it_alone_on_the_same_batches_for_every_path():
    import numpy as np
    import torch

    from supernet.ranker import export_ranker
    from towernas.rank import split_evaluator
    from towernas.search.rankers import PathScorer, fitness_sample, path_metric, setup
    from towernas.train.ranker_loop import bce

    s = setup(_cfg("ranker_search.budget.flops=60000"))
    net, evaluate = s.supernet()
    net.eval()
    pairs = fitness_sample(s.pairs["valid"], 500, 0)
    genome = ("mean", "FM", "MLP-16")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    # steps=0: the supernet's own path, exactly
    assert PathScorer(s, net, pairs, 0)(genome) == path_metric(net, genome, evaluate, pairs, "auc")
    scorer = PathScorer(s, net, pairs, 3)
    assert len(scorer.batches) == 3 and PathScorer(s, net, pairs, 3).batches[0][1].equal(scorer.batches[0][1])
    tuned = scorer(genome)
    assert all(v.equal(before[k]) for k, v in net.state_dict().items())  # the supernet is left as it was
    assert scorer(genome) == tuned  # the same batches, the same seed: the same score
    # oracle: the exported child, trained by hand with Adam on the same three batches, scores the same
    child = export_ranker(net, genome)
    torch.manual_seed(s.cfg.seed)
    optimizer = torch.optim.Adam(child.parameters(), lr=s.cfg.rank.lr)
    child.train()
    for batch, items, labels in scorer.batches:
        optimizer.zero_grad()
        bce(child.score(batch, items), labels).backward()
        optimizer.step()
    child.eval()
    assert np.isclose(split_evaluator(child, s.data, s.cfg, s.device)(pairs)["auc"], tuned, rtol=0, atol=1e-6)
    assert tuned != path_metric(net, genome, evaluate, pairs, "auc")  # the fine-tuning changed the path
