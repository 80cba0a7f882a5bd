"""Pass/fail thresholds: checked against the dataset and the protocol before any load is sent
(``check_threshold_names``), compared with the observed figures after the run
(``evaluate_thresholds``, through a ``lookup(metric)`` callable in base units: seconds, fractions,
requests per second).

The expressions themselves are parsed in :mod:`stagecheck.judging.expressions`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stagecheck.judging.catalogue import PRODUCTION, STREAM_ONLY
from stagecheck.judging.expressions import OPERATORS, Threshold, parse_threshold

__all__ = [
    "Threshold",
    "ThresholdResult",
    "parse_threshold",
    "check_threshold_names",
    "evaluate_thresholds",
    "judges_correctness",
    "OPERATORS",
]

_STREAM_TIMINGS = ("ttft", "itl")


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold with the figure observed in the run; no figure (None) fails."""

    threshold: Threshold
    observed: float | None  # the figure, or the interval's bound for a confidence threshold
    passed: bool
    estimate: float | None = None  # a confidence threshold's point estimate

    def as_dict(self) -> dict[str, Any]:
        """The summary's ``thresholds[]`` entry."""
        t = self.threshold
        out = {
            "expression": t.expression,
            "metric": t.metric,
            "op": t.op,
            "target": t.target,
            "observed": self.observed,
            "unit": t.unit,
            "passed": self.passed,
        }
        if t.confidence is not None:
            out["confidence"] = t.confidence
            out["estimate"] = self.estimate
        return out


_CORRECTNESS = ("accuracy", "precision", "recall", "f1", "goodput")


def judges_correctness(metric: str) -> bool:
    """Whether a threshold on ``metric`` (canonical, as :attr:`Threshold.metric`) judges the
    answers' correctness: accuracy, precision, recall or F1 of the run, a class or a slice, or
    goodput (correct answers only). Latency, error rates and throughput do not: a model that
    answers everything wrong, fast, passes them."""
    name = metric.rpartition("].")[2] if "]." in metric else metric
    return name.startswith(_CORRECTNESS)


# --- checks before the run ---


def _classification_metric(name: str) -> bool:
    return name.startswith(("precision", "recall", "f1"))


def check_threshold_names(
    thresholds: Iterable[Threshold],
    *,
    classes: Collection[str] | None,
    slices: Mapping[str, Collection[str]] | None,
    timings: Collection[str],
    classification: bool | None = None,
    variants: Collection[str] | None = None,
) -> list[str]:
    """Problems with names the run cannot produce, one line each (``None``: not checked).

    ``classes``: the dataset's (normalised) labels; ``slices``: values per slice field;
    ``timings``: the timings the protocol measures (``ttft``/``itl`` only when streaming);
    ``classification``: whether the scorer yields a confusion matrix (precision/recall/F1);
    ``variants``: the names of dataset.variants (and ``original``).
    """
    problems = []
    for t in thresholds:
        metric = t.metric.removesuffix(PRODUCTION)  # checked as the figure it re-weights
        sub = metric
        if metric.startswith("variant[") and variants is not None:
            name = metric[8 : metric.rindex("]")]
            if name not in variants:
                shown = ", ".join(variants)
                problems.append(f"{metric}: '{name}' is not a variant of dataset.variants "
                                f"(variants: {shown})")  # fmt: skip
            continue
        if metric.startswith("class["):
            label, sub = metric[6 : metric.rindex("]")], metric[metric.rindex("]") + 2 :]
            if classification is False:
                problems.append(f"{metric} needs scoring.kind: label (a classification)")
            elif classes is not None and label not in classes:
                near = difflib.get_close_matches(label, list(classes), n=1)
                hint = f"; did you mean class[{near[0]}]?" if near else ""
                shown = ", ".join(sorted(classes)) or "none"
                problems.append(
                    f"{metric}: '{label}' is not a label in the dataset (labels: {shown}){hint}"
                )
            continue
        if metric.startswith("slice["):
            where, sub = metric[6 : metric.rindex("]")], metric[metric.rindex("]") + 2 :]
            field, _, value = where.partition("=")
            if slices is not None:
                if field not in slices:
                    shown = ", ".join(slices) or "none; list fields in dataset.slices"
                    problems.append(f"{metric}: '{field}' is not a slice field ({shown})")
                elif value not in slices[field]:
                    shown = ", ".join(sorted(slices[field])) or "none"
                    problems.append(
                        f"{metric}: slice field '{field}' has no value '{value}' (values: {shown})"
                    )
        root = sub.split(".", 1)[0]
        if (root in _STREAM_TIMINGS or root in STREAM_ONLY) and "ttft" not in timings:
            problems.append(
                f"{metric} needs a streaming endpoint "
                "(openai-chat or openai-completions with endpoint.options.stream: true)"
            )
        if classification is False and _classification_metric(sub):
            problems.append(f"{metric} needs scoring.kind: label (a classification)")
    return problems


# --- evaluation after the run ---


IntervalOf = Callable[[str, float], "tuple[float, float] | None"]


def evaluate_thresholds(
    thresholds: Iterable[Threshold],
    lookup: Callable[[str], float | None],
    interval: IntervalOf | None = None,
) -> list[ThresholdResult]:
    """Compare each threshold with ``lookup(metric)``; a missing (or NaN) figure fails. A
    confidence threshold is judged on ``interval(metric, confidence)``'s bound that must clear
    the target; no interval (too few requests) fails."""
    results = []
    for t in thresholds:
        estimate = lookup(t.metric)
        observed = estimate
        if t.confidence is None:
            estimate = None  # only a confidence threshold has a bound apart from its estimate
        elif estimate is not None:
            bounds = interval(t.metric, t.confidence) if interval is not None else None
            observed = None if bounds is None else bounds[0 if t.op in (">", ">=") else 1]
        if observed is None or math.isnan(observed):
            results.append(ThresholdResult(t, None, False, estimate))
        else:
            observed = float(observed)
            passed = OPERATORS[t.op](observed, t.target)
            results.append(ThresholdResult(t, observed, passed, estimate))
    return results
