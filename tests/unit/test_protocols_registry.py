"""The protocol registry: names, error messages, option validation, adapter contract."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from stagecheck import protocols
from stagecheck.protocols import (
    STREAM_DONE,
    PreparedRequest,
    ProtocolAdapter,
    ResponseParseError,
    available_protocols,
    build_adapter,
    get_adapter_class,
)
from stagecheck.protocols.openai_chat import OpenAIChatAdapter

pytestmark = pytest.mark.unit

NAMES = ["json", "kserve-v1", "kserve-v2", "mlflow", "openai-chat", "openai-completions"]


def test_available_protocols() -> None:
    assert available_protocols() == NAMES


def test_unknown_protocol_lists_the_valid_names() -> None:
    with pytest.raises(ValueError) as info:
        get_adapter_class("x")
    assert str(info.value) == (
        "Protocol 'x' is not registered. Available protocols: "
        "['json', 'kserve-v1', 'kserve-v2', 'mlflow', 'openai-chat', 'openai-completions']"
    )
    with pytest.raises(ValueError, match="Protocol 'grpc' is not registered"):
        build_adapter("grpc", model=None, inputs=["a"], options={})


@pytest.mark.parametrize("name", NAMES)
def test_every_adapter_is_consistent(name: str) -> None:
    cls = get_adapter_class(name)
    assert cls.name == name
    assert issubclass(cls, ProtocolAdapter)
    assert issubclass(cls.Options, BaseModel)
    assert cls.Options.model_config.get("extra") == "forbid"
    assert cls.Options.model_config.get("frozen") is True
    assert cls.supports_stream is name.startswith("openai")
    with pytest.raises(ValidationError) as info:
        build_adapter(name, model="m", inputs=["a"], options={"no_such_option": 1})
    assert ("no_such_option",) in [tuple(e["loc"]) for e in info.value.errors()]


def test_options_must_be_the_adapters_own_model() -> None:
    with pytest.raises(TypeError, match="needs OpenAIChatOptions"):
        OpenAIChatAdapter(model="m", inputs=["a"], options=get_adapter_class("mlflow").Options())


def test_non_streaming_adapter_refuses_stream_calls() -> None:
    a = build_adapter("mlflow", model=None, inputs=["a"], options={})
    assert a.stream is False
    with pytest.raises(NotImplementedError):
        a.parse_stream_line(b"data: [DONE]")


def test_exports() -> None:
    for name in ("PreparedRequest", "ResponseParseError", "ProtocolAdapter", "STREAM_DONE"):
        assert name in protocols.__all__
    req = PreparedRequest(path="/x", body=b"{}")
    assert (req.method, req.stream, req.content_type) == ("POST", False, "application/json")
    assert issubclass(ResponseParseError, Exception)
    assert STREAM_DONE is protocols.StreamDone.DONE
