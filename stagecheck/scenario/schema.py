"""The scenario format: pydantic models, frozen, unknown keys forbidden.

Every field documents itself here, so this module is also the catalogue of scenario keys.
Durations accept ``30s``/``300ms``/``1m``, rates ``40/s``; both are stored as floats in base
units (seconds, per second).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from stagecheck.protocols import ADAPTERS
from stagecheck.redact import redact_text, redact_url
from stagecheck.scenario.conversations import ConversationsConfig
from stagecheck.scenario.variants import VariantSpec, check_variant_names
from stagecheck.units import MAX_RATE, parse_duration, parse_rate

__all__ = [
    "scenario_json_schema",
    "Scenario",
    "EndpointConfig",
    "DatasetConfig",
    "LoadConfig",
    "LoadStage",
    "ValidityConfig",
    "ConversationsConfig",
    "ThinkTime",
    "Duration",
    "Rate",
]

# Editors see what users write (30s, 40/s); the models hold seconds and per-second floats.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string", "pattern": r"^(\d+(\.\d+)?\s*(us|µs|ms|s|m|h))+$",
                               "examples": ["30s", "300ms", "1m30s"]}]}),
]  # fmt: skip
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string", "pattern": r"^\d+(\.\d+)?\s*/\s*(s|m|h)$",
                               "examples": ["40/s", "600/m"]}]}),
]  # fmt: skip

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


_MAX_USERS = 100_000
# An HTTP header name is a token (RFC 9110); a value holds no line breaks or NUL.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE_BAD = re.compile(r"[\r\n\x00]")


def check_http_url(v: str, what: str = "") -> str:
    """An http(s) URL whose host and port can be connected to; ``ValueError`` (with the URL
    redacted) otherwise. Ports out of range, non-numeric ports and broken IPv6 hosts are
    refused here, before anything tries to connect."""
    shown = redact_url(v)
    shown = shown if len(shown or "") <= 120 else (shown or "")[:117] + "..."
    if not re.match(r"^https?://[^/\s]+", v) or any(c in v for c in "\r\n\t\x00 "):
        raise ValueError(f"must be an http:// or https:// URL{what}, got {shown!r}")
    try:
        parts = urlsplit(v)
        port = parts.port
        host = parts.hostname
        user, password = parts.username, parts.password
    except ValueError as exc:
        raise ValueError(f"not a usable URL ({redact_text(str(exc))}): {shown!r}") from None
    if not host:
        raise ValueError(f"names no host: {shown!r}")
    if port == 0:
        raise ValueError(f"port 0 cannot be connected to: {shown!r}")
    try:
        if not host.isascii():
            host.encode("idna")
        for part in (user, password):  # sent as HTTP basic auth, which is latin-1
            if part is not None:
                unquote(part).encode("latin-1")
    except UnicodeError:
        raise ValueError(f"has a host or credentials that cannot be encoded: {shown!r}") from None
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EndpointConfig(_Model):
    url: str = Field(description="Base URL of the staging endpoint, e.g. http://127.0.0.1:8000")
    preset: str | None = Field(
        None,
        description="A hosted platform's settings (seekrflow): its base path, its API key "
        "header from the environment, its health route; keys given here win",
    )
    protocol: str = Field(description=" | ".join(ADAPTERS.names()))
    model: str | None = Field(None, description="Model name sent to / addressed on the endpoint")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers; ${VAR} reads the environment"
    )
    timeout: Duration = Field(10.0, gt=0, description="Whole-request timeout")
    connect_timeout: Duration = Field(5.0, gt=0, description="TCP/TLS connect timeout")
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Protocol-specific options (see the protocol's docs)"
    )
    metrics_url: str | None = Field(
        None,
        description="The target's Prometheus endpoint (/metrics: relative to url), sampled "
        "during the run for its CPU and memory (process_* metrics)",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") is not None:
            from stagecheck.protocols.presets import apply_preset

            return apply_preset(data)
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v).rstrip("/")

    @field_validator("metrics_url")
    @classmethod
    def _metrics_url(cls, v: str | None) -> str | None:
        if v is None or v.startswith("/"):
            return v
        return check_http_url(v, " or a path starting with /")

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header name {name[:40]!r} is not a valid HTTP header name")
            if _HEADER_VALUE_BAD.search(value):
                raise ValueError(f"header {name}: a value must not hold line breaks or NUL")
        return v


class DatasetConfig(_Model):
    path: str = Field(description="JSONL, CSV or Parquet file, relative to the scenario file")
    format: Literal["auto", "jsonl", "csv", "parquet"] = "auto"
    input: Annotated[
        list[str],
        WithJsonSchema({"anyOf": [{"type": "string"},
                                  {"type": "array", "items": {"type": "string"}, "minItems": 1}]}),
    ] = Field(description="Field(s) sent to the model; dotted paths for nesting")  # fmt: skip
    expected: str = Field(description="Field holding the expected answer")
    id: str | None = Field(None, description="Field holding a row id (default: the row number)")
    slices: list[str] = Field(default_factory=list, description="Fields to break metrics down by")
    order: Literal["sequential", "shuffle"] = "sequential"
    seed: int = Field(0, description="Seed of the shuffle order (recorded in the run)")
    passes: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Send every row exactly this many times, then end the run",
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N rows")
    on_bad_row: Literal["fail", "skip"] = Field(
        "fail", description="A malformed row stops validation (fail) or is skipped and counted"
    )
    variants: list[VariantSpec] = Field(
        default_factory=list,
        description="Seeded perturbations of the input text; each row's variant is sent as a "
        "row of its own (typos, case, whitespace, punctuation, truncate, filler, template, "
        "substitute)",
    )
    conversations: ConversationsConfig | None = Field(
        None,
        description="A conversation dataset (openai-chat): users play whole conversations, "
        "turn after turn; passes and limit count conversations",
    )

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("input")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one input field")
        return v

    @model_validator(mode="after")
    def _variants(self) -> DatasetConfig:
        check_variant_names(self.variants)
        if self.variants and len(self.input) != 1:
            raise ValueError("variants vary one input text: name one dataset.input field")
        return self


def _pool_for(rate: float) -> int:
    """Open loop's default pool: enough users that 1-second answers leave the schedule on time."""
    return max(8, min(1000, math.ceil(rate)))


class LoadStage(_Model):
    duration: Duration = Field(gt=0)
    users: int = Field(
        0, ge=0, le=_MAX_USERS,
        description="Concurrent users in this stage; with arrival_rate: the most requests in "
        "flight at once (default: enough for 1 s answers at that rate)",
    )  # fmt: skip
    arrival_rate: Rate | None = Field(
        None, gt=0, description="Open loop: requests start at this rate (40/s) in this stage; "
        "every stage then names one",
    )  # fmt: skip
    spawn_rate: float | None = Field(
        None, gt=0, le=MAX_RATE, description="Users started per second"
    )
    name: str | None = None

    @model_validator(mode="after")
    def _users(self) -> LoadStage:
        if "users" not in self.model_fields_set:
            if self.arrival_rate is None:
                raise ValueError("a stage names its users (or, open loop, its arrival_rate)")
            object.__setattr__(self, "users", _pool_for(self.arrival_rate))
        return self


class ThinkTime(_Model):
    """A think time drawn uniformly between min and max for each pause (seeded)."""

    min: Duration = Field(ge=0)
    max: Duration = Field(ge=0)

    @model_validator(mode="after")
    def _order(self) -> ThinkTime:
        if self.max < self.min:
            raise ValueError("think_time: max must not be below min")
        return self


class LoadConfig(_Model):
    users: int = Field(
        1, ge=1, le=_MAX_USERS,
        description="Concurrent users (closed loop); with arrival_rate: the most "
        "requests in flight at once (default: enough for 1 s answers at that rate)",
    )  # fmt: skip
    arrival_rate: Rate | None = Field(
        None, gt=0, description="Open loop: requests start at this rate (40/s) whatever the "
        "answers' latency; latency counts from each request's due time",
    )  # fmt: skip
    arrivals: Literal["constant", "poisson"] = Field(
        "constant", description="Arrival process of arrival_rate (poisson: seeded, dataset.seed)"
    )
    spawn_rate: float | None = Field(
        None, gt=0, le=MAX_RATE, description="Users started per second"
    )
    duration: Duration = Field(30.0, gt=0, description="Run length (exact-pass: a safety cap)")
    stages: list[LoadStage] = Field(
        default_factory=list,
        max_length=1000,
        description="A load shape: users (or, open loop, arrival_rate) per stage (overrides "
        "users, duration)",
    )
    wait: Duration = Field(0.0, ge=0, description="Pause of each user between its requests")
    think_time: Annotated[Duration, Field(ge=0)] | ThinkTime = Field(
        0.0,
        description="Conversations: pause between a conversation's turns (2s, or "
        "{min: 1s, max: 3s} drawn uniformly)",
    )
    graceful_stop: Duration | None = Field(
        None, ge=0, description="When the plan ends, how long requests in flight may take to "
        "finish; what is still open then is 'unfinished' (never an error). Default: "
        "endpoint.timeout + 1s, so every request sent ends with its own outcome",
    )  # fmt: skip

    @model_validator(mode="after")
    def _open_loop(self) -> LoadConfig:
        if self.stages:
            if self.arrival_rate is not None:
                raise ValueError(
                    "with stages, give each stage its own arrival_rate "
                    "(stages: [{duration: 10s, arrival_rate: 10/s}, …])"
                )
            open_loop = [s.arrival_rate is not None for s in self.stages]
            if any(open_loop) and not all(open_loop):
                closed = [str(s.name or i + 1) for i, s in enumerate(self.stages)
                          if s.arrival_rate is None]  # fmt: skip
                raise ValueError(
                    "either every stage names an arrival_rate (open loop) or none "
                    f"does; without one: stage {', '.join(closed)}"
                )
        elif self.arrival_rate is not None and "users" not in self.model_fields_set:
            object.__setattr__(self, "users", _pool_for(self.arrival_rate))
        return self

    @property
    def open_loop(self) -> bool:
        return self.arrival_rate is not None or any(s.arrival_rate for s in self.stages)

    @property
    def total_duration(self) -> float:
        return sum(s.duration for s in self.stages) if self.stages else self.duration


# Applied when a scenario names no thresholds: transport failures and answers that cannot be
# read are what a first run against a new endpoint gets wrong (a route, a key, a protocol).
DEFAULT_GATES = ("error_rate < 1%", "unparseable_rate < 5%")


class ValidityConfig(_Model):
    min_requests: int = Field(10, ge=0, description="Fewer requests than this: the run is invalid")
    max_generator_cpu: float = Field(
        90.0, gt=0, le=100, description="Load generator CPU % above which the run is invalid"
    )


class Scenario(_Model):
    name: str = Field(description="Short name; used in the run folder name")
    description: str | None = None
    endpoint: EndpointConfig
    dataset: DatasetConfig
    scoring: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "label"},
        description="kind (label | exact | contains | regex | json-field | numeric) + options",
    )
    load: LoadConfig = Field(default_factory=lambda: LoadConfig())
    thresholds: list[str] | None = Field(
        None,
        description="Pass/fail gates; omitted: the default gates (DEFAULT_GATES); [] for none",
    )
    validity: ValidityConfig = Field(default_factory=lambda: ValidityConfig())

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use letters, digits, '-', '_' or '.', at most 80 characters")
        return v

    @property
    def gates(self) -> list[str]:
        """The thresholds the run is judged by: the scenario's, or the default gates when it
        names none (``thresholds: []`` judges validity only)."""
        return list(DEFAULT_GATES) if self.thresholds is None else list(self.thresholds)

    @property
    def gates_note(self) -> str | None:
        """What a user should be told about the gates, when they are not the scenario's own."""
        if self.thresholds is None:
            gates = ", ".join(DEFAULT_GATES)
            return (f"no thresholds in the scenario: judged by the default gates ({gates}); "
                    "set thresholds: [] to judge validity only")  # fmt: skip
        if not self.thresholds:
            return "thresholds: [] — no gates: the verdict says only whether the run was valid"
        return None

    @model_validator(mode="after")
    def _scoring_kind(self) -> Scenario:
        if "kind" not in self.scoring:
            raise ValueError("scoring.kind is required")
        return self


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, for editors (``scenarios/scenario.schema.json``)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stagecheck scenario"
    return schema
