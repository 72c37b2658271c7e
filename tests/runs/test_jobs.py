"""Independent jobs on Ray (a 2-worker local cluster) give the records the local engine gives."""

from __future__ import annotations

import pytest

from tests.conftest import compose_config
from towernas import retrain
from towernas.runs.errors import UserError
from towernas.runs.jobs import JobsSettings, run_jobs

pytestmark = pytest.mark.usefixtures("data_root")
RETRAIN = ["retrain.baselines=[google_dnn]", "retrain.sizing_epochs=1", "retrain.seeds=[0,1]", "retrain.max_epochs=2"]


def _numbers(records):
    return [(r["model"], r["seed"], r["best_epoch"], round(r["valid"]["recall@50"], 6), round(r["test"]["recall@50"], 6))
            for r in records]


def test_bad_settings_are_one_line_errors():
    for settings, message in [(JobsSettings(engine="dask"), "jobs.engine='dask': expected one of"),
                              (JobsSettings(workers=0), "jobs.workers=0")]:
        with pytest.raises(UserError, match=message):
            settings.check()


def test_the_local_engine_is_a_plain_loop_in_job_order():
    assert run_jobs(lambda a, b, scale: (a - b) * scale, [(3, 1), (1, 3)], JobsSettings(), {"scale": 10}) == [20, -20]


def test_the_processes_engine_returns_job_order_and_reports_each_job_as_it_finishes():
    seen = []
    results = run_jobs(pow, [(2, 3), (3, 2), (2, 5)], JobsSettings(engine="processes", workers=2), {},
                       on_result=lambda i, result: seen.append((i, result)))
    assert results == [8, 9, 32] and sorted(seen) == [(0, 8), (1, 9), (2, 32)]


def test_retrains_on_a_two_worker_ray_cluster_equal_the_local_ones(tmp_path):
    ray = pytest.importorskip("ray", reason="the distributed extra (pip install 'towernas[distributed]')")
    local = retrain.run_retrain(compose_config(*RETRAIN, name="retrain"), tmp_path / "local")
    remote = retrain.run_retrain(compose_config(*RETRAIN, "jobs.engine=ray", "jobs.workers=2", name="retrain"),
                                 tmp_path / "ray")
    assert not ray.is_initialized()  # the local cluster it started is shut down
    assert _numbers(remote["records"]) == _numbers(local["records"]) and len(remote["records"]) == 2
    assert (tmp_path / "ray" / "retriever" / "meta.json").exists()  # the best job's weights, exported here
    logged = (tmp_path / "ray" / "retrain.jsonl").read_text().splitlines()
    assert len(logged) == len((tmp_path / "local" / "retrain.jsonl").read_text().splitlines()) > 0


def test_a_searchs_full_retrains_on_ray_score_as_the_local_ones(tmp_path):
    pytest.importorskip("ray", reason="the distributed extra (pip install 'towernas[distributed]')")
    import json

    from towernas import search

    runs = {}
    for engine in ("local", "ray"):
        run = tmp_path / engine
        search.run_search(compose_config("search.final_top=2", "search.final_seeds=[0,1]", f"jobs.engine={engine}",
                                         "search.baselines=[google_dnn]"), run)
        runs[engine] = {k: round(v["score"], 6) for k, v in json.loads((run / "selection.json").read_text()).items()}
    finalists = 2 + 1  # the top 2 and the hand-built family
    assert runs["ray"] == runs["local"] and sum('"full"' in k for k in runs["ray"]) == 2 * finalists
