"""A benchmark's command line: the options every benchmark spells the same way, and the JSON printout of a
quick-suite one.

Example:
    >>> args = benchmark_parser("demo", dataset="synthetic", override=True).parse_args(["--quick"])
    >>> args.out, args.quick, args.dataset, args.override
    ('bench_results', True, 'synthetic', [])
"""

from __future__ import annotations

import argparse
import json
from typing import Callable

__all__ = ["benchmark_parser", "chosen_setups", "int_list", "parse_setup", "print_run", "setup_options"]


def benchmark_parser(doc: str | None, *, dataset: str | None = None, override: bool = False,
                     quick: str = "tiny dataset and schedules (a smoke run)", out: str = "bench_results",
                     dataset_help: str = "any conf/dataset/ name, e.g. ml-100k (bash recipes/get-ml-100k.sh) or "
                                         "synthetic; its runs and results carry its name") -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with ``--out`` (where the results go), ``--quick`` (``quick``: its help; "" for
    none), ``--dataset`` when ``dataset`` is a default, and ``--override`` (extra Hydra overrides) when asked."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=out, help="directory of the result files (and of the resumable runs)")
    if quick:
        parser.add_argument("--quick", action="store_true", help=quick)
    if dataset is not None:
        parser.add_argument("--dataset", default=dataset, help=dataset_help)
    if override:
        parser.add_argument("--override", action="append", default=[], help="extra Hydra override (repeatable)")
    return parser


def int_list(text: str) -> list[int]:
    """An argparse ``type`` for ``--seeds 0,1,2``-style options: a bad value is argparse's one-line usage error.

    >>> int_list("0,1, 2")
    [0, 1, 2]
    """
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers, e.g. 0,1,2") from None


def parse_setup(text: str, section: str) -> tuple[str, list[str]]:
    """A ``--setup NAME=KEY=VALUE[;KEY=VALUE...]`` option: (NAME, Hydra overrides). A key without a dot belongs to
    ``section``; a dotted key is taken as written (``ranker.embed=32``).

    >>> parse_setup("slow=lr=0.0001;ranker.embed=32", "rank")
    ('slow', ['rank.lr=0.0001', 'ranker.embed=32'])
    """
    name, _, body = text.partition("=")
    if not name or "=" not in body:
        raise SystemExit(f"--setup {text!r}: expected NAME=KEY=VALUE[;KEY=VALUE...], e.g. slow=lr=0.0001;patience=5")
    return name, [part if "." in part.partition("=")[0] else f"{section}.{part}" for part in body.split(";")]


def setup_options(parser: argparse.ArgumentParser, setups: dict[str, list[str]], rankers: str) -> None:
    """The options of a setups × rankers × seeds benchmark: ``--seeds``, ``--rankers`` (default ``rankers``),
    ``--setups`` (names among ``setups``, all by default) and ``--setup NAME=KEY=VALUE[;...]`` (replaces them)."""
    parser.add_argument("--seeds", default="0,1,2", type=int_list)
    parser.add_argument("--rankers", default=rankers, type=lambda s: s.split(","))
    parser.add_argument("--setups", default=",".join(setups), type=lambda s: s.split(","),
                        help=f"named setups among {list(setups)}")
    parser.add_argument("--setup", action="append",
                        help="NAME=KEY=VALUE[;KEY=VALUE...] (repeatable; replaces --setups)")


def chosen_setups(parser: argparse.ArgumentParser, args, setups: dict[str, list[str]],
                  section: str) -> dict[str, list[str]]:
    """``{name: overrides}`` of ``setup_options``' arguments; an unknown name is argparse's one-line error."""
    if args.setup:
        return dict(parse_setup(text, section) for text in args.setup)
    unknown = [name for name in args.setups if name not in setups]
    if unknown:
        parser.error(f"--setups {','.join(unknown)}: expected names among {list(setups)}")
    return {name: setups[name] for name in args.setups}


def print_run(run: Callable[..., dict], argv: list[str] | None = None, description: str | None = None) -> dict:
    """``python -m benchmarks.bench_<name> [--quick]`` of a quick-suite benchmark: ``run(quick=...)``'s result,
    printed as indented JSON (``make bench`` writes it to ``results.{json,md}`` with the others)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes (a smoke run)")
    result = run(quick=parser.parse_args(argv).quick)
    print(json.dumps(result, indent=2))
    return result
