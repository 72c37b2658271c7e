"""Search → retrain → cascade on users' own files in each format, served by their original ids."""

import json

import pytest

from tests.conftest import compose_config
from tests.fakes.own_data import generated, write_lightgcn, write_recbole, write_table
from towernas import rank, retrain
from towernas.cascade import run as cascade
from towernas.search import run as search

pytestmark = pytest.mark.usefixtures("data_root")


def _value(value) -> str:
    """A Python value in Hydra's override grammar."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _dataset(kind: str, root) -> list[str]:
    """Write the generator's data in format ``kind`` under ``$TOWERNAS_DATA/raw/<name>``; the dataset overrides."""
    data = generated()
    if kind == "table":
        options = write_table(root / "raw" / "shop", data, parquet=True)
        return ["dataset=table", "dataset.name=shop", "dataset.max_len=10",
                *(f"dataset.options.{k}={_value(v)}" for k, v in options.items())]
    if kind == "recbole":
        write_recbole(root / "raw" / "rb", "rb", data, parts=True)
        return ["dataset=recbole", "dataset.name=rb", "dataset.max_len=10", "dataset.split.method=given",
                "dataset.options.benchmark_filename=[train,valid,test]", "dataset.options.unseen=drop"]
    write_lightgcn(root / "raw" / "lg", data)
    return ["dataset=lightgcn", "dataset.name=lg", "dataset.max_len=10"]


@pytest.mark.parametrize("kind", ["table", "recbole", "lightgcn"])
def test_search_retrain_and_cascade_run_on_each_format_and_serve_original_ids(kind, data_root, tmp_path):
    dataset = _dataset(kind, data_root)
    search_run = tmp_path / "search"
    search.run_search(compose_config(*dataset, "budget=L"), search_run)
    assert json.loads((search_run / "best.json").read_text())
    retrain_run = tmp_path / "retrain"
    results = retrain.run_retrain(compose_config(*dataset, f"retrain.search_dir={search_run}", "retrain.top_k=1",
                                                 "retrain.baselines=[]", name="retrain"), retrain_run)
    assert results["records"] and (retrain_run / "retriever").is_dir()
    table = (retrain_run / "results.md").read_text()
    assert table.startswith("| model | test R@20 | test N@20 | valid R@20 | valid N@20 |")  # the BARS numbers first
    out = cascade.run_cascade(compose_config(*dataset, f"cascade.retriever={retrain_run / 'retriever'}",
                                             "cascade.rankers=[deepfm]", "cascade.negatives=[uniform]", "ranker=deepfm",
                                             "ranker.embed=4", "ranker.hidden=[8]", name="cascade"), tmp_path / "cascade")
    assert out["pipelines"]
    from towernas.serving import Cascade as ServedCascade

    served = ServedCascade.load(out["cascade_dir"])
    user = served.retriever.user_ids[0]
    history = served.retriever.item_ids[:3]
    ids, scores = served.recommend(user, history, k=5)
    assert len(ids) == 5 and set(ids) <= set(served.retriever.item_ids) and not set(ids) & set(history)
    if kind == "table":  # the user's own string ids, end to end
        assert user.startswith("u") and all(i.startswith("sku-") for i in ids)
    # the CTR task reads the same files: ratings >= 4 positive where the format has ratings, sampled negatives else
    label = "rating" if kind != "lightgcn" else "implicit"
    ctr = rank.run_rank(compose_config(*dataset, "ranker=fm", "ranker.embed=4", f"dataset.ctr.label={label}",
                                       name="rank"), tmp_path / "rank")
    assert 0.0 <= ctr["records"][0]["test"]["auc"] <= 1.0
