"""``RankerArch``: the ranker architecture JSON, its round trip and one-line errors naming the file and key."""

import json

import pytest

from towernas.space import Arch, ArchError
from towernas.space.ranker_arch import RankerArch


def test_json_round_trip_keeps_the_architecture_and_carries_reports(tmp_path):
    arch = RankerArch(("DP", "MLP-128", "skip"), history="target", embed=8, block=16, head=4,
                      complexity={"flops_per_candidate": 1}, provenance={"dataset": "x"})
    path = tmp_path / "best.json"
    arch.save(path)
    saved = json.loads(path.read_text())
    assert saved["kind"] == "ranker" and saved["dims"] == {"embed": 8, "block": 16, "head": 4}
    again = RankerArch.load(path)
    assert again == arch and again.provenance == {"dataset": "x"}
    assert again.hyperparameters() == {"blocks": ["DP", "MLP-128", "skip"], "history": "target", "embed": 8,
                                       "block": 16, "head": 4, "pairwise": False}
    assert saved["schema"] == 2 and saved["pairwise"] is False
    RankerArch(("FM",), pairwise=True).save(tmp_path / "pairwise.json")
    assert RankerArch.load(tmp_path / "pairwise.json").pairwise is True


def test_a_schema_1_file_reads_as_the_ranker_it_was_searched_as(tmp_path):
    """Schema 1 predates ``pairwise``: such a file (the committed searches' best.json) builds without FM's raw term,
    as does schema 2 without the key (the default); schema 2 reads the key."""
    data = RankerArch(("FM", "MLP-64"), pairwise=True).to_dict()
    del data["pairwise"]
    path = tmp_path / "best.json"
    path.write_text(json.dumps({**data, "schema": 1}))
    assert RankerArch.load(path).pairwise is False
    path.write_text(json.dumps(data))
    assert RankerArch.load(path).pairwise is False
    path.write_text(json.dumps({**data, "pairwise": True}))
    assert RankerArch.load(path) == RankerArch(("FM", "MLP-64"), pairwise=True) != RankerArch(("FM", "MLP-64"))


@pytest.mark.parametrize("change, message", [
    ({"blocks": ["FM", "MLP-7"]}, r"best.json.blocks\[1\]='MLP-7': unknown block"),
    ({"blocks": ["skip", "FM"]}, r"best.json.blocks\[0\]='skip': the first position needs a block"),
    ({"blocks": []}, r"best.json.blocks: 0 blocks; expected 1 to 7"),
    ({"blocks": "FM"}, r"best.json.blocks: expected a list of block names"),
    ({"history": "last"}, r"best.json.history='last': expected one of \['mean', 'target'\]"),
    ({"dims": {"embed": 0}}, r"best.json.dims.embed=0: expected a positive integer"),
    ({"dims": {"out": 4}}, r"best.json.dims: expected an object with keys among"),
    ({"schema": 3}, r"best.json.schema=3: this TowerNAS reads schema 1 or 2"),
    ({"schema": 1}, r"best.json.pairwise: schema 1 has no such key \(it reads as false\); write schema 2"),
    ({"pairwise": "yes"}, r"best.json.pairwise='yes': expected true or false"),
    ({"seed": 1}, r"best.json: unknown key\(s\) \['seed'\]"),
    ({"kind": None}, r"best.json: kind=None; expected a ranker architecture"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_key(tmp_path, change, message):
    data = {**RankerArch(("FM",)).to_dict(), **change}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "best.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ArchError, match=message) as err:
        RankerArch.load(path)
    assert "\n" not in str(err.value)


def test_a_tower_architecture_or_broken_json_is_refused_in_one_line(tmp_path):
    towers = tmp_path / "towers.json"
    Arch("avg", ("MLP-64", "EW-sum", "SA-1"), ("MLP-32", "EW-max", "EW-avg")).save(towers)
    with pytest.raises(ArchError, match=r"towers.json: kind=None; expected a ranker architecture .* holds towers"):
        RankerArch.load(towers)
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "ranker",')
    with pytest.raises(ArchError, match=r"broken.json: invalid JSON at line 1"):
        RankerArch.load(broken)
    with pytest.raises(ArchError, match=r"missing.json: cannot read architecture file"):
        RankerArch.load(tmp_path / "missing.json")
