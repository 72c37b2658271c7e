"""``python -m towernas.search``: the Hydra entry point of the architecture search (``towernas.search.run_search``).

Hydra resolves ``config_path`` next to this file; the job is named ``search`` in ``conf/config.yaml``
(``hydra.job.name``), so the run's log is ``search.log`` as for every other command.
"""

import hydra
from omegaconf import DictConfig

from towernas.runs.cli import run_entry
from towernas.search.run import run_search
from towernas.train import distributed


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    return run_entry("towernas.search", run_search, cfg, distributed)


if __name__ == "__main__":
    main()
