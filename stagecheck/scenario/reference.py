"""The options reference (``scenarios/REFERENCE.md``, ``stagecheck protocols``), generated from
the pydantic models of every protocol adapter (``endpoint.options``), every scorer
(``scoring``) and every preset (``endpoint.preset``), so it cannot drift from the code: a test
compares the file with this output.

    python -m stagecheck.scenario.reference > scenarios/REFERENCE.md
"""

from __future__ import annotations

import json
import sys
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from stagecheck.protocols import ADAPTERS
from stagecheck.protocols.presets import PRESETS
from stagecheck.scoring import SCORERS

__all__ = ["reference_markdown", "option_rows"]


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(ann))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(ann)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if ann is type(None):
        return "null"
    return getattr(ann, "__name__", str(ann).replace("typing.", ""))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def option_rows(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """(name, type, default, description) of every field of an options model."""
    return [
        (name, _type_name(f.annotation), _default(f), " ".join((f.description or "").split()))
        for name, f in model.model_fields.items()
        if name not in skip
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    out = ["| option | type | default | description |", "|---|---|---|---|"]
    out += [f"| `{n}` | `{_cell(t)}` | `{_cell(d)}` | {_cell(desc)} |" for n, t, d, desc in rows]
    return out


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def reference_markdown() -> str:
    """The whole reference, as Markdown."""
    lines = [
        "# Scenario options reference",
        "",
        "Generated from the code by `python -m stagecheck.scenario.reference` (also: `stagecheck "
        "protocols`); do not edit by hand. A test keeps it current.",
        "",
        "## Protocols (`endpoint.protocol`, options under `endpoint.options`)",
    ]
    for name in sorted(ADAPTERS):
        cls = ADAPTERS[name]
        lines += ["", f"### `{name}`", "", _summary(cls), "", *_table(option_rows(cls.Options))]
    lines += ["", "## Scorers (`scoring.kind`, options beside it under `scoring`)"]
    for kind in sorted(SCORERS):
        scls = SCORERS[kind]
        lines += ["", f"### `{kind}`", "", _summary(scls)]
        rows = option_rows(scls.Options, skip=("kind",))
        lines += ["", *_table(rows)] if rows else ["", "No options."]
    lines += ["", "## Presets (`endpoint.preset`)"]
    for pname in sorted(PRESETS):
        p = PRESETS[pname]
        optional = ", ".join(f"`{h}` from `{v}` when set" for h, v in p.optional_headers.items())
        lines += [
            "",
            f"### `{pname}`",
            "",
            f"- protocol `{p.protocol}` unless `endpoint.protocol` says otherwise",
            f"- `endpoint.options.path`: `{p.route('openai-chat')}` (openai-chat), "
            f"`{p.route('openai-completions')}` (openai-completions)",
            f"- `{p.key_header}` header: "
            + (f"`{p.key_prefix}` + " if p.key_prefix else "the raw key ")
            + f"from the environment variable `{p.key_env}` (required unless the scenario "
            "gives the header itself)",
        ]
        if optional:
            lines.append(f"- {optional}")
        if p.refused_body_keys:
            refused = ", ".join(f"`{k}`" for k in p.refused_body_keys)
            lines.append(f"- refused in `endpoint.options.extra_body`: {refused}")
        if p.health_path:
            lines.append(f"- before a run (and a probe): `GET {p.health_path}` must answer 2xx")
        lines.append("- keys the scenario gives itself win over the preset's")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_markdown())
