"""Presets for hosted OpenAI-compatible platforms: ``endpoint.preset: seekrflow`` fills in what
such a platform needs (its base path, its auth header from the environment, the parameters it
refuses, its health route), so that a scenario names only the host and the model.

A preset only fills gaps: every key the scenario gives itself (``options.path``, a header,
``protocol``) wins over the preset's. No Locust import; used by the scenario schema (to fill the
endpoint before it is validated) and by the pre-flight (the health route).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["Preset", "PRESETS", "available_presets", "get_preset", "apply_preset"]


@dataclass(frozen=True)
class Preset:
    """What a hosted platform needs from every request, and how to check it is up."""

    name: str
    base_path: str  # where the OpenAI-compatible routes are mounted
    key_env: str  # environment variable holding the API key
    key_header: str  # header the key is sent in
    key_prefix: str  # e.g. "Bearer " ("" for a raw key)
    optional_headers: Mapping[str, str]  # header → environment variable, sent when it is set
    refused_body_keys: tuple[str, ...]  # body keys the platform answers with HTTP 400
    health_path: str | None  # GET before the run; None: no health route
    protocol: str = "openai-chat"

    def route(self, protocol: str) -> str:
        """The default ``options.path`` for ``protocol`` under the base path."""
        tail = "/completions" if protocol == "openai-completions" else "/chat/completions"
        return self.base_path + tail


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        "seekrflow": Preset(
            name="seekrflow",
            base_path="/v1/inference",
            key_env="SEEKR_API_KEY",
            key_header="Authorization",
            key_prefix="",  # SeekrFlow takes the raw key, no "Bearer "
            optional_headers=MappingProxyType({"x-team-id": "SEEKR_TEAM_ID"}),
            refused_body_keys=("max_completion_tokens",),  # it wants max_tokens
            health_path="/v1/inference/health",
        )
    }
)
"""Every preset by name (read-only)."""

_OPENAI = ("openai-chat", "openai-completions")


def available_presets() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset registered as ``name``; ``ValueError`` listing the valid names."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"preset {str(name)[:40]!r} is not known. Available presets: {available_presets()}"
        ) from None


def apply_preset(endpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The endpoint mapping (as written, environment already interpolated) with the preset's
    values filled in where the scenario gives none. ``ValueError`` with one line when the
    preset cannot be applied (its key variable unset, a refused parameter, another protocol).
    The key's value never appears in a message."""
    data = dict(endpoint)
    preset = get_preset(data["preset"])
    protocol = data.setdefault("protocol", preset.protocol)
    if protocol not in _OPENAI:
        raise ValueError(
            f"preset {preset.name} is for the OpenAI-compatible protocols "
            f"({', '.join(_OPENAI)}), not {str(protocol)[:40]!r}"
        )
    options = data.get("options")
    options = dict(options) if isinstance(options, Mapping) else {}
    options.setdefault("path", preset.route(str(protocol)))
    extra = options.get("extra_body")
    if isinstance(extra, Mapping):
        refused = [k for k in preset.refused_body_keys if k in extra]
        if refused:
            raise ValueError(
                f"preset {preset.name}: the platform refuses {', '.join(refused)} "
                "(HTTP 400): set endpoint.options.max_tokens instead"
            )
    data["options"] = options
    headers = data.get("headers")
    headers = dict(headers) if isinstance(headers, Mapping) else {}
    given = {str(k).lower() for k in headers}
    if preset.key_header.lower() not in given:
        key = os.environ.get(preset.key_env)
        if not key:
            raise ValueError(
                f"preset {preset.name}: environment variable {preset.key_env} is not set "
                f"(the API key, sent as {preset.key_header})"
            )
        headers[preset.key_header] = preset.key_prefix + key
    for header, var in preset.optional_headers.items():
        value = os.environ.get(var)
        if value and header.lower() not in given:
            headers[header] = value
    data["headers"] = headers
    return data
