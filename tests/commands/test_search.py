"""``towernas.search`` end to end on a tiny dataset: outputs, budgets, resume, and bad input."""

import json
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from tests.conftest import TINY, compose_config
from towernas import search
from towernas.complexity import CostModel
from towernas.complexity.budgets import Budget, BudgetError
from towernas.complexity.towers import tower_cost
from towernas.data.spec import DatasetSpec
from towernas.retrievers.hand_built import HandBuilt, load_tower
from towernas.retrievers.sizing import build_size, fitting_sizes
from towernas.search import genomes
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
    cfg = _cfg("budget=L", "search.baselines=[google_dnn,bst]")
    run = tmp_path / "run"
    summary = search.run_search(cfg, run)
    assert "test" not in splits_read and "valid" in splits_read  # selection on validation only
    for name in ("run_config.json", "supernet.pt", "supernet.jsonl", "search.jsonl", "evolution_state.json",
                 "best.json", "summary.json", "summary.md"):
        assert (run / name).exists(), name
    generations = _lines(run / "search.jsonl")
    assert [g["generation"] for g in generations] == [0, 1, 2]
    winner = summary["selection"][0]  # the sweeper's score: the winner's validation as the selection saw it
    assert summary["validation"]["score"] == winner.get("retrained", winner["short"]) and \
        summary["validation"]["metric"] == "recall@50"
    assert {"best_fitness", "median_fitness", "feasible_count", "unique_evaluations"} <= set(generations[-1])
    budget = Budget.from_config(cfg.budget)
    from towernas.data import load_dataset

    spec = DatasetSpec.from_data(load_dataset(cfg.dataset))
    model = CostModel.from_space(spec, ArchSpace.from_config(cfg.space))
    tops = sorted((run / "archs").glob("top*.json"), key=lambda p: int(p.stem[3:]))
    hand = [r for r in summary["selection"] if r.get("baseline") is not None]
    spec_ = DatasetSpec.from_data(load_dataset(cfg.dataset))
    sizes = [(b, label) for b in cfg.search.baselines for label, _ in fitting_sizes(b, budget, spec_)]
    assert sorted((r["baseline"], r["size"]) for r in hand) == sorted(sizes)  # every in-budget size, short-retrained
    assert {b for b, _ in sizes} == set(cfg.search.baselines)  # both fit L on the tiny set
    n = cfg.search.final_candidates + len(hand)
    assert len(tops) in (n, n + 1)  # (+ the MLP finalist)
    finalists = [load_tower(p) for p in tops]
    is_mlp = lambda blocks: blocks[0].startswith("MLP-") and set(blocks[1:]) == {"skip"}  # noqa: E731
    assert any(isinstance(a, Arch) and is_mlp(a.user) and is_mlp(a.item) for a in finalists)  # the in-space MLP
    records = []
    for path in [run / "best.json", *tops]:
        tower = load_tower(path)
        if isinstance(tower, HandBuilt):  # costed by the exact counter retrain costs baselines with
            cost = tower_cost(build_size(tower.baseline, tower.size, spec), spec)
        else:
            cost = model.cost(tower)
        assert budget.admits(cost)
        assert tower.complexity == cost.to_dict()  # recorded cost is the exact one
        assert tower.provenance["dataset"] == "synthetic-tiny" and tower.provenance["budget"] == "L"
        records.append(tower.provenance)
    best, ranked = records[0], records[1:]
    assert best.pop("winner") == summary["winner"]  # best.json says which origin won and by how much
    assert best == ranked[0] and "retrained" in best  # best.json = top1 = the fully retrained validation winner
    full = [r for r in ranked if "retrained" in r]
    assert len(full) == cfg.search.final_top + cfg.search.hand_built_finalists and [r["retrained"] for r in full] == \
        sorted((r["retrained"] for r in full), reverse=True)  # the best hand-built family is fully retrained too
    best_hand = max(hand, key=lambda r: r["short"])
    [finalist] = [r for r in full if r["origin"] == "hand-built"]
    assert finalist["short"] == best_hand["short"]  # the hand-built family that short-retrained best
    rest = [r["short"] for r in ranked[len(full):]]
    assert rest == sorted(rest, reverse=True)  # the others by their short-retrain score
    scored = [r for r in ranked if r["origin"] != "hand-built"]  # the hand-built ones have no supernet fitness
    by_rank = sorted(scored, key=lambda r: r["fitness_rank"])  # the supernet rank among evaluated genomes
    assert len({r["fitness_rank"] for r in scored}) == len(scored) and by_rank[0]["fitness_rank"] >= 1
    assert [r["fitness"] for r in by_rank] == sorted(r["fitness"] for r in scored)
    won = summary["winner"]  # which origin won, and its margin over the best of every other origin
    assert won["origin"] == best["origin"] and won["validation"] == best["retrained"]
    assert won["over"] and all(m["margin"] >= 0 for m in won["over"].values())
    assert f"winner ({won['origin']})" in (run / "summary.md").read_text()
    md = (run / "summary.md").read_text()  # the supernet's R@50 as it is (the evolution minimises its negative)
    assert "| supernet R@50 | supernet R@50 rank |" in md and "supernet R@50: " in md and "(higher is better)" in md
    assert f"| {-by_rank[0]['fitness']:.4f} | {by_rank[0]['fitness_rank']} |" in md and by_rank[0]["fitness"] < 0
    assert summary["fitness_shown"] == {"name": "supernet R@50", "shown_as": "-fitness", "higher_is_better": True}
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
    admits = lambda g: budget.admits(genomes.genome_cost(model, space, g))  # noqa: E731
    seeds = genomes.mlp_seeds(space, admits)
    assert [g[0] for g in seeds] == list(space.poolings)
    for genome in seeds:
        user, item = genome[1:1 + space.depth_user], genome[1 + space.depth_user:]
        assert user[0].startswith("MLP-") and set(user[1:]) == {"skip"} and set(item[1:]) == {"skip"}
        assert admits(genome)
        wider = int(min(user[0], item[0], key=lambda b: int(b[4:]))[4:]) * 2
        both = (genome[0], f"MLP-{wider}", *user[1:], f"MLP-{wider}", *item[1:])
        assert not admits(both)  # the smaller side cannot be doubled on both towers
    assert genomes.mlp_seeds(ArchSpace.from_config(_cfg("space=autotower").space), admits) == []  # no skip op


def _retrain_all(propose, score):
    """Drive a proposer to the end with ``score(genome)`` as the short retrain; the rows it saw."""
    rows = []
    while (proposal := propose(rows)) is not None:
        genome, fitness, rank = proposal
        rows.append({"genome": list(genome), "fitness": fitness, "fitness_rank": rank, "short": score(genome),
                     "seconds": 1.0})
    return rows


# supernet fitness (lower is better): it prefers pooling "a"; retraining prefers pooling "b"
EVALUATED = [(("a", "x", "x", "x"), 0.10), (("a", "y", "y", "y"), 0.11), (("a", "z", "z", "z"), 0.12),
             (("a", "x", "x", "y"), 0.13), (("b", "p", "p", "p"), 0.20), (("b", "q", "q", "q"), 0.21),
             (("b", "r", "r", "r"), 0.22), (("c", "u", "u", "u"), 0.30), (("d", "v", "v", "v"), 0.05)]
RETRAINED = {"a": 0.25, "b": 0.30, "c": 0.20}


def test_leaders_first_then_the_supernets_diverse_top_then_the_best_pooling_hand_built_tower():
    from towernas.search.proposals import LeadersThenTop

    admits = lambda g: g[0] != "d"  # noqa: E731  (the supernet's favourite does not fit the budget)
    hand_built = [("a", "m", "s", "s"), ("b", "m", "s", "s"), ("c", "m", "s", "s")]
    leaders = LeadersThenTop(EVALUATED, 6, 2, admits, hand_built=hand_built)
    rows = _retrain_all(leaders, lambda g: RETRAINED[g[0]] - 0.001 * int(g[1] == "m"))
    genomes = [tuple(r["genome"]) for r in rows]
    # each admitted pooling's supernet leader, best pooling first; then the supernet's order, where
    # ("a","x","x","y") is 1 slot from ("a","x","x","x") and is skipped
    assert genomes[:6] == [("a", "x", "x", "x"), ("b", "p", "p", "p"), ("c", "u", "u", "u"),
                           ("a", "y", "y", "y"), ("a", "z", "z", "z"), ("b", "q", "q", "q")]
    assert genomes[6:] == [("b", "m", "s", "s")]  # the hand-built tower of the best-retrained pooling, last
    assert [r["fitness_rank"] for r in rows] == [1, 5, 8, 2, 3, 6, None]  # ranks among admitted genomes
    assert rows[0]["fitness"] == 0.10 and rows[-1]["fitness"] is None


def test_top_by_fitness_is_the_supernets_diverse_top_n_whatever_the_retrains_say():
    from towernas.search.proposals import TopByFitness

    top = TopByFitness(EVALUATED, 4, 2, lambda g: g[0] != "d")
    rows = _retrain_all(top, lambda g: RETRAINED[g[0]])
    assert [tuple(r["genome"]) for r in rows] == [("a", "x", "x", "x"), ("a", "y", "y", "y"),
                                                  ("a", "z", "z", "z"), ("b", "p", "p", "p")]


def test_random_proposals_spend_the_seconds_given_after_the_first_batch_and_the_hand_built_tower():
    from towernas.search.proposals import RandomProposals

    first = [("c", "x", "x", "x"), ("b", "y", "y", "y")]
    stream = iter([("b", "y", "y", "y"), ("a", "q", "q", "q"), ("a", "r", "r", "r"), ("a", "s", "s", "s")])
    propose = RandomProposals(first, stream, seconds=4.0, hand_built=[("a", "m"), ("b", "m"), ("c", "m")])
    rows = _retrain_all(propose, lambda g: RETRAINED[g[0]])
    # 1 s each: the 2 first, the MLP of b (best retrained of the first), then the stream (its repeat of a
    # first genome skipped) until 4 s are used
    assert [tuple(r["genome"]) for r in rows] == [*first, ("b", "m"), ("a", "q", "q", "q")]
    assert all(r["fitness"] is None for r in rows)


def test_random_search_control_uses_the_same_final_selection(tmp_path):
    run = tmp_path / "run"
    summary = search.run_search(_cfg("search.strategy=random", "search.random_seconds=0",
                                     "search.baselines=[google_dnn]"), run)
    assert summary["strategy"] == "random" and summary["supernet"] is None and summary["search"] is None
    assert not (run / "supernet.pt").exists()
    best = load_tower(run / "best.json")
    assert best.provenance["strategy"] == "random" and "retrained" in best.provenance
    assert all(row["fitness"] is None and row["fitness_rank"] is None for row in summary["selection"])
    hand = sum(row.get("baseline") is not None for row in summary["selection"])  # as in the evolutionary search
    assert hand >= 1
    assert len(summary["selection"]) == _cfg().search.final_candidates + 1 + hand  # no time left: first N + the MLP
    for override, message in [("search.strategy=grid", r"search.strategy='grid': unknown search strategy; "
                                                       r"expected one of \['evolution', 'random'\]"),
                              ("search.fitness=auc", r"search.fitness='auc': unknown fitness; "
                                                     r"expected one of \['recall', 'loss'\]"),
                              ("search.propose=race", r"search.propose='race': unknown proposer; "
                                                      r"expected one of \['leaders', 'fitness'\]")]:
        with pytest.raises(ValueError, match=message):
            search.run_search(_cfg(override), tmp_path / "other")


def test_joint_search_tunes_the_leaders_training_and_retrains_the_finalists_with_it(tmp_path, monkeypatch):
    pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")
    from towernas.search import selection

    calls = []
    original = selection.retrain_score
    monkeypatch.setattr(selection, "retrain_score",
                        lambda arch, data, cfg, **k: calls.append((cfg.retrain.temperature, k["epochs"]))
                        or original(arch, data, cfg, **k))
    overrides = ("search.hparams=[temperature,lr]", "search.hparam_trials=3", "search.baselines=[]")
    run = tmp_path / "run"
    summary = search.run_search(_cfg(*overrides), run)
    leader = max(summary["selection"], key=lambda row: row["short"])
    trials = leader["training_trials"]
    assert len(trials["trials"]) == 3 and trials["configured"] == {"temperature": _cfg().retrain.temperature,
                                                                "lr": _cfg().retrain.lr}
    assert trials["configured_score"] != leader["short"]  # the bar: the configured values on the trials' schedule
    best_trial = max(trials["trials"], key=lambda t: t["score"])
    expected = best_trial["values"] if best_trial["score"] > trials["configured_score"] else trials["configured"]
    assert summary["training"] == expected == trials["values"]
    # TINY: 3 short retrains (1 epoch), then the configured values and 3 trials on the retrain schedule (2 epochs,
    # early-stopped), then the final_top=1 finalist's 2 full retrains, at the tuned temperature
    assert [epochs for _, epochs in calls] == [1] * (len(calls) - 6) + [2] * 6
    assert [t for t, _ in calls[-2:]] == [expected["temperature"]] * 2
    assert json.loads((run / "best.json").read_text())["provenance"]["training"] == expected
    assert "best retrained with: retrain.temperature=" in (run / "summary.md").read_text()
    calls.clear()
    again = search.run_search(_cfg(*overrides), run)  # resumed: every trial comes from the cache
    assert not calls and again["training"] == summary["training"]
