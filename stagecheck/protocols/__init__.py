"""Protocol adapters: how a dataset row becomes an HTTP request and an answer a prediction.

``build_adapter(name, model=..., inputs=..., options=...)`` validates the options with the
adapter's pydantic model (``ValidationError`` propagates, for the scenario loader to locate) and
returns the adapter; ``get_adapter_class`` raises a ``ValueError`` listing the valid names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from stagecheck.protocols.base import (
    STREAM_DONE,
    PreparedRequest,
    ProtocolAdapter,
    ResponseParseError,
    StreamDone,
    StreamUsage,
)
from stagecheck.protocols.json_api import JSONAPIAdapter
from stagecheck.protocols.jsonpath import compile_path
from stagecheck.protocols.kserve_v2 import KServeV2Adapter
from stagecheck.protocols.mlflow import MLflowAdapter
from stagecheck.protocols.openai_chat import OpenAIChatAdapter
from stagecheck.protocols.openai_completions import OpenAICompletionsAdapter

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

ADAPTERS: Mapping[str, type[ProtocolAdapter]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            JSONAPIAdapter,
            KServeV2Adapter,
            MLflowAdapter,
            OpenAIChatAdapter,
            OpenAICompletionsAdapter,
        )
    }
)
"""Every protocol adapter by name (read-only)."""


def available_protocols() -> list[str]:
    """Names of the registered protocols, sorted."""
    return sorted(ADAPTERS)


def get_adapter_class(name: str) -> type[ProtocolAdapter]:
    """The adapter class registered as ``name``; ``ValueError`` listing the valid names."""
    try:
        return ADAPTERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Protocol {name!r} is not registered. Available protocols: {available_protocols()}"
        ) from None


def build_adapter(
    name: str, *, model: str | None, inputs: Sequence[str], options: Mapping[str, Any]
) -> ProtocolAdapter:
    """An adapter with validated options (``pydantic.ValidationError`` propagates)."""
    cls = get_adapter_class(name)
    return cls(model=model, inputs=inputs, options=cls.Options.model_validate(dict(options)))
