"""Benchmark: Bayes ceilings of the embedded dataset (CTR and top-k), from the generator's hidden structure.

What a cascade or a ranker can still win is bounded by what the data's own generative process allows. The
synthetic generator knows that process, so both ceilings are computed, not guessed.

**Top-k (the retrieval / cascade protocol).** For each test query the generator's own next-item step
(``synthetic._step``: drifting interests, sessions, subtopic loyalty, popularity, series, redraws of repeats)
is rolled forward ``rollouts`` times from the user's true latent state, the history before the split
(excluded, as the protocol masks it) and the last item, for as many steps as the user has test items. An
item's score is the share of rollouts that reach it: the Bayes-optimal ranking for expected Recall@K (ties
broken by popularity). Its Recall / NDCG / HitRate@{10,20,50} on the real test targets are the ceiling of
any retriever + rankers on this data; it knows every user's latent interests exactly, so it is an upper
bound no model trained on ~65 items per user reaches. Monte-Carlo noise lowers it slightly; ``--rollouts``
shows the convergence.

**CTR.**
The synthetic generator knows each rating's score before its noise (``towernas.data.readers.synthetic``,
step 7): ``rating = clip(rint(s + e), 1, 5)``, ``e ~ N(0, rating_noise)``, so the label ``rating >= 4``
has the exact probability ``P(y = 1) = Phi((s - 3.5) / rating_noise)``. Ranking the test pairs by ``s`` is
the best any ranker can do: its AUC / GAUC / logloss are the ceiling that the CTR table is read against
(how much of the gap between LR, FM and the deep rankers is left to win at all).

Two scorers bound what is learnable from above: ``all`` knows every term, including the per-id latent
terms (user leniency, item quality: N(0, 0.4) each, learnable only through the ids, poorly for rare items);
``no_id_latents`` drops those two (its noise is then ``sqrt(rating_noise^2 + 2 * 0.4^2)``), the ceiling of a
ranker that learned every structural term exactly but no id's idiosyncrasy. ``without`` gives the test AUC
of ``all`` without each term in turn: how much each piece of structure is worth.

Every term of ``s`` is a function of at most one query-side and one item-side field (see the generator's
docstring), so a factorisation machine over the same fields is well specified for this data; the ceiling
says how far it is from the noise floor. The rows are those of ``load_dataset`` (same reader, same
preprocessing, checked pair by pair), so the test pairs are the ones ``python -m towernas.rank`` reads.

Run: ``python -m benchmarks.bench_ceiling [--seeds 0,1,2] [--rollouts 64]``; writes
``bench_results/ceiling.{json,md}`` (about a minute per seed).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from towernas.config.dataset import DatasetConfig
from towernas.data.ctr import ctr_labels
from towernas.data.load import load_dataset, preprocessing
from towernas.data.preprocess import preprocess
from towernas.data.readers.synthetic import SyntheticOptions, _generate, _step
from towernas.eval.ctr_metrics import auc, ctr_metrics
from towernas.eval.metrics import mean_metrics
from benchmarks.common import benchmark_parser, int_list, markdown_table, register, write_report

THRESHOLD = 4.0
SPLITS = ("valid", "test")
ID_LATENTS = ("user_leniency", "item_quality")
ID_LATENT_STD = 0.4  # each, in the generator


def embedded_config(seed: int) -> DatasetConfig:
    """The embedded dataset of ``conf/dataset/synthetic.yaml`` at ``seed`` (no cache: this is a check)."""
    return DatasetConfig(name="synthetic", reader="synthetic", cache=False, max_len=20,
                         options={"n_users": 1000, "n_items": 1700, "mean_length": 130, "seed": seed})


def raw_rows(cfg: DatasetConfig, raw, data) -> np.ndarray:
    """(data rows,) the raw (file-order) row behind each of ``data``'s rows, through the same preprocessing:
    per-interaction values of the generator are ``values[raw_rows(...)]`` in ``data``'s order."""
    n = len(raw.interactions)
    if n >= 2**24:  # the row number travels as the float32 "rating"
        raise ValueError(f"{n} interactions: too many to map rows through float32")
    numbered = raw.interactions.assign(rating=np.arange(n, dtype=np.float64))
    hidden = preprocess(dataclasses.replace(raw, interactions=numbered), preprocessing(cfg), cfg.name, cfg.max_len)
    if not (np.array_equal(hidden.users, data.users) and np.array_equal(hidden.items, data.items)):
        raise RuntimeError("the hidden scores' rows are not load_dataset's rows")
    return hidden.ratings.astype(np.int64)


def probit_logit(score: np.ndarray, noise: float) -> np.ndarray:
    """log P(y=1) / P(y=0) for y = [score + N(0, noise^2) >= THRESHOLD - 0.5] (rint then >= THRESHOLD)."""
    z = torch.as_tensor((score - (THRESHOLD - 0.5)) / noise)
    return (torch.special.log_ndtr(z) - torch.special.log_ndtr(-z)).numpy()


def ctr_ceiling(cfg: DatasetConfig) -> dict:
    """``{scorer: {split: ctr_metrics}}`` and ``without: {term: test auc}`` on the synthetic dataset ``cfg``."""
    raw, latent = _generate(SyntheticOptions(**cfg.options))
    data = load_dataset(cfg, progress=False)
    labels = ctr_labels(data, "rating", THRESHOLD)
    source = raw_rows(cfg, raw, data)
    score = latent.rating_mean[source]
    id_part = sum(latent.rating_terms[t] for t in ID_LATENTS)[source]
    sigma = latent.rating_noise
    scorers = {"all": probit_logit(score, sigma),
               "no_id_latents": probit_logit(score - id_part, np.sqrt(sigma**2 + len(ID_LATENTS) * ID_LATENT_STD**2))}
    out: dict = {name: {} for name in scorers}
    for split in SPLITS:
        rows = data.rows(split)
        for name, logit in scorers.items():
            out[name][split] = ctr_metrics(logit[rows], labels[rows], data.users[rows])
    test = data.rows("test")
    out["without"] = {term: auc((score - values[source])[test], labels[test])
                      for term, values in latent.rating_terms.items()}
    return out


TOPK_METRICS = tuple(f"{m}@{k}" for k in (10, 20, 50) for m in ("recall", "ndcg", "hitrate"))


def topk_ceiling(cfg: DatasetConfig, rollouts: int, split: str = "test") -> dict[str, float]:
    """Recall / NDCG / HitRate@{10,20,50} on ``split`` of ranking by the rollouts' inclusion frequency."""
    seed = cfg.options["seed"]
    options = SyntheticOptions(**cfg.options)
    _, z = _generate(options)
    data = load_dataset(cfg, progress=False)
    queries = data.queries(split)
    generator_id = data.item_ids.astype(np.int64)  # data index -> the generator's item
    index_of = np.full(options.n_items, -1)
    index_of[generator_id] = np.arange(data.n_items)
    n_queries = len(queries.users)
    steps, before = queries.targets.lengths(), queries.exclude.lengths()
    # one copy of every query per rollout: its own key in `seen`, the user's latents
    copy_query = np.repeat(np.arange(n_queries), rollouts)
    copy_user = data.user_ids[queries.users].astype(np.int64)[copy_query]
    copy_key = np.arange(len(copy_query))
    prev = generator_id[data.items[queries.positions - 1]][copy_query]  # the last item before the split
    seen: set[int] = set()
    for q in range(n_queries):
        had = generator_id[queries.exclude[q]]
        keys = copy_key[q * rollouts:(q + 1) * rollouts, None] * options.n_items + had[None, :]
        seen.update(keys.ravel().tolist())
    rng = np.random.default_rng([seed, 2])
    counts = np.zeros((n_queries, data.n_items))
    copy_steps, copy_before = steps[copy_query], before[copy_query]
    for k in range(int(steps.max())):
        active = np.flatnonzero(copy_steps > k)
        progress = (copy_before[active] + k) / (copy_before[active] + copy_steps[active])
        item, keep = _step(rng, options, z, copy_user[active], copy_key[active], progress, prev[active], seen)
        prev[active[keep]] = item[keep]
        hit = index_of[item[keep]]
        np.add.at(counts, (copy_query[active[keep]][hit >= 0], hit[hit >= 0]), 1.0)
    popularity = np.bincount(data.items[data.rows("train")], minlength=data.n_items)
    score = counts + 1e-6 * popularity / max(1, popularity.max())  # ties: the more popular item first
    for q in range(n_queries):
        score[q, queries.exclude[q]] = -np.inf
    top = np.argsort(-score, axis=1, kind="stable")[:, :50]
    means = mean_metrics(top, queries.targets, (10, 20, 50))
    return {m: float(means[m]) for m in TOPK_METRICS}


def mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}


def run(seeds: list[int], rollouts: list[int]) -> dict:
    topk = {r: {seed: topk_ceiling(embedded_config(seed), r) for seed in seeds} for r in rollouts}
    topk_summary = {r: {m: mean_std([topk[r][s][m] for s in seeds]) for m in TOPK_METRICS} for r in rollouts}
    per_seed = {seed: ctr_ceiling(embedded_config(seed)) for seed in seeds}
    summary = {name: {split: {m: mean_std([per_seed[s][name][split][m] for s in seeds])
                              for m in ("auc", "gauc", "logloss")} for split in SPLITS}
               for name in ("all", "no_id_latents")}
    summary["without"] = {term: mean_std([per_seed[s]["without"][term] for s in seeds])
                          for term in per_seed[seeds[0]]["without"]}
    return {"seeds": seeds, "topk": {"per_seed": topk, "summary": topk_summary},
            "ctr": {"per_seed": per_seed, "summary": summary}}


def to_markdown(result: dict) -> str:
    lines = ["# Bayes ceilings of the embedded dataset", "", "## Top-k (test; the retriever and cascade protocol)", "",
             f"Scorer: inclusion frequency over rollouts of the generator's next-item step; dataset seeds "
             f"{result['seeds']}.", "",
             markdown_table(["rollouts", *TOPK_METRICS], [[r, *(cell(metrics[m]) for m in TOPK_METRICS)]
                                                         for r, metrics in result["topk"]["summary"].items()])]
    summary = result["ctr"]["summary"]
    lines += ["", "## CTR", "",
             f"Scorers: the generator's hidden rating score (exact P(rating >= 4)); dataset seeds {result['seeds']}.",
             "`all`: every term; `no_id_latents`: without user leniency and item quality.", "",
             markdown_table(["scorer", "split", "AUC", "GAUC", "logloss"],
                            [[name, split, *(cell(metrics[m]) for m in ("auc", "gauc", "logloss"))]
                             for name in ("all", "no_id_latents") for split, metrics in summary[name].items()]),
             "", "Test AUC of `all` without one term:", "",
             markdown_table(["term dropped", "test AUC"], [[term, cell(v)] for term, v in summary["without"].items()])]
    return "\n".join(lines) + "\n"


def cell(stat: dict[str, float]) -> str:
    """``{"mean", "std"}`` as ``'0.7512 ± 0.0031'``."""
    return f"{stat['mean']:.4f} ± {stat['std']:.4f}"


def main() -> None:
    parser = benchmark_parser(__doc__, quick="")
    parser.add_argument("--seeds", default="0", type=int_list, help="dataset seeds, comma-separated")
    parser.add_argument("--rollouts", default="64", type=int_list,
                        help="rollouts per query, comma-separated (convergence)")
    args = parser.parse_args()
    result = run(args.seeds, args.rollouts)
    write_report(args.out, "ceiling", result, to_markdown(result), echo=True)


register("ceiling", "Bayes ceilings (top-k and CTR) of the embedded dataset from its generator's hidden structure")

if __name__ == "__main__":
    main()
