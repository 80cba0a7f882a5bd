"""The KServe V2 adapter: tensor type/shape inference, request mapping, output parsing."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from stagecheck.protocols import ResponseParseError, build_adapter
from stagecheck.protocols.kserve_v2 import infer_tensor

pytestmark = pytest.mark.unit


def kserve(
    options: dict[str, Any] | None = None,
    inputs: tuple[str, ...] = ("text",),
    model: str | None = "intent-classifier",
) -> Any:
    return build_adapter("kserve-v2", model=model, inputs=inputs, options=options or {})


@pytest.mark.parametrize(
    ("value", "batch_dim", "shape", "datatype", "data"),
    [
        ("hello", True, [1], "BYTES", ["hello"]),
        ("hello", False, [1], "BYTES", ["hello"]),
        (3, True, [1], "INT64", [3]),
        (2.5, True, [1], "FP32", [2.5]),
        (True, True, [1], "BOOL", [True]),
        ([1, 2, 3], True, [1, 3], "INT64", [1, 2, 3]),
        ([1, 2, 3], False, [3], "INT64", [1, 2, 3]),
        ([1, 2.5], True, [1, 2], "FP32", [1.0, 2.5]),
        ([True, False], True, [1, 2], "BOOL", [True, False]),
        (["a", "b"], True, [1, 2], "BYTES", ["a", "b"]),
        ([[1, 2], [3, 4], [5, 6]], True, [1, 3, 2], "INT64", [1, 2, 3, 4, 5, 6]),
        ([[1, 2], [3, 4.0]], False, [2, 2], "FP32", [1.0, 2.0, 3.0, 4.0]),
        ([[[1]], [[2]]], True, [1, 2, 1, 1], "INT64", [1, 2]),
    ],
)
def test_infer_tensor_table(
    value: Any, batch_dim: bool, shape: list[int], datatype: str, data: list[Any]
) -> None:
    got = infer_tensor(value, batch_dim=batch_dim)
    assert got == (shape, datatype, data)
    assert all(type(x) is type(y) for x, y in zip(got[2], data, strict=True))


def test_infer_tensor_overrides() -> None:
    assert infer_tensor([1, 2, 3, 4], shape=[2, 2]) == ([2, 2], "INT64", [1, 2, 3, 4])
    assert infer_tensor([1, 2], datatype="FP64") == ([1, 2], "FP64", [1.0, 2.0])
    assert infer_tensor([1.0, 2.0], datatype="INT32") == ([1, 2], "INT32", [1, 2])
    assert infer_tensor([], datatype="FP32") == ([1, 0], "FP32", [])
    assert infer_tensor(np.array([[1.5, 2.5]])) == ([1, 1, 2], "FP32", [1.5, 2.5])
    assert infer_tensor(np.int64(4)) == ([1], "INT64", [4])


@pytest.mark.parametrize(
    ("value", "kwargs", "fragment"),
    [
        ([[1, 2], [3]], {}, "ragged"),
        ([1, "a"], {}, "mixed element types"),
        ([True, 1], {}, "mixed element types"),
        ([], {}, "empty list"),
        (None, {}, "null"),
        ([None], {}, "cannot send NoneType"),
        ([{"a": 1}], {}, "cannot send dict"),
        ([1, 2, 3], {"shape": [2, 2]}, "holds 4 elements, the value 3"),
        (["a"], {"datatype": "FP32"}, "FP32 tensor needs numbers"),
        ([1.5], {"datatype": "INT64"}, "INT64 tensor needs integers"),
    ],
)
def test_infer_tensor_errors(value: Any, kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        infer_tensor(value, **kwargs)


def test_request_single_text_input() -> None:
    a = kserve()
    req = a.prepare({"text": "refund please"}, {"text": "refund please"})
    assert req.path == "/v2/models/intent-classifier/infer"
    assert req.method == "POST" and req.stream is False
    assert json.loads(req.body) == {
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["refund please"]}]
    }


def test_request_several_inputs_names_overrides_and_parameters() -> None:
    a = kserve(
        {
            "inputs": [{"field": "meta.features", "name": "input__0", "datatype": "FP32"}],
            "parameters": {"content_type": "np"},
            "batch_dim": False,
            "model_version": "2",
        },
        inputs=("meta.features", "meta.flag"),
    )
    assert a.problems() == []
    record = {"meta": {"features": [1, 2], "flag": True}}
    req = a.prepare({"meta.features": [1, 2], "meta.flag": True}, record)
    assert req.path == "/v2/models/intent-classifier/versions/2/infer"
    assert json.loads(req.body) == {
        "inputs": [
            {"name": "input__0", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0]},
            {"name": "flag", "shape": [1], "datatype": "BOOL", "data": [True]},
        ],
        "parameters": {"content_type": "np"},
    }


def test_request_input_name_and_path_override() -> None:
    a = kserve({"input_name": "INPUT_TEXT", "path": "/v2/models/{model}/ready-infer"})
    req = a.prepare({"text": "x"}, {"text": "x"})
    assert req.path == "/v2/models/intent-classifier/ready-infer"
    assert json.loads(req.body)["inputs"][0]["name"] == "INPUT_TEXT"
    b = kserve({"path": "/infer"}, model=None)
    assert b.problems() == []
    assert b.prepare({"text": "x"}, {"text": "x"}).path == "/infer"


def test_model_name_is_url_quoted() -> None:
    a = kserve(model="team/model v1")
    assert a.prepare({"text": "x"}, {}).path == "/v2/models/team%2Fmodel%20v1/infer"


def test_problems() -> None:
    assert kserve(model=None).problems() == [
        "endpoint.model: kserve-v2 needs a model name "
        "(it is part of the path /v2/models/<model>/infer)"
    ]
    with pytest.raises(ValueError, match="needs endpoint.model"):
        kserve(model=None).prepare({"text": "x"}, {})
    problems = kserve(
        {"input_name": "x", "inputs": [{"field": "nope"}]}, inputs=("a.v", "b.v")
    ).problems()
    assert any(p.startswith("endpoint.options.input_name: only for a single") for p in problems)
    assert any("endpoint.options.inputs[0].field: 'nope' is not one of" in p for p in problems)
    assert any("several input fields map to tensor name(s) v" in p for p in problems)


def test_prepare_error_names_the_field() -> None:
    with pytest.raises(ValueError, match="input 'text': ragged"):
        kserve().prepare({"text": [[1], [1, 2]]}, {})


def out(name: str, data: Any, datatype: str = "FP32") -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [1], "data": data}


@pytest.mark.parametrize(
    ("response", "options", "expected"),
    [
        ({"outputs": [out("label", ["refund"], "BYTES")]}, {}, "refund"),
        ({"outputs": [out("score", [0.75])]}, {}, 0.75),
        ({"outputs": [out("cls", [3], "INT64")]}, {}, 3),
        ({"outputs": [out("probs", [[0.1, 0.9]])]}, {}, 0.1),
        ({"outputs": [out("probs", [0.2]), out("label", ["b"], "BYTES")]}, {}, 0.2),
        (
            {"outputs": [out("probs", [0.2]), out("label", ["b"], "BYTES")]},
            {"output_name": "label"},
            "b",
        ),
    ],
)
def test_parse_good(response: dict[str, Any], options: dict[str, Any], expected: Any) -> None:
    got = kserve(options).parse(json.dumps(response).encode())
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("body", "options", "fragment"),
    [
        (b"not json", {}, "response is not JSON"),
        (b"{}", {}, "no outputs[0].data[0] in response"),
        (b'{"outputs": []}', {}, "no outputs[0].data[0]"),
        (b'{"outputs": [{"name": "a", "data": []}]}', {}, "no outputs[0].data[0]"),
        (b'{"outputs": [{"name": "a"}]}', {}, "no outputs[0].data[0]"),
        (b'{"outputs": [{"name": "a", "data": [1]}]}', {"output_name": "b"}, "outputs: a"),
        (b'{"error": "model not ready"}', {}, "error: model not ready"),
        (b'{"outputs": ["x"]}', {"output_name": "b"}, "no data[0] in output 'b'"),
    ],
)
def test_parse_malformed(body: bytes, options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        kserve(options).parse(body)
    assert fragment in str(info.value)
