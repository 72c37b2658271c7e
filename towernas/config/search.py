"""Schema of ``conf/search/*.yaml``: the complexity-aware evolution and what the search reports.

The evolution keys (``mode``, ``population``, ``generations``, ``mutation_prob``, ``crossover_prob``, ``top_k``,
``max_init_attempts``, ``stall_generations``, ``min_improvement``) are ``evolution.EvolutionConfig``'s own fields,
derived from it (``EvolutionSettings``), and handed back to it by name (``towernas.search.run.evolution_config``);
``SearchConfig`` adds what the search itself reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from evolution.config import EvolutionConfig  # settings only: the one exception to the layering (tests/test_layout.py)
from towernas.config.budget import BudgetConfig
from towernas.config.schema import schema_of

# the seed is the run's (``seed``); the operators' internals keep EvolutionConfig's defaults
EvolutionSettings = schema_of(EvolutionConfig, "EvolutionSettings", module=__name__,
                              exclude=("seed", "tournament_size", "repair_attempts", "novelty_retries"))


@dataclass
class SearchConfig(EvolutionSettings):  # type: ignore[valid-type, misc]
    """Complexity-aware evolution (paper: population 50, 50 generations, mutation 0.1): ``EvolutionConfig``'s
    settings, then the search's own."""

    strategy: str = "evolution"  # evolution | random (the control: random feasible archs, same final selection)
    random_seconds: float = 0.0  # strategy=random: compute for short retrains (match an evolutionary run's)
    fitness: str = "recall"  # recall: minus full-ranking validation Recall@50 via the supernet | loss: in-batch loss
    fitness_users: Optional[int] = 2000  # recall fitness on a fixed sample of this many validation users (None: all)
    val_batches: int = 4
    val_batch_size: int = 1024
    random_baseline: int = 20  # random feasible archs scored for the "best vs random" summary
    seed_mlp: bool = True  # the space's in-budget MLP towers (MLP-w, then skips) seed the population, and the
    # one of the pooling that retrained best is always short-retrained (random search too)
    # final selection: supernet fitness only orders candidates; short retrains rank, full retrains decide
    propose: str = "leaders"  # leaders: every pooling's best, then the supernet's top | fitness: its top-N only
    final_candidates: int = 10  # genomes short-retrained (proposed by `propose`), + the in-budget MLP
    min_distance: int = 3  # slots in which two proposed genomes must differ at least
    short_epochs: int = 2
    final_top: int = 2  # best by the short retrain, fully retrained (retrain schedule) on final_seeds
    final_seeds: list[int] = field(default_factory=lambda: [0, 1])
    # hand-built candidates, e.g. [google_dnn, bst]: every in-budget size of these baselines is short-retrained in
    # stage 2 like the search's own candidates; the best hand_built_finalists families (each at its best size) are
    # fully retrained in stage 3 beside final_top, so the search never returns a tower validation rates below the
    # best hand-built one. Off by default: on real ML-100K, validation rates GoogleDNN above towers that beat it on
    # test (docs/protocol.md, "Validation vs test on real data"), so under today's protocol the guarantee costs test quality
    baselines: list[str] = field(default_factory=list)
    hand_built_finalists: int = 1
    # joint search: training hyperparameters tuned on the leader by hparam_trials retrains (TPE), then used by
    # the full retrains (towernas/search/hparams.py): any of temperature, weight_decay, lr, batch_size
    hparams: list[str] = field(default_factory=list)
    hparam_trials: int = 8
    hparam_epochs: Optional[int] = None  # trials: up to this many epochs, early-stopped (None: retrain.max_epochs;
    # = short_epochs: short retrains, cheaper but biased towards fast learners)
    # pareto mode: the budgets to report the best architecture for (composed from conf/budget/)
    budgets: dict[str, BudgetConfig] = field(default_factory=dict)  # type: ignore[valid-type]

