"""``load_dataset``: config → InteractionData, through download, reader, preprocessing and the cache."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from omegaconf import DictConfig, OmegaConf

from towernas.config.dataset import DatasetConfig
from towernas.data import cache
from towernas.data.ctr import check_ctr
from towernas.data.download import data_root, ensure_files
from towernas.data.errors import DataError
from towernas.data.interactions import InteractionData
from towernas.data.preprocess import Preprocessing, preprocess
from towernas.data.readers import get_reader
from towernas.data.readers.base import Reader
from towernas.runs.files import main_first

log = logging.getLogger(__name__)


def load_dataset(cfg: DatasetConfig | DictConfig, *, progress: bool = True) -> InteractionData:
    """Load (and cache) the dataset described by ``cfg``.

    Example:
        >>> from towernas.config.dataset import DatasetConfig
        >>> cfg = DatasetConfig(name="tiny", reader="synthetic", cache=False,
        ...                     options={"n_users": 40, "n_items": 90, "mean_length": 20})
        >>> load_dataset(cfg).n_users
        40
    """
    with main_first():  # torchrun: rank 0 generates / processes / caches, then the others read its cache
        return _load(cfg, progress)


def _load(cfg: DatasetConfig | DictConfig, progress: bool) -> InteractionData:
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_object(cfg) if OmegaConf.get_type(cfg) is DatasetConfig else DatasetConfig(**cfg)
    reader = get_reader(cfg.reader)
    options = parse_options(reader, dict(cfg.options))
    if getattr(options, "name", "") is None:
        options = dataclasses.replace(options, name=cfg.name)
    prep = preprocessing(cfg)
    if cfg.max_len < 1:
        raise DataError(f"dataset.max_len={cfg.max_len}: expected a positive integer")
    check_ctr(cfg.ctr.label, cfg.ctr.threshold)  # labels are computed later (ctr_labels); a bad value fails now
    root = data_root(cfg.root)
    directory = root / "raw" / cfg.name
    required = reader.files(options)
    if cfg.generate is not None:
        generated_files(cfg.generate, reader, directory, options, progress=progress)
    if required:
        ensure_files(directory, required, reader.sources, reader.manual, download=cfg.download, progress=progress)
    files = [directory / f for f in required]
    files += [directory / f for f in reader.optional(options) if (directory / f).exists()]
    description = {"reader": reader.name, "options": dataclasses.asdict(options), "prep": dataclasses.asdict(prep)}
    entry = root / "processed" / f"{cfg.name}-{cache.cache_key(description, files)}"
    if cfg.cache:
        cached = cache.load(entry, cfg.max_len)
        if cached is not None:
            log.info("loaded %s from cache %s: %s", cfg.name, entry, describe(cached, cfg.split.method))
            return cached
    start = time.perf_counter()
    raw = reader.read(directory, options, progress=progress) if reader.progress else reader.read(directory, options)
    data = preprocess(raw, prep, cfg.name, cfg.max_len, consume=True)
    log.info("processed %s in %.1fs: %s", cfg.name, time.perf_counter() - start, describe(data, cfg.split.method))
    if cfg.cache:
        cache.save(data, entry)
    return data


def describe(data: InteractionData, split: str) -> str:
    """The processed dataset in one line: sizes, density and the split's parts."""
    s = data.summary()
    return (f"{s['users']:,} users, {s['items']:,} items, {s['interactions']:,} interactions (density "
            f"{100 * s['density']:.3g}%); split ({split}): train {s['train']:,}, valid {s['valid']:,}, test {s['test']:,}")


def generated_files(settings: Any, reader: Reader, directory, options: Any, *, progress: bool) -> None:
    """Write ``dataset.generate``'s files into ``directory`` (unless already there) for ``reader`` to read."""
    from towernas.data.amazon_like import AmazonLikeOptions, ensure_generated

    if reader.name != "amazon":
        raise DataError(f"dataset.generate: writes Amazon-format files, but dataset.reader={reader.name!r}; "
                        "use dataset.reader=amazon")
    settings = dict(settings) if not isinstance(settings, DictConfig) else OmegaConf.to_container(settings)
    known = {f.name for f in dataclasses.fields(AmazonLikeOptions)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise DataError(f"dataset.generate: unknown key(s) {unknown}; valid keys: {sorted(known)}")
    generator = AmazonLikeOptions(**settings, ratings_file=options.ratings_file,
                                  meta_file=options.meta_file or "meta_Books.json.gz")
    if ensure_generated(directory, generator, progress=progress):
        log.info("generated %s into %s", generator, directory)


def preprocessing(cfg: DatasetConfig) -> Preprocessing:
    """The preprocessing steps ``cfg`` asks for (filters and the split)."""
    return Preprocessing(min_rating=cfg.min_rating, k_core_user=cfg.k_core_user, k_core_item=cfg.k_core_item,
                         split=cfg.split.method, valid=cfg.split.valid, test=cfg.split.test,
                         seed=cfg.split.seed)


def parse_options(reader: Reader, options: dict[str, Any]) -> Any:
    """Build the reader's Options dataclass; unknown keys or wrong types give a one-line error."""
    known = {f.name: f for f in dataclasses.fields(reader.options)}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise DataError(
            f"dataset.options: unknown key(s) {unknown} for reader {reader.name!r}; valid keys: {sorted(known)}"
        )
    defaults = reader.options()
    for key, value in options.items():
        expected = type(getattr(defaults, key))
        if expected in (int, float) and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise DataError(f"dataset.options.{key}={value!r}: expected a number for reader {reader.name!r}")
        if expected is int and isinstance(value, float) and not value.is_integer():
            raise DataError(f"dataset.options.{key}={value!r}: expected an integer for reader {reader.name!r}")
        if expected is int:
            options[key] = int(value)
    return reader.options(**options)

