"""``stagecheck compare BASE NEW``: did the new run regress against the base run?

Each key figure becomes a :class:`ComparisonRow` with a status (``better`` / ``worse`` / ``same``,
or ``n/a`` when a run lacks the figure). A row is a *regression* only when it is worse by more than
its tolerance, so run-to-run noise does not fail CI. Tolerances are absolute for fractions
(accuracy, F1, error rate) and relative for latency and throughput, whose scale varies by model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stagecheck.errors import InputError

from .model import Report
from .read import build_report

__all__ = [
    "Status",
    "MetricKind",
    "Tolerances",
    "ComparisonRow",
    "Comparison",
    "compare_runs",
]

Status = Literal["better", "worse", "same", "n/a"]
#: How a figure is judged and shown: ``quality`` (fraction, higher is better, absolute
#: tolerance), ``error_rate`` (fraction, lower is better, absolute), ``latency`` (µs, lower is
#: better, relative), ``throughput`` (per second, higher is better, relative).
MetricKind = Literal["quality", "error_rate", "latency", "throughput"]

# Below this a difference is float noise, not a change.
_EPSILON = 1e-12


@dataclass(frozen=True)
class Tolerances:
    """How much worse a figure may get before it counts as a regression."""

    #: Largest accepted drop of accuracy or an F1 (absolute, 0.01 = one point).
    quality: float = 0.01
    #: Largest accepted rise of the error rate (absolute, 0.005 = half a point).
    error_rate: float = 0.005
    #: Largest accepted rise of a latency percentile (relative, 0.10 = 10 %).
    latency: float = 0.10
    #: Largest accepted drop of throughput (relative, 0.10 = 10 %).
    throughput: float = 0.10

    def __post_init__(self) -> None:
        bad = [name for name, value in vars(self).items() if not value >= 0]
        if bad:
            raise InputError(f"compare: tolerances must not be negative: {', '.join(bad)}")

    def for_kind(self, kind: MetricKind) -> float:
        return float(getattr(self, kind))


@dataclass(frozen=True)
class ComparisonRow:
    """One figure of both runs. ``delta`` is new − base in the figure's unit (µs for latency)."""

    metric: str
    kind: MetricKind
    base: float | None
    new: float | None
    delta: float | None
    #: delta / base, for latency and throughput (None when base is 0 or missing).
    relative: float | None
    status: Status
    regression: bool


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`."""

    base_id: str
    new_id: str
    rows: tuple[ComparisonRow, ...]
    #: Reasons the two runs may not be comparable (other dataset, scenario, load, invalid run).
    warnings: tuple[str, ...]
    tolerances: Tolerances
    #: Advice on reading the table (e.g. sampling noise between timed runs).
    notes: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[ComparisonRow, ...]:
        return tuple(row for row in self.rows if row.regression)

    @property
    def regressed(self) -> bool:
        return any(row.regression for row in self.rows)


_HIGHER_IS_BETTER: dict[MetricKind, bool] = {
    "quality": True,
    "error_rate": False,
    "latency": False,
    "throughput": True,
}
_RELATIVE: frozenset[MetricKind] = frozenset({"latency", "throughput"})


def _row(
    metric: str, kind: MetricKind, base: float | None, new: float | None, tol: Tolerances
) -> ComparisonRow:
    if base is None or new is None:
        return ComparisonRow(metric, kind, base, new, None, None, "n/a", False)
    delta = new - base
    relative = delta / base if base else None
    if abs(delta) <= _EPSILON * max(1.0, abs(base)):
        return ComparisonRow(metric, kind, base, new, 0.0, 0.0 if base else None, "same", False)
    improved = (delta > 0) == _HIGHER_IS_BETTER[kind]
    status: Status = "better" if improved else "worse"
    if improved:
        regression = False
    elif kind in _RELATIVE:
        # From zero, any worsening is unbounded in relative terms.
        regression = relative is None or abs(relative) > tol.for_kind(kind) + _EPSILON
    else:
        regression = abs(delta) > tol.for_kind(kind) + _EPSILON
    return ComparisonRow(metric, kind, base, new, delta, relative, status, regression)


def _warnings(base: Report, new: Report) -> list[str]:
    out = []
    pairs: list[tuple[str, Callable[[Report], object]]] = [
        ("scenario", lambda r: r.run.scenario),
        ("dataset", lambda r: r.run.dataset_path),
        ("scoring", lambda r: r.run.scoring_kind),
        ("load", lambda r: r.run.load_summary()),
    ]
    for what, get in pairs:
        a, b = get(base), get(new)
        if a and b and a != b:
            out.append(f"the runs used different {what}s: {a!r} (base) vs {b!r} (new)")
    for name, report in (("base", base), ("new", new)):
        if not report.valid:
            reasons = "; ".join(report.invalid_reasons) or "no reason given"
            out.append(f"the {name} run is invalid: {reasons}")
    return out


def _notes(base: Report, new: Report) -> list[str]:
    if base.run.exact_pass and new.run.exact_pass:
        return []
    return [
        "timed runs send different rows, so per-class and per-slice figures differ by sampling "
        "alone; compare model quality on exact-pass runs (dataset.passes: 1)"
    ]


def _as_report(summary: Mapping[str, Any] | Report) -> Report:
    return summary if isinstance(summary, Report) else build_report(summary)


def compare_runs(
    base: Mapping[str, Any] | Report,
    new: Mapping[str, Any] | Report,
    *,
    quality_tolerance: float = 0.01,
    error_rate_tolerance: float = 0.005,
    latency_tolerance: float = 0.10,
    throughput_tolerance: float = 0.10,
) -> Comparison:
    """Compare two summary.json dicts (or Reports): key figures, per class, per slice.

    Tolerances: largest accepted accuracy/F1 drop and error-rate rise (absolute fractions), and
    latency rise and throughput drop (relative, 0.10 = 10 %).
    """
    tol = Tolerances(
        quality=quality_tolerance,
        error_rate=error_rate_tolerance,
        latency=latency_tolerance,
        throughput=throughput_tolerance,
    )
    a, b = _as_report(base), _as_report(new)
    qa, qb = a.quality, b.quality
    rows = [
        _row("accuracy", "quality", a.accuracy, b.accuracy, tol),
        _row(
            "f1_macro",
            "quality",
            qa.f1_macro if qa else None,
            qb.f1_macro if qb else None,
            tol,
        ),
        _row(
            "f1_weighted",
            "quality",
            qa.f1_weighted if qa else None,
            qb.f1_weighted if qb else None,
            tol,
        ),
        _row("error_rate", "error_rate", a.error_rate, b.error_rate, tol),
        _row("throughput", "throughput", a.requests_per_s, b.requests_per_s, tol),
    ]
    ea, eb = a.timing("e2e"), b.timing("e2e")
    for pct in ("p50", "p95", "p99"):
        va = getattr(ea, f"{pct}_us") if ea else None
        vb = getattr(eb, f"{pct}_us") if eb else None
        rows.append(_row(f"latency.{pct}", "latency", va, vb, tol))
    for key in ("ttft", "itl"):
        ta, tb = a.timing(key), b.timing(key)
        if ta is not None and tb is not None:
            rows.append(_row(f"{key}.p95", "latency", ta.p95_us, tb.p95_us, tol))
    f1_a = {c.label: c.f1 for c in a.classes}
    f1_b = {c.label: c.f1 for c in b.classes}
    for label in sorted(f1_a.keys() | f1_b.keys()):
        rows.append(_row(f"f1[{label}]", "quality", f1_a.get(label), f1_b.get(label), tol))
    acc_a = {(s.field, s.value): s.accuracy for s in a.slices}
    acc_b = {(s.field, s.value): s.accuracy for s in b.slices}
    keys = list(acc_a) + [k for k in acc_b if k not in acc_a]
    for field, value in keys:
        rows.append(
            _row(
                f"accuracy[{field}={value}]",
                "quality",
                acc_a.get((field, value)),
                acc_b.get((field, value)),
                tol,
            )
        )
    return Comparison(
        base_id=a.run.id or a.run.scenario,
        new_id=b.run.id or b.run.scenario,
        rows=tuple(rows),
        warnings=tuple(_warnings(a, b)),
        notes=tuple(_notes(a, b)),
        tolerances=tol,
    )
