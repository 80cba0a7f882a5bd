"""One registry for the pluggable parts (protocol adapters, scorers).

A part registers itself where it is defined: its base class calls :meth:`Registry.add` from
``__init_subclass__`` for every subclass that names itself (``name = "kserve-v2"``,
``kind = "label"``), and its package imports every module it holds
(:func:`import_submodules`). So a new protocol or scorer is its own module and its test; no list
elsewhere names it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

__all__ = ["Registry", "import_submodules"]

T = TypeVar("T")


class Registry(Mapping[str, type[T]], Generic[T]):
    """Registered classes by name, read-only to everyone but their base class; iterated in name
    order. ``part`` and ``plural`` word the error for an unknown name."""

    def __init__(self, part: str, plural: str) -> None:
        self._part, self._plural = part, plural
        self._classes: dict[str, type[T]] = {}

    def add(self, name: str, cls: type[T]) -> None:
        other = self._classes.get(name)
        if other is not None and other.__qualname__ != cls.__qualname__:
            raise TypeError(f"{self._part} {name!r} is registered twice: {other} and {cls}")
        self._classes[name] = cls

    def __getitem__(self, name: str) -> type[T]:
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def __len__(self) -> int:
        return len(self._classes)

    def names(self) -> list[str]:
        return sorted(self._classes)

    def get_class(self, name: str) -> type[T]:
        """The class registered as ``name``; ``ValueError`` listing the valid names."""
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"{self._part} {name!r} is not registered. Available {self._plural}: "
                f"{self.names()}"
            ) from None


def import_submodules(package: str, path: Iterable[str]) -> None:
    """Import every module of ``package`` (``__name__``, ``__path__``), so that its parts
    register themselves."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
