"""bench_scale's bookkeeping: which architectures the agreement phase re-scores, and the target table."""

from benchmarks.bench_scale import TARGETS, agreement_picks, checks, markdown


def test_agreement_picks_the_best_half_and_spreads_the_rest():
    memo = [[[str(i)], -i / 100] for i in range(100)]  # genome i has fitness -i/100: 99 is the best
    picks, top = agreement_picks(memo, 16)
    fitness = [row[1] for row in picks]
    assert top == 8 and len(picks) == 16 and fitness == sorted(fitness)
    assert [row[0] for row in picks[:8]] == [[str(i)] for i in range(99, 91, -1)]  # the 8 best, in order
    assert picks[-1][0] == ["0"]  # the spread reaches the worst
    few, top = agreement_picks(memo[:5], 16)
    assert top == 5 and len(few) == 5


def test_checks_and_markdown_name_every_target_and_its_verdict():
    phases = {"load": {"peak_gib": 1.1, "wall_seconds": 30, "result": {
                  "cold_seconds": 6.4, "cached_seconds": 0.1, "generate_seconds": 15.6, "files_mb": {},
                  "dataset": {"users": 165036, "items": 159551, "interactions": 5073469}}},
              "search": {"peak_gib": 9.5, "wall_seconds": 4000, "search_seconds_all_calls": 4200,
                         "result": {"supernet": {"steps": 10000, "best_step": 10000, "stopped_early": False},
                                    "search": {"generations_run": 6, "unique_evaluations": 300},
                                    "phases_seconds_this_call": {}, "validation": {"metric": "recall@50", "mean": 0.09}}},
              "eval": {"peak_gib": 3.0, "wall_seconds": 90, "result": {
                  "users": 165036, "items": 159551, "dim": 64, "most_excluded": 900, "ours_seconds": 50.0,
                  "raw_faiss_seconds": 45.0, "ratio": 1.111, "test": {}}}}
    table = checks(phases)
    assert set(table) == set(TARGETS) and table["search_minutes"] == {"value": 70.0, "target": 60, "met": False}
    assert table["eval_vs_faiss"]["met"] and table["peak_gib_any_phase"] == {"value": 9.5, "target": 8, "met": False}
    text = markdown({"machine": {"cpus": 2, "torch": "x"}, "settings": {"search": ["a"], "retrain": ["b"]},
                     "phases": phases, "checks": table, "search_so_far": None})
    assert "| search_minutes | 70.0 | 60 | **no** |" in text and "| eval_vs_faiss | 1.111 | 1.2 | yes |" in text
