"""Package-level names imported on first use (PEP 562), for packages whose modules are imported from
places that must stay light (the serving artifact loads ``towernas.data.ragged`` without the readers) or
that would otherwise import each other in a cycle (``towernas.complexity`` and the search space).

Example:
    >>> getattr_ = lazy_exports("json", {"dumps": "encoder"})  # json.encoder has no dumps
    >>> getattr_("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'json' has no attribute 'loads'
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``name`` to ``<package>.<exports[name]>.<name>`` on first access."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
