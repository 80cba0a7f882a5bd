"""``kserve-v2``: the Open Inference Protocol (KServe V2; Triton, MLServer, TorchServe, Seldon).

Each input field becomes one input tensor. Its datatype and shape are inferred from the value
(bool -> BOOL, int -> INT64, float or int/float mix -> FP32, str -> BYTES; shape from the list
nesting, with a leading batch dimension of 1 unless ``batch_dim: false``) and can be set per
field. The prediction is the first scalar of the chosen output's ``data``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from stagecheck.protocols.base import (
    AdapterOptions,
    PreparedRequest,
    ProtocolAdapter,
    ResponseParseError,
    bounded_answer,
    encode_json,
    last_segment,
    loads,
    short_text,
)

__all__ = ["KServeV2Adapter", "KServeV2Options", "KServeInput", "infer_tensor"]

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


class KServeInput(AdapterOptions):
    """How one input field is sent; unset parts are inferred."""

    field: str = Field(description="The dataset input field (as in dataset.input)")
    name: str | None = Field(None, description="Tensor name (default: the field's last segment)")
    datatype: Datatype | None = Field(None, description="Tensor datatype (default: inferred)")
    shape: list[int] | None = Field(None, description="Tensor shape (default: inferred)")


class KServeV2Options(AdapterOptions):
    """Options of the ``kserve-v2`` protocol."""

    path: str | None = Field(
        None,
        pattern=r"^/",
        description="Route; {model} is replaced (default: /v2/models/{model}/infer)",
    )
    model_version: str | None = Field(None, description="Adds /versions/<v> to the default path")
    input_name: str | None = Field(None, description="Tensor name of the single input field")
    inputs: list[KServeInput] = Field(default_factory=list, description="Per-field overrides")
    batch_dim: bool = Field(True, description="Prepend a batch dimension of 1 to list inputs")
    output_name: str | None = Field(None, description="Output to read (default: the first)")
    parameters: dict[str, Any] | None = Field(None, description="Request-level parameters")


def _flatten(value: Any) -> tuple[list[int], list[Any]]:
    """Shape and row-major elements of a (nested) list; a scalar has shape []."""
    if not isinstance(value, list):
        return [], [value]
    if not value:
        return [0], []
    parts = [_flatten(v) for v in value]
    inner = parts[0][0]
    for shape, _ in parts[1:]:
        if shape != inner:
            raise ValueError(f"ragged nested list (inner shapes {inner} and {shape})")
    return [len(value), *inner], [x for _, flat in parts for x in flat]


def _infer_datatype(flat: list[Any]) -> str:
    if not flat:
        raise ValueError("cannot infer the datatype of an empty list; set it in options.inputs")
    kinds = set()
    for x in flat:
        if isinstance(x, bool):
            kinds.add("BOOL")
        elif isinstance(x, int):
            kinds.add("INT64")
        elif isinstance(x, float):
            kinds.add("FP32")
        elif isinstance(x, str):
            kinds.add("BYTES")
        else:
            raise ValueError(f"cannot send {type(x).__name__} value {x!r} in a tensor")
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {"INT64", "FP32"}:
        return "FP32"
    raise ValueError(f"mixed element types ({', '.join(sorted(kinds))}) in one tensor")


def _coerce(flat: list[Any], datatype: str) -> list[Any]:
    if datatype.startswith("FP"):
        if any(isinstance(x, (bool, str)) for x in flat):
            raise ValueError(f"{datatype} tensor needs numbers")
        return [float(x) for x in flat]
    if "INT" in datatype:
        out = []
        for x in flat:
            if isinstance(x, float) and x.is_integer():
                x = int(x)
            if not isinstance(x, int) or isinstance(x, bool):
                raise ValueError(f"{datatype} tensor needs integers, got {x!r}")
            out.append(x)
        return out
    return flat


def infer_tensor(
    value: Any,
    *,
    datatype: str | None = None,
    shape: list[int] | None = None,
    batch_dim: bool = True,
) -> tuple[list[int], str, list[Any]]:
    """``(shape, datatype, flat data)`` of one input value; ``ValueError`` if it cannot be sent."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars (Parquet list columns)
        value = value.tolist()
    if value is None:
        raise ValueError("null cannot be sent in a tensor")
    inferred_shape, flat = _flatten(value)
    dtype = datatype or _infer_datatype(flat)
    data = _coerce(flat, dtype)
    if shape is None:
        # A scalar is one element ([1]); a list gains the batch dimension unless told not to.
        shape = [1, *inferred_shape] if batch_dim or not inferred_shape else inferred_shape
    elif math.prod(shape) != len(data):
        raise ValueError(f"shape {shape} holds {math.prod(shape)} elements, the value {len(data)}")
    return shape, dtype, data


class KServeV2Adapter(ProtocolAdapter):
    """Requests to a KServe V2 / Open Inference Protocol ``infer`` route."""

    name: ClassVar[str] = "kserve-v2"
    Options: ClassVar[type[KServeV2Options]] = KServeV2Options
    options: KServeV2Options

    def __init__(self, *, model: str | None, inputs: Sequence[str], options: BaseModel) -> None:
        super().__init__(model=model, inputs=inputs, options=options)
        o = self.options
        specs = {spec.field: spec for spec in o.inputs}
        # field -> (tensor name, datatype override, shape override)
        self._tensors: dict[str, tuple[str, str | None, list[int] | None]] = {}
        for field in self.inputs:
            spec = specs.get(field)
            name = spec.name if spec and spec.name else None
            if name is None and o.input_name and len(self.inputs) == 1:
                name = o.input_name
            self._tensors[field] = (
                name or last_segment(field),
                spec.datatype if spec else None,
                spec.shape if spec else None,
            )
        self._path = self._build_path()

    def _build_path(self) -> str | None:
        o = self.options
        if o.path is not None:
            template = o.path
        elif o.model_version is not None:
            template = "/v2/models/{model}/versions/" + quote(o.model_version, safe="") + "/infer"
        else:
            template = "/v2/models/{model}/infer"
        if "{model}" in template:
            if self.model is None:
                return None
            template = template.replace("{model}", quote(self.model, safe=""))
        return template

    def problems(self) -> list[str]:
        o = self.options
        out = []
        if self._path is None:
            out.append(
                "endpoint.model: kserve-v2 needs a model name "
                "(it is part of the path /v2/models/<model>/infer)"
            )
        if o.input_name is not None and len(self.inputs) != 1:
            out.append(
                "endpoint.options.input_name: only for a single input field; "
                "name several with endpoint.options.inputs: [{field: ..., name: ...}]"
            )
        for i, spec in enumerate(o.inputs):
            if spec.field not in self.inputs:
                known = ", ".join(self.inputs) or "none"
                out.append(
                    f"endpoint.options.inputs[{i}].field: {spec.field!r} is not one of "
                    f"dataset.input ({known})"
                )
        names = [name for name, _, _ in self._tensors.values()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            out.append(
                f"endpoint.options.inputs: several input fields map to tensor name(s) "
                f"{', '.join(dupes)}; set distinct names"
            )
        return out

    def prepare(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> PreparedRequest:
        if self._path is None:
            raise ValueError("kserve-v2 needs endpoint.model")
        tensors = []
        for field, value in inputs.items():
            name, datatype, shape = self._tensors.get(field, (last_segment(field), None, None))
            try:
                shape, datatype, data = infer_tensor(
                    value, datatype=datatype, shape=shape, batch_dim=self.options.batch_dim
                )
            except ValueError as exc:
                raise ValueError(f"input {field!r}: {exc}") from None
            tensors.append({"name": name, "shape": shape, "datatype": datatype, "data": data})
        body: dict[str, Any] = {"inputs": tensors}
        if self.options.parameters is not None:
            body["parameters"] = self.options.parameters
        return PreparedRequest(path=self._path, body=encode_json(body))

    def parse(self, body: bytes) -> Any:
        try:
            obj = loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("response is not JSON") from None
        try:
            outputs = obj["outputs"]
            wanted = self.options.output_name
            if wanted is None:
                output = outputs[0]
            else:
                output = next((o for o in outputs if o.get("name") == wanted), None)
                if output is None:
                    names = ", ".join(short_text(o.get("name"), 60) for o in outputs[:20])
                    raise ResponseParseError(
                        f"no output named {wanted!r} in response (outputs: {names or 'none'})"
                    )
            value = output["data"][0]
            while isinstance(value, list):
                value = value[0]
        except (KeyError, IndexError, TypeError, AttributeError):
            if isinstance(obj, dict) and "error" in obj:
                raise ResponseParseError(
                    f"the server answered with an error: {short_text(obj['error'])}"
                ) from None
            if self.options.output_name is None:
                raise ResponseParseError("no outputs[0].data[0] in response") from None
            raise ResponseParseError(
                f"no data[0] in output {self.options.output_name!r} of the response"
            ) from None
        return bounded_answer(value)
