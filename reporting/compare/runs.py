"""``stagecheck compare BASE NEW``: did the new run regress against the base run?

Each figure becomes a :class:`ComparisonRow`. A row is a **regression** only when it is worse by
more than the user's tolerance (:class:`Tolerances`) **and** the change is significant: its
test's p-value, Holm-adjusted within its family, is below ``alpha``. Figures without a test
(F1, throughput, streaming timings: one number per run) are shown but never decide.

Tests (``stagecheck.stats``):

- **Paired** (both runs' results.jsonl cover the same dataset rows): accuracy, per-class
  recall and per-slice accuracy are compared on the rows scored in both runs, each row once by
  its share of right answers, with an exact McNemar test on the rows that flipped (every share
  0 or 1) or else a sign-flip test on the per-row differences (:mod:`.compare_pairs`).
  In a conversation run the conversation is the unit: the clustered McNemar test (Durkalski
  et al. 2003) on each conversation's flips. dataset.variants' varied rows are left out.
  Rows scored in one run only are counted apart (:class:`OneSided`), never mixed in.
- **Unpaired** (different rows, or a folder without results.jsonl): a two-proportion test
  (Fisher's exact test on small counts) on each run's own figures, the counts of a run that
  replayed rows divided by its design effect (Rao–Scott: the rows are the evidence).
- **Latency**: percentiles of the raw per-request values with distribution-free 95 % intervals;
  a two-sample Kolmogorov–Smirnov test decides (Mann–Whitney is shown beside it).
- **Error rate**: a two-proportion test on failed / requests.

Families for Holm's correction: the headline figures (accuracy, error rate, latency), and the
breakdown (every class and every slice value together).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stagecheck import stats
from stagecheck.errors import InputError
from stagecheck.reporting.compare.data import RunData, load_run
from stagecheck.reporting.compare.figures import (
    error_rate_figure,
    latency_figures,
    unpaired_quality,
    untested_figures,
)
from stagecheck.reporting.compare.pairs import (
    Figure,
    Flip,
    MetricKind,
    OneSided,
    PairedRuns,
    Section,
    pair_runs,
)
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

__all__ = [
    "Status",
    "MetricKind",
    "Tolerances",
    "ComparisonRow",
    "Comparison",
    "Flip",
    "OneSided",
    "compare_runs",
    "compare_folders",
]

Status = Literal["better", "worse", "same", "n/a"]
# MetricKind: how a figure is judged and shown: ``quality`` (fraction, higher is better,
# absolute tolerance), ``error_rate`` (fraction, lower is better, absolute), ``latency`` (µs,
# lower is better, relative), ``throughput`` (per second, higher is better, relative).

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
    section: Section = "headline"
    #: The test that judges the row ("McNemar exact", "two-proportion", "KS"); None: no test.
    test: str | None = None
    p: float | None = None
    #: p after Holm's correction within the row's family.
    p_adjusted: float | None = None
    #: Worse by more than the tolerance (whether or not significant).
    beyond_tolerance: bool = False
    #: 95 % intervals of the two figures (Wilson for fractions, order statistics for latency).
    base_interval: tuple[float, float] | None = None
    new_interval: tuple[float, float] | None = None
    #: Sample behind the row, e.g. "12 right→wrong, 3 wrong→right of 120 paired rows".
    detail: str = ""


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
    alpha: float = 0.05
    #: ``paired`` (row by row) or ``unpaired`` (each run's own figures).
    mode: Literal["paired", "unpaired"] = "unpaired"
    #: Rows scored in both runs (paired mode).
    paired_rows: int = 0
    #: Rows that flipped, right→wrong first (capped; the counts are in ``flip_counts``).
    flips: tuple[Flip, ...] = ()
    #: (right→wrong, wrong→right) over all paired rows.
    flip_counts: tuple[int, int] = (0, 0)
    one_sided: OneSided | None = None

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


def _comparison_row(
    f: Figure, p_adjusted: float | None, tol: Tolerances, alpha: float
) -> ComparisonRow:
    def row(
        delta: float | None, rel: float | None, status: Status, beyond: bool = False
    ) -> ComparisonRow:
        significant = p_adjusted is not None and p_adjusted < alpha
        return ComparisonRow(f.metric, f.kind, f.base, f.new, delta, rel, status,
                             beyond and significant, f.section, f.test, f.p, p_adjusted, beyond,
                             f.base_interval, f.new_interval, f.detail)  # fmt: skip

    if f.base is None or f.new is None:
        return row(None, None, "n/a")
    delta = f.new - f.base
    relative = delta / f.base if f.base else None
    if abs(delta) <= _EPSILON * max(1.0, abs(f.base)):
        return row(0.0, 0.0 if f.base else None, "same")
    if (delta > 0) == _HIGHER_IS_BETTER[f.kind]:
        return row(delta, relative, "better")
    if f.kind in _RELATIVE:
        # From zero, any worsening is unbounded in relative terms.
        beyond = relative is None or abs(relative) > tol.for_kind(f.kind) + _EPSILON
    else:
        beyond = abs(delta) > tol.for_kind(f.kind) + _EPSILON
    return row(delta, relative, "worse", beyond)


def _compare_family(figures: list[Figure], tol: Tolerances, alpha: float) -> list[ComparisonRow]:
    """Holm's correction over the family's distinct tests (the latency percentiles share one
    distribution test, so they count once), then each row judged on its adjusted p."""
    keys = [_test_key(f, i) for i, f in enumerate(figures)]
    tests: dict[str, float | None] = {}
    for key, f in zip(keys, figures, strict=True):
        if key is not None:
            tests.setdefault(key, f.p)
    adjusted = dict(zip(tests, stats.holm(list(tests.values())), strict=True))
    return [
        _comparison_row(f, None if key is None else adjusted[key], tol, alpha)
        for key, f in zip(keys, figures, strict=True)
    ]


def _test_key(f: Figure, i: int) -> str | None:
    if f.test is None or f.p is None:
        return None
    return f"latency:{f.test}" if f.kind == "latency" else str(i)


def _warnings(base: Summary, new: Summary) -> list[str]:
    out = []
    pairs = [
        ("scenario", base.run.scenario, new.run.scenario),
        ("dataset", base.run.dataset.path, new.run.dataset.path),
        ("scoring", base.run.scoring.kind, new.run.scoring.kind),
        ("load", base.run.load_summary(), new.run.load_summary()),
    ]
    for what, a, b in pairs:
        if a and b and a != b:
            out.append(f"the runs used different {what}s: {a!r} (base) vs {b!r} (new)")
    for name, report in (("base", base), ("new", new)):
        if not report.valid:
            reasons = "; ".join(report.validity.reasons) or "no reason given"
            out.append(f"the {name} run is invalid: {reasons}")
    return out


def _as_run(run: RunData | Mapping[str, Any] | Summary | str | Path) -> RunData:
    if isinstance(run, RunData):
        return run
    if isinstance(run, (str, Path)):
        return load_run(run)
    report = run if isinstance(run, Summary) else load_summary_model(run)
    return RunData(None, {} if isinstance(run, Summary) else run, report)


def compare_runs(
    base: RunData | Mapping[str, Any] | Summary | str | Path,
    new: RunData | Mapping[str, Any] | Summary | str | Path,
    *,
    quality_tolerance: float = 0.01,
    error_rate_tolerance: float = 0.005,
    latency_tolerance: float = 0.10,
    throughput_tolerance: float = 0.10,
    alpha: float = 0.05,
) -> Comparison:
    """Compare two runs: run folders (paths or :func:`load_run` results) or summary dicts.

    With both folders' results.jsonl covering the same rows the comparison is paired row by
    row; otherwise (or from summaries alone) it is unpaired and says so in its notes.
    """
    if not 0 < alpha < 1:
        raise InputError(f"compare: alpha must be between 0 and 1, got {alpha}")
    tol = Tolerances(quality_tolerance, error_rate_tolerance, latency_tolerance,
                     throughput_tolerance)  # fmt: skip
    a, b = _as_run(base), _as_run(new)
    ra, rb = a.report, b.report
    notes: list[str] = []
    paired: PairedRuns | None = pair_runs(a, b)
    if paired is not None and paired.reason:
        notes.append(paired.reason)
        paired = None
    accuracy, breakdown = _quality_figures(a, b, paired, notes)
    latency = latency_figures(a, b)
    headline = [accuracy, error_rate_figure(a, b), *latency]
    rows = _compare_family(headline, tol, alpha)
    rows += _compare_family(untested_figures(ra, rb), tol, alpha)
    rows += _compare_family(breakdown, tol, alpha)
    return Comparison(
        base_id=ra.run.id or ra.run.scenario,
        new_id=rb.run.id or rb.run.scenario,
        rows=tuple(rows),
        warnings=tuple(_warnings(ra, rb) + (list(paired.warnings) if paired else [])),
        tolerances=tol,
        notes=tuple(notes),
        alpha=alpha,
        mode="paired" if paired else "unpaired",
        paired_rows=paired.rows if paired else 0,
        flips=paired.flips if paired else (),
        flip_counts=paired.flip_counts if paired else (0, 0),
        one_sided=paired.one_sided if paired else None,
    )


def _quality_figures(
    a: RunData, b: RunData, paired: PairedRuns | None, notes: list[str]
) -> tuple[Figure, list[Figure]]:
    """Accuracy and the breakdown (classes, slices): paired by row when the runs allow it, else
    each run's own figures; what was done is said in ``notes``."""
    if paired is not None and paired.accuracy is not None:
        if paired.units:
            notes.append(
                f"paired by row: {paired.rows} turns scored in both runs, in {paired.units} "
                "conversations; the conversation is the unit (its turns are not independent): "
                "clustered McNemar test (Durkalski et al. 2003) on each conversation's flips, "
                "exact on few conversations; intervals at the conversations' effective size"
            )
            return paired.accuracy, list(paired.breakdown)
        notes.append(
            f"paired by row: {paired.rows} rows scored in both runs; accuracy, classes and "
            "slices on those rows, each row counted once (its share of right answers when "
            "replayed); exact McNemar test on the rows that flipped, a sign-flip test on the "
            "per-row differences when replays disagree"
        )
        return paired.accuracy, list(paired.breakdown)
    ra, rb = a.report, b.report
    if a.rows is None or b.rows is None:
        notes.append(
            "unpaired: a run folder has no results.jsonl, so each run's own figures are "
            "compared with a two-proportion test"
        )
    if not (ra.run.load.exact_pass and rb.run.load.exact_pass):
        notes.append(
            "timed runs send different rows, so per-class and per-slice figures differ by "
            "sampling alone; compare model quality on exact-pass runs (dataset.passes: 1)"
        )
    return unpaired_quality(ra, rb)


def compare_folders(base_dir: str | Path, new_dir: str | Path, **options: Any) -> Comparison:
    """:func:`compare_runs` on two run folders (read with :func:`load_run`)."""
    return compare_runs(load_run(base_dir), load_run(new_dir), **options)
