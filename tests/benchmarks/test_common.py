"""``benchmarks.common``: the results writer's files, the per-cell caches' hits and misses, one compose."""

import doctest
import json

import pytest

from benchmarks import common
from benchmarks.common import JsonlCache, cached_json, compose, markdown_table, write_report
from benchmarks.common import cache, config, output, registry


@pytest.mark.parametrize("module", [cache, config, output, registry])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_the_writer_writes_the_json_and_the_markdown_of_a_hand_made_table(tmp_path, capsys):
    table = markdown_table(["model", "R@50", "Δ"], [["google_dnn [128,64]", "0.2295 ± 0.0042", "+1.0%"],
                                                    ["bst", 0.25, ""]])
    write_report(tmp_path / "out", "demo", {"rows": 2, "path": tmp_path}, "# Demo\n\n" + table + "\n", echo=True)
    assert (tmp_path / "out" / "demo.md").read_text() == (
        "# Demo\n\n"
        "| model | R@50 | Δ |\n"
        "|---|---|---|\n"
        "| google_dnn [128,64] | 0.2295 ± 0.0042 | +1.0% |\n"
        "| bst | 0.25 |  |\n")
    assert json.loads((tmp_path / "out" / "demo.json").read_text()) == {"rows": 2, "path": str(tmp_path)}
    assert "| bst | 0.25 |  |" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo.json", "demo.md"]  # no temp file left


def test_the_jsonl_cache_misses_then_hits_and_skips_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "runs" / "records.jsonl"
    cells = JsonlCache(path, ("backbone", "variant", "seed"))
    assert ("searched", "none", 0) not in cells and cells.get(("searched", "none", 0)) is None  # a miss
    cells.add({"backbone": "searched", "variant": "none", "seed": 0, "recall@50": 0.3})
    with open(path, "a") as fh:
        fh.write('{"backbone": "searched", "variant": "none", "se')  # kill -9 in the middle of a write
    again = JsonlCache(path, ("backbone", "variant", "seed"))
    assert again.get(("searched", "none", 0))["recall@50"] == 0.3 and len(again) == 1  # a hit, after a restart
    again.add({"backbone": "searched", "variant": "none", "seed": 1, "recall@50": 0.4})  # a fresh line after the cut
    assert [r["seed"] for r in JsonlCache(path, ("backbone", "variant", "seed")).records()] == [0, 1]
    by_field = JsonlCache(path, "seed")
    assert by_field.get(1)["recall@50"] == 0.4


def test_a_jsonl_cache_written_by_fidelitys_earlier_cache_keeps_hitting(tmp_path):
    path = tmp_path / "cache.jsonl"  # the format of bench_fidelity's cache.jsonl: flat records with their key
    path.write_text(json.dumps({"key": "abc", "kind": "arch", "seed": 0, "valid": {"recall@50": 0.3}}) + "\n")
    assert JsonlCache(path, "key").get("abc")["valid"]["recall@50"] == 0.3


def test_cached_json_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"valid": 0.3}

    path = tmp_path / "cell-seed0.json"
    assert cached_json(path, compute) == {"valid": 0.3} and cached_json(path, compute) == {"valid": 0.3}
    assert len(calls) == 1 and json.loads(path.read_text()) == {"valid": 0.3}


def test_compose_reads_the_packages_configs():
    assert compose("budget=M").budget.name == "M"
    assert compose("retrain.seeds=[3]", config="retrain").retrain.seeds == [3]
    assert common.CONF_DIR.joinpath("config.yaml").exists()


def test_int_list_options_parse_and_refuse_in_one_line(capsys):
    from benchmarks.common import benchmark_parser, int_list

    parser = benchmark_parser("demo")
    parser.add_argument("--seeds", default="0,1", type=int_list)
    assert parser.parse_args([]).seeds == [0, 1]  # a string default goes through the type too
    assert parser.parse_args(["--seeds", "3, 4"]).seeds == [3, 4]
    with pytest.raises(SystemExit):
        parser.parse_args(["--seeds", "0,a"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith("argument --seeds: '0,a': expected comma-separated integers, e.g. 0,1,2")
