"""Knobs of the demo staging endpoint. Every field is also a ``stagecheck demo-server`` flag."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stagecheck.demo.degrade import parse_rule

__all__ = ["DemoConfig", "CHAT_STYLES"]

CHAT_STYLES: tuple[str, ...] = ("label", "sentence")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class DemoConfig:
    """How the demo endpoint behaves; validated on construction (``ValueError`` names the knob)."""

    latency_ms: float = 20
    """Base service time of every inference request (the time to first token for streams)."""

    jitter_ms: float = 10
    """Uniform extra latency, 0..jitter_ms, drawn per request."""

    error_rate: float = 0.0
    """Fraction (0..1) of inference requests answered 503 after their latency."""

    slowdown_ms_per_request: float = 2
    """Extra latency for every *other* request in flight on arrival: load-dependent slow-down."""

    token_delay_ms: float = 5
    """Pause between streamed token chunks."""

    chat_style: str = "label"
    """OpenAI reply content: ``label`` (exactly the label) or ``sentence`` (the label in prose)."""

    seed: int = 0
    """Seed of the jitter and error-injection random generators (one generator each)."""

    model_name: str = "intent-classifier"
    """Name served on the OpenAI and KServe routes; other names get 404."""

    complex_extra_ms: float = 2
    """Extra latency per 10 words of input: real models are slower on longer input."""

    degrade: tuple[str, ...] = ()
    """A worse model: rules ``intent=LABEL:FRACTION`` or ``slice:FIELD=VALUE:FRACTION``; that
    fraction of the matching rows (fixed by a hash of the text, the same in every run) gets the
    model's second choice. See :mod:`stagecheck.demo.degrade`."""

    degrade_rows: str | None = None
    """JSONL dataset (``text`` plus slice fields) in which ``slice:`` rules look rows up."""

    fallback_above: int | None = None
    """A model falling back under pressure: while more than this many inference requests are in
    flight, every answer is ``fallback_label`` (``None``: never). With a fixed latency L and no
    jitter, in flight is about rate × L (Little's law): answers go wrong above N / L per second."""

    fallback_label: str | None = None
    """The default answer of ``fallback_above`` (``None``: the first of the model's labels)."""

    chatbot: bool = False
    """OpenAI routes answer support questions in free text from a small knowledge base
    (:mod:`stagecheck.demo.chatbot`), imperfect on purpose, instead of naming an intent."""

    agent: bool = False
    """OpenAI chat answers a whole conversation as a support assistant with tools
    (``lookup_order``, ``open_return``; :mod:`stagecheck.demo.agent`)."""

    forget_rate: float = 0.0
    """With ``agent``: the share of requests (fixed by a hash of the conversation) answered as if
    the history were not there."""

    wrong_tool_rate: float = 0.0
    """With ``agent``: the share of requests that call a tool (fixed by a hash of the
    conversation) that call the other tool."""

    def __post_init__(self) -> None:
        for name in (
            "latency_ms",
            "jitter_ms",
            "slowdown_ms_per_request",
            "token_delay_ms",
            "complex_extra_ms",
        ):
            value = getattr(self, name)
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name in ("forget_rate", "wrong_tool_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if (self.forget_rate or self.wrong_tool_rate) and not self.agent:
            raise ValueError("forget_rate and wrong_tool_rate need the agent mode (--agent)")
        if self.agent and self.chatbot:
            raise ValueError("agent and chatbot are two modes of the chat route: pick one")
        if not 0 <= self.error_rate <= 1:
            raise ValueError(f"error_rate must be between 0 and 1, got {self.error_rate}")
        if self.chat_style not in CHAT_STYLES:
            raise ValueError(
                f"chat_style {self.chat_style!r} is not known. "
                f"Available styles: {list(CHAT_STYLES)}"
            )
        object.__setattr__(self, "degrade", tuple(self.degrade or ()))
        rules = [parse_rule(rule) for rule in self.degrade]
        if any(rule.field is not None for rule in rules) and not self.degrade_rows:
            raise ValueError(
                "degrade rules on a slice need the dataset to look rows up in: --degrade-rows FILE"
            )
        if self.fallback_above is not None and not self.fallback_above >= 0:
            raise ValueError(f"fallback_above must be >= 0, got {self.fallback_above}")
        if not _MODEL_NAME.match(self.model_name):
            raise ValueError(
                f"model_name must be letters, digits, '_', '.', '-' (it goes in URLs), "
                f"got {self.model_name!r}"
            )
