"""Negative samplers (one interface, ``base.Sampler``) and the streaming frequency estimator of in-batch q."""

# registration order = the order of `SAMPLERS.names()` and of the docs
from towernas.samplers import in_batch  # noqa: F401  isort: skip
from towernas.samplers import uniform  # noqa: F401  isort: skip
from towernas.samplers import popularity  # noqa: F401  isort: skip
from towernas.samplers import mixed  # noqa: F401  isort: skip
from towernas.samplers import dns  # noqa: F401  isort: skip
from towernas.samplers import cluster  # noqa: F401  isort: skip
from towernas.samplers.base import SAMPLERS, Negatives, Sampler, SamplerError, build_sampler
from towernas.samplers.frequency import StreamingFrequencyEstimator

__all__ = ["SAMPLERS", "Negatives", "Sampler", "SamplerError", "StreamingFrequencyEstimator", "build_sampler"]
