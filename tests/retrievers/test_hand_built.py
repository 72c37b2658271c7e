"""A hand-built tower as a result file: round trip, the kind dispatch of ``load_tower``, one-line errors."""

import json

import pytest

from towernas.retrievers.hand_built import HandBuilt, load_tower
from towernas.retrievers.sizing import grid, grid_size
from towernas.runs.errors import UserError
from towernas.space import Arch
from towernas.space.arch import ArchError


@pytest.mark.parametrize("name", ["google_dnn", "bst", "mind", "senet"])
def test_every_grid_member_round_trips_through_its_file(tmp_path, name):
    for member in grid(name):
        tower = HandBuilt(name, member, {"user": {"params": 1, "flops": 2}}, {"retrained": 0.4})
        tower.save(tmp_path / "best.json")
        assert load_tower(tmp_path / "best.json") == tower


def test_load_tower_reads_both_kinds(tmp_path):
    arch = Arch("avg", ("MLP-64", "skip", "skip"), ("MLP-64", "skip", "skip"))
    (tmp_path / "a.json").write_text(arch.to_json())
    assert load_tower(tmp_path / "a.json") == arch  # no kind: an architecture
    (tmp_path / "b.json").write_text(json.dumps({**arch.to_dict(), "kind": "searched"}))
    assert load_tower(tmp_path / "b.json") == arch
    (tmp_path / "c.json").write_text("[1, 2]")
    with pytest.raises(ArchError, match=r"c.json: expected a JSON object, got list"):
        load_tower(tmp_path / "c.json")
    (tmp_path / "d.json").write_text("{")
    with pytest.raises(ArchError, match=r"d.json: invalid JSON at line 1"):
        load_tower(tmp_path / "d.json")
    with pytest.raises(ArchError, match=r"e.json: cannot read architecture file"):
        load_tower(tmp_path / "e.json")


@pytest.mark.parametrize("edit, message", [
    ({"kind": "ranker"}, r"b.json.kind='ranker': expected 'searched' \(an architecture\) or 'hand-built'"),
    ({"baseline": "lstm"}, r"b.json.baseline='lstm': expected one of \['google_dnn'"),
    ({"size": {"layers": [96]}}, r"b.json.size: google_dnn size='\[96\]': not in its grid"),
    ({"size": [64]}, r"b.json.size: expected an object with a 'layers' list"),
    ({"extra": 1}, r"b.json: unknown key\(s\) \['extra'\]"),
    ({"schema": 2}, r"b.json.schema=2: this TowerNAS reads schema 1"),
])
def test_bad_hand_built_files_fail_in_one_line_naming_the_key(tmp_path, edit, message):
    good = HandBuilt("google_dnn", grid_size("google_dnn", "[128,64]")).to_dict()
    (tmp_path / "b.json").write_text(json.dumps({**good, **edit}))
    with pytest.raises((UserError, ArchError), match=message) as err:
        load_tower(tmp_path / "b.json")
    assert "\n" not in str(err.value)
