"""Hydra plugin ``hydra/sweeper=towernas_optuna``: Hydra's Optuna sweeper, made to resume (see ``sweeper``).

Hydra finds sweepers only in the ``hydra_plugins`` namespace package, so this small package lives at the top of
the repository, beside ``towernas/``; it is installed with the ``tune`` extra's dependencies.
"""
