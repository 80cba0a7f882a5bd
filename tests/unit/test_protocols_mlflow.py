"""The MLflow adapter: the four input formats and the prediction shapes of MLflow 1 and 2."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from stagecheck.protocols import ResponseParseError, build_adapter

pytestmark = pytest.mark.unit


def mlflow(options: dict[str, Any] | None = None, inputs: tuple[str, ...] = ("text",)) -> Any:
    return build_adapter("mlflow", model=None, inputs=inputs, options=options or {})


ONE = {"text": "refund please"}
TWO = {"meta.title": "Parcel", "body": "where is it"}


@pytest.mark.parametrize(
    ("options", "inputs", "expected"),
    [
        ({}, ONE, {"dataframe_split": {"columns": ["text"], "data": [["refund please"]]}}),
        (
            {},
            TWO,
            {
                "dataframe_split": {
                    "columns": ["title", "body"],
                    "data": [["Parcel", "where is it"]],
                }
            },
        ),
        (
            {"columns": {"meta.title": "subject"}},
            TWO,
            {
                "dataframe_split": {
                    "columns": ["subject", "body"],
                    "data": [["Parcel", "where is it"]],
                }
            },
        ),
        (
            {"format": "dataframe_records"},
            TWO,
            {"dataframe_records": [{"title": "Parcel", "body": "where is it"}]},
        ),
        ({"format": "inputs"}, ONE, {"inputs": "refund please"}),
        (
            {"format": "inputs"},
            TWO,
            {"inputs": {"title": "Parcel", "body": "where is it"}},
        ),
        ({"format": "instances"}, ONE, {"instances": ["refund please"]}),
        (
            {"format": "instances"},
            TWO,
            {"instances": [{"title": "Parcel", "body": "where is it"}]},
        ),
        (
            {"params": {"max_new_tokens": 4}},
            ONE,
            {
                "dataframe_split": {"columns": ["text"], "data": [["refund please"]]},
                "params": {"max_new_tokens": 4},
            },
        ),
    ],
)
def test_request_formats(
    options: dict[str, Any], inputs: dict[str, Any], expected: dict[str, Any]
) -> None:
    a = mlflow(options, inputs=tuple(inputs))
    assert a.problems() == []
    req = a.prepare(inputs, {})
    assert req.path == "/invocations"
    assert req.method == "POST" and req.stream is False
    assert json.loads(req.body) == expected


def test_numpy_values_are_encoded() -> None:
    a = mlflow({"format": "inputs"}, inputs=("x",))
    req = a.prepare({"x": np.array([1.5, 2.0])}, {})
    assert json.loads(req.body) == {"inputs": [1.5, 2.0]}


def test_nan_is_rejected_at_prepare() -> None:
    with pytest.raises(ValueError, match="cannot be encoded as JSON"):
        mlflow().prepare({"text": float("nan")}, {})


def test_problems() -> None:
    problems = mlflow({"columns": {"nope": "x"}}, inputs=("a.v", "b.v")).problems()
    assert any(
        "endpoint.options.columns: 'nope' is not one of dataset.input" in p for p in problems
    )
    assert any("several input fields map to column(s) v" in p for p in problems)


@pytest.mark.parametrize(
    ("body", "options", "expected"),
    [
        ({"predictions": ["refund", "x"]}, {}, "refund"),
        ({"predictions": [0.25]}, {}, 0.25),
        (["billing"], {}, "billing"),  # MLflow 1.x bare list
        (
            {"predictions": [{"label": "refund", "score": 0.9}]},
            {"prediction_key": "label"},
            "refund",
        ),
        ({"predictions": [{"label": "refund"}]}, {}, "refund"),  # a single key: its value
        ({"predictions": [{"a": 1, "b": 2}]}, {}, {"a": 1, "b": 2}),
        ({"predictions": ["plain"]}, {"prediction_key": "label"}, "plain"),
    ],
)
def test_parse_good(body: Any, options: dict[str, Any], expected: Any) -> None:
    assert mlflow(options).parse(json.dumps(body).encode()) == expected


@pytest.mark.parametrize(
    ("body", "options", "fragment"),
    [
        (b"oops", {}, "response is not JSON"),
        (b'{"outputs": [1]}', {}, "no predictions in response"),
        (b'{"predictions": []}', {}, "predictions in response is empty"),
        (b"[]", {}, "predictions in response is empty"),
        (b'{"predictions": 3}', {}, "predictions in response is not a list"),
        (b'"text"', {}, "is not a list"),
        (b'{"predictions": [{"x": 1}]}', {"prediction_key": "label"}, "no predictions[0].label"),
        (
            b'{"error_code": "BAD_REQUEST", "message": "Invalid input"}',
            {},
            "error: Invalid input",
        ),
    ],
)
def test_parse_malformed(body: bytes, options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        mlflow(options).parse(body)
    assert fragment in str(info.value)
