"""What the OpenAI-compatible adapters (chat and completions) share: sampling options, the
request envelope and Server-Sent-Events parsing.

Servers differ in small ways (vLLM, TGI, llama.cpp, Ollama, LiteLLM), so the SSE reader is
lenient where the spec allows: ``data:`` with or without a space, CRLF line ends, comment and
``event:``/``id:`` lines, role-only and usage-only chunks (empty ``choices``). A usage chunk's
``completion_tokens`` is the answer's output token count (:class:`StreamUsage`); without one the
caller counts text deltas.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from pydantic import Field

from stagecheck.protocols.base import (
    STREAM_DONE,
    AdapterOptions,
    ProtocolAdapter,
    ResponseParseError,
    StreamDone,
    StreamUsage,
    encode_json,
    loads,
    short_text,
)

__all__ = ["OpenAIOptions", "OpenAIAdapter", "error_reason"]


class OpenAIOptions(AdapterOptions):
    """Options common to ``openai-chat`` and ``openai-completions``."""

    path: str = Field("/v1/chat/completions", pattern=r"^/", description="Path of the API route")
    stream: bool = Field(False, description="Ask for Server-Sent Events (measures TTFT and ITL)")
    include_usage: bool = Field(
        True, description='With stream: send stream_options {"include_usage": true}'
    )
    max_tokens: int | None = Field(None, gt=0, description="max_tokens sent with each request")
    temperature: float | None = Field(
        0.0, ge=0, description="temperature sent with each request (null: not sent)"
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Merged into every request body (last word)"
    )


def error_reason(obj: Any) -> str | None:
    """The message of an OpenAI-style ``{"error": ...}`` body, if it is one."""
    if isinstance(obj, dict) and "error" in obj and "choices" not in obj:
        err = obj["error"]
        if isinstance(err, dict):
            err = err.get("message", err)
        return f"the server answered with an error: {short_text(err)}"
    return None


def _usage(obj: Any) -> StreamUsage | None:
    """The output token count of a usage chunk, None when it has none."""
    usage = obj.get("usage") if isinstance(obj, dict) else None
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        return StreamUsage(tokens)
    return None


class OpenAIAdapter(ProtocolAdapter):
    """Shared envelope and SSE handling; subclasses say where the text sits in a choice."""

    supports_stream = True
    options: OpenAIOptions
    _text_path: str  # for messages, e.g. "choices[0].message.content"
    _delta_path: str  # e.g. "choices[0].delta.content"

    @property
    def stream(self) -> bool:
        return self.options.stream

    def _body(self, prompt_key: str, prompt: Any) -> bytes:
        """The encoded body: model, prompt, stream flag, sampling options, then extra_body."""
        o = self.options
        body: dict[str, Any] = {}
        if self.model is not None:
            body["model"] = self.model
        body[prompt_key] = prompt
        body["stream"] = o.stream
        if o.stream and o.include_usage:
            body["stream_options"] = {"include_usage": True}
        if o.max_tokens is not None:
            body["max_tokens"] = o.max_tokens
        if o.temperature is not None:
            body["temperature"] = o.temperature
        body.update(self._extra_body())
        return encode_json(body)

    def _extra_body(self) -> dict[str, Any]:
        """What is merged into every body last (``extra_body``; the chat adapter's tools)."""
        return self.options.extra_body

    @staticmethod
    @abstractmethod
    def _choice_text(choice: Any) -> Any:
        """The text of ``choices[0]`` in a full response (may raise KeyError/TypeError)."""

    @staticmethod
    @abstractmethod
    def _delta_text(choice: Any) -> Any:
        """The text of ``choices[0]`` in a stream chunk, None when it has none."""

    def parse(self, body: bytes) -> Any:
        try:
            obj = loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("response is not JSON") from None
        try:
            text = self._choice_text(obj["choices"][0])
        except (KeyError, IndexError, TypeError, AttributeError):
            reason = error_reason(obj)
            raise ResponseParseError(reason or f"no {self._text_path} in response") from None
        if not isinstance(text, str):
            raise ResponseParseError(f"no {self._text_path} in response (got {text!r:.60})")
        return text

    def parse_stream_line(self, line: bytes) -> str | None | StreamDone | StreamUsage:
        if line[:5] != b"data:":
            # Empty separator lines, ": comments", event:/id:/retry: fields.
            return None
        payload = line[5:].strip()
        if payload == b"[DONE]":
            return STREAM_DONE
        if not payload:
            return None
        try:
            obj = loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("stream line is not JSON") from None
        try:
            choices = obj["choices"]
        except (KeyError, TypeError):
            reason = error_reason(obj)
            raise ResponseParseError(reason or "stream chunk has no choices") from None
        if not choices:  # the usage chunk sent with include_usage
            return _usage(obj)
        try:
            text = self._delta_text(choices[0])
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ResponseParseError(f"stream chunk has no {self._delta_path}") from None
        if text is None or text == "":
            return None  # role-only or finish chunk: no token, so no TTFT/ITL event
        if not isinstance(text, str):
            raise ResponseParseError(f"stream chunk {self._delta_path} is not text")
        return text

    def finish_stream(self, text: str) -> Any:
        return text
