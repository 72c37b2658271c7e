"""What a search says about its winner: the origin of every finalist and the margins between origins."""

from towernas.search.outputs import HAND_BUILT, MLP, SEARCHED, row_label, row_origin, winner, winner_line

G = ["avg", "SA-1", "MLP-64", "skip", "MLP-32", "EW-sum", "skip"]
M = ["avg", "MLP-128", "skip", "skip", "MLP-128", "skip", "skip"]


def _rows():
    rows = [{"genome": G, "retrained": 0.44}, {"genome": None, "baseline": "bst", "size": "[64]", "retrained": 0.43},
            {"genome": M, "retrained": 0.42}, {"genome": None, "baseline": "google_dnn", "size": "[64]", "short": 0.3}]
    for row in rows:
        row["origin"] = row_origin(row, {tuple(M)})
    return rows


def test_origins_and_labels():
    assert [r["origin"] for r in _rows()] == [SEARCHED, HAND_BUILT, MLP, HAND_BUILT]
    assert row_label(_rows()[0]) == "avg | SA-1 MLP-64 skip | MLP-32 EW-sum skip"
    assert row_label(_rows()[1]) == "bst [64]"


def test_the_winner_and_its_margin_over_the_best_of_every_other_origin():
    won = winner(_rows())
    assert won["origin"] == SEARCHED and won["validation"] == 0.44
    assert won["over"][HAND_BUILT] == {"model": "bst [64]", "validation": 0.43, "margin": 0.01,
                                       "margin_pct": round(100 * 0.01 / 0.43, 3)}
    assert won["over"][MLP]["margin"] == 0.02 and set(won["over"]) == {HAND_BUILT, MLP}  # not-retrained rows: none
    assert winner_line(won).startswith("winner (searched): avg | SA-1 MLP-64 skip | MLP-32 EW-sum skip, validation")
    assert "hand-built bst [64] (0.4300) by +0.0100 (+2.3%)" in winner_line(won)


def test_a_hand_built_winner_and_no_retrained_rows():
    rows = _rows()[1:]
    assert winner(rows)["origin"] == HAND_BUILT and winner(rows)["over"][MLP]["margin"] == 0.01
    assert winner([{"genome": G, "short": 0.2, "origin": SEARCHED}]) is None
    assert winner_line(None) == "no candidate was fully retrained"
