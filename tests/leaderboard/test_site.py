"""The static leaderboard built from small run directories in the commands' formats: rows and Δ vs the in-budget
GoogleDNN, the cells' sort values, escaping, every section, one-line errors and the atomic write."""

import json
import os
import re

import pytest

from tests.leaderboard import fake_runs
from tests.leaderboard.dom import parse
from towernas import report
from towernas.leaderboard import build_site, collect, plots
from towernas.leaderboard.kinds import detect
from towernas.leaderboard.site import MARKER


@pytest.fixture
def runs(tmp_path):
    return fake_runs.all_runs(tmp_path / "runs")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One site of every kind of run (built once: the tests below only read it)."""
    root = tmp_path_factory.mktemp("built")
    site = build_site(list(fake_runs.all_runs(root / "runs").values()), root / "site")
    return site, parse((root / "site" / "index.html").read_text())


def test_the_kind_of_run_is_told_from_its_files(runs):
    kinds = {name: detect(path).kind for name, path in runs.items()}
    assert kinds == {"baselines_L": "retrain", "winners_L": "retrain", "baselines_M": "retrain", "other": "retrain",
                     "search": "search", "rank": "rank", "cascade": "cascade"}
    assert detect(runs["rank"] / "results.json").kind == "rank"  # a results.json names its run too


def test_rows_compare_with_the_in_budget_google_dnn_of_the_same_dataset_and_budget(built):
    site, _ = built
    delta = {(r["run"], r["model"]): r["delta_recall@50_pct"] for r in site.rows}
    assert len(site.rows) == 8
    assert delta[("L/winners", "searched")] == pytest.approx(20.0)  # 0.30 vs baselines' google_dnn 0.25
    assert delta[("L/winners", fake_runs.EVIL)] == pytest.approx(-20.0)
    assert delta[("L/baselines", "google_dnn")] == pytest.approx(0.0)
    assert delta[("M/baselines", "searched")] == pytest.approx(10.0)  # 0.286 vs M's own 0.26, not L's
    assert delta[("other", "searched")] is None  # ml-1m has no GoogleDNN
    assert [r["run"] for r in site.rows][:2] == ["L/winners", "L/baselines"]  # per dataset+budget, best R@50 first


def test_cells_carry_the_numbers_the_sort_script_orders_by(built):
    _, page = built
    table = page.tables["leaderboard"]
    assert len(table.rows) == 8 and {"r50", "n50", "uf", "delta", "arp", "ur50"} <= set(table.keys)
    r50 = table.column("r50")
    assert r50[0] == ("0.3000 ± 0.0040", {"class": "num", "data-sort": "0.3"})
    assert [float(a["data-sort"]) for _, a in table.column("uf")][:2] == [60000, 60000]
    text, attrs = table.column("delta")[0]
    assert text == "+20.0%" and float(attrs["data-sort"]) == pytest.approx(20.0)
    # rows of runs without popularity-bias metrics show a dash that sorts last, not a zero
    assert [t for t, _ in table.column("run")][:2] == ["L/winners", "L/baselines"]
    assert table.column("arp")[0][0] == "90.0 ± 0.5"
    assert table.column("arp")[1] == ("–", {"class": "num", "data-sort": ""})
    assert table.column("seeds")[-1] == ("1", {"class": "num", "data-sort": "1"})
    assert table.column("model")[-2][0] == "google_dnn [256,128]"  # in-budget baselines show their size


def test_element_ids_are_unique_and_the_navigation_links_to_them(built):
    site, _ = built
    text = (site.out / "index.html").read_text()
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) == len(set(ids))  # the sort hash finds a table by its id
    links = set(re.findall(r'<a href="#([^"]+)"', text))
    assert links <= set(ids) and {"retrieval", "pareto", "rankers", "cascades", "searches", "curves"} <= links


def test_every_string_from_the_files_is_escaped(built):
    site, page = built
    text = (site.out / "index.html").read_text()
    assert fake_runs.EVIL not in text and "<img src=x" not in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in text
    assert fake_runs.EVIL in [t for t, _ in page.tables["leaderboard"].column("model")]  # and reads back intact


def test_every_kind_of_run_gets_its_section_and_figures(built):
    site, page = built
    out = site.out
    assert set(page.images) == {p.name for p in out.glob("*.png")}
    assert {"pareto-1.png", "pareto-2.png", "search-1.png", "supernet-1.png", "cascade-front-1.png"} <= set(
        page.images)  # the cascade's K0 sweep: N@10 vs FLOPs per request
    assert len([i for i in page.images if i.startswith("curves-")]) == 6  # 4 retrain + rank + cascade
    for name in page.images:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rank = page.tables["rank"]
    assert [t for t, _ in rank.column("ranker")] == ["deepfm", "din"]
    assert rank.column("auc")[1][0] == "0.7400 ± 0.0100" and rank.column("flops")[0][0] == "87.0k"
    cascade = page.tables["cascade-1"]
    assert [(p, s) for (p, _), (s, _) in zip(cascade.column("pipeline"), cascade.column("stage"))] == [
        ("retriever alone", "retriever"), ("din (uniform) ★", "retriever"), ("din (uniform) ★", "din"),
        ("din (top)", "retriever"), ("din (top)", "din")]
    assert cascade.column("r50")[2] == ("–", {"class": "num", "data-sort": ""})  # a k=20 stage has no R@50 ...
    text, attrs = cascade.column("ur50")[2]  # ... but its bias and unbiased recall at k
    assert text == "0.3080 ± 0.0010" and attrs["title"] == "unbiased/recall@20"
    assert cascade.column("delta")[2][0] == "+7.7%"  # N@10 0.112 vs the retriever's 0.104
    selection = page.tables["selection-1"]
    assert len(selection.rows) == 2 and selection.column("full")[0][0] == "0.3040 ± 0.0037"
    assert selection.column("user")[0][0] == "MLP-32 EW-ip MLP-64 EW-max skip"
    assert [t for t, _ in selection.column("fitness")] == ["0.3100", "0.3000"]  # R@50 as it is (stored: -0.31)
    text = (out / "index.html").read_text()
    assert "supernet R@50</th>" in text and "(higher is better)" in text and "-0.31" not in text
    assert selection.column("uf")[0][0] == "60.0k" and selection.column("uf")[1][0] == "–"  # no top2.json
    assert (out / MARKER).exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".site")]


def test_logs_are_read_as_the_latest_run_logged_them(runs):
    grouped = collect.curves(collect.read_jsonl(runs["baselines_L"] / "retrain.jsonl"), ("model",))
    first = grouped["google_dnn\tseed 0"]  # logged twice: the rerun's curve replaces the first
    assert [e for e, _ in first] == [1, 2, 3] and first[0][1]["train_loss"] == 4.0
    train, valid = collect.supernet_losses(runs["search"])
    assert train[-1] == (200, 3.0) and len(train) == 4 and [s for s, _ in valid] == [100, 200]
    (runs["search"] / "search.jsonl").unlink()  # the evolution state holds the same history
    assert [h["generation"] for h in collect.search_history(runs["search"])] == [0, 1, 2, 3]
    with (runs["rank"] / "rank.jsonl").open("a") as fh:
        fh.write('{"ranker": "din", "epo')  # a crash mid-write
    assert len(collect.read_jsonl(runs["rank"] / "rank.jsonl")) == 6


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing", "missing: not a run directory"),
    (lambda p: p, "no results.json or summary.json"),
    (lambda p: (p / "results.json").write_text("{not json") and p, "results.json: cannot read run results"),
    (lambda p: (p / "results.json").write_text("[1, 2]") and p, "a JSON object expected, got list"),
    (lambda p: (p / "results.json").write_text('{"dataset": "x"}') and p, "neither retrain, rank nor cascade"),
    (lambda p: (p / "results.json").write_text(json.dumps({"dataset": "x", "budget": "L", "table": [{}]})) and p,
     "malformed retrain run files"),
])
def test_a_bad_run_directory_is_a_one_line_error_naming_it(tmp_path, runs, make, match):
    bad = tmp_path / "bad"
    bad.mkdir()
    bad = make(bad)
    with pytest.raises(ValueError, match=match) as err:
        build_site([runs["baselines_L"], bad], tmp_path / "site")
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "site").exists()
    with pytest.raises(SystemExit) as exit_:
        report.main(["--html", str(tmp_path / "site"), str(bad)])
    assert str(exit_.value.code).startswith("towernas.report: error: ") and str(bad) in str(exit_.value.code)


def test_a_crash_mid_build_leaves_the_previous_site_and_no_temp_files(runs, tmp_path, monkeypatch):
    out = tmp_path / "site"

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(plots, "curves_plot", crash)
    with pytest.raises(RuntimeError):
        build_site([runs["baselines_L"]], out)
    assert not out.exists() and os.listdir(tmp_path) == ["runs"]
    monkeypatch.undo()
    build_site([runs["baselines_L"]], out)
    before = (out / "index.html").read_text()
    monkeypatch.setattr(plots, "curves_plot", crash)
    with pytest.raises(RuntimeError):
        build_site([runs["baselines_L"], runs["search"]], out)
    assert (out / "index.html").read_text() == before and sorted(os.listdir(tmp_path)) == ["runs", "site"]
    monkeypatch.undo()
    build_site([runs["rank"]], out)  # an earlier site is replaced
    assert (out / "index.html").read_text() != before and sorted(os.listdir(tmp_path)) == ["runs", "site"]


def test_a_directory_that_is_not_a_site_is_never_replaced(runs, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="not a leaderboard site"):
        build_site([runs["baselines_L"]], precious)
    assert os.listdir(precious) == ["thesis.tex"]


def test_html_alone_writes_the_site_only_and_with_out_both(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    report.main(["--html", "site", str(runs["baselines_L"]), str(runs["search"])])
    assert (tmp_path / "site" / "index.html").exists() and not (tmp_path / "outputs").exists()
    assert "leaderboard: " in capsys.readouterr().out
    report.main(["--html", "site", str(runs["winners_L"]), str(runs["search"]), str(runs["baselines_L"]),
                 "--out", "md"])
    markdown = (tmp_path / "md" / "report.md").read_text()
    assert "| L | google_dnn [128,128] |" in markdown and "+20.0%" in markdown  # the retrain runs among RUN


def test_a_multirun_directory_stands_for_every_run_beneath_it(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "multirun" / "2026-12-07" / "07-00-00"  # Hydra's <dir>/<job>/..., jobs 0..10
    (sweep / ".hydra").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    for job in (0, 2, 10):
        fake_runs.retrain_run(sweep / str(job), "L", [
            fake_runs.table_row("google_dnn", 0.2 + job / 100, 57000, 57000, size="[64]"),
            fake_runs.table_row("searched L #1", 0.3, 60000, 48000)])
    fake_runs.search_run(sweep / "11" / "seed0")
    site = build_site([sweep], tmp_path / "site")
    assert [(r.label, r.kind) for r in site.runs] == [("0", "retrain"), ("2", "retrain"), ("10", "retrain"),
                                                       ("11/seed0", "search")]
    assert len(site.rows) == 6 and {r["run"] for r in site.rows} == {"0", "2", "10"}
    monkeypatch.chdir(tmp_path)
    report.main([str(tmp_path / "multirun"), "--out", "md"])  # the Markdown report reads the retrain runs only
    assert (tmp_path / "md" / "report.md").read_text().count("| synthetic | L |") == 6
    empty = tmp_path / "empty" / "job0"
    empty.mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_:
        report.main(["--html", str(tmp_path / "site2"), str(tmp_path / "empty")])
    message = str(exit_.value.code)
    assert message.startswith(f"towernas.report: error: {tmp_path / 'empty'}: no results.json or summary.json")
    assert "beneath" in message and "\n" not in message and not (tmp_path / "site2").exists()
