"""Datasets: readers for each source format, preprocessing, splits, the processed cache, CTR labels
(``ctr``), and what models read from a dataset (``spec``, ``batches``, ``ragged``).

Names are imported on first use (``towernas.runs.lazy``): the serving artifact imports
``towernas.data.ragged`` and must not pull in the readers, pandas and pyarrow.
"""

from towernas.runs.lazy import lazy_exports

_EXPORTS = {"CtrPairs": "ctr", "ctr_labels": "ctr", "ctr_pairs": "ctr", "DataError": "errors",
            "FeatureTable": "features", "Field": "features", "EvalQueries": "interactions",
            "InteractionData": "interactions", "load_dataset": "load", "RawDataset": "raw",
            "DatasetSpec": "spec", "Ragged": "ragged"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
