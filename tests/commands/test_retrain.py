"""``towernas.retrain``: from architecture files or a search run to test metrics, selected on validation."""

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import REPO, compose_config
from towernas import retrain, search
from towernas.space import Arch

ARCH = Arch("avg", ("MLP-32", "EW-sum", "SA-1"), ("MLP-16", "EW-max", "EW-avg"))


def _cfg(*overrides, name="retrain"):
    return compose_config(*overrides, name=name)


pytestmark = pytest.mark.usefixtures("data_root")  # every test: a fresh $TOWERNAS_DATA


def test_retrain_arch_files_with_seeds_reads_test_once_per_model_and_seed(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    ARCH.save(path)
    splits = []
    original = retrain.evaluate_test
    monkeypatch.setattr(retrain, "evaluate_test", lambda m, d, *a, **k: splits.append("test") or original(m, d, *a, **k))
    out = retrain.run_retrain(_cfg(f"retrain.archs=[{path}]", "retrain.seeds=[0,1]"), tmp_path / "run")
    assert splits == ["test", "test"]  # validation goes through the trainer; test once per seed
    bias = ("arp@50", "coverage@50", "tail_share@50", "unbiased/recall@50", "unbiased/ndcg@50")
    assert all(set(bias) <= set(r["test"]) for r in out["records"])  # the keys, exactly
    [row] = out["table"]
    assert row["model"] == "a" and row["seeds"] == 2 and row["recall@50_std"] >= 0
    records = out["records"]
    assert {r["seed"] for r in records} == {0, 1}
    assert all(1 <= r["best_epoch"] <= 3 and 0 <= r["test"]["recall@50"] <= 1 for r in records)
    assert records[0]["complexity"]["user"]["params"] > 0
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["table"][0]["recall@50"] == row["recall@50"]
    rows = list(csv.DictReader((tmp_path / "run" / "results.csv").open()))
    assert rows[0]["model"] == "a" and float(rows[0]["recall@50"]) == pytest.approx(row["recall@50"])
    assert "| a |" in (tmp_path / "run" / "results.md").read_text()
    mean = sum(r["valid"]["recall@50"] for r in records) / 2  # the sweeper's score: validation, never test
    assert saved["validation"] == {"metric": "recall@50", "mean": pytest.approx(mean), "of": "a",
                                   "score": pytest.approx(mean)}
    from towernas.serving import Retriever

    served = Retriever.load(tmp_path / "run" / "retriever")  # the best model by validation, ready to serve
    ids, scores = served.recommend(None, history=[], k=5)
    assert len(ids) == 5 and list(scores) == sorted(scores, reverse=True) and saved["retriever"]["model"] == "a"


def test_default_input_is_the_top_k_of_the_latest_search_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outputs/search/... relative to the working directory, as with make
    cfg = compose_config("search.population=6", "search.generations=1", "search.val_batches=1",
                         "search.random_baseline=0")
    run = tmp_path / "outputs/search/synthetic-tiny/L-single/seed0"
    search.run_search(cfg, run)
    assert retrain.latest_search_run(Path("outputs/search"), "synthetic-tiny", "L").resolve() == run
    out = retrain.run_retrain(_cfg("retrain.top_k=2", "retrain.max_epochs=1"), tmp_path / "rt")
    assert [r["model"] for r in out["table"]] == ["searched L #1", "searched L #2"]
    assert out["records"][0]["arch"] == Arch.load(run / "archs/top1.json").to_dict()


def test_searched_models_are_named_by_budget_and_rank_and_kept_apart_across_search_runs(tmp_path):
    paths = []
    for run, rank in (("L-single/seed0", 1), ("L-single/seed1", 1), ("L-single/seed0", 2)):
        paths.append(tmp_path / run / "archs" / f"top{rank}.json")
        ARCH.with_info(provenance={"budget": "L", "seed": 0}).save(paths[-1])
    ARCH.save(tmp_path / "mine.json")
    archs = ",".join(map(str, [*paths, tmp_path / "mine.json"]))
    names = [c.name for c in retrain.candidates(_cfg(f"retrain.archs=[{archs}]", "retrain.baselines=[google_dnn]"))]
    assert names == ["searched L #1 (seed0)", "searched L #1 (seed1)", "searched L #2", "mine", "google_dnn"]


def test_no_search_run_and_bad_inputs_give_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no finished search run .* run `make search` first") as err:
        retrain.run_retrain(_cfg(), tmp_path / "rt")
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**ARCH.to_dict(), "user": ["MLP-33", "EW-sum", "SA-1"]}))
    with pytest.raises(ValueError, match=r"arch.user\[0\]='MLP-33': unknown block"):
        retrain.run_retrain(_cfg(f"retrain.archs=[{bad}]"), tmp_path / "rt")
    with pytest.raises(ValueError, match="select='recall@7'"):
        path = tmp_path / "a.json"
        ARCH.save(path)
        retrain.run_retrain(_cfg(f"retrain.archs=[{path}]", "retrain.select=recall@7"), tmp_path / "rt")


def test_baselines_are_sized_in_budget_on_validation_then_compared_with_the_in_budget_google_dnn(tmp_path, monkeypatch):
    from towernas.train import loop

    original, splits = loop.evaluate_model, []
    monkeypatch.setattr(loop, "evaluate_model",  # the trainer (sizing and retraining) reads validation only
                        lambda m, d, split, *a, **k: splits.append(split) or original(m, d, split, *a, **k))
    out = retrain.run_retrain(_cfg("retrain.baselines=[google_dnn,google_dnn_paper,senet,bst,mind]",
                                   "retrain.max_epochs=1", "retrain.sizing_epochs=1", "retrain.sizing_patience=1",
                                   "retrain.export=false"),  # export: tested above
                              tmp_path / "rt")
    assert set(splits) == {"valid"}
    rows = {r["model"]: r for r in out["table"]}
    assert set(rows) == {"google_dnn", "google_dnn_paper", "senet", "bst", "mind"}
    assert rows["google_dnn"]["delta_recall@50_vs_google_dnn_pct"] == 0.0  # the in-budget one is the reference
    assert rows["google_dnn_paper"]["delta_recall@50_vs_google_dnn_pct"] is not None
    assert all(0 < r["recall@50"] <= 1 for r in rows.values())  # MIND goes through the multi-interest top-k

    def flops(row):
        return row["complexity"]["user"]["flops"] + row["complexity"]["item"]["flops"]

    assert flops(rows["google_dnn_paper"]) > 150_000 and rows["google_dnn_paper"]["size"] is None
    for name in ("google_dnn", "senet", "bst", "mind"):
        sizing = out["sizing"][name]
        assert rows[name]["size"] == sizing["chosen"] and flops(rows[name]) <= 150_000  # budget L
        scores = {g["size"]: g["valid/recall@50"] for g in sizing["grid"]}
        assert sizing["chosen"] == max(scores, key=scores.get) and sizing["seed"] == 0
    saved = json.loads((tmp_path / "rt" / "results.json").read_text())
    assert saved["sizing"] == out["sizing"]
    table = (tmp_path / "rt" / "results.md").read_text()
    assert f"| google_dnn {rows['google_dnn']['size']} |" in table and "| google_dnn_paper |" in table
    assert "Δ R@50 vs in-budget GoogleDNN" in table
    assert len((tmp_path / "rt" / "sizing.jsonl").read_text().splitlines()) == sum(
        len(s["grid"]) for s in out["sizing"].values())  # one epoch per grid size


def test_unknown_or_unfitting_baselines_fail_in_one_line_before_any_training(tmp_path, monkeypatch):
    monkeypatch.setattr(retrain, "fit", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match=r"retrain.baselines='dssm': unknown baseline; expected one of "
                                         r"\['google_dnn', 'google_dnn_paper', 'senet', .*'mind_paper'\]$"):
        retrain.run_retrain(_cfg("retrain.baselines=[dssm]"), tmp_path / "rt")
    with pytest.raises(ValueError, match="bst: no size of its grid fits budget L .*; drop it or use bst_paper") as err:
        retrain.run_retrain(_cfg("retrain.baselines=[google_dnn,bst]", "budget.flops=60000"), tmp_path / "rt")
    assert "\n" not in str(err.value)


def test_a_recipe_searched_on_one_dataset_rebuilds_on_another(tmp_path):
    """Transfer: the JSON names ops only, so it builds on MovieLens-format data with other fields."""
    import torch

    from tests.fakes.movielens import write_ml100k
    from towernas.complexity import CostModel
    from towernas.config import DatasetConfig
    from towernas.data import load_dataset
    from towernas.data.batches import training_batch
    from towernas.data.spec import DatasetSpec
    from towernas.retrievers.two_tower import build

    recipe = Arch.load(REPO / "recipes" / "synthetic-L.json")
    write_ml100k(tmp_path / "raw" / "ml-100k", n_users=40, n_items=60, n_ratings=800)
    data = load_dataset(DatasetConfig(name="ml-100k", reader="ml-100k", root=str(tmp_path), download=False))
    spec = DatasetSpec.from_data(data)
    model = build(recipe, spec)
    batch = training_batch(data, data.rows("train")[:8])
    assert model.encode_users(batch).shape == model.encode_items(batch).shape == (8, recipe.dims.out)
    cost = CostModel(spec, recipe.dims, len(recipe.user), len(recipe.item)).cost(recipe)
    assert cost.to_dict() != recipe.complexity  # recomputed for ml-100k's fields, not copied
    assert torch.isfinite(model.encode_users(batch)).all()


def test_the_validation_score_is_the_best_mean_over_seeds():
    records = [{"model": "a", "valid": {"recall@50": 0.30}}, {"model": "a", "valid": {"recall@50": 0.20}},
               {"model": "b", "valid": {"recall@50": 0.26}}, {"model": "b", "valid": {"recall@50": 0.27}}]
    entry = retrain.selected_on(records, "recall@50")  # a's best seed is highest, b's mean is
    assert entry["of"] == "b" and entry["mean"] == pytest.approx(0.265) and entry["score"] == entry["mean"]


def test_weight_decay_values_fail_in_one_line_before_any_work(tmp_path):
    from towernas.config.validate import ConfigValueError

    with pytest.raises(ConfigValueError, match=r"retrain.weight_decay=-0.1: expected 0 or a positive number"):
        retrain.run_retrain(_cfg("retrain.baselines=[google_dnn]", "retrain.weight_decay=-0.1"), tmp_path / "run")
    with pytest.raises(ConfigValueError, match=r"retrain.learn_weight_decay=true starts from retrain.weight_decay"):
        retrain.run_retrain(_cfg("retrain.baselines=[google_dnn]", "retrain.learn_weight_decay=true"),
                            tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_hand_built_winner_of_a_search_retrains_at_its_size(tmp_path):
    from towernas.retrievers.hand_built import HandBuilt
    from towernas.retrievers.sizing import grid_size

    path = tmp_path / "best.json"
    HandBuilt("google_dnn", grid_size("google_dnn", "[128,64]")).save(path)
    out = retrain.run_retrain(_cfg(f"retrain.archs=[{path}]", "retrain.export=false"), tmp_path / "run")
    [record] = out["records"]
    assert record["model"] == "best" and record["size"] == "[128,64]" and record["arch"] is None
    assert out["sizing"] == {}  # its size came with the file: nothing is sized again
