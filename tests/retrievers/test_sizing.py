"""In-budget baselines: the grid members kept for a budget fit it by the exact counter, the selection keeps
the best validation score, and it never reads test."""

import dataclasses

import pytest
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR
from towernas.complexity import Budget, BudgetError, synthetic_spec, tower_cost
from towernas.retrievers import IN_BUDGET, build_baseline, sizing
from towernas.retrievers.sizing import fitting_sizes, grid, grid_costs, require_fit, select_size
from towernas.runs.registry import UnknownNameError
from towernas.train import loop
from towernas.train.loop import FitResult
from towernas.train.settings import FitSettings

PRESETS = {b: Budget.from_config(OmegaConf.load(CONF_DIR / "budget" / f"{b}.yaml")) for b in ("L", "M", "H")}


@pytest.mark.parametrize("name", IN_BUDGET)
def test_every_kept_grid_member_fits_by_the_exact_counter_and_every_dropped_one_does_not(name):
    spec = synthetic_spec()
    costs = {s.label: cost for s, cost in grid_costs(name, spec)}
    assert 3 <= len(costs) <= 7 and len(set(costs)) == len(costs)
    for budget in PRESETS.values():
        fits = dict(fitting_sizes(name, budget, spec))
        assert fits, f"{name}: nothing fits {budget}"
        for label, cost in costs.items():
            assert (label in fits) == budget.admits(cost)
        for label, cost in fits.items():  # rebuilt and recounted: the kept cost is the model's exact cost
            model = build_baseline(name, budget, spec, size=label)
            assert tower_cost(model, spec) == cost and budget.admits(cost)
    assert len(fitting_sizes(name, PRESETS["L"], spec)) < len(fitting_sizes(name, PRESETS["H"], spec))


def test_the_grids_on_the_embedded_dataset_shape():
    spec, low, mid = synthetic_spec(), PRESETS["L"], PRESETS["M"]
    assert [label for label, _ in fitting_sizes("google_dnn", low, spec)] == ["[64]", "[128,64]", "[128,128]"]
    assert [label for label, _ in fitting_sizes("bst", low, spec)] == ["[64] heads=1 head_dim=4 ffn=16 tokens=10",
                                                                      "[64] heads=1 head_dim=4 ffn=16",
                                                                      "[64] heads=1 head_dim=8 ffn=16"]
    assert len(fitting_sizes("mind", low, spec)) == 3
    assert [len(fitting_sizes(n, mid, spec)) for n in IN_BUDGET] == [5, 5, 5, 5]


@pytest.mark.parametrize("budget", ["L", "M", "H"])
def test_every_family_has_an_in_budget_size_at_amazons_history_length(budget):
    """Amazon's reader keeps 50 history items: attention costs grow with them, and BST still fits L."""
    spec = dataclasses.replace(synthetic_spec(), max_len=50)
    for name in IN_BUDGET:
        assert fitting_sizes(name, PRESETS[budget], spec), f"{name} at max_len 50 has no size in {budget}"


def test_bst_attends_to_the_most_recent_tokens_only():
    import torch

    from towernas.data.spec import DatasetSpec

    spec = DatasetSpec((), (), n_items=10, max_len=6)
    torch.manual_seed(0)
    model = build_baseline("bst", PRESETS["H"], spec, size="[64] heads=1 head_dim=4 ffn=16 tokens=10")
    assert model.user_tower.positions.shape[0] == 6  # never more tokens than the history holds
    short = _bst(spec, tokens=2)
    a = short.encode_users({"history": torch.tensor([[1, 2, 3, 4, 5, 6]])})
    b = short.encode_users({"history": torch.tensor([[9, 9, 9, 9, 5, 6]])})
    assert torch.allclose(a, b)  # items before the last 2 are not seen


def _bst(spec, **kwargs):
    from towernas.retrievers import MODELS

    return MODELS.build("bst", spec, (16,), **kwargs)


class FakeTrainer:
    """Stands in for ``fit``: a known validation score per size (by call order), and the calls it got."""

    def __init__(self, scores):
        self.scores, self.calls = list(scores), []

    def __call__(self, model, data, settings, **kwargs):
        self.calls.append((model.layers, settings, kwargs))
        score = self.scores[len(self.calls) - 1]
        return FitResult(best_epoch=2, best_valid={"recall@50": score, "recall@20": score / 2})


def test_selection_picks_the_argmax_of_the_validation_scores():
    spec, mid = synthetic_spec(), PRESETS["M"]
    fits = fitting_sizes("google_dnn", mid, spec)
    trainer = FakeTrainer([0.10, 0.30, 0.50, 0.20, 0.40][: len(fits)])
    settings = FitSettings(max_epochs=3, patience=1, seed=7, lr=0.01)
    choice = select_size("google_dnn", mid, spec, None, trainer, settings, device="cpu")
    assert choice.size.label == "[128,128]" and choice.size.layers == (128, 128)
    assert choice.scores == dict(zip([label for label, _ in fits], trainer.scores))
    assert [layers for layers, _, _ in trainer.calls] == [sizing.grid_size("google_dnn", label).layers
                                                          for label, _ in fits]
    assert all(s == settings and kw == {"device": "cpu"}
               for _, s, kw in trainer.calls)  # the short schedule, one seed, the caller's runtime arguments
    record = choice.to_dict()
    assert record["chosen"] == "[128,128]" and record["size"] == {"layers": [128, 128]} and record["seed"] == 7
    assert [g["valid/recall@50"] for g in record["grid"]] == trainer.scores
    assert [o["size"] for o in record["over_budget"]] == ["[512,256,128]"]  # dropped, never trained
    tie = select_size("google_dnn", mid, spec, None, FakeTrainer([0.2, 0.4, 0.4, 0.1, 0.4]),
                      FitSettings(max_epochs=1, patience=0))
    assert tie.size.label == "[128,64]"  # equal scores: the earlier (cheaper) member


def test_selection_never_reads_test(data, spec, monkeypatch):
    splits = []
    original = loop.evaluate_model

    def evaluate(model, data, split, *args, **kwargs):
        if split == "test":
            raise AssertionError("test read during size selection")
        splits.append(split)
        return original(model, data, split, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate_model", evaluate)
    logged = []
    short = FitSettings(max_epochs=1, patience=1, batch_size=64)
    choice = select_size("mind", PRESETS["L"], spec, data, loop.fit, short, progress=False, log=logged.append)
    assert splits == ["valid"] * len(fitting_sizes("mind", PRESETS["L"], spec))  # one epoch per fitting size
    assert choice.size.label in choice.scores and all(0 <= v <= 1 for v in choice.scores.values())
    assert {r["size"] for r in logged} == set(choice.scores) and all(r["model"] == "mind" for r in logged)


def test_no_fitting_size_and_unknown_names_are_one_line_errors():
    spec, tiny = synthetic_spec(), Budget("XS", params=10_000, flops=10_000)
    assert fitting_sizes("bst", tiny, spec) == []
    with pytest.raises(BudgetError, match=r"bst: no size of its grid fits budget XS .* the cheapest, \[64\] heads=1 "
                                          r"head_dim=4 ffn=16 tokens=10, costs .*; drop it or use bst_paper") as err:
        require_fit("bst", tiny, spec)
    assert "\n" not in str(err.value)
    trainer = FakeTrainer([])
    with pytest.raises(BudgetError, match="no size of its grid fits"):
        select_size("bst", tiny, spec, None, trainer, FitSettings(max_epochs=1, patience=1))
    assert trainer.calls == []  # nothing trained
    for bad in ("dssm", "google_dnn_paper"):
        with pytest.raises(UnknownNameError, match=r"unknown in-budget baseline; expected one of "
                                                   r"\['google_dnn', 'senet', 'bst', 'mind'\]$"):
            grid(bad)
