"""The generic JSON adapter (body templates with typed substitution) and the path getter."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from stagecheck.protocols import ResponseParseError, build_adapter, compile_path
from stagecheck.protocols.json_api import render_body_template

pytestmark = pytest.mark.unit


def api(options: dict[str, Any], inputs: tuple[str, ...] = ("text",)) -> Any:
    base = {"path": "/predict", "prediction": "result.intent"}
    return build_adapter("json", model=None, inputs=inputs, options={**base, **options})


# --- path getter ---

DOC = {
    "result": {"intent": "refund", "scores": [0.1, 0.9], "odd.key": 1, "0": "zero-key"},
    "choices": [{"message": {"content": "hi"}}],
    "outputs": [{"data": [7, 8]}],
    "items": [[1, 2], [3, 4]],
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("result.intent", "refund"),
        ("$.result.intent", "refund"),
        ("choices[0].message.content", "hi"),
        ("outputs.0.data.0", 7),
        ("outputs[0].data[1]", 8),
        ("$.outputs[0].data[-1]", 8),
        ("items[1][0]", 3),
        ("result.scores.1", 0.9),
        ('result["odd.key"]', 1),
        ("result['odd.key']", 1),
        ("result.0", "zero-key"),  # numeric segment on an object: the key "0"
        ("result[0]", "zero-key"),
        ("  result.intent  ", "refund"),
        ("$", DOC),
    ],
)
def test_path_getter(expr: str, expected: Any) -> None:
    assert compile_path(expr)(DOC) == expected


@pytest.mark.parametrize(
    "expr",
    ["result.missing", "choices[1]", "items.x", "result.intent.deeper", "outputs[0].data[5]"],
)
def test_path_getter_missing_raises_parse_error_naming_path(expr: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        compile_path(expr)(DOC)
    assert str(info.value) == f"no {expr} in response"


def test_path_getter_custom_error_and_where() -> None:
    class Custom(Exception):
        pass

    with pytest.raises(Custom, match="no a.b in answer"):
        compile_path("a.b", error=Custom, where="answer")({"a": {}})


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("", "empty path"),
        ("a..b", "empty segment"),
        ("a.", "ends with '.'"),
        ("$.", "ends with '.'"),
        ("a[0", "'[' without ']'"),
        ("a]", "']' without '['"),
        ("a[x]", "integer index or a quoted key"),
        ("a[0]b", "expected '.' or '['"),
        ("$a", "expected '.' or '['"),
    ],
)
def test_path_getter_invalid(expr: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        compile_path(expr)


# --- body templates ---

ROW = {"text": "refund please", "n": 3, "flags": [True], "meta": {"lang": "en"}, "score": 0.5}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{text}", "refund please"),
        ("{n}", 3),  # typed: stays an int
        ("{flags}", [True]),
        ("{meta.lang}", "en"),  # dotted field, typed
        ("{meta}", {"lang": "en"}),
        ("Q: {text} (n={n})", "Q: refund please (n=3)"),
        ("{{literal}}", "{literal}"),
        ("no braces", "no braces"),
        (5, 5),
        (None, None),
        (
            {"inputs": {"query": "{text}", "k": "{n}", "lang": "{meta[lang]}"}, "top": 1},
            {"inputs": {"query": "refund please", "k": 3, "lang": "en"}, "top": 1},
        ),
        (["{score}", "x{score}"], [0.5, "x0.5"]),
    ],
)
def test_render_body_template(template: Any, expected: Any) -> None:
    got = render_body_template(template, ROW)
    assert got == expected and type(got) is type(expected)


def test_render_body_template_missing_field() -> None:
    with pytest.raises(ValueError, match="body_template refers to field 'nope'"):
        render_body_template({"a": "{nope}"}, ROW)
    with pytest.raises(ValueError, match="body_template refers to field 'nope'"):
        render_body_template("x {nope}", ROW)


# --- adapter ---


def test_default_body_uses_last_segments() -> None:
    a = api({}, inputs=("meta.lang", "text"))
    req = a.prepare({"meta.lang": "en", "text": "hi"}, {})
    assert req.path == "/predict" and req.method == "POST" and req.stream is False
    assert json.loads(req.body) == {"lang": "en", "text": "hi"}


def test_body_template_and_body_field() -> None:
    a = api({"body_template": {"q": "{text}", "n": "{n}"}, "method": "PUT"})
    req = a.prepare({"text": ROW["text"]}, ROW)
    assert req.method == "PUT"
    assert json.loads(req.body) == {"q": "refund please", "n": 3}
    b = api({"body_field": "payload"})
    payload = {"anything": [1, {"x": None}]}
    assert json.loads(b.prepare({}, {"payload": payload}).body) == payload
    with pytest.raises(ValueError, match="no body_field 'payload'"):
        b.prepare({}, {})


def test_get_puts_quoted_fields_in_the_path() -> None:
    a = api({"method": "GET", "path": "/predict?q={text}&n={n}"})
    assert a.problems() == []
    req = a.prepare({"text": "a b&c"}, {"text": "a b&c", "n": 2})
    assert req.method == "GET" and req.body == b""
    assert req.path == "/predict?q=a%20b%26c&n=2"
    assert api({"method": "GET"}).problems()[0].startswith("endpoint.options.path: a GET")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"body_template": {"a": 1}, "body_field": "x"}, "not both"),
        ({"method": "GET", "body_template": {"a": 1}}, "GET sends no body"),
        ({"prediction": "a..b"}, "empty segment"),
        ({"path": "predict"}, "should match pattern"),
        ({"method": "DELETE"}, "Input should be"),
        ({"headers": {"x": "y"}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_options(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        api(options)


def test_path_and_prediction_are_required() -> None:
    with pytest.raises(ValidationError) as info:
        build_adapter("json", model=None, inputs=["text"], options={})
    assert {e["loc"] for e in info.value.errors()} == {("path",), ("prediction",)}


def test_parse() -> None:
    a = api({})
    assert a.parse(b'{"result": {"intent": "refund"}}') == "refund"
    with pytest.raises(ResponseParseError, match="no result.intent in response"):
        a.parse(b'{"result": {}}')
    with pytest.raises(ResponseParseError, match="response is not JSON"):
        a.parse(b"refund")
    whole = api({"prediction": "$"})
    assert whole.parse(b'{"a": 1}') == {"a": 1}
    assert whole.parse(b"refund\n") == "refund"  # plain-text answer
    assert whole.parse(b'"refund"') == "refund"
