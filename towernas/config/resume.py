"""Which keys of a composed config a run may change and still resume (``towernas.runs.run_dir.claim``).

The keys are the config's, so they live here; ``runs/`` receives them as ``ResumeRules``. A command adds
what it never reads, or its units of their own: ``claim(run_dir, config, RESUME.ignoring("rank.seeds"))``.
"""

from __future__ import annotations

from towernas.runs.run_dir import ResumeRules

# keys that may change between a run and its resumption (they extend or observe it)
RESUMABLE_CHANGES = ("supernet.steps", "search.generations", "search.random_baseline", "tracking", "progress",
                     "device", "eval", "jobs")
# keys added after runs were made, at the value that reproduces those runs: at that value they are left out of
# the hash and the comparison, so an earlier run still resumes (and keeps its hash) once a key is added
NEUTRAL_WHEN = {"retrain.weight_decay": 0.0, "retrain.learn_weight_decay": False, "retrain.decay_every": 10,
                "retrain.decay_lr": 0.05, "search.hparams": [], "search.hparam_trials": 8,
                "search.hparam_epochs": None, "precision": "fp32", "supernet.balance": 1,
                "dataset.split.seed": 0, "cascade.k0_sweep": []}
RESUME = ResumeRules(ignore=RESUMABLE_CHANGES, neutral=NEUTRAL_WHEN)
