"""``towernas.search`` end to end on a tiny dataset: outputs, budgets, resume, and bad input."""

import json
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from tests.conftest import TINY, compose_config
from towernas import search
from towernas.complexity import CostModel
from towernas.complexity.budgets import Budget, BudgetError
from towernas.data.spec import DatasetSpec
from towernas.space import Arch
from towernas.space.arch_space import ArchSpace


def _cfg(*overrides):
    return compose_config(*overrides)


pytestmark = pytest.mark.usefixtures("data_root")  # every test: a fresh $TOWERNAS_DATA


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_search_writes_a_complete_run_dir_within_budget(tmp_path, monkeypatch):
    from towernas.data.interactions import InteractionData

    splits_read = []
    for method in ("rows", "queries"):
        original = getattr(InteractionData, method)
        monkeypatch.setattr(InteractionData, method,
                            lambda self, split, *a, _o=original, **k: splits_read.append(split) or _o(self, split, *a, **k))
    cfg = _cfg("budget=L")
    run = tmp_path / "run"
    summary = search.run_search(cfg, run)
    assert "test" not in splits_read and "valid" in splits_read  # selection on validation only
    for name in ("run_config.json", "supernet.pt", "supernet.jsonl", "search.jsonl", "evolution_state.json",
                 "best.json", "summary.json", "summary.md"):
        assert (run / name).exists(), name
    generations = _lines(run / "search.jsonl")
    assert [g["generation"] for g in generations] == [0, 1, 2]
    assert {"best_fitness", "median_fitness", "feasible_count", "unique_evaluations"} <= set(generations[-1])
    budget = Budget.from_config(cfg.budget)
    from towernas.data import load_dataset

    spec = DatasetSpec.from_data(load_dataset(cfg.dataset))
    model = CostModel.from_space(spec, ArchSpace.from_config(cfg.space))
    tops = sorted((run / "archs").glob("top*.json"), key=lambda p: int(p.stem[3:]))
    assert len(tops) in (cfg.search.final_candidates, cfg.search.final_candidates + 1)  # (+ the MLP finalist)
    finalists = [Arch.load(p) for p in tops]
    is_mlp = lambda blocks: blocks[0].startswith("MLP-") and set(blocks[1:]) == {"skip"}  # noqa: E731
    assert any(is_mlp(a.user) and is_mlp(a.item) for a in finalists)  # the hand-built MLP is always a finalist
    records = []
    for path in [run / "best.json", *tops]:
        arch = Arch.load(path)
        cost = model.cost(arch)
        assert budget.admits(cost)
        assert arch.complexity == cost.to_dict()  # recorded cost is the exact one
        assert arch.provenance["dataset"] == "synthetic-tiny" and arch.provenance["budget"] == "L"
        records.append(arch.provenance)
    best, ranked = records[0], records[1:]
    assert best == ranked[0] and "retrained" in best  # best.json = top1 = the fully retrained validation winner
    full = [r for r in ranked if "retrained" in r]
    assert len(full) == cfg.search.final_top and [r["retrained"] for r in full] == sorted(
        (r["retrained"] for r in full), reverse=True)
    rest = [r["short"] for r in ranked[len(full):]]
    assert rest == sorted(rest, reverse=True)  # the others by their short-retrain score
    assert sorted(r["fitness_rank"] for r in ranked) == list(range(1, len(ranked) + 1))
    assert set(summary["phases_seconds_this_call"]) == {"supernet", "evolution", "selection"}
    assert summary["peak_rss_mib"] > 50
    assert json.loads((run / "selection.json").read_text())  # retrain scores cached for a resumed run
    assert summary["vs_random_feasible"]["n_random"] == 4
    assert not [p for p in run.rglob(".*") if p.is_file()]  # no temp files left


def test_rerunning_the_same_command_resumes_without_retraining(tmp_path):
    run = tmp_path / "run"
    first = search.run_search(_cfg(), run)
    steps_logged = len(_lines(run / "supernet.jsonl"))
    generations_logged = len(_lines(run / "search.jsonl"))
    second = search.run_search(_cfg(), run)
    assert second["resumed"] and second["best"] == first["best"]
    assert len(_lines(run / "supernet.jsonl")) == steps_logged  # no step retrained
    assert len(_lines(run / "search.jsonl")) == generations_logged  # no generation rerun
    with pytest.raises(ValueError, match="holds a run of another config .*supernet.lr"):
        search.run_search(_cfg("supernet.lr=0.01"), run)


def test_pareto_mode_reports_one_architecture_per_budget(tmp_path):
    run = tmp_path / "run"
    summary = search.run_search(_cfg("search=pareto", "search.population=10", "search.generations=2",
                                     "search.random_baseline=0"), run)
    front = json.loads((run / "pareto_front.json").read_text())
    assert front and all("complexity" in a for a in front)
    flops = [a["complexity"]["user"]["flops"] + a["complexity"]["item"]["flops"] for a in front]
    losses = [a["provenance"]["fitness"] for a in front]
    order = sorted(range(len(front)), key=lambda i: flops[i])
    assert all(losses[order[i]] >= losses[order[i + 1]] for i in range(len(order) - 1))  # non-dominated
    for name in ("L", "M", "H"):
        arch = Arch.load(run / f"best_{name}.json")
        cfg_budget = _cfg(f"budget={name}").budget
        total = sum(arch.complexity[s]["flops"] for s in ("user", "item"))
        assert total <= cfg_budget.flops
    assert set(summary["best_per_budget"]) == {"best_L", "best_M", "best_H"}


def test_impossible_budget_fails_before_training(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(BudgetError, match="admits no architecture: the cheapest possible costs") as err:
        search.run_search(_cfg("budget.flops=1000"), run)
    assert "\n" not in str(err.value)
    assert not (run / "supernet.pt").exists()


def test_bad_budget_values_and_names():
    with pytest.raises(BudgetError, match="flops=-5"):
        search.run_search(_cfg("budget.flops=-5"), Path("/nonexistent/never-created"))
    with pytest.raises(ConfigCompositionException) as err:
        compose_config("budget=XL")
    assert "Available options" in str(err.value) and "L" in str(err.value)
    with pytest.raises(Exception, match="flops"):
        compose_config("budget.flops=lots")
    with pytest.raises(ConfigCompositionException):
        compose_config("budget.flopz=5")


def test_diverging_supernet_stops_with_the_step_and_a_hint(tmp_path):
    from supernet import SupernetDivergedError

    with pytest.raises(SupernetDivergedError, match=r"at step \d+ .*lower the learning rate") as err:
        search.run_search(_cfg("supernet.lr=1e12", "supernet.temperature=1e-6"), tmp_path / "run")
    assert "\n" not in str(err.value)


def test_cli_prints_a_one_line_error(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "towernas.search", *TINY["config"], "budget.flops=1000",
                          f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True,
                         cwd=tmp_path, env={**__import__("os").environ, "TOWERNAS_DATA": str(tmp_path)})
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith("towernas.search: error: budget L")


def test_mlp_seeds_are_the_widest_in_budget_mlp_per_pooling():
    space = ArchSpace.from_config(_cfg("space=towernas").space)
    from towernas.complexity import synthetic_spec

    model = CostModel.from_space(synthetic_spec(), space)
    budget = Budget("L", 240_000, 150_000)
    admits = lambda g: budget.admits(search.genome_cost(model, space, g))  # noqa: E731
    seeds = search.mlp_seeds(space, admits)
    assert [g[0] for g in seeds] == list(space.poolings)
    for genome in seeds:
        user, item = genome[1:1 + space.depth_user], genome[1 + space.depth_user:]
        assert user[0].startswith("MLP-") and set(user[1:]) == {"skip"} and set(item[1:]) == {"skip"}
        assert admits(genome)
        wider = int(min(user[0], item[0], key=lambda b: int(b[4:]))[4:]) * 2
        both = (genome[0], f"MLP-{wider}", *user[1:], f"MLP-{wider}", *item[1:])
        assert not admits(both)  # the smaller side cannot be doubled on both towers
    assert search.mlp_seeds(ArchSpace.from_config(_cfg("space=autotower").space), admits) == []  # no skip op


def test_shortlist_is_the_best_diverse_feasible_top_n():
    evaluated = [(("a", "x", "x"), 1.0), (("a", "x", "y"), 0.5), (("b", "y", "y"), 0.7), (("c", "z", "z"), 0.2),
                 (("b", "x", "y"), 0.9)]
    admits = lambda g: g[0] != "c"  # noqa: E731
    picked = search.shortlist(evaluated, 3, 2, admits)
    assert [g for g, _ in search.shortlist(evaluated, 3, 1, lambda g: True, per_pooling=1)] == [
        ("c", "z", "z"), ("a", "x", "y"), ("b", "y", "y")]  # one per pooling
    # 0.2 is infeasible; 0.5 first; ("b","y","y") differs in 2 slots from it; ("b","x","y") differs in only 1
    assert [g for g, _ in picked][:2] == [("a", "x", "y"), ("b", "y", "y")]
    assert ("b", "x", "y") not in [g for g, _ in picked]


def test_random_search_control_uses_the_same_final_selection(tmp_path):
    run = tmp_path / "run"
    summary = search.run_search(_cfg("search.strategy=random", "search.random_seconds=0"), run)
    assert summary["strategy"] == "random" and summary["supernet"] is None and summary["search"] is None
    assert not (run / "supernet.pt").exists()
    best = Arch.load(run / "best.json")
    assert best.provenance["strategy"] == "random" and "retrained" in best.provenance
    assert all(row["fitness"] is None and row["fitness_rank"] is None for row in summary["selection"])
    assert len(summary["selection"]) == _cfg().search.final_candidates + 1  # no time left: first N + the MLP
    with pytest.raises(ValueError, match=r"search.strategy='grid': expected one of \['evolution', 'random'\]"):
        search.run_search(_cfg("search.strategy=grid"), tmp_path / "other")
    with pytest.raises(ValueError, match=r"search.fitness='auc': expected one of \['recall', 'loss'\]"):
        search.run_search(_cfg("search.fitness=auc"), tmp_path / "other")
