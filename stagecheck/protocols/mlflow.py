"""``mlflow``: MLflow model serving (``mlflow models serve``, Databricks-style ``/invocations``).

The row is sent in one of MLflow's input formats (``dataframe_split`` by default,
``dataframe_records``, ``inputs`` or ``instances``), with column names taken from ``columns``
or the input fields' last segments. The prediction is ``predictions[0]`` (MLflow 2) or the
first item of a bare list (MLflow 1); a dict prediction is reduced to ``prediction_key`` (or
to its only value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from stagecheck.protocols.base import (
    AdapterOptions,
    PreparedRequest,
    ProtocolAdapter,
    ResponseParseError,
    encode_json,
    first_prediction,
    last_segment,
    loads,
    short_text,
)

__all__ = ["MLflowAdapter", "MLflowOptions"]


class MLflowOptions(AdapterOptions):
    """Options of the ``mlflow`` protocol."""

    path: str = Field("/invocations", pattern=r"^/", description="Route of the scoring server")
    format: Literal["dataframe_split", "dataframe_records", "inputs", "instances"] = Field(
        "dataframe_split", description="MLflow input format"
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="Column name per input field (default: last segment)"
    )
    params: dict[str, Any] | None = Field(None, description="MLflow inference params")
    prediction_key: str | None = Field(
        None, description="Key to read when each prediction is an object"
    )


class MLflowAdapter(ProtocolAdapter):
    """Requests to an MLflow scoring server."""

    name: ClassVar[str] = "mlflow"
    Options: ClassVar[type[MLflowOptions]] = MLflowOptions
    options: MLflowOptions

    def _column(self, field: str) -> str:
        return self.options.columns.get(field) or last_segment(field)

    def problems(self) -> list[str]:
        out = []
        known = ", ".join(self.inputs) or "none"
        for field in self.options.columns:
            if field not in self.inputs:
                out.append(
                    f"endpoint.options.columns: {field!r} is not one of dataset.input ({known})"
                )
        cols = [self._column(f) for f in self.inputs]
        dupes = sorted({c for c in cols if cols.count(c) > 1})
        if dupes:
            out.append(
                f"endpoint.options.columns: several input fields map to column(s) "
                f"{', '.join(dupes)}; name them in endpoint.options.columns"
            )
        return out

    @property
    def reads_inputs_only(self) -> bool:
        return True

    def prepare(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> PreparedRequest:
        fmt = self.options.format
        named = {self._column(field): value for field, value in inputs.items()}
        body: dict[str, Any]
        if fmt == "dataframe_split":
            body = {"dataframe_split": {"columns": list(named), "data": [list(named.values())]}}
        elif fmt == "dataframe_records":
            body = {"dataframe_records": [named]}
        elif len(inputs) == 1:  # inputs / instances with one field: the bare value
            value = next(iter(inputs.values()))
            body = {fmt: value if fmt == "inputs" else [value]}
        else:
            body = {fmt: named if fmt == "inputs" else [named]}
        if self.options.params is not None:
            body["params"] = self.options.params
        return PreparedRequest(path=self.options.path, body=encode_json(body))

    def parse(self, body: bytes) -> Any:
        try:
            obj = loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("response is not JSON") from None
        if isinstance(obj, dict):
            if "predictions" not in obj:
                if "message" in obj or "error_code" in obj:
                    reason = short_text(obj.get("message") or obj.get("error_code"))
                    raise ResponseParseError(f"the server answered with an error: {reason}")
                raise ResponseParseError("no predictions in response")
            predictions = obj["predictions"]
        else:
            predictions = obj
        return first_prediction(predictions, self.options.prediction_key)
