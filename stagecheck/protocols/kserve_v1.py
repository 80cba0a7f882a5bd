"""``kserve-v1``: the V1 prediction protocol (KServe V1, TensorFlow Serving's REST API,
``/v1/models/<model>:predict``).

The row is sent as one instance of ``{"instances": [...]}``: the bare value of a single input
field, or an object of the input fields (named by their last segments, or by ``columns``). The
prediction is ``predictions[0]``; an object prediction is reduced to ``prediction_key`` (or to
its only value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, Field

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

__all__ = ["KServeV1Adapter", "KServeV1Options"]


class KServeV1Options(AdapterOptions):
    """Options of the ``kserve-v1`` protocol."""

    path: str | None = Field(
        None, pattern=r"^/",
        description="Route; {model} is replaced (default: /v1/models/{model}:predict)",
    )  # fmt: skip
    columns: dict[str, str] = Field(
        default_factory=dict, description="Key per input field in an instance object "
        "(default: the field's last segment)",
    )  # fmt: skip
    prediction_key: str | None = Field(
        None, description="Key to read when each prediction is an object"
    )


class KServeV1Adapter(ProtocolAdapter):
    """Requests to a V1 prediction server."""

    name: ClassVar[str] = "kserve-v1"
    Options: ClassVar[type[KServeV1Options]] = KServeV1Options
    options: KServeV1Options

    def __init__(self, *, model: str | None, inputs: Sequence[str], options: BaseModel) -> None:
        super().__init__(model=model, inputs=inputs, options=options)
        path = self.options.path
        if path is None and model is not None:
            path = "/v1/models/{model}:predict"
        self._path = None if path is None else path.replace("{model}", quote(model or "", safe=""))

    def problems(self) -> list[str]:
        out = []
        if self._path is None:
            out.append("endpoint.model: kserve-v1 needs a model name "
                       "(it is part of the path /v1/models/<model>:predict)")  # fmt: skip
        known = ", ".join(self.inputs) or "none"
        out += [f"endpoint.options.columns: {field!r} is not one of dataset.input ({known})"
                for field in self.options.columns if field not in self.inputs]  # fmt: skip
        return out

    @property
    def reads_inputs_only(self) -> bool:
        return True

    def prepare(self, inputs: Mapping[str, Any], record: Mapping[str, Any]) -> PreparedRequest:
        if len(inputs) == 1 and not self.options.columns:
            instance: Any = next(iter(inputs.values()))
        else:
            named = self.options.columns
            instance = {named.get(f) or last_segment(f): v for f, v in inputs.items()}
        return PreparedRequest(path=self._path or "/", body=encode_json({"instances": [instance]}))

    def parse(self, body: bytes) -> Any:
        try:
            obj = loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ResponseParseError("response is not JSON") from None
        if not isinstance(obj, dict) or "predictions" not in obj:
            if isinstance(obj, dict) and "error" in obj:
                raise ResponseParseError(
                    f"the server answered with an error: {short_text(obj['error'])}"
                )
            raise ResponseParseError("no predictions in response")
        return first_prediction(obj["predictions"], self.options.prediction_key)
