"""Threshold expressions, k6-style: ``latency.p99 < 300ms``, ``accuracy >= 0.90``,
``class[refund].recall >= 0.8``, ``slice[complexity=complex].accuracy >= 0.7``,
``accuracy >= 0.9 at 95% confidence``.

``parse_threshold`` reads one into a :class:`Threshold` in base units (seconds, fractions,
requests per second), or raises ``ValueError`` with a message that says what to write instead.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from stagecheck.judging.catalogue import (
    CONTEXT_BUCKETS,
    PRODUCTION,
    TIMINGS,
    TOKEN_FIGURES,
    TOKEN_STATS,
    Kind,
    by_scope,
    names,
)
from stagecheck.judging.targets import Unit, target_value

__all__ = ["Threshold", "parse_threshold", "OPERATORS"]

OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_OP_CHARS = "<>=!"
_OP_HELP = "use <, <=, >, >=, == or !="

_Kind = Kind
_Unit = Unit

# The tables below are views of the one catalogue of metric names (stagecheck.judging.catalogue).
_TIMINGS = TIMINGS
_RUN = by_scope("run")
_SCORES = tuple(n for n in _RUN if n == "accuracy" or n.startswith(("precision", "recall", "f1")))
_RATES = ("error_rate", "unparseable_rate")
_PLAIN: dict[str, _Kind] = {name: m.kind for name, m in _RUN.items()}
_CLASS_METRICS: dict[str, _Kind] = {name: m.kind for name, m in by_scope("class").items()}
_SLICE_METRICS = names("slice")
_VARIANT_METRICS: dict[str, _Kind] = {name: m.kind for name, m in by_scope("variant").items()}
_STATS_HELP = "pNN such as p50, p95, p99, p99.9; mean; min; max"
_KNOWN = (
    ", ".join(["accuracy", *_RATES, "throughput", "goodput", "requests", *_SCORES[1:]])
    + ", latency.<stat>, ttft.<stat>, itl.<stat> (stat: p50, p99, p99.9, mean, min, max)"
    + ", tokens.<stat>, tokens_per_s.<stat> (stat: p50, p90, p99, mean)"
    + ", class[<label>].<precision|recall|f1|support>, slice[<field>=<value>].<metric>"
    + ", accuracy[production], f1_macro[production], class[<label>].recall[production]"
    + ", variant[<name>].<accuracy|flip_rate|right_to_wrong_rate|pairs>"
)
_SUGGESTIONS = [
    *_PLAIN,
    *(f"{t}.{s}" for t in _TIMINGS for s in ("p50", "p95", "p99", "mean")),
    *(f"{t}.{s}" for t in TOKEN_FIGURES for s in TOKEN_STATS),
]


@dataclass(frozen=True)
class Threshold:
    """One parsed threshold; ``target`` is in base units (seconds, fraction, per second)."""

    expression: str  # as written
    metric: str  # canonical: "latency.p99", "class[refund].recall", "slice[a=b].accuracy"
    op: str  # one of OPERATORS
    target: float
    unit: _Unit  # how to show target and observed ("%": fraction x 100)
    #: ``… at 95% confidence``: judged on the bound of the figure's confidence interval that
    #: must clear the target (the lower bound for >/>=, the upper for </<=), 0.95 here.
    confidence: float | None = None


def _unknown_metric(text: str, known: str = _KNOWN, choices: Iterable[str] = _SUGGESTIONS) -> str:
    close = difflib.get_close_matches(text, list(choices), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    # The suggestion before the long list: a line too long for the console is cut at its end.
    return f"unknown metric '{text}'{hint} (known: {known})"


def _stat(root: str, stat: str, *, slice_: bool) -> str:
    """Canonical statistic name (``p99.9``, ``mean``...) of a timing metric."""
    if stat in ("mean", "min", "max") and not slice_:
        return stat
    body = stat[1:]
    if stat.startswith("p") and body.startswith("(") and body.endswith(")"):
        body = body[1:-1]  # k6 style p(95)
    try:
        pct = float(body) if stat.startswith("p") else math.nan
    except ValueError:
        pct = math.nan
    if math.isnan(pct):
        allowed = "pNN such as p50, p99, p99.9" if slice_ else _STATS_HELP
        raise ValueError(f"unknown {root} statistic '{stat}' (known: {allowed})")
    if not 0 < pct <= 100:
        raise ValueError(f"percentile {root}.{stat} must be above 0 and at most 100 (e.g. p99.9)")
    return f"p{pct:g}"


def _plain_metric(text: str, *, slice_: bool = False) -> tuple[str, _Kind]:
    root, dot, rest = text.partition(".")
    if root in _TIMINGS and dot:
        if slice_:
            # Per-slice latency would cost an extra HDR record per slice on the hot path.
            raise ValueError(
                "latency is recorded for the whole run and per load stage, not per slice; "
                f"use {root}.pNN without slice[...]"
            )
        return f"{root}.{_stat(root, rest.strip(), slice_=slice_)}", "duration"
    if root in TOKEN_FIGURES and dot:
        if slice_:
            raise ValueError(f"{root} is recorded for the whole run, not per slice")
        stat = rest.strip()
        if stat not in TOKEN_STATS:
            known = ", ".join(TOKEN_STATS)
            raise ValueError(f"unknown {root} statistic '{stat}' (known: {known})")
        return f"{root}.{stat}", "count"
    if slice_:
        if text not in _SLICE_METRICS:
            known = ", ".join(_SLICE_METRICS)
            raise ValueError(_unknown_metric(text, known, _SLICE_METRICS))
        return text, _PLAIN[text]
    if text in _TIMINGS or text in TOKEN_FIGURES:
        example = "p50" if text in TOKEN_FIGURES else "p99"
        raise ValueError(f"'{text}' needs a statistic, e.g. {text}.{example} or {text}.mean")
    if text not in _PLAIN:
        raise ValueError(_unknown_metric(text))
    return text, _PLAIN[text]


def _bracketed(text: str, prefix: str, example: str) -> tuple[str, str]:
    """``class[x].recall`` -> ("x", "recall")."""
    end = text.rfind("]")
    if end < 0:
        raise ValueError(f"'{text}' has '[' without ']' (e.g. {example})")
    inner, rest = text[len(prefix) + 1 : end].strip(), text[end + 1 :].strip()
    if not rest.startswith(".") or not rest[1:].strip():
        raise ValueError(f"'{text}' needs a metric after the brackets (e.g. {example})")
    return inner, rest[1:].strip()


def _production_metric(text: str) -> tuple[str, _Kind]:
    """``accuracy[production]``, ``f1_macro[production]``, ``class[x].recall[production]``:
    the figures re-weighted to a production sample's mix (``--against``)."""
    base = text[: -len(PRODUCTION)].strip()
    known = by_scope("production")
    if base.startswith("class["):
        label, name = _bracketed(base, "class", "class[refund].recall[production]")
        if label and f"class.{name}" in known:
            return f"class[{label}].{name}{PRODUCTION}", known[f"class.{name}"].kind
    elif base in known:
        return f"{base}{PRODUCTION}", known[base].kind
    raise ValueError(f"unknown production-weighted metric '{text}' (known: accuracy[production], "
                     "f1_macro[production], class[<label>].recall[production])")  # fmt: skip


_CONVERSATION = names("conversation")
_BUCKETS = ("last", *(b[0] for b in CONTEXT_BUCKETS))


def _timed_sub(text: str, name: str, scope: str) -> tuple[str, _Kind]:
    """``latency.p95`` / ``ttft.p95`` after a turn[…] or context[…]."""
    root, dot, stat = name.partition(".")
    if root not in ("latency", "ttft") or not dot or not stat.strip().startswith("p"):
        known = ", ".join(n.replace("<NN>", "NN") for n in names(scope))  # type: ignore[arg-type]
        raise ValueError(f"unknown {scope} metric '{name}' in '{text}' (known: {known})")
    canonical = _stat(root, stat.strip(), slice_=True)
    if canonical not in ("p50", "p95"):
        raise ValueError(f"'{text}': {scope} figures keep p50 and p95 (e.g. {root}.p95)")
    return f"{root}.{canonical}", "duration"


def _conversation_metric(text: str) -> tuple[str, _Kind] | None:
    """``conversation.success``, ``turn[3].accuracy``, ``context[1k-2k].ttft.p95``; None when
    ``text`` is none of these."""
    if text.startswith("conversation."):
        name = text[len("conversation.") :].strip()
        if name not in _CONVERSATION:
            known = ", ".join(_CONVERSATION)
            raise ValueError(f"unknown conversation metric '{name}' (known: {known})")
        return f"conversation.{name}", "fraction"
    if text.startswith("turn["):
        pos, name = _bracketed(text, "turn", "turn[3].accuracy")
        if not pos.isdigit() or int(pos) < 1:
            raise ValueError(f"'{text}': turn[N] takes a turn position from 1, e.g. "
                             "turn[3].accuracy")  # fmt: skip
        if name == "accuracy":
            return f"turn[{int(pos)}].accuracy", "fraction"
        sub, kind = _timed_sub(text, name, "turn")
        return f"turn[{int(pos)}].{sub}", kind
    if text.startswith("context["):
        bucket, name = _bracketed(text, "context", "context[last].ttft.p95")
        if bucket not in _BUCKETS:
            raise ValueError(f"'{text}': unknown context bucket '{bucket}' (known: "
                             f"{', '.join(_BUCKETS)})")  # fmt: skip
        sub, kind = _timed_sub(text, name, "context")
        return f"context[{bucket}].{sub}", kind
    return None


def _metric(text: str) -> tuple[str, _Kind]:
    """Canonical metric name and the kind of value it takes."""
    if text.endswith(PRODUCTION):
        return _production_metric(text)
    conversational = _conversation_metric(text)
    if conversational is not None:
        return conversational
    if text.startswith("class["):
        return _named(text, "class", "a label", "class[refund].recall", _CLASS_METRICS)
    if text.startswith("slice["):
        where, name = _bracketed(text, "slice", "slice[complexity=complex].accuracy")
        field, eq, value = where.partition("=")
        field, value = field.strip(), value.strip()
        if not eq or not field or not value:
            raise ValueError(
                f"'{text}': a slice is written slice[<field>=<value>], "
                "e.g. slice[complexity=complex].accuracy"
            )
        sub, kind = _plain_metric(name, slice_=True)
        return f"slice[{field}={value}].{sub}", kind
    if text.startswith("variant["):
        return _named(text, "variant", "a variant's name", "variant[typos].flip_rate",
                      _VARIANT_METRICS)  # fmt: skip
    return _plain_metric(text)


def _named(text: str, scope: str, what: str, example: str, metrics: Mapping[str, _Kind]
           ) -> tuple[str, _Kind]:  # fmt: skip
    """``class[refund].recall``, ``variant[typos].flip_rate``: a figure of one named member."""
    member, name = _bracketed(text, scope, example)
    if not member:
        raise ValueError(f"{scope}[] needs {what}, e.g. {example}")
    if name not in metrics:
        known = ", ".join(metrics)
        raise ValueError(f"unknown {scope} metric '{name}' in '{text}' (known: {known})")
    return f"{scope}[{member}].{name}", metrics[name]


def _split(text: str) -> tuple[str, str, str]:
    """Metric, operator and value, the operator being the first one outside brackets."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(depth - 1, 0)
        elif depth == 0 and ch in _OP_CHARS:
            j = i
            while j < len(text) and text[j] in _OP_CHARS:
                j += 1
            op = text[i:j]
            if op not in OPERATORS:
                hint = " (did you mean '=='?)" if op == "=" else ""
                raise ValueError(f"unknown operator '{op}'{hint}: {_OP_HELP}")
            return text[:i].strip(), op, text[j:].strip()
    if depth:
        raise ValueError(f"'{text}' has '[' without ']' (e.g. class[refund].recall >= 0.8)")
    raise ValueError(f"no comparison in '{text}': {_OP_HELP}, e.g. latency.p99 < 300ms")


_CONFIDENCE = re.compile(r"\s+at\s+(\S+?)\s*%\s*(?:confidence)?\s*$", re.IGNORECASE)


def _has_interval(metric: str) -> bool:
    """Whether the catalogue gives this metric a confidence interval."""
    if metric.endswith(PRODUCTION):
        return True  # every production-weighted figure has its bootstrap interval
    scope, sub = "run", metric
    if metric.startswith(("class[", "slice[", "variant[", "turn[", "context[")):
        scope, sub = metric[: metric.index("[")], metric.rsplit("]", 1)[-1].lstrip(".")
    elif metric.startswith("conversation."):
        scope, sub = metric.split(".", 1)
    root, _, stat = sub.partition(".")
    if scope in ("turn", "context") and root in _TIMINGS:
        entry = by_scope(scope).get(f"{root}.p<NN>")  # type: ignore[arg-type]
    elif root in _TIMINGS and stat:
        entry = by_scope("timing").get("p<NN>" if stat.startswith("p") else stat)
    else:
        entry = by_scope(scope).get(sub)  # type: ignore[arg-type]
    return entry is not None and entry.interval is not None


def _confidence(expression: str) -> tuple[str, float | None]:
    """``"accuracy >= 0.9 at 95% confidence"`` → ("accuracy >= 0.9", 0.95)."""
    m = _CONFIDENCE.search(expression)
    if m is None:
        return expression, None
    try:
        level = float(m.group(1))
    except ValueError:
        level = math.nan
    if not 50 <= level < 100:
        raise ValueError(
            f"confidence '{m.group(1)}%' must be at least 50% and below 100% "
            "(e.g. at 95% confidence)"
        )
    return expression[: m.start()].strip(), level / 100


def _check_confident(metric: str, op: str) -> None:
    if not _has_interval(metric):
        raise ValueError(
            f"'at … confidence' applies to proportions (accuracy, error_rate, unparseable_rate, "
            f"a class's precision or recall, a slice's accuracy or error_rate, a variant's "
            f"accuracy, flip_rate or right_to_wrong_rate, the production-weighted figures) and "
            f"latency "
            f"percentiles, not to {metric}"
        )
    if op in ("==", "!="):
        raise ValueError(f"'at … confidence' needs <, <=, > or >=, not {op}")


def parse_threshold(text: str) -> Threshold:
    """A threshold from ``"<metric> <op> <value> [at NN% confidence]"``; ``ValueError`` with a
    user-facing reason."""
    if not isinstance(text, str):
        raise ValueError(f"a threshold is a string such as 'latency.p99 < 300ms', got {text!r}")
    expression = text.strip()
    if not expression:
        raise ValueError("empty threshold; write e.g. 'latency.p99 < 300ms'")
    body, confidence = _confidence(expression)
    left, op, right = _split(body)
    if not left:
        raise ValueError(f"no metric before '{op}' (e.g. accuracy >= 0.9)")
    if not right:
        raise ValueError(f"no value after '{op}' in '{expression}'")
    metric, kind = _metric(left)
    target, unit = target_value(right, metric, kind)
    if confidence is not None:
        _check_confident(metric, op)
    return Threshold(expression=expression, metric=metric, op=op, target=target, unit=unit,
                     confidence=confidence)  # fmt: skip
