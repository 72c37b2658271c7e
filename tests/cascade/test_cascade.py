"""``towernas.cascade``: retrieve -> rank on the retriever's own candidates, every stage evaluated."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import compose_config
from towernas import retrain
from towernas.cascade import run as cascade
from towernas.data import load_dataset
from towernas.cascade.stages import Cascade, RankerStage, rerank
from towernas.cascade.queries import split_queries, train_queries
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.rankers import Catalog, build_ranker
from towernas.serving.retriever import ArtifactError

SMALL = ["ranker.embed=4", "ranker.hidden=[8]", "ranker.attention_hidden=[4]"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A tiny dataset's retrain run (exported retriever) under outputs/retrain, as `make retrain` leaves it."""
    root = tmp_path_factory.mktemp("cascade")
    old = os.environ.get("TOWERNAS_DATA")
    os.environ["TOWERNAS_DATA"] = str(root / "data")
    run = root / "outputs" / "retrain" / "synthetic-tiny" / "L" / "2026-01-01_00-00-00"
    results = retrain.run_retrain(compose_config("retrain.baselines=[google_dnn_paper]", "retrain.max_epochs=2",
                                                 name="retrain"), run)
    yield root, run / "retriever", results
    if old is None:
        os.environ.pop("TOWERNAS_DATA")
    else:
        os.environ["TOWERNAS_DATA"] = old


def _cfg(*overrides, small=tuple(SMALL)):
    return compose_config(*small, *overrides, name="cascade")


def test_cascade_reports_every_stage_and_the_retriever_alone_equals_its_retrain_evaluation(env, tmp_path):
    root, artifact, retrained = env
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.k0=60", "cascade.k1=50",
                                   "cascade.negatives=[uniform,top]"), tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [s["name"] for s in saved["stages"]] == ["retriever", "din"] and [s["k"] for s in saved["stages"]] == [60, 50]
    best = max(saved["pipelines"], key=lambda p: p["stages"][-1]["valid"]["ndcg@10"])  # the sweeper's score
    assert saved["validation"] == {"metric": "ndcg@10", "mean": best["stages"][-1]["valid"]["ndcg@10"],
                                   "of": best["name"], "score": best["stages"][-1]["valid"]["ndcg@10"]}
    bias = {"arp@50", "coverage@50", "tail_share@50", "unbiased/recall@50", "unbiased/ndcg@50"}
    for stage in saved["stages"]:
        assert {"recall@10", "ndcg@10", "hitrate@10", "recall@20", "recall@50", "ceiling_recall",
                "seconds_per_1000_users"} <= set(stage["test"])
        # test alone carries the popularity-bias and intervened metrics (validation selects, it needs none)
        with_std = bias | {f"{m}_std" for m in bias}  # the aggregated stages carry std keys too
        assert bias <= set(stage["test"]) and set(stage["valid"]) == set(stage["test"]) - with_std
    # stage 1 alone is exact full ranking with the protocol's masks: the retrain's own test numbers, bias included
    test = retrained["records"][0]["test"]
    for metric in ("recall@10", "ndcg@10", "recall@50", "ndcg@50", *sorted(bias)):
        assert saved["retriever"][0]["test"][metric] == pytest.approx(test[metric], abs=1e-9)
    # a ranker only reorders: its Recall@K1 can never exceed the retriever's Recall@K0 (the ceiling)
    for p in saved["pipelines"]:
        assert p["stages"][1]["test"]["recall@50"] <= p["stages"][0]["test"]["recall@60"] + 1e-12
    assert {p["negatives"] for p in saved["pipelines"]} == {"uniform", "top"}
    assert saved["best"] in {p["name"] for p in saved["pipelines"]}
    assert "| retriever alone |" in (tmp_path / "run" / "results.md").read_text()


def test_make_cascade_with_no_arguments_reranks_the_latest_retrain_export(env, tmp_path, monkeypatch):
    root, artifact, _ = env
    monkeypatch.chdir(root)
    assert cascade.latest_retriever(Path("outputs/retrain"), "synthetic-tiny", "L").resolve() == artifact.resolve()
    out = cascade.run_cascade(_cfg("cascade.negatives=[top_random]"), tmp_path / "run")
    assert Path(out["retriever_dir"]).resolve() == artifact.resolve()


def test_ranker_stages_reorder_the_retrievers_list_and_a_second_ranker_truncates_again(env):
    root, artifact, _ = env
    cfg = _cfg()
    data = load_dataset(cfg.dataset, progress=False)
    retriever = RetrieverStage.load(artifact, data)
    queries = split_queries(data, "valid")
    first = build_ranker("fm", Catalog.from_data(data), embed=4)
    second = build_ranker("lr", Catalog.from_data(data))
    outputs = Cascade(retriever, 30, [RankerStage("fm", first, 12), RankerStage("lr", second, 5)]).topk(data, queries)
    assert [o.ids.shape[1] for o in outputs] == [30, 12, 5]
    for before, after in zip(outputs, outputs[1:]):
        assert all(set(a[a >= 0]) <= set(b[b >= 0]) for a, b in zip(after.ids, before.ids))
    excluded = [set(queries.exclude[i]) for i in range(len(queries.users))]
    assert not any(set(row) & ex for row, ex in zip(outputs[0].ids, excluded))  # masking: no train item


def test_training_queries_are_train_interactions_with_their_past_masked(env):
    cfg = _cfg()
    data = load_dataset(cfg.dataset, progress=False)
    q = train_queries(data, limit=None)
    assert (data.split[q.positions] == 0).all() and len(q.users) == len(q.targets)
    for i in range(0, len(q.users), 97):
        p, u = q.positions[i], q.users[i]
        assert q.targets[i].tolist() == [data.items[p]]
        assert sorted(q.exclude[i].tolist()) == sorted(data.items[data.user_indptr[u]:p].tolist())


@pytest.mark.parametrize("overrides, message", [
    (["cascade.k1=300"], r"k0=200, k1=300, k2=20: expected 1 <= k2 < k1 < k0"),
    (["cascade.negatives=[hard]"], r"cascade.negatives='hard': unknown negative mode; expected one of \["),
    (["cascade.rankers=[deepfn]"], r"ranker.name='deepfn': unknown ranker; expected one of \["),
    (["cascade.select=ndcg@100"], r"cascade.select='ndcg@100': expected one of"),
    (["cascade.joint=[none,distil]"], r"cascade.joint='distil': unknown joint mode; expected one of \['none', 'distill'\]"),
    (["cascade.joint=[]"], r"cascade.joint=\[\]: expected a non-empty list of \['none', 'distill'\]"),
    (["cascade.loss=bpr"], r"cascade.loss='bpr': unknown ranker loss; expected one of \['bce', 'softmax', 'mse'\]"),
    (["cascade.k0_sweep=[20,0]"], r"cascade.k0_sweep=\[20, 0\]: 0 is not a list length; expected positive integers"),
])
def test_bad_cascade_values_are_one_line_and_write_nothing(env, tmp_path, overrides, message):
    root, artifact, _ = env
    with pytest.raises(ValueError, match=message):
        cascade.run_cascade(compose_config(*overrides, f"cascade.retriever={artifact}", name="cascade", tiny=False),
                            tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_artifact_of_another_dataset_is_named(env, tmp_path):
    root, artifact, _ = env
    other = _cfg(f"cascade.retriever={artifact}", "dataset.options.n_items=150")
    with pytest.raises(ArtifactError, match=r"retriever artifact .*: built on \d+ items, dataset synthetic-tiny has"):
        cascade.run_cascade(other, tmp_path / "run")
    shuffled = _cfg(f"cascade.retriever={artifact}", "dataset.options.seed=7")
    with pytest.raises(ArtifactError, match="retriever artifact"):
        cascade.run_cascade(shuffled, tmp_path / "run2")
    assert not (tmp_path / "run").exists() and not (tmp_path / "run2").exists()


def test_no_retrain_export_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="run `make retrain` first or pass cascade.retriever="):
        cascade.run_cascade(_cfg(), tmp_path / "run")
    assert np is not None


@pytest.mark.parametrize("features", ["[]", "[retriever,popularity,cooccurrence,category,item_rating,trend]"])
def test_the_served_cascade_equals_the_in_process_pipeline(env, tmp_path, features):
    from towernas.serving import Cascade as ServedCascade

    root, artifact, _ = env
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.negatives=[top]", "cascade.k0=40",
                                   "cascade.k1=15", "ranker=deepfm", "cascade.rankers=[deepfm]",
                                   f"cascade.pair_features={features}",
                                   small=("ranker.embed=4", "ranker.hidden=[8]")), tmp_path / "run")
    served = ServedCascade.load(out["cascade_dir"])
    cfg = _cfg()
    data = load_dataset(cfg.dataset, progress=False)
    retriever = RetrieverStage.load(artifact, data)
    [(name, ranker, k)] = served.rankers
    assert (name, k) == ("deepfm", 15)
    queries = split_queries(data, "test")
    first, vectors = Cascade(retriever, 40, []).retrieve(data, queries)
    expected, expected_scores = rerank(ranker, data, queries, first.ids, k, vectors=vectors)
    ratings = data.train_ratings()  # what the rankers read in-process: train feedback only
    for i in range(0, len(queries.users), 7):
        u, p = queries.users[i], queries.positions[i]
        history = [data.item_ids[j] for j in data.histories(np.array([p]))[0] if j != data.pad_item]
        exclude = [data.item_ids[j] for j in queries.exclude[i]]
        rows = np.arange(data.user_indptr[u], p)  # the user's whole history: its mean rating reads all of it
        ids, scores = served.recommend(str(data.user_ids[u]), [data.item_ids[j] for j in data.items[rows]], k=10,
                                       exclude=exclude, ratings=ratings[rows], time=int(data.timestamps[p]))
        # the same scores (the order may differ only between candidates tied to float precision: the retriever's
        # rank of a candidate, a pair feature, counts exact comparisons of scores computed in other batch shapes)
        assert np.allclose(scores, expected_scores[i, :10], atol=1e-4)
        mine = dict(zip((str(data.item_ids[j]) for j in expected[i]), expected_scores[i]))
        assert all(abs(mine[x] - s) < 1e-4 for x, s in zip(ids, scores))
        if features == "[]":
            assert ids == [str(data.item_ids[j]) for j in expected[i, :10]]
        assert list(scores) == sorted(scores, reverse=True)
    cold, _ = served.recommend({"age": "3"}, history[:3], k=5)  # raw features: unknown to the rankers
    assert len(cold) == 5


def test_a_corrupted_ranker_checkpoint_is_named(env, tmp_path):
    from towernas.serving import Cascade as ServedCascade

    root, artifact, _ = env
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.negatives=[uniform]", "ranker=lr",
                                   "cascade.rankers=[lr]", small=()), tmp_path / "run")
    weights = Path(out["cascade_dir"]) / "ranker0.pt"
    weights.write_bytes(weights.read_bytes()[:-20])
    with pytest.raises(ArtifactError, match=r"ranker0.pt: sha256 mismatch"):
        ServedCascade.load(out["cascade_dir"])


def test_the_joint_mode_distills_the_ranker_into_the_retriever_and_is_chosen_on_validation(env, tmp_path):
    root, artifact, _ = env
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.negatives=[top]",
                                   "cascade.joint=[none,distill]", "cascade.distill_epochs=2",
                                   "cascade.distill_lr=0.01"), tmp_path / "run")
    by_joint = {r["joint"]: r for r in out["records"]}
    assert set(by_joint) == {"none", "distill"}
    distilled = by_joint["distill"]
    assert 0 <= distilled["distill_epoch"] <= 2 and len(distilled["distill_log"]) == 2
    # epoch 0 (the retriever untouched) is a candidate: validation can only stay or improve
    none_valid = by_joint["none"]["stages"][-1]["valid"]["ndcg@10"]
    assert distilled["distill_valid"] >= none_valid - 1e-12 or distilled["distill_epoch"] == 0
    if distilled["distill_epoch"] > 0:  # a distilled retriever retrieves other lists
        assert distilled["stages"][0]["test"] != by_joint["none"]["stages"][0]["test"]
    assert {p["name"] for p in out["pipelines"]} == {"din (top)", "din (top) + distill"}


def test_a_fused_ranker_starts_from_the_retrievers_order(env):
    """LR's first-order weights start at 0: fused with the retriever's score, the untrained stage keeps the
    retriever's ranking (its top K1 = the retriever's first K1)."""
    from towernas.cascade.fusion import RetrieverScoreFusion

    root, artifact, _ = env
    data = load_dataset(_cfg().dataset, progress=False)
    retriever = RetrieverStage.load(artifact, data)
    fused = RetrieverScoreFusion(build_ranker("lr", Catalog.from_data(data)), retriever.items)
    queries = split_queries(data, "valid")
    first, second = Cascade(retriever, 30, [RankerStage("lr", fused, 10)]).topk(data, queries)
    assert (second.ids == first.ids[:, :10]).all()


def test_a_fused_stage_can_keep_the_retrievers_order_when_training_does_not_help(env, tmp_path):
    """Epoch 0 (the untrained fused ranker, ~ the retriever's order) is a candidate of early stopping: the kept
    epoch is never worse on validation than not training at all."""
    root, artifact, _ = env
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.negatives=[top]", "cascade.k0=60",
                                   "cascade.k1=50"), tmp_path / "run")
    [record] = out["records"]
    log = [json.loads(line) for line in (tmp_path / "run" / "cascade.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log][0] == 0
    best = max(r["valid/ndcg@10"] for r in log)
    assert record["early_stop_valid"]["ndcg@10"] == pytest.approx(best)
    assert record["early_stop_valid"]["ndcg@10"] >= log[0]["valid/ndcg@10"]


def test_a_rerun_resumes_finished_pipelines_and_keeps_the_export_of_the_best(env, tmp_path, monkeypatch):
    root, artifact, _ = env
    base = (f"cascade.retriever={artifact}", "ranker=lr", "cascade.rankers=[lr]", "cascade.max_epochs=2")
    first = cascade.run_cascade(_cfg(*base, "cascade.negatives=[uniform]", small=()), tmp_path / "run")
    exported = json.loads((tmp_path / "run" / "cascade" / "cascade.json").read_text())["metadata"]
    trained = []
    original = cascade.run_pipeline
    monkeypatch.setattr(cascade, "run_pipeline", lambda name, mode, *a: trained.append(mode) or original(name, mode, *a))
    again = cascade.run_cascade(_cfg(*base, "cascade.negatives=[uniform,top]", small=()), tmp_path / "run")
    assert trained == ["top"]  # uniform was on record
    assert again["records"][0] == first["records"][0] and len(again["records"]) == 2
    best = max(again["records"], key=lambda r: r["stages"][-1]["valid"]["ndcg@10"])
    now = json.loads((tmp_path / "run" / "cascade" / "cascade.json").read_text())["metadata"]
    assert now["negatives"] == best["negatives"]  # the served pipeline is the best of both runs
    assert now == exported or best["negatives"] == "top"


def test_the_markdown_table_puts_each_metric_under_its_own_header():
    metrics = {"ndcg@10": 0.11, "recall@10": 0.22, "hitrate@10": 0.33, "recall@50": 0.44, "ndcg@50": 0.55,
               "seconds_per_1000_users": 0.001}
    table = cascade.results_table([{"test": metrics}], [])
    header, _, row = table.splitlines()[:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert (cells["N@10"], cells["R@10"], cells["HR@10"], cells["R@50"], cells["N@50"]) == (
        "0.1100", "0.2200", "0.3300", "0.4400", "0.5500")


def test_a_stage_keeping_fewer_than_50_shows_its_bias_at_k_but_no_recall_at_50():
    from towernas.cascade.report import _cell

    last = {"recall@10": 0.1, "ndcg@10": 0.2, "arp@20": 30.0, "unbiased/recall@20": 0.05, "arp@20_std": 1.0}
    assert _cell(last, "recall@50") == "–" and _cell(last, "ndcg@50") == "–"  # was R@10 / N@10 under the @50 header
    assert _cell(last, "arp@50") == "30.0000 ± 1.0000" and _cell(last, "unbiased/recall@50") == "0.0500"


def test_the_fusion_temperature_is_the_retrievers_training_temperature_unless_configured(env):
    from towernas.cascade.retriever_stage import LEGACY_TEMPERATURE

    root, artifact, retrained = env
    stage = RetrieverStage.load(artifact, load_dataset(compose_config(name="cascade").dataset, progress=False))
    trained_at = compose_config(name="retrain").retrain.temperature
    assert stage.artifact.meta["metadata"]["temperature"] == trained_at  # recorded by retrain's export
    assert stage.temperature() == trained_at and stage.temperature(0.7) == 0.7
    stage.artifact.meta["metadata"].pop("temperature")  # an artifact exported before it was recorded
    assert stage.temperature() == LEGACY_TEMPERATURE


def test_a_ranker_architecture_file_trains_and_serves_as_a_cascade_stage(env, tmp_path):
    """``ranker=arch ranker.arch=<best.json>`` (what ``towernas.search task=ctr`` writes) is a stage like any ranker;
    the served cascade rebuilds it from its blocks, without the file."""
    from towernas.serving import Cascade as ServedCascade
    from towernas.space.ranker_arch import RankerArch

    root, artifact, _ = env
    path = tmp_path / "best.json"
    RankerArch(("FM", "MLP-16"), history="target", embed=4, block=8, head=4).save(path)
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.negatives=[top]", "ranker=arch",
                                   f"ranker.arch={path}", "cascade.rankers=[arch]", small=()), tmp_path / "run")
    path.unlink()  # the export carries the architecture
    [(name, ranker, _)] = ServedCascade.load(out["cascade_dir"]).rankers
    ranker = getattr(ranker, "ranker", ranker)  # fused with the retriever's score (cascade.fuse_retriever)
    assert name == "arch" and ranker.arch == RankerArch(("FM", "MLP-16"), history="target", embed=4, block=8, head=4)


def test_the_k0_sweep_serves_each_pipeline_at_every_k0_with_its_counted_request_cost(env, tmp_path):
    from towernas.cascade.sweep import cascade_at, request_cost
    from towernas.complexity.counting import count_ops

    root, artifact, _ = env
    out = cascade.run_cascade(_cfg(f"cascade.retriever={artifact}", "cascade.k0=60", "cascade.k1=20",
                                   "cascade.negatives=[top]", "cascade.seeds=[0,1]", "cascade.k0_sweep=[60,10,30]"),
                              tmp_path / "run")
    points = out["sweep"]
    alone = next(p for p in points if p["name"] == "retriever alone")
    ranked = [p for p in points if p["name"] == "din (top)"]
    assert [p["k0"] for p in sorted(ranked, key=lambda p: p["k0"])] == [10, 30, 60] and all(p["seeds"] == 2
                                                                                         for p in ranked)
    # the points at the run's own K0 are the pipeline's own numbers (mean over the two seeds)
    at60 = next(p for p in ranked if p["k0"] == 60)
    last = out["pipelines"][0]["stages"][-1]
    for split in ("valid", "test"):
        assert at60[split]["ndcg@10"] == pytest.approx(last[split]["ndcg@10"], abs=1e-12)
    assert alone["test"]["ndcg@10"] == pytest.approx(out["retriever"][0]["test"]["ndcg@10"], abs=1e-12)
    assert out["pipelines"][0]["request_cost"] == at60["cost"]  # every pipeline carries its request's cost
    # cost: user tower + exact search (items x d) + the ranker on K0 candidates; more candidates cost more
    data = load_dataset(_cfg().dataset, progress=False)
    retriever = RetrieverStage.load(artifact, data)
    n, d = retriever.items.shape
    assert alone["cost"]["retrieval"] == n * d and alone["cost"]["stages"] == []
    assert out["retriever"][0]["request_cost"] == alone["cost"]  # stage 1 alone: the same count at any K0
    assert all(p["cost"]["user_tower"] == alone["cost"]["user_tower"] > 0 for p in ranked)
    by_k0 = {p["k0"]: p["cost"] for p in ranked}
    assert [c["stages"][0]["candidates"] for c in by_k0.values()] == list(by_k0)
    assert by_k0[10]["flops"] < by_k0[30]["flops"] < by_k0[60]["flops"]
    assert by_k0[60]["flops"] == by_k0[60]["user_tower"] + n * d + by_k0[60]["stages"][0]["flops"]
    # the ranker's share: the counter on a forward of that many candidates, linear in them past the query side
    per_10 = by_k0[30]["stages"][0]["flops"] - by_k0[10]["stages"][0]["flops"]
    assert by_k0[60]["stages"][0]["flops"] - by_k0[30]["stages"][0]["flops"] == pytest.approx(1.5 * per_10, rel=0.02)
    # the front (oracle): a point is on it unless another reaches at least its validation N@10 at no more FLOPs
    # and beats it in one of the two
    def dominated(p):
        return any(q is not p and q["cost"]["flops"] <= p["cost"]["flops"] and q["valid"]["ndcg@10"] >=
                   p["valid"]["ndcg@10"] and (q["cost"]["flops"] < p["cost"]["flops"] or q["valid"]["ndcg@10"] >
                                              p["valid"]["ndcg@10"]) for q in points)

    assert [p["front"] for p in points] == [not dominated(p) for p in points]
    assert any(p["front"] for p in points) and [p["cost"]["flops"] for p in points] == sorted(
        p["cost"]["flops"] for p in points)
    md = (tmp_path / "run" / "results.md").read_text()
    assert "| cascade | K0 | FLOPs / request |" in md and "| retriever alone | 10 |" in md
    assert f"| {at60['cost']['flops']:,} |" in md.split("What limits it")[0]  # the results table's cost column
    # below k1 a stage only reorders its whole input
    assert [s.k for s in cascade_at(retriever, [RankerStage("x", None, 20)], 10).rankers] == [10]
    # the user tower's count is the counter on the served program (one user, a full padded history)
    queries = split_queries(data, "valid")
    inputs = retriever.inputs(data, queries.users[:1], queries.positions[:1])
    assert request_cost(Cascade(retriever, 10, []), data, queries).user_tower == count_ops(retriever.program,
                                                                                         *inputs).flops
