"""Schemas of ``conf/sampler/*.yaml`` and ``conf/addon/*.yaml``: the options of every sampler and add-on.

A trainer names what it uses (``retrain.sampler=dns``, ``'retrain.addons=[pda]'``, the same keys under
``supernet.`` and ``rank.`` / ``cascade.``); the options live here once, under ``sampler.<name>`` and
``addon.<name>``, with the fields and defaults of the constructors (``tests/config`` checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InBatchOptions:
    alpha: float = 0.01  # EMA rate of the streaming frequency estimate of q


@dataclass
class UniformOptions:
    pass


@dataclass
class PopularityOptions:
    exponent: float = 0.75  # q proportional to (count + smoothing) ** exponent, exponent in [0, 1]
    smoothing: float = 1.0


@dataclass
class MixedOptions:
    alpha: float = 0.01


@dataclass
class DNSOptions:
    pool: int = 1024  # uniform candidates scored per step; each row keeps its n_negatives hardest


@dataclass
class ClusterOptions:
    n_clusters: int = 64
    refresh_every: int = 200  # steps between two k-means refits of the item vectors
    temperature: float = 0.1
    kmeans_iters: int = 10


@dataclass
class SamplerConfig:
    """``sampler.n_negatives`` and the options of each sampler, by name."""

    n_negatives: int = 128  # per step (shared pool) or per row (dns, cluster); in_batch uses the batch
    in_batch: InBatchOptions = field(default_factory=InBatchOptions)
    uniform: UniformOptions = field(default_factory=UniformOptions)
    popularity: PopularityOptions = field(default_factory=PopularityOptions)
    mixed: MixedOptions = field(default_factory=MixedOptions)
    dns: DNSOptions = field(default_factory=DNSOptions)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)


@dataclass
class PropensityOptions:
    exponent: float = 0.5  # theta_i = (count_i / max count) ** exponent, in [0, 1]
    min_propensity: float = 0.05  # clip: weights 1 / theta are at most 1 / min_propensity


@dataclass
class PDAOptions:
    gamma: float = 0.1  # training: logit + gamma * log popularity share
    inference_gamma: float = 0.0  # 0: PD (deconfounded); > 0: PDA with recent popularity


@dataclass
class MACROptions:
    alpha: float = 0.01  # item branch loss weight
    beta: float = 0.001  # user branch loss weight
    c: float = 10.0  # reference matching logit of counterfactual inference


@dataclass
class DICEOptions:
    dim: int = 16  # conformity embedding width
    alpha: float = 0.1  # cause-specific BPR terms
    beta: float = 0.01  # discrepancy (squared correlation of interest and conformity logits)


@dataclass
class CL4SRecOptions:
    weight: float = 0.1  # lambda of the InfoNCE term
    temperature: float = 0.2
    crop: float = 0.6
    mask: float = 0.3
    reorder: float = 0.3


@dataclass
class CoSeRecOptions(CL4SRecOptions):
    substitute: float = 0.3
    insert: float = 0.3


@dataclass
class AddonConfig:
    """The options of each add-on, by name."""

    ips: PropensityOptions = field(default_factory=PropensityOptions)
    relmf: PropensityOptions = field(default_factory=PropensityOptions)
    ubpr: PropensityOptions = field(default_factory=PropensityOptions)
    pda: PDAOptions = field(default_factory=PDAOptions)
    macr: MACROptions = field(default_factory=MACROptions)
    dice: DICEOptions = field(default_factory=DICEOptions)
    cl4srec: CL4SRecOptions = field(default_factory=CL4SRecOptions)
    coserec: CoSeRecOptions = field(default_factory=CoSeRecOptions)
