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
    # the package imports its modules; no hand-kept list names them: every module of
    # stagecheck/protocols that defines an adapter class has it registered
    import inspect
    import pkgutil

    import stagecheck.protocols as package
    from stagecheck.protocols import ProtocolAdapter

    defined = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = __import__(f"stagecheck.protocols.{info.name}", fromlist=["_"])
        defined |= {c.name for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, ProtocolAdapter) and "name" in vars(c)}  # fmt: skip
    assert {"json", "kserve-v2", "mlflow", "openai-chat", "openai-completions"} <= defined
    # a fresh process that imports only the package registers every one of them
    import json
    import subprocess
    import sys

    code = ("import json; from stagecheck.protocols import ADAPTERS; "
            "print(json.dumps(ADAPTERS.names()))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == sorted(defined) == ADAPTERS.names()
    assert {"label", "exact", "judge", "json-schema", "similarity"} <= set(SCORERS)
