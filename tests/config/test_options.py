"""Ranker, sampler and add-on options come from their constructors' typed signatures: every registered one
composes to its defaults, overrides reach the constructor, a misspelt key fails at composition, and a ranker or
sampler added in a new module (one file, its registration) is configurable with nothing else: the ranker is
the one the docs' "add a ranker" guide shows, run as written."""

import importlib
import inspect
import re
import sys
import textwrap

import pytest
import torch
from hydra.core.config_store import ConfigStore
from hydra.errors import ConfigCompositionException

from tests.conftest import REPO, compose_config
from towernas.config.ranker import hyperparameters
from towernas.config.schema import SchemaError
from towernas.rankers import RANKERS, Catalog, build_ranker
from towernas.samplers import SAMPLERS, build_sampler

GUIDE = REPO / "docs" / "guides" / "add-a-ranker.md"


def guide_ranker() -> str:
    """The ranker file of the docs' "add a ranker" guide: its first Python block, run as written."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert blocks, f"{GUIDE}: no python block"
    return blocks[0]


TOY_SAMPLER = '''
    import torch

    from towernas.samplers.base import SAMPLERS, Negatives, Sampler


    @SAMPLERS.register("toy")
    class ToySampler(Sampler):
        """The first ``n`` ids, always. Args: offset: the first id."""

        def __init__(self, seed: int = 0, device: str = "cpu", offset: int = 0) -> None:
            super().__init__(seed, device)
            self.offset = offset

        def sample(self, query, positives, n, *, encode_items=None):
            ids = torch.arange(self.offset, self.offset + n)
            return Negatives(ids, self.log_q(query, ids, n))

        def log_q(self, query, ids, n):
            return torch.zeros(ids.shape)
'''


def _import_module(tmp_path, monkeypatch, name: str, source: str):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


@pytest.fixture
def toy_ranker(tmp_path, monkeypatch):
    """``ranker=toy``, registered by importing a new module, unregistered afterwards."""
    yield _import_module(tmp_path, monkeypatch, "towernas_test_toy_ranker", guide_ranker())
    del RANKERS["toy"]
    ConfigStore.instance().repo["ranker"].pop("toy.yaml", None)


@pytest.fixture
def toy_sampler(tmp_path, monkeypatch):
    from towernas.config import store_roots

    yield _import_module(tmp_path, monkeypatch, "towernas_test_toy_sampler", TOY_SAMPLER)
    del SAMPLERS["toy"]
    store_roots()  # the sampler section without it


def _defaults(target, framework: set[str]) -> dict:
    return {k: list(p.default) if isinstance(p.default, tuple) else p.default
            for k, p in inspect.signature(target).parameters.items() if k not in framework}


@pytest.mark.parametrize("name", RANKERS.names())
def test_every_ranker_composes_to_its_constructor_defaults(name):
    cfg = compose_config(f"ranker={name}", name="rank")
    assert cfg.ranker.name == name
    assert hyperparameters(cfg.ranker) == _defaults(RANKERS.get(name), {"catalog"})


def test_every_sampler_and_addon_option_is_its_constructor_default():
    from towernas.addons import ADDONS

    cfg = compose_config(name="retrain")
    assert cfg.sampler.n_negatives == 128
    for registry, node, framework in ((SAMPLERS, cfg.sampler, {"seed", "device"}), (ADDONS, cfg.addon, {"seed"})):
        assert [k for k in node if k != "n_negatives"] == list(registry.names())
        for name in registry.names():
            assert dict(node[name]) == _defaults(registry.get(name), framework), name


def test_an_override_reaches_the_constructor():
    cfg = compose_config("ranker=din", "ranker.embed=32", "ranker.hidden=[8]", name="rank")
    ranker = build_ranker("din", Catalog(n_users=4, n_items=9), **hyperparameters(cfg.ranker))
    assert ranker.recency.shape[1] == 32 and ranker.deep[-1].in_features == 8


def test_misspelt_keys_and_unknown_rankers_fail_at_composition():
    with pytest.raises(ConfigCompositionException, match="crossing_layers"):
        compose_config("ranker=dcn", "ranker.crossing_layers=3", name="rank")
    with pytest.raises(ConfigCompositionException, match="ranker/dcnv3"):
        compose_config("ranker=dcnv3", name="rank")
    with pytest.raises(ConfigCompositionException, match="pol"):
        compose_config("sampler.dns.pol=3", name="retrain")
    with pytest.raises(ConfigCompositionException, match="ranker.embed"):
        compose_config("ranker=fm", "ranker.embed=wide", name="rank")


def test_a_ranker_in_a_new_module_is_configured_by_its_signature(toy_ranker):
    cfg = compose_config("ranker=toy", "ranker.hidden=[6,3]", "ranker.clip=2.5", name="rank")
    assert dict(cfg.ranker) == {"name": "toy", "embed": 4, "hidden": [6, 3], "clip": 2.5}
    with pytest.raises(ConfigCompositionException, match="hiden"):
        compose_config("ranker=toy", "ranker.hiden=[6]", name="rank")
    ranker = build_ranker("toy", Catalog(n_users=4, n_items=9), **hyperparameters(cfg.ranker))
    assert isinstance(ranker, toy_ranker.Toy) and ranker.hidden == [6, 3] and ranker.clip == 2.5
    batch = {"user": torch.tensor([0, 3]), "history": torch.tensor([[9, 1], [2, 5]])}
    assert ranker.score(batch, torch.tensor([[1, 2, 3], [4, 5, 6]])).shape == (2, 3)


def test_a_sampler_in_a_new_module_is_configured_by_its_signature(toy_sampler):
    cfg = compose_config("retrain.sampler=toy", "sampler.toy.offset=2", name="retrain")
    sampler = build_sampler(cfg.retrain.sampler, **cfg.sampler.toy)
    assert isinstance(sampler, toy_sampler.ToySampler) and sampler.offset == 2


@pytest.mark.parametrize("signature, problem", [
    ("embed=16", r"Bad\(embed\): needs a type annotation"),
    ("embed: int", r"Bad\(embed\): needs a default"),
    ("table: dict = None", r"Bad\(table\): annotation <class 'dict'> has no YAML form"),
    ("**options: int", r"Bad\(options\): options are keyword arguments"),
])
def test_a_signature_without_a_config_form_is_refused_at_registration(signature, problem):
    namespace: dict = {}
    exec(f"class Bad:\n    def __init__(self, catalog, {signature}): pass", namespace)
    with pytest.raises(SchemaError, match=problem):
        RANKERS.register("bad")(namespace["Bad"])
    assert "bad" not in RANKERS
