"""A cascade run's tables: every pipeline's stages as mean and std over seeds, and the Markdown table of the
retriever alone vs every cascade."""

from __future__ import annotations

from towernas.runs import seeds, tables

BIAS_AT_K = ("arp@", "unbiased/")  # measured at the stage's own k when it keeps fewer than 50
TABLE_METRICS = ("ndcg@10", "recall@10", "hitrate@10", "recall@50", "ndcg@50", "arp@50", "unbiased/recall@50")
HEADERS = {"ndcg@10": "N@10", "recall@10": "R@10", "hitrate@10": "HR@10", "recall@50": "R@50", "ndcg@50": "N@50",
           "arp@50": "ARP@50", "unbiased/recall@50": "unbiased R@50"}


def aggregate(records: list[dict]) -> list[dict]:
    """Per (ranker, mode): every stage's metrics as mean and std over seeds."""
    rows = []
    for key, mine in seeds.group(records, lambda r: (r["ranker"], r["negatives"], r["joint"])).items():
        stages = [{"name": stage["name"], "k": stage["k"],
                   **{split: seeds.over_seeds([r["stages"][i][split] for r in mine]) for split in ("valid", "test")}}
                  for i, stage in enumerate(mine[0]["stages"])]
        label = f"{key[0]} ({key[1]})" + (f" + {key[2]}" if key[2] != "none" else "")
        rows.append({"name": label, "ranker": key[0], "negatives": key[1], "joint": key[2], "seeds": len(mine),
                     "request_cost": mine[0].get("request_cost"), "stages": stages})
    return rows


def results_table(retriever: list[dict], pipelines: list[dict]) -> str:
    """Markdown: the retriever alone vs every cascade (test, last stage; mean ± std over seeds)."""
    base = retriever[0]["test"]
    header = ["pipeline", *(HEADERS[m] for m in TABLE_METRICS), "Δ N@10", "ms / 1k users", "FLOPs / request"]
    rows = [["retriever alone", *(_cell(base, m) for m in TABLE_METRICS), tables.MISSING,
             f"{1000 * base['seconds_per_1000_users']:.0f}", _flops(retriever[0].get("request_cost"))]]
    for p in pipelines:
        last = p["stages"][-1]["test"]
        delta = tables.delta_pct(last["ndcg@10"], base["ndcg@10"])
        total = sum(s["test"]["seconds_per_1000_users"] for s in p["stages"])
        rows.append([p["name"], *(_cell(last, m) for m in TABLE_METRICS), tables.delta_cell(delta),
                     f"{1000 * total:.0f}", _flops(p.get("request_cost"))])
    return tables.markdown(header, rows)


def limits_table(retriever: list[dict], pipelines: list[dict]) -> str:
    """Markdown: what limits each cascade on test (``towernas.cascade.evaluate.limits``): stage 1's Recall@K0
    and the share of queries whose list holds a target, the oracle's N@10 on that list, and every stage's N@10
    over those queries (a ranker can only reorder)."""
    base = retriever[0]["test"]
    k0 = retriever[0]["k"]
    header = ["pipeline", f"R@{k0} (ceiling)", "lists with a target", "oracle N@10", "N@10 on those: retriever",
              "ranker stages"]
    rows = [[p["name"], _cell(base, f"recall@{k0}"), _cell(base, "reachable_share"), _cell(base, "oracle_ndcg@10"),
             _cell(base, "reachable_ndcg@10"),
             " → ".join(_cell(s["test"], "reachable_ndcg@10") for s in p["stages"][1:])] for p in pipelines]
    return tables.markdown(header, rows)


def _flops(cost: dict | None) -> str:
    """A request's FLOPs (``towernas.complexity.cascade``); "–" for a run recorded before they were counted."""
    return f"{cost['flops']:,}" if cost else tables.MISSING


def _cell(metrics: dict, name: str) -> str:
    if name not in metrics and name.endswith("@50") and name.startswith(BIAS_AT_K):
        # a last stage keeping k < 50 reports its bias metrics at k (its recall/ndcg@50 stay "–", not @10)
        name = next((m for m in metrics if m.startswith(name[:-2]) and not m.endswith("_std")), name)
    if name not in metrics:
        return tables.MISSING
    return tables.mean_std_text(metrics[name], metrics.get(f"{name}_std") or None)  # a zero std: one seed
