"""``python -m towernas.search``: the Hydra entry point of the architecture search.

``task=towers`` (the default) searches the retriever's towers (``towernas.search.run_search``, ``conf/config.yaml``);
``task=ctr`` or ``task=rating`` searches a ranker (``towernas.search.rankers.run_ranker_search``,
``conf/search_ranker.yaml``); ``task=cascade`` searches a cascade's K0 and ranker under a budget per request
(``towernas.search.cascade.run_cascade_search``, ``conf/search_cascade.yaml``). The task picks the entry config, so a
tower search's config (and its run hash) holds no ranker key. Hydra resolves ``config_path`` next to this file; the
job is named ``search`` (``hydra.job.name``), so the run's log is ``search.log`` as for every other command.
"""

import sys

import hydra
from omegaconf import DictConfig

from towernas.runs.cli import run_entry
from towernas.search.cascade import run_cascade_search
from towernas.search.rankers import run_ranker_search
from towernas.search.run import run_search
from towernas.train import distributed

TOWERS, CASCADE = "towers", "cascade"


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def search_towers(cfg: DictConfig) -> float:
    return run_entry("towernas.search", run_search, cfg, distributed)


@hydra.main(version_base="1.3", config_path="../conf", config_name="search_ranker")
def search_ranker(cfg: DictConfig) -> float:
    return run_entry("towernas.search", run_ranker_search, cfg, distributed)


@hydra.main(version_base="1.3", config_path="../conf", config_name="search_cascade")
def search_cascade(cfg: DictConfig) -> float:
    return run_entry("towernas.search", run_cascade_search, cfg, distributed)


def task_of(argv: list[str]) -> str:
    """The last ``task=`` override of the command line (``towers`` without one)."""
    tasks = [a.split("=", 1)[1] for a in argv if a.startswith("task=")]
    return tasks[-1] if tasks else TOWERS


def main() -> float:
    task = task_of(sys.argv[1:])
    if task == TOWERS:
        sys.argv = [a for a in sys.argv if not a.startswith("task=")]  # the tower config has no task key
        return search_towers()
    return search_cascade() if task == CASCADE else search_ranker()


if __name__ == "__main__":
    main()
