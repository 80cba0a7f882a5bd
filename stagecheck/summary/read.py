"""Any ``summary.json`` dict (old, half-written, hand-edited) → the one :class:`Summary` model.

Reports read the same model the engine checks its summary against. Reading is forgiving where
checking is strict: each field is read by its declared type, and a value that is absent or not
of that type becomes None (a number: shown as "n/a"), ``""`` (text), 0 (a count), ``[]`` or
``{}``; an absent section becomes the section with every figure absent. Nothing here raises,
because a report of a half-broken run is exactly when one is needed. The model is built with
``model_construct`` (no validation): a leniently read figure may be None where the engine
always writes a number, and every view already shows None as "n/a".
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from stagecheck.analysis.schema import Analysis
from stagecheck.datasets.profile import DatasetProfile
from stagecheck.redact import redact_text
from stagecheck.summary.conversations import ConversationFigures
from stagecheck.summary.figures import TIMING_NAMES, ClassFigures, Quality, StageFigures
from stagecheck.summary.schema import (
    DatasetInfo,
    Endpoint,
    Load,
    Requests,
    Run,
    SampleRequest,
    SliceFigures,
    Summary,
    TargetUsage,
    ThresholdVerdict,
    Validity,
)

__all__ = ["load_summary_model"]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _int(value: Any, default: int | None = 0) -> int | None:
    number = _num(value)
    return default if number is None else int(number)


def _text(value: Any) -> str:
    """Any JSON value as display text (datasets may send dicts or lists as input)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _opt_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _deff(value: Any) -> float:
    """A design effect of replayed rows; 1 where an older summary has none."""
    number = _num(value)
    return number if number is not None and number >= 1.0 else 1.0


# Counts whose absence means "not known", not 0 (shown as "n/a"); other plain counts read 0.
_UNKNOWN_COUNTS = frozenset({"users", "rows", "row"})
# Fields read by a rule of their own rather than by their type.
_FIELD_RULES: dict[tuple[type[BaseModel], str], Callable[[Any], Any]] = {
    (Validity, "valid"): lambda v: v is not False,
    (Run, "scenario"): lambda v: _text(v) or "unnamed",
    (Endpoint, "url"): lambda v: redact_text(_text(v)),  # again: older or edited files
    (Endpoint, "model"): _text,
    (TargetUsage, "metrics_url"): _text,
    (Quality, "design_effect"): _deff,
    (ClassFigures, "recall_design_effect"): _deff,
    (SampleRequest, "id"): _opt_text,
    (SampleRequest, "expected"): _opt_text,
    (Summary, "schema_version"): lambda v: v,
    (Summary, "verdict"): lambda v: _text(v) or "invalid",
    (Summary, "analysis"): Analysis.read,
    (Summary, "conversations"): lambda v: _conversations(v),
    (Load, "exact_pass"): lambda v: v is True,
    (DatasetInfo, "rows"): lambda v: _int(v, None),
}


def _conversations(value: Any) -> ConversationFigures | None:
    """Another version's conversation figures: the report goes on without them."""
    if not isinstance(value, Mapping):
        return None
    try:
        return ConversationFigures.model_validate(value)
    except ValidationError:
        return None


def _outcome_total(raw: Mapping[str, Any]) -> int:
    by_outcome = raw.get("by_outcome")
    if not isinstance(by_outcome, Mapping):
        return 0
    counts = {k: _int(v) or 0 for k, v in by_outcome.items()}
    # "unfinished" counts only where some request was (as the outcome tables show it)
    return sum(counts.values())


def _requests_or_total(key: str) -> Callable[[dict[str, Any], Mapping[str, Any], int], None]:
    def fix(values: dict[str, Any], raw: Mapping[str, Any], position: int) -> None:
        if _num(raw.get(key)) is None:
            values[key] = _outcome_total(raw)

    return fix


def _stage(values: dict[str, Any], raw: Mapping[str, Any], position: int) -> None:
    _requests_or_total("requests")(values, raw, position)
    if _num(raw.get("index")) is None:
        values["index"] = position


def _threshold(values: dict[str, Any], raw: Mapping[str, Any], position: int) -> None:
    values["expression"] = values["expression"] or values["metric"]


def _summary(values: dict[str, Any], raw: Mapping[str, Any], position: int) -> None:
    confusion = values["confusion"]
    if confusion is not None and not (confusion.labels and confusion.matrix):
        values["confusion"] = None


# Figures read from their siblings when absent (a count from the outcomes, an index from the
# position in its list).
_FIXES: dict[type[BaseModel], Callable[[dict[str, Any], Mapping[str, Any], int], None]] = {
    Requests: _requests_or_total("total"),
    SliceFigures: _requests_or_total("requests"),
    StageFigures: _stage,
    ThresholdVerdict: _threshold,
    Summary: _summary,
}


@functools.cache
def _hints(cls: type[BaseModel]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _model(cls: type[BaseModel], raw: Mapping[str, Any], position: int = 0) -> BaseModel:
    hints = _hints(cls)
    values = {}
    for name, info in cls.model_fields.items():
        present = name in raw
        value = raw.get(name)
        rule = _FIELD_RULES.get((cls, name))
        if rule is not None:
            values[name] = rule(value)
        elif not present and not info.is_required() and info.default is not None:
            values[name] = info.default  # a figure added later: its documented default
        else:
            values[name] = _read(hints[name], value, name)
    fix = _FIXES.get(cls)
    if fix is not None:
        fix(values, raw, position)
    return cls.model_construct(**values)


def _read(tp: Any, value: Any, name: str) -> Any:
    """``value`` read as type ``tp`` (a field's annotation), leniently."""
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        if len(inner) == 1 and isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
            return _nested(inner[0], value) if isinstance(value, Mapping) else None
        if inner == [str]:
            return _opt_text(value)
        if inner == [int]:
            return _int(value, None)
        return _read(inner[0], value, name) if len(inner) == 1 else value
    if origin is Literal:
        return _text(value)
    if origin is list:
        return _list(args[0], value, name)
    if origin is dict:
        return _dict(args[1], value, name)
    if tp is int:
        unknown = name in _UNKNOWN_COUNTS or name.endswith("_us")
        return _int(value, None if unknown else 0)
    if tp is float:
        return _num(value)
    if tp is str:
        return _text(value)
    if tp is bool:
        return value is True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _nested(tp, value if isinstance(value, Mapping) else {})
    return value


def _nested(cls: type[BaseModel], raw: Mapping[str, Any], position: int = 0) -> BaseModel | None:
    if cls is DatasetProfile:  # another version's profile: the report goes on without it
        try:
            return DatasetProfile.model_validate(raw)
        except ValidationError:
            return None
    return _model(cls, raw, position)


def _list(item: Any, value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        return []
    if isinstance(item, type) and issubclass(item, BaseModel):
        return [_nested(item, v, i) for i, v in enumerate(value) if isinstance(v, Mapping)]
    if get_origin(item) is tuple:  # (percentile, µs) points: keep the well-formed ones
        return [
            (_num(v[0]), _num(v[1]))
            for v in value
            if isinstance(v, list) and len(v) == 2 and None not in (_num(v[0]), _num(v[1]))
        ]
    if get_origin(item) is list:  # a matrix's rows
        return [[_int(c) for c in (row if isinstance(row, list) else [])] for row in value]
    if item is float:
        return [_num(v) for v in value]
    return [_read(item, v, name) for v in value]


def _dict(item: Any, value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    if isinstance(item, type) and issubclass(item, BaseModel):
        known = [k for k in TIMING_NAMES if k in value] if name == "latency" else []
        keys = known + [k for k in value if k not in known]
        return {str(k): _model(item, value[k]) for k in keys if isinstance(value[k], Mapping)}
    return {_text(k): _read(item, v, name) for k, v in value.items()}


def load_summary_model(raw: Mapping[str, Any]) -> Summary:
    """Read a summary.json dict (schema_version 1) into :class:`Summary`, leniently."""
    summary = _model(Summary, raw if isinstance(raw, Mapping) else {})
    assert isinstance(summary, Summary)
    return summary
