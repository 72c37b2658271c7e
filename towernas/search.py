"""``python -m towernas.search``: the main job.

Until the architecture search lands (issue 3), this runs the full data → train → evaluate path on the
configured dataset with the two references every search is judged against: the popularity ranking and a
hand-built mean-pool two-tower. Selection uses validation; test is read once at the end.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from towernas.baselines.mean_pool import MeanPoolTwoTower
from towernas.baselines.popularity import popularity_metrics
from towernas.config import register_configs
from towernas.data import load_dataset
from towernas.device import resolve_device
from towernas.retrieval import evaluate_model
from towernas.trainer import train_two_tower

log = logging.getLogger(__name__)
register_configs()


def run_search(cfg: DictConfig, run_dir: Path) -> dict:
    """Load data, evaluate the references on validation and test, write ``results.json``."""
    device = resolve_device(cfg.device)
    data = load_dataset(cfg.dataset)
    ks = tuple(cfg.eval.ks)
    results: dict = {"dataset": data.summary()}
    results["popularity"] = {s: popularity_metrics(data, s, ks) for s in ("valid", "test")}
    b = cfg.baseline
    model = MeanPoolTwoTower(data.user_features.fields, data.item_features.fields, data.n_items, dim=b.dim)
    losses = train_two_tower(model, data, epochs=b.epochs, batch_size=b.batch_size, lr=b.lr,
                             temperature=b.temperature, seed=cfg.seed, device=device)
    results["mean_pool_two_tower"] = {
        "train_loss": losses,
        "valid": evaluate_model(model, data, "valid", ks, device=device),
        "test": evaluate_model(model, data, "test", ks, device=device),
    }
    write_json_atomic(run_dir / "results.json", results)
    print(summary_table(results, ks))
    return results


def summary_table(results: dict, ks: tuple[int, ...]) -> str:
    """Markdown table: model × split → Recall/NDCG at each K."""
    cols = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg")]
    lines = ["| model | split | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for model in ("popularity", "mean_pool_two_tower"):
        for split in ("valid", "test"):
            row = results[model][split]
            lines.append(f"| {model} | {split} | " + " | ".join(f"{row[c]:.4f}" for c in cols) + " |")
    return "\n".join(lines)


def write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(hydra.core.hydra_config.HydraConfig.get().runtime.output_dir)
    log.info("config:\n%s", OmegaConf.to_yaml(cfg))
    run_search(cfg, run_dir)


if __name__ == "__main__":
    main()
