"""``towernas.cascade.train_lists``: rankers train on lists of a retriever that never saw their targets."""

import json

import numpy as np
import pytest

from tests.conftest import compose_config
from towernas import retrain
from towernas.cascade import run as cascade
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.train_lists import holdout_split, refit_retriever, window_queries
from towernas.data import load_dataset
from towernas.data.interactions import TEST, TRAIN, VALID
from towernas.runs.errors import UserError


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_lists")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOWERNAS_DATA", str(root / "data"))
        run = root / "retrain"
        retrain.run_retrain(compose_config("retrain.baselines=[google_dnn]", "retrain.max_epochs=2",
                                           name="retrain"), run)
        cfg = compose_config("ranker.embed=4", "ranker.hidden=[8]", "ranker.attention_hidden=[4]", name="cascade")
        yield root, run / "retriever", load_dataset(cfg.dataset, progress=False), cfg


def test_the_window_is_the_latest_share_of_every_users_train_rows_and_nothing_later_is_trained_on(env):
    _, _, data, _ = env
    split = holdout_split(data, 0.25)
    assert split.n_interactions == data.n_interactions and np.array_equal(split.items, data.items)
    for user in range(data.n_users):
        rows = np.arange(data.user_indptr[user], data.user_indptr[user + 1])
        n_train = int((data.split[rows] == TRAIN).sum())
        held = 0 if n_train < 2 else min(max(1, int(np.floor(0.25 * n_train))), n_train - 1)
        expected = np.r_[np.full(n_train - held, TRAIN), np.full(held, VALID), np.full(len(rows) - n_train, TEST)]
        assert np.array_equal(split.split[rows], expected), user
    # the protocol's validation and test rows are never in the refit's train or its early-stopping window
    assert not np.isin(np.flatnonzero(data.split != TRAIN), split.rows("train")).any()
    assert not np.isin(np.flatnonzero(data.split != TRAIN), split.rows("valid")).any()
    with pytest.raises(UserError, match=r"holdout share 1.0: expected a share in \(0, 1\)"):
        holdout_split(data, 1.0)


def test_one_query_per_held_out_item_at_the_users_boundary(env):
    _, _, data, _ = env
    split = holdout_split(data, 0.2)
    queries = window_queries(split)
    window = split.rows("valid")
    assert len(queries.users) == len(window)
    assert np.array_equal(np.sort(queries.targets.values), np.sort(split.items[window]))
    for i in range(0, len(queries.users), 37):
        user, position = queries.users[i], queries.positions[i]
        first = window[split.users[window] == user].min()
        assert position == first  # the history ends where the window starts, as a validation query's does
        assert list(queries.exclude[i]) == list(split.items[split.user_indptr[user]:first])
        assert queries.targets[i][0] in split.items[window[split.users[window] == user]]
    each = window_queries(split, anchor="each")  # right before every held-out item
    assert np.array_equal(each.positions, window) and np.array_equal(each.targets.values, split.items[window])
    for i in range(0, len(window), 41):
        row = window[i]
        assert list(each.exclude[i]) == list(split.items[split.user_indptr[split.users[row]]:row])
    sampled = window_queries(split, limit=50, seed=3)
    again = window_queries(split, limit=50, seed=3)
    assert len(sampled.users) == 50 and np.array_equal(sampled.targets.values, again.targets.values)


def test_the_refit_is_the_artifacts_model_and_recipe_on_the_earlier_part_and_is_reused(env, tmp_path, monkeypatch):
    _, artifact, data, cfg = env
    served = RetrieverStage.load(artifact, data)
    split = holdout_split(data, 0.2)
    refit = refit_retriever(served, split, cfg, tmp_path / "refit", "cpu")
    meta = refit.artifact.meta["metadata"]
    assert meta["candidate"] == served.artifact.meta["metadata"]["candidate"] == {"kind": "hand-built", **{
        k: meta["candidate"][k] for k in ("schema", "baseline", "size")}}
    assert meta["temperature"] == served.artifact.meta["metadata"]["recipe"]["temperature"]
    assert refit.items.shape == served.items.shape and not np.allclose(refit.items, served.items)
    from towernas.cascade import train_lists

    monkeypatch.setattr("towernas.train.configured.fit_configured", lambda *a, **k: pytest.fail("refitted again"))
    again = train_lists.refit_retriever(served, split, cfg, tmp_path / "refit", "cpu")
    assert np.array_equal(again.items, refit.items)


def test_an_artifact_that_does_not_record_its_model_says_what_to_do(env, tmp_path):
    _, artifact, data, cfg = env
    served = RetrieverStage.load(artifact, data)
    served.artifact.meta["metadata"] = {k: v for k, v in served.artifact.meta["metadata"].items() if k != "candidate"}
    with pytest.raises(UserError, match="does not record its model and recipe.*cascade.train_lists=in_sample"):
        refit_retriever(served, holdout_split(data, 0.2), cfg, tmp_path / "refit", "cpu")
    assert not (tmp_path / "refit").exists()


@pytest.mark.parametrize("lists", ["in_sample", "time_split"])
def test_the_cascade_trains_on_either_list_source(env, tmp_path, lists):
    _, artifact, _, _ = env
    cfg = compose_config("ranker=lr", "cascade.rankers=[lr]", "cascade.negatives=[top_random]",
                         f"cascade.retriever={artifact}", f"cascade.train_lists={lists}",
                         "cascade.joint=[none,distill]",
                         "cascade.distill_epochs=1", name="cascade")
    out = cascade.run_cascade(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "train_lists_retriever" / "meta.json").exists() == (lists == "time_split")
    assert {p["joint"] for p in out["pipelines"]} == {"none", "distill"}
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["retriever"] == out["retriever"]  # stage 1 alone: the served artifact, whatever the lists


def test_an_unknown_list_source_is_one_line_before_any_work(env, tmp_path):
    _, artifact, _, _ = env
    cfg = compose_config(f"cascade.retriever={artifact}", "cascade.train_lists=kfold", name="cascade")
    with pytest.raises(ValueError, match=r"cascade.train_lists='kfold': unknown training-list source; expected one of"):
        cascade.run_cascade(cfg, tmp_path / "run")
    cfg = compose_config(f"cascade.retriever={artifact}", "cascade.window_anchor=start", name="cascade")
    with pytest.raises(ValueError, match=r"cascade.window_anchor='start': expected one of \['boundary', 'each'\]"):
        cascade.run_cascade(cfg, tmp_path / "run1")
    cfg = compose_config(f"cascade.retriever={artifact}", "cascade.holdout=0", name="cascade")
    with pytest.raises(ValueError, match=r"cascade.holdout=0.0: expected a share in \(0, 1\)"):
        cascade.run_cascade(cfg, tmp_path / "run2")
