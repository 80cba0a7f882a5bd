"""Protocol adapters: how a dataset row becomes an HTTP request and an answer a prediction.

Each adapter is a module of this package; importing the package registers them all in
:data:`ADAPTERS` (:mod:`stagecheck.registry`). ``build_adapter(name, model=..., inputs=...,
options=...)`` validates the options with the adapter's pydantic model (``ValidationError``
propagates, for the scenario loader to locate) and returns the adapter; ``get_adapter_class``
raises a ``ValueError`` listing the valid names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stagecheck.protocols.base import (
    ADAPTERS,
    STREAM_DONE,
    PreparedRequest,
    ProtocolAdapter,
    ResponseParseError,
    StreamDone,
    StreamUsage,
)
from stagecheck.protocols.jsonpath import compile_path
from stagecheck.registry import import_submodules

__all__ = [
    "PreparedRequest",
    "ResponseParseError",
    "ProtocolAdapter",
    "StreamDone",
    "STREAM_DONE",
    "StreamUsage",
    "ADAPTERS",
    "available_protocols",
    "get_adapter_class",
    "build_adapter",
    "compile_path",
]

import_submodules(__name__, __path__)


def available_protocols() -> list[str]:
    """Names of the registered protocols, sorted."""
    return ADAPTERS.names()


def get_adapter_class(name: str) -> type[ProtocolAdapter]:
    """The adapter class registered as ``name``; ``ValueError`` listing the valid names."""
    return ADAPTERS.get_class(name)


def build_adapter(
    name: str, *, model: str | None, inputs: Sequence[str], options: Mapping[str, Any]
) -> ProtocolAdapter:
    """An adapter with validated options (``pydantic.ValidationError`` propagates)."""
    cls = get_adapter_class(name)
    return cls(model=model, inputs=inputs, options=cls.Options.model_validate(dict(options)))
