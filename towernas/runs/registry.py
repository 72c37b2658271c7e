"""One registry helper for everything chosen by name: search-space ops and poolings, dataset readers,
baselines, faiss index kinds, top-k backends, and (with their issues) rankers, samplers and add-ons.

``register(name)`` adds an entry (directly, or as a class/function decorator), ``get(name)`` returns it,
``build(name, *args, **kwargs)`` calls it after checking the arguments against its signature, and
``names()`` lists what is known; ``subscribe(listener)`` calls a listener for every entry, now and on each
later registration (the config package derives and stores each entry's options this way). An unknown name,
or an argument the entry does not take, is one error format everywhere: ``<key>=<name>: unknown <kind>;
expected one of [...]``.

Example:
    >>> SHAPES = Registry("shape", key="model.shape")
    >>> @SHAPES.register("square")
    ... def square(side: int) -> int:
    ...     return side * side
    >>> SHAPES.build("square", side=3), SHAPES.names()
    (9, ('square',))
    >>> SHAPES.build("circle", side=3)
    Traceback (most recent call last):
    ...
    towernas.runs.registry.UnknownNameError: model.shape='circle': unknown shape; expected one of ['square']
    >>> SHAPES.build("square", side=3, width=3)
    Traceback (most recent call last):
    ...
    towernas.runs.registry.UnknownNameError: model.shape='square': unknown argument(s) ['width']; expected arguments (side)
"""

from __future__ import annotations

import inspect
from typing import Callable, Generic, Iterator, TypeVar

from towernas.runs.errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError):
    """A name no registry entry has, or arguments an entry does not accept (one line)."""


class Registry(Generic[T]):
    """Named entries of one kind.

    Args:
        kind: what an entry is, for messages ("op", "reader", "baseline", ...).
        key: the config key or argument that names an entry (default: ``kind``).
        error: the exception class raised for an unknown name (a subclass of ``ValueError``, e.g. the
            package's own error type so its callers can keep catching it).
    """

    def __init__(self, kind: str, key: str | None = None, error: type[ValueError] = UnknownNameError) -> None:
        self.kind, self.key, self.error = kind, key or kind, error
        self._entries: dict[str, T] = {}
        self._listeners: list[Callable[[str, T], None]] = []

    def register(self, name: str, entry: T | None = None):
        """Register ``entry`` under ``name``; without ``entry``, return a decorator that registers its target."""
        if entry is None:
            def decorate(target: T) -> T:
                self.register(name, target)
                return target

            return decorate
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} registry: names are non-empty strings, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        try:
            for listener in self._listeners:
                listener(name, entry)
        except Exception:  # an entry a listener refuses (e.g. options without a config form) is not registered
            del self._entries[name]
            raise
        return entry

    def subscribe(self, listener: Callable[[str, T], None]) -> None:
        """Call ``listener(name, entry)`` for every entry now and for every later ``register`` (once per listener,
        however often it subscribes)."""
        if listener in self._listeners:
            return
        self._listeners.append(listener)
        for name, entry in list(self._entries.items()):
            listener(name, entry)

    def get(self, name: str, key: str | None = None) -> T:
        """The entry called ``name``; an unknown name raises ``error`` listing the known names."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.error(f"{key or self.key}={name!r}: unknown {self.kind}; "
                             f"expected one of {list(self._entries)}") from None

    def build(self, name: str, /, *args, **kwargs):
        """Call the entry ``name`` with the arguments, after checking that its signature accepts them."""
        entry = self.get(name)
        try:
            signature = inspect.signature(entry)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # builtins without a signature: let the call decide
            signature = None
        if signature is not None:
            expected = ", ".join(signature.parameters)
            takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
            unknown = [k for k in kwargs if k not in signature.parameters and not takes_any]
            if unknown:  # a typo'd argument is an error, never silently dropped
                raise self.error(f"{self.key}={name!r}: unknown argument(s) {unknown}; expected arguments ({expected})")
            try:
                signature.bind(*args, **kwargs)
            except TypeError as err:
                raise self.error(f"{self.key}={name!r}: {err}; expected arguments ({expected})") from None
        return entry(*args, **kwargs)  # type: ignore[operator]

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    # mapping protocol for tests that swap an entry temporarily (``monkeypatch.setitem``); code registers
    def __setitem__(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"

