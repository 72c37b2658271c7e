"""The training objective a command's config asks for: ``<section>.sampler / .loss / .addons`` with the
options of ``sampler.<name>`` and ``addon.<name>`` (``towernas.config.addons``).

``check_objective(cfg, section)`` validates names and options in one line each before any data is
loaded; ``build_objective(cfg, section, data, …)`` returns the add-ons and the ``RetrievalObjective``.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from towernas.addons import AddOn, AddOnError, build_addons
from towernas.addons.base import check_one_inference_change
from towernas.losses.retrieval import LOSSES
from towernas.samplers import SAMPLERS, SamplerError
from towernas.samplers.base import build_sampler
from towernas.train.objective import RetrievalObjective
from towernas.train.settings import FitSettings


def _options(node, name: str) -> dict:
    value = node.get(name) if node is not None else None
    return {} if value is None else dict(OmegaConf.to_container(value, resolve=True))


def check_objective(cfg: DictConfig, section: str, seed: int | None = None) -> list[AddOn]:
    """Validate ``cfg.<section>``'s sampler, loss, n_negatives and add-ons; return the (unfitted) add-ons, their
    random streams seeded by ``seed`` (default ``cfg.seed``)."""
    part = cfg[section]
    SAMPLERS.get(part.sampler, key=f"{section}.sampler")
    if part.loss not in LOSSES:
        raise SamplerError(f"{section}.loss={part.loss!r}: unknown loss; expected one of {list(LOSSES)}")
    if cfg.sampler.n_negatives < 1:
        raise SamplerError(f"sampler.n_negatives={cfg.sampler.n_negatives}: expected a positive integer")
    build_sampler(part.sampler, **_options(cfg.sampler, part.sampler))  # options checked by the constructor
    if part.sampler == "dns" and cfg.sampler.n_negatives >= cfg.sampler.dns.pool:
        raise SamplerError(f"sampler.dns.pool={cfg.sampler.dns.pool}: expected more candidates than "
                           f"sampler.n_negatives={cfg.sampler.n_negatives} (each row keeps its hardest n of the pool)")
    addons = build_addons(list(part.addons), {n: _options(cfg.addon, n) for n in part.addons},
                          key=f"{section}.addons", seed=int(cfg.seed if seed is None else seed))
    check_one_inference_change(addons, f"{section}.addons")
    for addon in addons:  # what the loss / sampler alone decide (the model is checked when training starts)
        try:
            addon.check(loss=part.loss, sampler=part.sampler, model=None)
        except AddOnError as err:
            raise AddOnError(f"{section}.addons: {err} ({section}.loss={part.loss})") from None
    return addons


def build_objective(cfg: DictConfig, section: str, data, *, seed: int, device) -> tuple[list[AddOn],
                                                                                        RetrievalObjective]:
    """Fresh add-ons and the objective of ``cfg.<section>`` on ``data`` (sampler seeded by ``seed``)."""
    part = cfg[section]
    addons = check_objective(cfg, section, seed=seed)
    objective = RetrievalObjective(data, sampler=part.sampler, loss=part.loss, n_negatives=cfg.sampler.n_negatives,
                                   temperature=part.temperature, addons=addons, seed=seed, device=device,
                                   sampler_options=_options(cfg.sampler, part.sampler), loss_key=f"{section}.loss")
    return addons, objective


def ranker_addons(cfg: DictConfig, section: str, loss: str, data=None, model=None) -> list[AddOn]:
    """The add-ons of ``cfg.<section>.addons`` for a ranker trained with ``loss`` (one line for any that
    cannot apply: ubpr needs the retrieval trainer's pairwise loss, cl4srec / coserec a user tower; on the CTR
    task of ``rank`` also dice (no positive and negatives in one row) and add-ons that change the inference
    score, which AUC and logloss read as a logit), fitted on ``data``'s train counts when given."""
    from towernas.data.train_stats import TrainStats

    names = list(cfg[section].addons)
    addons = build_addons(names, {n: _options(cfg.addon, n) for n in names}, key=f"{section}.addons",
                          seed=int(cfg.seed))
    check_one_inference_change(addons, f"{section}.addons")
    for addon in addons:
        try:
            if addon.needs_user_tower:
                raise AddOnError(f"addon {addon.name} trains on user-tower vectors; rankers have no user tower")
            if section == "rank" and addon.needs_lists:
                raise AddOnError(f"addon {addon.name} pairs each positive with negatives of the same row; the CTR "
                                 "task has one labelled pair per row (use it in the cascade's ranker lists)")
            if section == "rank" and addon.changes_inference:
                raise AddOnError(f"addon {addon.name} changes the inference score, which is then no CTR logit for "
                                 "AUC / logloss (use it in the cascade)")
            addon.check(loss=loss, sampler="none", model=model)
        except AddOnError as err:
            raise AddOnError(f"{section}.addons: {err} (a ranker trained with loss {loss})") from None
    if data is not None:
        stats = TrainStats.from_data(data)
        for addon in addons:
            addon.temperature = 1.0  # ranker logits are not cosines over a temperature
            addon.fit(stats)
    return addons


def retrain_settings(cfg: DictConfig, seed: int, **changes) -> FitSettings:
    """The ``fit`` settings of ``cfg.retrain`` at ``seed`` (with ``cfg.eval.ks`` and ``cfg.precision``);
    ``changes``: fields to replace, e.g. a shorter schedule (any of the above too)."""
    return FitSettings.from_config(cfg.retrain, **{"seed": seed, "ks": cfg.eval.ks, "precision": cfg.precision,
                                                   **changes})


def fit_configured(backbone, data, cfg: DictConfig, *, seed: int, device, log=None):
    """``backbone`` trained on ``data`` by ``cfg.retrain``'s recipe (its sampler, loss and add-ons, schedule and
    regularisation), early-stopped and selected on validation: (the model, with its add-ons if any; the
    ``FitResult``). What ``retrain`` does for every model and seed, and a cascade to refit its retriever."""
    from towernas.addons import WithAddOns
    from towernas.train.loop import fit

    addons, objective = build_objective(cfg, "retrain", data, seed=seed, device=device)
    model = WithAddOns(backbone, addons) if addons else backbone
    fitted = fit(model, data, retrain_settings(cfg, seed), objective=objective, device=device, progress=cfg.progress,
                 log=log)
    return model, fitted
