"""Metrics always land in JSONL; the wandb mirror works without touching the network."""

import json

from towernas.runs.tracking import Tracker


def test_jsonl_streams_append_one_record_per_line(tmp_path):
    tracker = Tracker(tmp_path)
    tracker.log("search", {"generation": 0, "best_genome": ("avg", "MLP-16")})
    tracker.log("search", {"generation": 1, "best_fitness": 6.5})
    tracker.close()
    lines = [json.loads(x) for x in (tmp_path / "search.jsonl").read_text().splitlines()]
    assert lines == [{"generation": 0, "best_genome": ["avg", "MLP-16"]}, {"generation": 1, "best_fitness": 6.5}]


def test_wandb_mirror_runs_disabled_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    tracker = Tracker(tmp_path, use_wandb=True, config={"seed": 0}, name="test")
    tracker.log("supernet", {"step": 1, "loss": 3.0, "note": "text is skipped", "bad": float("nan")})
    tracker.close()
    assert (tmp_path / "supernet.jsonl").exists()
