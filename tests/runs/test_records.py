"""``RecordLog``: finished units survive a restart; a line cut by a kill is redone, not misread."""

import json

from towernas.runs.records import FILE, RecordLog


def test_records_survive_a_restart_and_a_cut_line_is_ignored(tmp_path):
    log = RecordLog(tmp_path)
    log.add("a", {"x": 1})
    with open(tmp_path / FILE, "a") as fh:
        fh.write('{"key": "b", "record": {"x"')  # kill -9 in the middle of a write
    again = RecordLog(tmp_path)
    assert again.get("a") == {"x": 1} and again.get("b") is None
    again.add("b", {"x": 2})  # starts a fresh line after the cut one
    lines = (tmp_path / FILE).read_text().splitlines()
    assert json.loads(lines[-1]) == {"key": "b", "record": {"x": 2}}
    assert RecordLog(tmp_path).done == {"a": {"x": 1}, "b": {"x": 2}}


def test_an_empty_directory_has_nothing_done(tmp_path):
    assert RecordLog(tmp_path).done == {} and not (tmp_path / FILE).exists()
