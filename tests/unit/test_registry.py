"""The one registry of pluggable parts: a part registers itself where it is defined."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from stagecheck.protocols import ADAPTERS
from stagecheck.registry import Registry
from stagecheck.scoring import SCORERS

pytestmark = pytest.mark.unit


def test_a_subclass_that_names_itself_is_registered_and_found_by_name() -> None:
    parts: Registry[Any] = Registry("Widget", "widgets")

    class Base:
        name: ClassVar[str]

        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            if "name" in cls.__dict__:
                parts.add(cls.name, cls)

    class Abstract(Base):  # names nothing: not a part
        pass

    class Zeta(Abstract):
        name = "zeta"

    class Alpha(Base):
        name = "alpha"

    assert list(parts) == ["alpha", "zeta"] == parts.names()  # name order, not definition order
    assert parts.get_class("zeta") is Zeta and parts["alpha"] is Alpha
    with pytest.raises(ValueError, match=r"Widget 'nope' is not registered\. Available widgets: "
                                         r"\['alpha', 'zeta'\]"):  # fmt: skip
        parts.get_class("nope")
    with pytest.raises(TypeError, match="registered twice"):

        class Other(Base):
            name = "alpha"


def test_every_adapter_and_scorer_module_registers_without_a_list() -> None:
    # the package imports its modules; no hand-kept list names them
    assert ADAPTERS.names() == ["json", "kserve-v2", "mlflow", "openai-chat", "openai-completions"]
    assert {"label", "exact", "judge", "json-schema", "similarity"} <= set(SCORERS)
