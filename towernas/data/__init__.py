"""Datasets: readers for each source format, preprocessing, splits and the processed cache."""

from towernas.data.errors import DataError
from towernas.data.features import FeatureTable, Field
from towernas.data.interactions import EvalQueries, InteractionData
from towernas.data.load import load_dataset
from towernas.data.raw import RawDataset

__all__ = ["DataError", "EvalQueries", "FeatureTable", "Field", "InteractionData", "RawDataset", "load_dataset"]
