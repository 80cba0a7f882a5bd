"""Wire shapes of the demo endpoint: parsing each protocol's requests and building replies."""

from __future__ import annotations

import pytest

from stagecheck.demo import payloads
from stagecheck.demo.payloads import BadRequest, OpenAIRequest, Prediction

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "content", ["refund", "cancel_order", "The customer's intent is technical_issue.", "a b"]
)
def test_token_pieces_are_short_and_join_back(content: str) -> None:
    pieces = payloads.token_pieces(content)
    assert "".join(pieces) == content
    assert all(len(p.strip()) <= 4 for p in pieces)
    if len(content) > 4:
        assert len(pieces) >= 2


def test_chat_classifies_the_last_user_message() -> None:
    request = payloads.parse_chat(
        {
            "model": "m",
            "stream": True,
            "max_tokens": 5,
            "messages": [
                {"role": "system", "content": "Classify the intent."},
                {"role": "user", "content": "old question"},
                {"role": "assistant", "content": "shipping"},
                {"role": "user", "content": [{"type": "text", "text": "refund me"}]},
            ],
        }
    )
    assert request.text == "refund me"
    assert (request.stream, request.model, request.max_tokens) == (True, "m", 5)
    assert "Classify the intent." in request.prompt_text


@pytest.mark.parametrize(
    "body,message",
    [
        ([], "JSON object"),
        ({}, "'messages'"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role 'user'"),
        ({"messages": [{"role": "user", "content": 3}]}, "content"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_chat_bodies_are_rejected_with_a_reason(body: object, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        payloads.parse_chat(body)


def test_legacy_completion_takes_the_prompt() -> None:
    assert payloads.parse_completion({"prompt": ["refund?"]}).text == "refund?"
    with pytest.raises(BadRequest, match="prompt"):
        payloads.parse_completion({"prompt": 1})


def _request(max_tokens: int | None = None, include_usage: bool = False) -> OpenAIRequest:
    return OpenAIRequest("where is it", "where is it", True, None, max_tokens, include_usage)


def test_stream_chunks_carry_role_first_then_finish_then_usage() -> None:
    chunks, n_tokens = payloads.openai_stream_chunks(
        "chat", _request(include_usage=True), "cancel_order", "id-1", 0, "m"
    )
    assert n_tokens == 3 and len(chunks) == 5
    deltas = [c["choices"][0]["delta"] for c in chunks[:n_tokens]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d["content"] for d in deltas) == "cancel_order"
    assert chunks[n_tokens]["choices"][0] == {"index": 0, "finish_reason": "stop", "delta": {}}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    reply = payloads.openai_response("chat", _request(max_tokens=1), "refund", "id", 0, "m")
    assert reply["choices"][0]["message"]["content"] == "refu"
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 1


@pytest.mark.parametrize(
    "tensor,texts",
    [
        ({"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}, ["a"]),
        ({"name": "q", "datatype": "BYTES", "shape": [1, 1], "data": [["a"]]}, ["a"]),
        ({"name": "q", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}, ["a", "b"]),
    ],
)
def test_kserve_takes_the_first_bytes_input(tensor: dict[str, object], texts: list[str]) -> None:
    other = {"name": "n", "datatype": "INT64", "shape": [1], "data": [1]}
    request = payloads.parse_kserve({"id": "r1", "inputs": [other, tensor]})
    assert request.texts == texts and request.id == "r1"
    reply = payloads.kserve_response("m", request, [Prediction("refund", 0.93456)] * len(texts))
    assert reply["outputs"][0] == {
        "name": "label", "datatype": "BYTES", "shape": [len(texts)], "data": ["refund"] * len(texts)
    }  # fmt: skip
    assert reply["outputs"][1]["data"][0] == 0.9346 and reply["id"] == "r1"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"inputs": []},
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]},
        {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [2], "data": ["a"]}]},
        {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [1, 2], "data": [["a", "b"]]}]},
        {"inputs": [{"name": "x", "datatype": "BYTES", "shape": [1], "data": [3]}]},
        {"inputs": [{"name": "x", "datatype": "BYTES", "data": ["a"]}]},
    ],
)
def test_bad_kserve_bodies_are_rejected(body: object) -> None:
    with pytest.raises(BadRequest):
        payloads.parse_kserve(body)


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["id", "text"], "data": [[1, "a"], [2, "b"]]}},
        {"dataframe_records": [{"text": "a"}, {"text": "b"}]},
        {"inputs": ["a", "b"]},
        {"inputs": {"text": ["a", "b"]}},
        {"instances": [{"text": "a"}, {"text": "b"}]},
    ],
)
def test_mlflow_formats_give_one_text_per_row(body: object) -> None:
    assert payloads.parse_mlflow(body) == ["a", "b"]


@pytest.mark.parametrize(
    "body",
    [{}, {"inputs": []}, {"inputs": ["a"], "instances": ["b"]}, {"dataframe_split": [["a"]]}],
)
def test_bad_mlflow_bodies_are_rejected(body: object) -> None:
    with pytest.raises(BadRequest):
        payloads.parse_mlflow(body)


def test_predict_needs_a_query_string() -> None:
    assert payloads.parse_predict({"query": "hi"}) == "hi"
    with pytest.raises(BadRequest, match="query"):
        payloads.parse_predict({"text": "hi"})
