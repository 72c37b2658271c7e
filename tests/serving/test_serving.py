"""Retriever export: the served artifact must reproduce the in-process model + exact top-k, load without
the training code, and refuse corrupted, incomplete or foreign artifacts with a one-line error."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.fakes.faiss_gpu import FakeGpuIndex, fake_gpu  # noqa: F401  (a fixture)
from towernas.config import DatasetConfig
from towernas.data import FeatureTable, Field, load_dataset
from towernas.data.batches import user_inputs
from towernas.data.ragged import Ragged
from towernas.data.spec import DatasetSpec
from towernas.eval import exact_topk
from towernas.eval.encode import encode_all_items
from towernas.retrievers.two_tower import build
from towernas.serving import ArtifactError, Retriever, export_retriever
from towernas.serving import export as export_module
from towernas.space.arch import Arch

ARCH = Arch("self_attentive", ("SA-2", "MLP-64", "EW-ip"), ("MLP-32", "EW-max", "EW-avg"))
K = 10


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    cfg = DatasetConfig(name="t", reader="synthetic", root=str(tmp_path_factory.mktemp("data")),
                        options={"n_users": 100, "n_items": 200, "mean_length": 20})
    data = load_dataset(cfg, progress=False)
    # add a multi-valued user field, so the raw-feature encoding of lists is exercised too
    rng = np.random.default_rng(0)
    likes = rng.integers(0, 6, size=(data.n_users, 3))
    likes = -np.sort(-likes, axis=1)  # values first, padding (0) last
    table = data.user_features
    fields = [*table.fields, Field("likes", 6, 3, True)]
    values = {**table.values, "likes": likes}
    vocab = {**table.vocab, "likes": ["jazz", "rock", "pop", "folk", "metal"]}
    return dataclasses.replace(data, user_features=FeatureTable(fields, values, vocab))


@pytest.fixture(scope="module")
def model(data):
    torch.manual_seed(0)
    return build(ARCH, DatasetSpec.from_data(data)).eval()


@pytest.fixture(scope="module")
def artifact(model, data, tmp_path_factory):
    directory = tmp_path_factory.mktemp("export") / "retriever"
    meta = export_retriever(model, data, directory, metadata={"run": "test"})
    return directory, meta


@pytest.fixture(scope="module")
def served(artifact):
    return Retriever.load(artifact[0])


def valid_point(data, u):
    """The row where user ``u``'s validation starts (the query point of the protocol)."""
    q = data.queries("valid")
    return int(q.positions[np.flatnonzero(q.users == u)[0]])


def raw_history(data, position):
    return [str(data.item_ids[i]) for i in data.histories(np.array([position]))[0] if i != data.pad_item]


def expected(model, data, batch, k, exclude_rows):
    """In-process model + exact top-k → (raw ids, scores)."""
    with torch.no_grad():
        query = model.encode_users(batch).numpy()
    items = encode_all_items(model, data)
    ids, scores = exact_topk(query, items, k, Ragged.from_lists([exclude_rows]))
    keep = ids[0] >= 0
    return [str(data.item_ids[i]) for i in ids[0][keep]], scores[0][keep]


def assert_same(got, want):
    assert got[0] == want[0]
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)


def test_known_users_match_in_process_model_and_exact_topk(model, data, served):
    users = [0, 7, 42, 99]
    got = served.recommend_batch([str(data.user_ids[u]) for u in users],
                                 [raw_history(data, valid_point(data, u)) for u in users], K)
    for u, result in zip(users, got):
        pos = valid_point(data, u)
        history = data.histories(np.array([pos]))[0]
        want = expected(model, data, user_inputs(data, np.array([u]), np.array([pos])), K,
                        history[history != data.pad_item])
        assert_same(result, want)
        assert_same(served.recommend(str(data.user_ids[u]), raw_history(data, pos), K), want)


def test_raw_feature_dict_user_with_unknown_value_and_explicit_exclude(model, data, served):
    u, pos = 13, valid_point(data, 13)
    batch = user_inputs(data, np.array([u]), np.array([pos]))
    raw = {}
    for f in data.user_features.fields:
        codes = data.user_features.values[f.name][u]
        vocab = data.user_features.vocab[f.name]
        raw[f.name] = [vocab[c - 1] for c in codes if c] if f.multi else vocab[codes - 1] if codes else None
    raw["age"] = "no-such-age"  # unknown value -> code 0 (missing)
    batch["user:age"][:] = 0
    history = raw_history(data, pos)
    exclude = history[:3] + ["not-an-item"]
    want = expected(model, data, batch, K, [int(np.flatnonzero(data.item_ids == x)[0]) for x in exclude[:3]])
    assert_same(served.recommend(raw, history + ["not-an-item"], K, exclude=exclude), want)


def test_empty_history_and_missing_features(model, data, served):
    batch = user_inputs(data, np.array([5]), np.array([valid_point(data, 5)]))
    batch["history"][:] = data.pad_item
    assert_same(served.recommend(str(data.user_ids[5]), [], K), expected(model, data, batch, K, []))
    for name in [k for k in batch if k.startswith("user:")]:
        batch[name][:] = 0
    assert_same(served.recommend(None, [], K), expected(model, data, batch, K, []))
    assert_same(served.recommend({}, [], K), expected(model, data, batch, K, []))


def test_history_is_truncated_to_max_len_and_bad_users_fail(data, served):
    long = [str(x) for x in data.item_ids[:60]]
    assert served.encode([None], [long]).tolist() == served.encode([None], [long[-data.max_len:]]).tolist()
    with pytest.raises(ValueError, match="user 'no-such-user' is unknown to the model and none of its 1 history item"):
        served.recommend("no-such-user", ["not-an-item"], K)
    # a cold user with a known history: served from it, its features missing (as None's)
    history = [str(x) for x in data.item_ids[:4]]
    assert_same(served.recommend("no-such-user", history, K), served.recommend(None, history, K))
    with pytest.raises(ValueError, match="unknown user field"):
        served.recommend({"agee": "25"}, [], K)


def test_flat_artifact_is_exact_and_complete(model, data, artifact, served):
    directory, meta = artifact
    assert meta["index"]["kind"] == "flat" and meta["index"]["recall"]["value"] == 1.0
    assert Arch.from_dict(meta["arch"]) == ARCH and meta["metadata"] == {"run": "test"}
    assert json.loads((directory / "meta.json").read_text()) == meta
    items = np.load(directory / "items.npy", allow_pickle=False)
    np.testing.assert_allclose(items, encode_all_items(model, data), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, atol=1e-5)
    assert served.item_ids == [str(x) for x in data.item_ids] and meta["pad_id"] == data.n_items
    assert sorted(os.listdir(directory.parent)) == ["retriever"]  # no temp dirs left behind


def test_program_loads_without_training_code_in_a_fresh_process(data, artifact, served):
    directory, _ = artifact
    history = raw_history(data, valid_point(data, 3))
    script = f"""
import json, sys, torch
program = torch.export.load({str(directory / "user_tower.pt2")!r}).module()
out = program(torch.full((2, {data.max_len}), {data.pad_item}),
              {{f["name"]: torch.zeros((2, f["width"]) if f["multi"] else (2,), dtype=torch.long)
               for f in json.load(open({str(directory / "meta.json")!r}))["user_fields"]}})
from towernas.serving import Retriever
ids, scores = Retriever.load({str(directory)!r}).recommend({str(data.user_ids[3])!r}, {history!r}, {K})
allowed = ("towernas.data", "towernas.data.ragged")  # the (lazy) package and its plain container
banned = [m for m in sys.modules if m.startswith(("towernas.retrievers", "towernas.space", "towernas.nn",
                                                  "towernas.train", "towernas.data", "supernet", "evolution",
                                                  "pandas", "pyarrow")) and m not in allowed]
print(json.dumps({{"shape": list(out.shape), "ids": ids, "scores": scores.tolist(), "banned": banned}}))
"""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["banned"] == [] and result["shape"] == [2, 64]
    assert_same((result["ids"], np.array(result["scores"])), served.recommend(str(data.user_ids[3]), history, K))


def test_approximate_indexes_report_recall_vs_exact(model, data, tmp_path):
    ivf = export_retriever(model, data, tmp_path / "ivf", index="ivf")
    hnsw = export_retriever(model, data, tmp_path / "hnsw", index="hnsw", index_params={"efSearch": 256})
    for meta in (ivf, hnsw):
        recall = meta["index"]["recall"]
        assert 0.0 <= recall["value"] <= 1.0 and recall["queries"] > 0
    assert hnsw["index"]["recall"]["value"] >= 0.95
    assert ivf["index"]["params"]["nprobe"] <= ivf["index"]["params"]["nlist"]
    loaded = Retriever.load(tmp_path / "ivf")
    assert loaded.index.nprobe == ivf["index"]["params"]["nprobe"]
    assert Retriever.load(tmp_path / "hnsw").index.hnsw.efSearch == 256
    ids, scores = loaded.recommend(str(data.user_ids[0]), [], K)
    assert len(ids) <= K and np.all(np.diff(scores) <= 0)
    with pytest.raises(ValueError, match="unknown key"):
        export_retriever(model, data, tmp_path / "bad", index="hnsw", index_params={"nprobe": 4})
    assert not (tmp_path / "bad").exists()


def copy_artifact(artifact, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(artifact[0], target)
    return target


@pytest.mark.parametrize("name", ["items.npy", "index.faiss", "user_tower.pt2", "user_features.npz"])
def test_flipped_byte_is_detected(artifact, tmp_path, name):
    target = copy_artifact(artifact, tmp_path)
    raw = bytearray((target / name).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (target / name).write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=rf"{name}: sha256 mismatch") as err:
        Retriever.load(target)
    assert "\n" not in str(err.value)


def test_missing_file_and_foreign_meta_are_detected(artifact, tmp_path):
    target = copy_artifact(artifact, tmp_path)
    (target / "item_ids.json").unlink()
    with pytest.raises(ArtifactError, match=r"item_ids.json: missing"):
        Retriever.load(target)
    shutil.copy(artifact[0] / "item_ids.json", target / "item_ids.json")
    meta = json.loads((target / "meta.json").read_text())
    (target / "meta.json").write_text(json.dumps({**meta, "dim": meta["dim"] + 1}))
    with pytest.raises(ArtifactError, match=r"items.npy: expected float32"):
        Retriever.load(target)
    (target / "meta.json").write_text(json.dumps({**meta, "schema": 99}))
    with pytest.raises(ArtifactError, match=r"meta.json: schema 99"):
        Retriever.load(target)
    (target / "meta.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"meta.json: unreadable"):
        Retriever.load(target)
    with pytest.raises(ArtifactError, match="no such artifact directory"):
        Retriever.load(tmp_path / "nowhere")


def test_interrupted_export_leaves_nothing(model, data, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_module, "build_index", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_retriever(model, data, tmp_path / "retriever")
    assert os.listdir(tmp_path) == []


def test_reexport_replaces_an_artifact_but_not_other_directories(model, data, artifact, tmp_path):
    target = copy_artifact(artifact, tmp_path)
    (target / "stale.txt").write_text("old")
    export_retriever(model, data, target, metadata={"v": 2})
    assert not (target / "stale.txt").exists() and Retriever.load(target).meta["metadata"] == {"v": 2}
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="not a retriever artifact"):
        export_retriever(model, data, other)
    assert (other / "keep.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["copy", "notes"]


def test_model_without_user_fields(data, tmp_path):
    bare = dataclasses.replace(data, user_features=FeatureTable())
    torch.manual_seed(1)
    arch = Arch("avg", ("MLP-32", "EW-sum", "SA-1"), ("MLP-32", "EW-max", "EW-avg"))
    model = build(arch, DatasetSpec.from_data(bare))
    export_retriever(model, bare, tmp_path / "r")
    served = Retriever.load(tmp_path / "r")
    u, pos = 21, valid_point(bare, 21)
    history = bare.histories(np.array([pos]))[0]
    want = expected(model, bare, user_inputs(bare, np.array([u]), np.array([pos])), K,
                    history[history != bare.pad_item])
    assert_same(served.recommend(str(bare.user_ids[u]), raw_history(bare, pos), K), want)


def test_multi_interest_model_is_served_by_max_over_interests(data, tmp_path):
    from towernas.eval.multi_interest import exact_topk_multi
    from towernas.retrievers import MIND

    torch.manual_seed(2)
    model = MIND(DatasetSpec.from_data(data), [64, 32]).eval()
    meta = export_retriever(model, data, tmp_path / "r", index="hnsw", index_params={"efSearch": 256})
    assert len(meta["user_output"]) == 2 and meta["index"]["recall"]["value"] >= 0.95
    served = Retriever.load(tmp_path / "r")
    u, pos = 30, valid_point(data, 30)
    history = data.histories(np.array([pos]))[0]
    with torch.no_grad():
        query = model.encode_users(user_inputs(data, np.array([u]), np.array([pos]))).numpy()  # (1, K, d)
    ids, scores = exact_topk_multi(query, encode_all_items(model, data), K,
                                   Ragged.from_lists([history[history != data.pad_item]]))
    want = ([str(data.item_ids[i]) for i in ids[0]], scores[0])
    assert_same(served.recommend(str(data.user_ids[u]), raw_history(data, pos), K), want)


def test_an_artifact_served_from_a_gpu_index_recommends_the_same(data, artifact, served, fake_gpu):
    on_gpu = Retriever.load(artifact[0], device="cuda:0")  # faiss-gpu faked: the index moves, results do not
    assert fake_gpu == [(0, "IndexFlatIP")] and on_gpu.cpu_index is not on_gpu.index
    users = [str(data.user_ids[u]) for u in (0, 7, 42)]
    histories = [raw_history(data, valid_point(data, u)) for u in (0, 7, 42)]
    for got, want in zip(on_gpu.recommend_batch(users, histories, K), served.recommend_batch(users, histories, K)):
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
    assert FakeGpuIndex.searches  # searched on the (fake) GPU
