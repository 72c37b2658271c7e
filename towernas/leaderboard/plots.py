"""The leaderboard's figures (matplotlib, Agg backend, PNG): recall vs FLOPs with its Pareto front, training
curves, search progress per generation and the supernet's loss.

``plot`` is also the figure of ``python -m towernas.report --out`` (``recall_vs_flops.png``); the front is
``towernas.eval.pareto.pareto_front``.
"""

from __future__ import annotations

from pathlib import Path

from towernas.eval.pareto import pareto_front
from towernas.runs.files import atomic_open


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)


def plot(rows: list[dict], path: Path) -> None:
    """Test R@50 against FLOPs per user + per item (log scale), one colour per model, each point labelled with
    its budget, and the Pareto front of all points. ``rows``: ``recall@50``, ``user_flops``, ``item_flops``,
    ``model``, ``budget``."""
    plt = _pyplot()
    flops = [r["user_flops"] + r["item_flops"] for r in rows]
    recall = [r["recall@50"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model in dict.fromkeys(r["model"] for r in rows):
        idx = [i for i, r in enumerate(rows) if r["model"] == model]
        ax.scatter([flops[i] for i in idx], [recall[i] for i in idx], label=model, s=36)
        for i in idx:
            ax.annotate(rows[i]["budget"], (flops[i], recall[i]), textcoords="offset points", xytext=(4, 3), fontsize=7)
    front = pareto_front(list(zip(flops, recall)))
    ax.plot([flops[i] for i in front], [recall[i] for i in front], "k--", linewidth=1, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("FLOPs per user + per item (log scale)")
    ax.set_ylabel("test Recall@50")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    _save(fig, path)


def curves_plot(curves: dict[str, list[tuple[int, dict]]], metric: str, title: str, path: Path) -> None:
    """Training loss (left) and validation ``metric`` (right) per epoch; one colour per label (a model),
    one line per seed. ``curves``: ``"<label>\\tseed <s>"`` -> [(epoch, record)]."""
    plt = _pyplot()
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = {}
    for key, points in curves.items():
        label = key.split("\t")[0]
        first = label not in colours
        colour = colours.setdefault(label, f"C{len(colours) % 10}")
        for ax, field in ((loss_ax, "train_loss"), (metric_ax, f"valid/{metric}")):
            xy = [(e, r[field]) for e, r in points if isinstance(r.get(field), (int, float))]
            if xy:
                ax.plot(*zip(*xy), marker=".", color=colour, linewidth=1.2, label=label if first else None)
    loss_ax.set_ylabel("train loss")
    metric_ax.set_ylabel(f"validation {metric}")
    for ax in (loss_ax, metric_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if colours:
        metric_ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def search_plot(history: list[dict], recall_fitness: bool, title: str, path: Path) -> None:
    """Best-so-far and population median (and mean, when logged) fitness per generation. With a recall
    fitness (minus validation R@50) the curves are shown as R@50 (higher is better)."""
    plt = _pyplot()
    sign = -1.0 if recall_fitness else 1.0
    fig, ax = plt.subplots(figsize=(5, 3.5))
    gens = [h["generation"] for h in history]
    for field, label, style in (("best_fitness", "best so far", "o-"), ("mean_fitness", "population mean", "s-"),
                                ("median_fitness", "population median", "^--")):
        if all(isinstance(h.get(field), (int, float)) for h in history):
            ax.plot(gens, [sign * h[field] for h in history], style, markersize=4, label=label)
    ax.set_xlabel("generation")
    ax.set_ylabel("supernet validation R@50 (−fitness)" if recall_fitness else "fitness (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")  # the curves rise from the lower left
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def supernet_plot(train: list[tuple[int, float]], valid: list[tuple[int, float]], title: str, path: Path,
                  recall: bool = False) -> None:
    """The supernet's training loss per step (left axis) and its early-stopping monitor (right axis): the search's
    fitness on a few fixed architectures, the validation loss or, with ``recall``, minus R@50 (shown as R@50)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if train:
        ax.plot(*zip(*train), "-", color="C0", linewidth=1.2, label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("train loss", color="C0")
    ax.grid(alpha=0.3)
    if valid:
        val_ax = ax.twinx()
        label = "validation R@50 (monitor)" if recall else "validation loss (monitor)"
        steps, values = zip(*valid)
        val_ax.plot(steps, [-v for v in values] if recall else values, "o-", color="C3", markersize=3, linewidth=1,
                    label=label)
        val_ax.set_ylabel(label, color="C3")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def cascade_plot(points: list[dict], title: str, path: Path, searched: list[dict] = ()) -> None:
    """A cascade run's K0 sweep (``towernas.cascade.sweep``): test N@10 against FLOPs per request (log scale), one
    colour per pipeline with each point labelled by its K0, the retriever alone as a star, and the front chosen on
    validation (``point["front"]``) joined by a dashed line; ``searched`` (``collect.searched_cascades``): the joint
    search's cascades as gold diamonds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(p["name"] for p in points):
        mine = sorted((p for p in points if p["name"] == name), key=lambda p: p["cost"]["flops"])
        x, y = [p["cost"]["flops"] for p in mine], [p["test"]["ndcg@10"] for p in mine]
        if name == "retriever alone":
            ax.scatter(x, y, marker="*", s=120, color="k", label=name, zorder=3)
            continue
        ax.plot(x, y, "o-", markersize=5, linewidth=1, label=name)
        for p, xi, yi in zip(mine, x, y):
            ax.annotate(f"K0={p['k0']}", (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=7)
    on = sorted((p for p in points if p.get("front")), key=lambda p: p["cost"]["flops"])
    ax.plot([p["cost"]["flops"] for p in on], [p["test"]["ndcg@10"] for p in on], "k--", linewidth=1,
            label="front (chosen on validation)")
    if searched:
        ax.scatter([w["cost"]["flops"] for w in searched], [w["test"]["ndcg@10"] for w in searched], marker="D",
                   s=50, color="gold", edgecolors="k", label="joint search (one per seed)", zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("FLOPs per request (log scale)")
    ax.set_ylabel("test NDCG@10")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    _save(fig, path)
