"""torchrun DDP against one process: the same loss trajectory at the same global batch, the same search result,
``world_size`` recorded, resume after a kill, and a dead rank failing the job cleanly (gloo, 2 local processes).

Tolerance: per-step losses agree to 1e-5 (measured: ≤ 5e-7 over 12 supernet steps, ≤ 1e-7 for the two-tower
and ranker loops; the only difference is the order of float sums across ranks), and the weights after training
to 2e-4 in relative L2 distance (measured: 2.6e-5 supernet, 3.4e-7 two-tower, 1e-8 ranker; a sum of all the
weights is no check: its terms cancel, so its relative error depends on the CPU's kernels); over the 60 steps
of a tiny search, Adam carries the drift to ~2e-5 relative, so the search compares at 1e-4 relative.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO, TINY
from towernas.losses.retrieval import in_batch_softmax
from towernas.train import distributed

WORKER = Path(__file__).with_name("ddp_worker.py")
LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 2e-4  # relative L2 distance of all the weights after training


def env(data_root: Path) -> dict:
    out = {**os.environ, "OMP_NUM_THREADS": "1", "TOWERNAS_DATA": str(data_root), "PYTHONPATH": str(REPO)}
    if Path("/sys/class/net/lo").exists():
        out["GLOO_SOCKET_IFNAME"] = "lo"  # loopback only: no other address is touched
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        out.pop(key, None)
    return out


def torchrun(*args: str, nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]


# ------------------------------------------------------------------------------------------ in process
def test_a_ranks_share_of_the_gathered_batch_is_its_part_of_the_global_loss():
    """Oracle: splitting a batch's rows into shards with offsets and weighting each shard's mean by its size
    gives the one-process loss (accidental hits and logQ included)."""
    g = torch.Generator().manual_seed(0)
    query = torch.nn.functional.normalize(torch.randn(10, 6, generator=g), dim=-1)
    items = torch.nn.functional.normalize(torch.randn(10, 6, generator=g), dim=-1)
    ids = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])  # repeats: accidental hits
    log_q = torch.log(torch.rand(10, generator=g))
    whole = in_batch_softmax(query, items, ids, temperature=0.1, log_q=log_q)
    parts = sum(in_batch_softmax(query[a:b], items, ids, temperature=0.1, log_q=log_q, offset=a) * (b - a) / 10
                for a, b in [(0, 3), (3, 7), (7, 10)])
    assert parts == pytest.approx(float(whole), abs=1e-6)


def test_alone_every_helper_is_the_identity():
    rows = torch.arange(7)
    assert distributed.world().size == 1 and not distributed.world().active
    assert torch.equal(distributed.shard(rows), rows) and distributed.share(7) == (0, 7)
    x = torch.randn(4, 3, requires_grad=True)
    gathered, offset = distributed.gather_rows(x)
    assert gathered is x and offset == 0
    assert distributed.map_split(lambda v: v * v, [1, 2, 3]) == [1, 4, 9]
    assert distributed.all_reduce_gradients([], 2.5) == [2.5]
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.world().describe() == {"world_size": 1, "backend": None}


def test_shards_cover_a_global_batch_exactly_once():
    for size in (1, 2, 3):
        for n in (0, 1, 5, 64, 101):
            worlds = [distributed.World(rank=r, size=size) for r in range(size)]
            pieces = [distributed.shard(list(range(n)), w) for w in worlds]
            assert sum(pieces, []) == list(range(n))
            assert max(map(len, pieces)) - min(map(len, pieces)) <= 1
            assert [distributed.share(n, w) for w in worlds] == [(sum(map(len, pieces[:r])), len(pieces[r]))
                                                               for r in range(size)]


# ------------------------------------------------------------------------------------------ 2 processes
@pytest.mark.parametrize("trainer", ["supernet", "fit", "ranker"])
def test_two_ranks_follow_the_one_process_loss_trajectory_at_the_same_global_batch(tmp_path, trainer):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    e = env(tmp_path / "data")
    subprocess.run([sys.executable, str(WORKER), trainer, str(tmp_path / "data"), str(one)], env=e, check=True,
                   cwd=REPO, timeout=300, capture_output=True)
    subprocess.run(torchrun(str(WORKER), trainer, str(tmp_path / "data"), str(two)), env=e, check=True, cwd=REPO,
                   timeout=300, capture_output=True)
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert (a["world_size"], b["world_size"]) == (1, 2)
    assert len(a["losses"]) == len(b["losses"]) > 1
    assert b["losses"] == pytest.approx(a["losses"], abs=LOSS_TOLERANCE)
    wa, wb = np.array(a["weights"]), np.array(b["weights"])  # the weights after training
    drift = np.linalg.norm(wb - wa) / np.linalg.norm(wa)
    assert drift < WEIGHT_TOLERANCE, drift


SEARCH = [*TINY["config"], "supernet.steps=60", "tracking.wandb=false"]


def search_args(run: Path, *extra: str) -> list[str]:
    return ["-m", "towernas.search", *SEARCH, f"hydra.run.dir={run}", *extra]


def arch_of(run: Path) -> dict:
    best = json.loads((run / "best.json").read_text())
    return {k: best[k] for k in ("pooling", "user", "item")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process: the search every 2-rank run below must reproduce."""
    root = tmp_path_factory.mktemp("ddp-search")
    run = root / "one"
    subprocess.run([sys.executable, *search_args(run)], env=env(root / "data"), check=True, cwd=REPO, timeout=600,
                   capture_output=True)
    return root, run


def test_torchrun_search_records_its_world_size_and_finds_the_same_best_architecture(reference):
    root, one = reference
    two = root / "two"
    out = subprocess.run(torchrun(*search_args(two)), env=env(root / "data"), cwd=REPO, timeout=900,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    for run, size in ((one, 1), (two, 2)):
        assert json.loads((run / "summary.json").read_text())["world_size"] == size
        assert json.loads((run / "run_config.json").read_text())["world_size"] == size
    assert json.loads((two / "summary.json").read_text())["backend"] == "gloo"
    assert arch_of(two) == arch_of(one)
    fitness = [json.loads((r / "best.json").read_text())["provenance"]["retrained"] for r in (one, two)]
    assert fitness[1] == pytest.approx(fitness[0], abs=1e-3)
    supernet = [[json.loads(line)["loss"] for line in (r / "supernet.jsonl").read_text().splitlines()
                 if '"loss"' in line] for r in (one, two)]
    assert supernet[1] == pytest.approx(supernet[0], rel=1e-4)  # steps 50, 60: float order drifts ~2e-5 by then
    assert not list(two.glob("**/.*.tmp"))  # one author, no stray temp files


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "the job ended before it could be interrupted"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _rank_pid(parent: int, rank: int) -> int:
    """The pid of the worker of ``rank`` under the torchrun process ``parent`` (from /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"TORCHELASTIC_RUN_ID" in b" ".join(environ) \
                and int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            return int(entry.name)
    raise AssertionError(f"no worker of rank {rank} under pid {parent}")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc to find a rank's pid")
def test_a_killed_job_resumes_to_the_same_result_and_a_dead_rank_fails_cleanly(reference):
    root, one = reference
    run = root / "killed"
    e = env(root / "data")
    # 1. kill -9 the whole job once the supernet has a checkpoint, then rerun the command: it resumes
    job = subprocess.Popen(torchrun(*search_args(run)), env=e, cwd=REPO, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(run / "supernet.pt", job)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert not (run / "summary.json").exists()
    out = subprocess.run(torchrun(*search_args(run)), env=e, cwd=REPO, timeout=900, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((run / "summary.json").read_text())["resumed"]
    assert arch_of(run) == arch_of(one)

    # 2. one rank dies mid-run: the job fails naming it, and every run file on disk is complete
    dead = root / "dead"
    job = subprocess.Popen(torchrun(*search_args(dead)), env=e, cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _wait_for(dead / "supernet.pt", job)
        os.kill(_rank_pid(job.pid, 1), signal.SIGKILL)
        output, _ = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode != 0
    assert re.search(r"rank\s*:\s*1\b", output) and ("Signal 9" in output or "SIGKILL" in output), output[-3000:]
    assert not list(dead.glob("**/.*.tmp")) and not (dead / "summary.json").exists()
    for path in dead.glob("*.json"):
        json.loads(path.read_text())  # complete JSON, never half-written
    assert torch.load(dead / "supernet.pt", weights_only=False)["step"] > 0


def _command(module: str, run: Path, overrides: list[str], root: Path, nproc: int) -> dict:
    args = ["-m", module, *overrides, "tracking.wandb=false", f"hydra.run.dir={run}"]
    cmd = torchrun(*args, nproc=nproc) if nproc > 1 else [sys.executable, *args]
    out = subprocess.run(cmd, env=env(root / "data"), cwd=REPO, timeout=900, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((run / "results.json").read_text())


def test_retrain_rank_and_cascade_run_under_torchrun_as_one_process_does(tmp_path):
    retrain = [*TINY["retrain"], "retrain.baselines=[google_dnn]", "retrain.sizing_epochs=1", "retrain.seeds=[0]"]
    ranked = [*TINY["rank"], "ranker=deepfm", "ranker.embed=4", "ranker.hidden=[8]", "rank.seeds=[0]"]
    runs = {}
    for n in (1, 2):
        runs["retrain", n] = _command("towernas.retrain", tmp_path / f"retrain{n}", retrain, tmp_path, n)
        runs["rank", n] = _command("towernas.rank", tmp_path / f"rank{n}", ranked, tmp_path, n)
    cascade = [*TINY["cascade"], f"cascade.retriever={tmp_path / 'retrain1' / 'retriever'}", "cascade.rankers=[fm]",
               "cascade.seeds=[0]", "cascade.export=false"]
    for n in (1, 2):
        runs["cascade", n] = _command("towernas.cascade", tmp_path / f"cascade{n}", cascade, tmp_path, n)
    for command in ("retrain", "rank", "cascade"):
        one, two = runs[command, 1], runs[command, 2]
        assert (one["world_size"], two["world_size"]) == (1, 2), command
        assert two["validation"]["of"] == one["validation"]["of"]
        assert two["validation"]["mean"] == pytest.approx(one["validation"]["mean"], abs=2e-3), command
    assert (tmp_path / "retrain2" / "retriever" / "meta.json").exists()  # rank 0 exported
    assert not list(tmp_path.glob("**/.*.tmp"))
