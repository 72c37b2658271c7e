"""TowerNAS: neural architecture search for two-tower retrieval recommenders."""

__version__ = "0.1.0"
