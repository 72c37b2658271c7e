"""``python -m towernas.cascade`` (``make cascade``): the Hydra entry point of the cascade
(``towernas.cascade.run.run_cascade``). Hydra resolves ``config_path`` next to this file."""

import hydra
from omegaconf import DictConfig

from towernas.cascade.run import run_cascade
from towernas.runs.cli import run_entry
from towernas.train import distributed


@hydra.main(version_base="1.3", config_path="../conf", config_name="cascade")
def main(cfg: DictConfig) -> float:
    return run_entry("towernas.cascade", run_cascade, cfg, distributed)


if __name__ == "__main__":
    main()
