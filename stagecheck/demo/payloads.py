"""Wire shapes the demo endpoint speaks: request parsing and response bodies, no I/O.

- OpenAI chat completions (and legacy completions), including ``chat.completion.chunk`` SSE;
- KServe V2 / Open Inference Protocol;
- MLflow scoring server (``dataframe_split``, ``dataframe_records``, ``inputs``/``instances``);
- a plain JSON API (``{"query": ...}`` -> ``{"result": {...}}``).

Parsers raise ``BadRequest`` with a message meant for the client (it is sent back in a 400).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BadRequest",
    "Prediction",
    "OpenAIRequest",
    "KServeRequest",
    "parse_chat",
    "parse_completion",
    "parse_kserve",
    "parse_mlflow",
    "parse_predict",
    "token_pieces",
    "openai_response",
    "openai_stream_chunks",
    "openai_error",
    "kserve_response",
    "kserve_metadata",
    "word_count",
]

JSON = dict[str, Any]


class BadRequest(ValueError):
    """The request body does not follow the protocol; the message goes back to the client."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float


@dataclass(frozen=True)
class OpenAIRequest:
    """What the demo needs from a chat or legacy completions request."""

    text: str
    """The text classified: the last user message, or the prompt."""
    prompt_text: str
    """All input text, for the ``usage.prompt_tokens`` estimate."""
    stream: bool
    model: str | None
    max_tokens: int | None
    include_usage: bool


@dataclass(frozen=True)
class KServeRequest:
    texts: list[str]
    id: str | None


def word_count(text: str) -> int:
    return len(text.split())


def _object(body: object) -> JSON:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _openai_common(body: JSON) -> tuple[bool, str | None, int | None, bool]:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("'model' must be a string")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise BadRequest("'max_tokens' must be a positive integer")
    options = body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return stream, model, max_tokens, include_usage


def _message_text(content: object) -> str:
    if isinstance(content, str):
        return content
    # Content parts: [{"type": "text", "text": "..."}, {"type": "image_url", ...}]
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if texts and all(isinstance(t, str) for t in texts):
            return "\n".join(texts)  # type: ignore[arg-type]
    raise BadRequest("message 'content' must be a string or a list of text parts")


def chat_messages(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A chat request's messages and its user messages, each message an object with a role."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise BadRequest("every message must be an object with a 'role'")
    user = [m for m in messages if m["role"] == "user"]
    if not user:
        raise BadRequest("'messages' holds no message with role 'user'")
    return messages, user


def parse_chat(body: object) -> OpenAIRequest:
    """``POST /v1/chat/completions``: classify the content of the last user message."""
    body = _object(body)
    messages, user = chat_messages(body)
    text = _message_text(user[-1].get("content"))
    prompt = " ".join(_message_text(m.get("content", "")) for m in messages)
    stream, model, max_tokens, include_usage = _openai_common(body)
    return OpenAIRequest(text, prompt, stream, model, max_tokens, include_usage)


def parse_completion(body: object) -> OpenAIRequest:
    """``POST /v1/completions`` (legacy): classify ``prompt`` (a string or a one-item list)."""
    body = _object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("'prompt' must be a string")
    stream, model, max_tokens, include_usage = _openai_common(body)
    return OpenAIRequest(prompt, prompt, stream, model, max_tokens, include_usage)


def token_pieces(content: str) -> list[str]:
    """Split reply content into stream pieces of at most 4 characters (a leading space extra).

    ``"".join(token_pieces(s)) == s`` for every ``s`` without leading/trailing whitespace runs.
    """
    return re.findall(r"\s*\S{1,4}", content) or [content]


def _usage(prompt_text: str, completion_tokens: int) -> JSON:
    prompt_tokens = max(1, word_count(prompt_text))
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _truncate(pieces: list[str], max_tokens: int | None) -> tuple[list[str], str]:
    if max_tokens is not None and len(pieces) > max_tokens:
        return pieces[:max_tokens], "length"
    return pieces, "stop"


def openai_response(
    kind: str, request: OpenAIRequest, content: str, response_id: str, created: int, model: str
) -> JSON:
    """Non-streamed reply; ``kind`` is ``chat`` or ``completions``."""
    pieces, finish = _truncate(token_pieces(content), request.max_tokens)
    text = "".join(pieces)
    choice: JSON
    if kind == "chat":
        choice = {"index": 0, "message": {"role": "assistant", "content": text}}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None}
        obj = "text_completion"
    choice["finish_reason"] = finish
    return {
        "id": response_id,
        "object": obj,
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": _usage(request.prompt_text, len(pieces)),
    }


def openai_stream_chunks(
    kind: str, request: OpenAIRequest, content: str, response_id: str, created: int, model: str
) -> tuple[list[JSON], int]:
    """The SSE payloads of a streamed reply, and how many of them carry a token.

    Token chunks come first (the first one also carries the assistant role, so that the time to
    first token is the time to the first chunk), then the chunk with ``finish_reason``, then a
    usage chunk when ``stream_options.include_usage`` asked for one.
    """
    pieces, finish = _truncate(token_pieces(content), request.max_tokens)
    obj = "chat.completion.chunk" if kind == "chat" else "text_completion"

    def chunk(choice: JSON) -> JSON:
        return {
            "id": response_id,
            "object": obj,
            "created": created,
            "model": model,
            "choices": [choice],
        }

    chunks: list[JSON] = []
    for i, piece in enumerate(pieces):
        if kind == "chat":
            delta: JSON = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            chunks.append(chunk({"index": 0, "delta": delta, "finish_reason": None}))
        else:
            chunks.append(chunk({"index": 0, "text": piece, "finish_reason": None}))
    last: JSON = {"index": 0, "finish_reason": finish}
    if kind == "chat":
        last["delta"] = {}
    else:
        last["text"] = ""
    chunks.append(chunk(last))
    if request.include_usage:
        usage_chunk = chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = _usage(request.prompt_text, len(pieces))
        chunks.append(usage_chunk)
    return chunks, len(pieces)


def openai_error(
    message: str, kind: str, code: str | None = None, param: str | None = None
) -> JSON:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _flatten(data: object) -> list[object]:
    if isinstance(data, list):
        return [x for item in data for x in _flatten(item)]
    return [data]


def parse_kserve(body: object) -> KServeRequest:
    """``POST /v2/models/{m}/infer``: the first BYTES input, whatever its name; batch allowed."""
    body = _object(body)
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    tensor = next((t for t in inputs if isinstance(t, dict) and t.get("datatype") == "BYTES"), None)
    if tensor is None:
        raise BadRequest("no input tensor with datatype BYTES")
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise BadRequest("input 'shape' must be a non-empty list of positive integers")
    texts = _flatten(tensor.get("data"))
    size = 1
    for d in shape:
        size *= d
    if size != len(texts) or any(d != 1 for d in shape[1:]):
        raise BadRequest(f"input shape {shape} does not fit {len(texts)} element(s) of one text")
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest("BYTES input 'data' must hold strings")
    request_id = body.get("id")
    if not isinstance(request_id, str):
        request_id = None
    return KServeRequest([str(t) for t in texts], request_id)


def kserve_response(model: str, request: KServeRequest, predictions: Sequence[Prediction]) -> JSON:
    n = len(predictions)
    reply: JSON = {"model_name": model, "model_version": "1"}
    if request.id is not None:
        reply["id"] = request.id
    reply["outputs"] = [
        {
            "name": "label",
            "datatype": "BYTES",
            "shape": [n],
            "data": [p.label for p in predictions],
        },
        {
            "name": "confidence",
            "datatype": "FP32",
            "shape": [n],
            "data": [round(p.confidence, 4) for p in predictions],
        },
    ]
    return reply


def kserve_metadata(model: str, labels: Sequence[str]) -> JSON:
    return {
        "name": model,
        "versions": ["1"],
        "platform": "stagecheck-numpy-naive-bayes",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "confidence", "datatype": "FP32", "shape": [-1]},
        ],
        "parameters": {"labels": list(labels)},
    }


def _text_of_record(record: object, column: str) -> object:
    if isinstance(record, dict):
        return record.get(column, next(iter(record.values()), None))
    return record


_MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


def parse_mlflow(body: object) -> list[str]:
    """``POST /invocations``: one text per row; the ``text`` column, else the first one."""
    body = _object(body)
    formats = [k for k in _MLFLOW_FORMATS if k in body]
    if len(formats) != 1:
        raise BadRequest(
            "body must have exactly one of 'dataframe_split', 'dataframe_records', 'inputs', "
            "'instances'"
        )
    payload = body[formats[0]]
    rows: object
    if formats[0] == "dataframe_split":
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise BadRequest("'dataframe_split' must be an object with 'columns' and 'data'")
        columns = payload.get("columns") or ["text"]
        col = columns.index("text") if "text" in columns else 0
        data = payload["data"]
        if not all(isinstance(r, list) and len(r) > col for r in data):
            raise BadRequest("'dataframe_split.data' must be a list of rows matching 'columns'")
        rows = [r[col] for r in data]
    elif isinstance(payload, dict) and isinstance(payload.get("text"), list):
        rows = payload["text"]  # {"inputs": {"text": [...]}}
    else:
        rows = payload
    if not isinstance(rows, list) or not rows:
        raise BadRequest(f"'{formats[0]}' must hold at least one row")
    texts = [_text_of_record(r, "text") for r in rows]
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest("every row must be a text (a string)")
    return [str(t) for t in texts]


def parse_predict(body: object) -> str:
    """``POST /predict``: ``{"query": "..."}``."""
    query = _object(body).get("query")
    if not isinstance(query, str):
        raise BadRequest("'query' must be a string")
    return query
