"""``make bench-ranker-fidelity``: does the ranker supernet's ranking of ranker architectures mean anything? The
gate of the ranker search (issue 26: Kendall τ ≥ 0.3 with its interval above 0).

    python -m benchmarks.bench_ranker_fidelity [--dataset ml-100k] [--task ctr|rating] [--n-archs 16]
                                               [--seeds 0,1] [--flops 120098] [--finetune-steps 0,25,50,100]
                                               [--out bench_results] [--quick] [--override KEY=VALUE ...]

1. **Supernet**: stage 1 of ``python -m towernas.search task=<task>`` with the same settings
   (``towernas.search.rankers.train_ranker_supernet``), trained once into
   ``<out>/ranker-fidelity-runs/<dataset>-<task>/``.
2. **Architectures**: ``--n-archs`` distinct budget-feasible genomes, evenly spaced in FLOPs per candidate over a
   pool of 2,000 uniform feasible draws (so the ranking is not only one of cost), plus the search's hand-built
   seeds (FM + widest MLP, per history).
3. **Signal**: each path's validation metric on the search's fixed ``fitness_pairs`` sample after fine-tuning it
   alone for each of ``--finetune-steps`` train batches (``towernas.search.rankers.PathScorer``; 0: the supernet's
   shared weights as they are). The headline τ is the one at the search's ``ranker_search.finetune_steps``; the
   others show what fine-tuning buys, and its seconds per path.
4. **Truth**: each genome trained from scratch as the search's finalists are (``python -m towernas.rank
   ranker=arch``, the ``rank`` schedule) for every seed of ``--seeds``; the truth is the mean validation metric.
   ``noise_ceiling_tau`` is τ between two seeds' validation metrics: no signal can rank better than training
   agrees with itself.
5. Kendall τ-b (higher-is-better orientation; RMSE is negated) with its 90% bootstrap interval over the
   architectures, and precision@3. Written to ``<out>/ranker-fidelity-<dataset>-<task>.{json,md}``. Test is never
   read for the agreement (finalist trainings report it; it is not used).

Every training is kept (``records.jsonl`` in the run directory, one line per finished genome × seed), so an
interrupted benchmark (kill -9 included) resumes where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from benchmarks.common import benchmark_parser, compose, int_list, markdown_table, register, write_report

QUICK = ["rank.max_epochs=2", "rank.patience=1", "rank.batch_size=256",
         "ranker_search.supernet_epochs=1", "ranker_search.monitor_paths=1", "ranker_search.fitness_pairs=2000",
         "ranker_search.space.depth=2", "ranker_search.space.blocks=[FM,MLP-16,MLP-64,EW-ip,DP]"]
POOL = 2000


def spread_by_cost(setup, n: int, seed: int) -> list[tuple[str, ...]]:
    """``n`` distinct feasible genomes evenly spaced in FLOPs per candidate over ``POOL`` uniform feasible draws."""
    from towernas.search.genomes import random_feasible

    # feasible_stream draws with Random(seed + 7919); this benchmark's pool has always been Random(seed + 1543)'s
    pool = random_feasible(setup.space.slots(), setup.admits, POOL, seed + 1543 - 7919, max_tries=POOL * 50)
    ordered = sorted(pool, key=lambda g: (setup.costs.cost(g).flops, g))
    picks = np.unique(np.linspace(0, len(ordered) - 1, min(n, len(ordered))).round().astype(int))
    return [ordered[i] for i in picks]


def run(args) -> dict:
    from towernas.config.resume import RESUME
    from towernas.eval.agreement import bootstrap_tau, kendall_tau, precision_at_k
    from towernas.runs.records import RecordLog
    from towernas.runs.run_dir import claim
    from towernas.runs.tracking import Tracker
    from towernas.search.rankers import (
        PathScorer,
        fitness_sample,
        hand_built,
        setup,
        train_finalist,
        train_ranker_supernet,
    )

    run_dir = Path(args.out) / "ranker-fidelity-runs" / f"{args.dataset}-{args.task}"
    cfg = compose(f"dataset={args.dataset}", f"task={args.task}", f"ranker_search.budget.flops={args.flops}",
                  "progress=false", "device=cpu", *(QUICK if args.quick else []), *args.override,
                  config="search_ranker")
    s = setup(cfg)
    # the kept supernet and trainings do not depend on how paths are fine-tuned before scoring
    claim(run_dir, OmegaConf.to_container(cfg, resolve=True), RESUME.ignoring("ranker_search.finetune_steps"))
    started = time.perf_counter()
    net, evaluate = s.supernet()
    trained = train_ranker_supernet(s, net, evaluate, run_dir)
    net.eval()
    seeds = hand_built(s.space, s.admits)
    genomes = list(dict.fromkeys(spread_by_cost(s, args.n_archs, cfg.seed) + seeds))
    fitness_pairs = fitness_sample(s.pairs["valid"], cfg.ranker_search.fitness_pairs, cfg.seed)
    orient = -s.sign  # higher is better
    supernet_seconds = time.perf_counter() - started
    steps_list = list(dict.fromkeys([*args.finetune_steps, cfg.ranker_search.finetune_steps]))
    signals, seconds = {}, {}
    for steps in steps_list:
        started = time.perf_counter()
        score = PathScorer(s, net, fitness_pairs, steps)
        signals[steps] = [orient * score(g) for g in genomes]
        seconds[steps] = (time.perf_counter() - started) / len(genomes)
        print(f"fine-tuned {steps} steps: {seconds[steps]:.1f} s per path", flush=True)
    signal = signals[cfg.ranker_search.finetune_steps]
    done = RecordLog(run_dir)
    tracker = Tracker(run_dir, use_wandb=False, project="towernas", config={}, name="ranker-fidelity")
    truth = np.zeros((len(genomes), len(args.seeds)))
    try:
        for i, genome in enumerate(genomes):
            for j, seed in enumerate(args.seeds):
                key = f"{'|'.join(genome)}/seed{seed}"
                if done.get(key) is None:
                    seeded = OmegaConf.merge(cfg, {"seed": seed})
                    done.add(key, train_finalist(s.data, s.pairs, seeded, s.space, genome, s.device, tracker))
                truth[i, j] = orient * done.get(key)["valid"][s.metric]
            print(f"{i + 1}/{len(genomes)} {' '.join(genome)}: supernet {orient * signal[i]:.4f} "
                  f"trained {orient * truth[i].mean():.4f}", flush=True)
    finally:
        tracker.close()
    mean_truth = truth.mean(1)

    def agreement(values) -> dict:
        return {"tau": kendall_tau(values, mean_truth), "ci90": list(bootstrap_tau(values, mean_truth)),
                "precision_at_3": precision_at_k(values, list(mean_truth), 3)}

    out = {"dataset": args.dataset, "task": args.task, "metric": s.metric, "budget": str(s.budget),
           "seeds": args.seeds, "supernet": trained, "supernet_seconds": round(supernet_seconds, 1),
           "finetune_steps": cfg.ranker_search.finetune_steps,
           "archs": [{"genome": list(g), "hand_built": g in seeds, "flops": s.costs.cost(g).flops,
                      "supernet": orient * signal[i], "trained": [orient * v for v in truth[i]],
                      "by_finetune_steps": {str(k): orient * v[i] for k, v in signals.items()}}
                     for i, g in enumerate(genomes)],
           **agreement(signal),
           "by_finetune_steps": [{"steps": k, "seconds_per_path": round(seconds[k], 2), **agreement(v)}
                                 for k, v in signals.items()],
           "flops_tau": kendall_tau([s.costs.cost(g).flops for g in genomes], mean_truth)}
    if len(args.seeds) > 1:
        out["noise_ceiling_tau"] = kendall_tau(truth[:, 0], truth[:, 1])
        out["noise_ceiling_ci90"] = list(bootstrap_tau(truth[:, 0], truth[:, 1]))
    return out


def report(out: dict) -> str:
    m = out["metric"]
    rows = [[" ".join(a["genome"]) + (" (hand-built)" if a["hand_built"] else ""), f"{a['flops']:,}",
             *(f"{a['by_finetune_steps'][str(k['steps'])]:.4f}" for k in out["by_finetune_steps"]),
             " / ".join(f"{v:.4f}" for v in a["trained"])] for a in out["archs"]]
    steps = markdown_table(["fine-tuning steps per path", "Kendall τ", "90% bootstrap", "precision@3",
                            "seconds per path"],
                           [[str(k["steps"]), f"{k['tau']:.3f}", f"[{k['ci90'][0]:.3f}, {k['ci90'][1]:.3f}]",
                             f"{k['precision_at_3']:.2f}", f"{k['seconds_per_path']:.1f}"]
                            for k in out["by_finetune_steps"]])
    noise = (f"noise ceiling (τ between two training seeds): {out['noise_ceiling_tau']:.3f} "
             f"[{out['noise_ceiling_ci90'][0]:.3f}, {out['noise_ceiling_ci90'][1]:.3f}]\n"
             if "noise_ceiling_tau" in out else "")
    return (f"# Ranker supernet fidelity on {out['dataset']} ({out['task']}, validation {m}; {out['budget']})\n\n"
            f"Kendall τ (the search's fitness, paths fine-tuned {out['finetune_steps']} steps, vs trained, mean over "
            f"seeds {out['seeds']}): **{out['tau']:.3f}** (90% bootstrap [{out['ci90'][0]:.3f}, "
            f"{out['ci90'][1]:.3f}]); precision@3 {out['precision_at_3']:.2f}; τ of FLOPs alone: "
            f"{out['flops_tau']:.3f}\n{noise}\n" + steps + "\n\n"
            + markdown_table(["genome", "FLOPs/candidate",
                              *(f"{m} after {k['steps']} steps" for k in out["by_finetune_steps"]),
                              f"trained {m} per seed"], rows) + "\n")


def main(argv=None) -> dict:
    parser = benchmark_parser(__doc__, dataset="ml-100k", override=True,
                              quick="the tiny dataset, a depth-2 space and 2-epoch schedules (a smoke run)")
    parser.add_argument("--task", choices=["ctr", "rating"], default="ctr")
    parser.add_argument("--n-archs", type=int, default=16)
    parser.add_argument("--seeds", type=int_list, default=[0, 1])
    parser.add_argument("--finetune-steps", type=int_list, default=[0, 25, 50, 100],
                        help="fine-tuning steps per path to compare (the search's own is added)")
    parser.add_argument("--flops", type=int, default=120_098, help="ranker_search.budget.flops (default: DeepFM's "
                        "per-candidate FLOPs on ML-100K)")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset = "synthetic-tiny"
    out = run(args)
    write_report(args.out, f"ranker-fidelity-{args.dataset}-{args.task}", out, report(out), echo=True)
    return out


register("ranker_fidelity", "does the ranker supernet rank ranker architectures as training them does (τ, noise)?")

if __name__ == "__main__":
    main()
