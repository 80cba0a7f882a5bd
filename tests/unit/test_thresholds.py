"""Thresholds: the parsing table (valid and invalid), name checks before a run, evaluation."""

from __future__ import annotations

import math
import re

import pytest

from stagecheck.judging.thresholds import (
    Threshold,
    ThresholdResult,
    check_threshold_names,
    evaluate_thresholds,
    parse_threshold,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "metric", "op", "target", "unit"),
    [
        ("latency.p99 < 300ms", "latency.p99", "<", 0.3, "s"),
        ("latency.p99.9 <= 1s", "latency.p99.9", "<=", 1.0, "s"),
        ("latency.p50<20ms", "latency.p50", "<", 0.02, "s"),
        ("latency.p(95) < 250us", "latency.p95", "<", 0.00025, "s"),
        ("latency.p99.90 < 1m", "latency.p99.9", "<", 60.0, "s"),
        ("latency.p100 < 2s", "latency.p100", "<", 2.0, "s"),
        ("latency.mean < 80ms", "latency.mean", "<", 0.08, "s"),
        ("latency.max < 2s", "latency.max", "<", 2.0, "s"),
        ("latency.min > 1ms", "latency.min", ">", 0.001, "s"),
        ("ttft.p95 < 200ms", "ttft.p95", "<", 0.2, "s"),
        ("itl.p50 < 20ms", "itl.p50", "<", 0.02, "s"),
        ("accuracy >= 0.90", "accuracy", ">=", 0.9, ""),
        ("accuracy >= 90%", "accuracy", ">=", 0.9, "%"),
        ("accuracy == 1", "accuracy", "==", 1.0, ""),
        ("f1_macro >= 0.85", "f1_macro", ">=", 0.85, ""),
        ("precision_weighted > 0.5", "precision_weighted", ">", 0.5, ""),
        ("recall_micro != 0", "recall_micro", "!=", 0.0, ""),
        ("error_rate < 1%", "error_rate", "<", 0.01, "%"),
        ("error_rate < 0.01", "error_rate", "<", 0.01, "%"),
        ("unparseable_rate < 0.5%", "unparseable_rate", "<", 0.005, "%"),
        ("throughput >= 20/s", "throughput", ">=", 20.0, "/s"),
        ("throughput >= 600/m", "throughput", ">=", 10.0, "/s"),
        ("requests >= 100", "requests", ">=", 100.0, ""),
        ("class[refund].recall >= 0.8", "class[refund].recall", ">=", 0.8, ""),
        ("class[ wrong item ].f1 > 50%", "class[wrong item].f1", ">", 0.5, "%"),
        ("class[refund].support >= 30", "class[refund].support", ">=", 30.0, ""),
        ("class[a<b].precision > 0.5", "class[a<b].precision", ">", 0.5, ""),
        (
            "slice[complexity=complex].accuracy >= 0.7",
            "slice[complexity=complex].accuracy",
            ">=",
            0.7,
            "",
        ),
        (
            "slice[ complexity = complex ].error_rate < 2%",
            "slice[complexity=complex].error_rate",
            "<",
            0.02,
            "%",
        ),
        ("slice[channel=chat].requests > 10", "slice[channel=chat].requests", ">", 10.0, ""),
        ("slice[channel=chat].f1_weighted > 0.6", "slice[channel=chat].f1_weighted", ">", 0.6, ""),
        ("  accuracy   >=   0.9  ", "accuracy", ">=", 0.9, ""),
    ],
)
def test_parse_valid(text: str, metric: str, op: str, target: float, unit: str) -> None:
    t = parse_threshold(text)
    assert (t.metric, t.op, t.unit) == (metric, op, unit)
    assert t.target == pytest.approx(target, rel=1e-12)
    assert t.expression == text.strip()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("acuracy >= 0.9", "unknown metric 'acuracy'; did you mean 'accuracy'? (known: accuracy, "
                           "error_rate, "),
        ("latency.p99 < 300", "'300' needs a unit for latency.p99 (e.g. 300ms)"),
        ("ttft.p95 < 0.2", "'0.2' needs a unit for ttft.p95"),
        ("latency.p99 < 300 apples", "'300 apples' is not a duration for latency.p99"),
        ("latency.avg < 1s", "unknown latency statistic 'avg'"),
        ("latency.p0 < 1s", "must be above 0 and at most 100"),
        ("latency.p101 < 1s", "must be above 0 and at most 100"),
        ("latency < 1s", "'latency' needs a statistic, e.g. latency.p99"),
        ("accuracy >= 90", "accuracy target 90 is above 1"),
        ("accuracy >= 90", "(write 0.9 or 90%)"),
        ("f1_macro >= 1.5", "(write 0.015 or 1.5%)"),
        ("accuracy >= 150%", "must be between 0 and 1"),
        ("accuracy >= -0.1", "must be between 0 and 1"),
        ("accuracy >= high", "'high' is not a number or a percentage for accuracy"),
        ("throughput >= 20", "'20' needs a unit for throughput (e.g. 20/s)"),
        ("throughput >= 20/d", "'20/d' is not a rate for throughput"),
        ("requests >= 10%", "requests takes a plain number, got '10%'"),
        ("requests >= -1", "must not be negative"),
        ("accuracy => 0.9", "unknown operator '=>'"),
        ("accuracy = 0.9", "did you mean '=='?"),
        ("accuracy 0.9", "no comparison in 'accuracy 0.9'"),
        ("accuracy >=", "no value after '>='"),
        (">= 0.9", "no metric before '>='"),
        ("", "empty threshold"),
        ("class[refund].recal >= 0.8", "unknown class metric 'recal'"),
        ("class[].recall >= 0.8", "class[] needs a label"),
        ("class[refund >= 0.8", "has '[' without ']'"),
        ("class[refund] >= 0.8", "needs a metric after the brackets"),
        ("slice[complexity].accuracy > 0.5", "a slice is written slice[<field>=<value>]"),
        ("slice[=x].accuracy > 0.5", "a slice is written slice[<field>=<value>]"),
        ("slice[a=b].ttft.p99 < 1s", "not per slice; use ttft.pNN without slice[...]"),
        ("slice[a=b].latency.p99 < 1s", "not per slice; use latency.pNN without slice[...]"),
        ("slice[a=b].unparseable_rate < 1%", "unknown metric 'unparseable_rate' (known: accuracy"),
    ],
)
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_threshold(text)
    assert fragment in str(info.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="a threshold is a string"):
        parse_threshold(0.9)  # type: ignore[arg-type]


# --- names checked before the run ---


def parsed(*texts: str) -> list[Threshold]:
    return [parse_threshold(t) for t in texts]


def test_check_names_ok() -> None:
    ts = parsed(
        "latency.p99 < 300ms",
        "ttft.p95 < 200ms",
        "accuracy >= 0.9",
        "class[refund].recall >= 0.8",
        "slice[complexity=complex].accuracy >= 0.7",
    )
    problems = check_threshold_names(
        ts,
        classes={"refund", "billing"},
        slices={"complexity": ["simple", "complex"]},
        timings=("latency", "ttft", "itl"),
        classification=True,
    )
    assert problems == []


def test_check_names_problems() -> None:
    ts = parsed(
        "class[refnd].recall >= 0.8",
        "slice[complexty=complex].accuracy >= 0.7",
        "slice[complexity=medium].accuracy >= 0.7",
        "ttft.p95 < 200ms",
        "itl.p50 < 20ms",
        "latency.p99 < 1s",
    )
    problems = check_threshold_names(
        ts,
        classes=["refund", "billing"],
        slices={"complexity": {"simple", "complex"}},
        timings=["latency"],
    )
    assert problems == [
        "class[refnd].recall: 'refnd' is not a label in the dataset (labels: billing, refund)"
        "; did you mean class[refund]?",
        "slice[complexty=complex].accuracy: 'complexty' is not a slice field (complexity)",
        "slice[complexity=medium].accuracy: slice field 'complexity' has no value 'medium' "
        "(values: complex, simple)",
        "ttft.p95 needs a streaming endpoint "
        "(openai-chat or openai-completions with endpoint.options.stream: true)",
        "itl.p50 needs a streaming endpoint "
        "(openai-chat or openai-completions with endpoint.options.stream: true)",
    ]


def test_check_names_none_means_unchecked() -> None:
    ts = parsed("class[anything].f1 > 0.1", "slice[x=y].accuracy > 0.1", "f1_macro > 0.1")
    assert check_threshold_names(ts, classes=None, slices=None, timings=["latency"]) == []


def test_check_names_classification_metrics_need_label_scoring() -> None:
    ts = parsed(
        "f1_macro >= 0.8", "class[a].recall > 0.5", "slice[c=d].precision_macro > 0.5",
        "accuracy >= 0.5", "slice[c=d].accuracy > 0.5",
    )  # fmt: skip
    problems = check_threshold_names(
        ts, classes=None, slices=None, timings=["latency"], classification=False
    )
    assert problems == [
        "f1_macro needs scoring.kind: label (a classification)",
        "class[a].recall needs scoring.kind: label (a classification)",
        "slice[c=d].precision_macro needs scoring.kind: label (a classification)",
    ]


def test_check_names_with_no_slices_configured() -> None:
    problems = check_threshold_names(
        parsed("slice[a=b].accuracy > 0.5"), classes=None, slices={}, timings=["latency"]
    )
    assert problems == [
        "slice[a=b].accuracy: 'a' is not a slice field (none; list fields in dataset.slices)"
    ]


# --- evaluation ---


def test_evaluate() -> None:
    ts = parsed(
        "latency.p99 < 300ms",  # 0.1092 -> pass
        "accuracy >= 0.90",  # 0.8525 -> fail
        "error_rate < 1%",  # 0.02 -> fail
        "throughput >= 20/s",  # 41.27 -> pass
        "requests == 1250",  # exact -> pass
        "class[refund].recall != 0.75",  # equal -> fail
        "ttft.p95 < 200ms",  # not measured -> fail
        "f1_macro > 0.5",  # NaN -> fail
        "latency.p99.9 <= 142.8ms",  # boundary, inclusive -> pass
    )
    observed = {
        "latency.p99": 0.1092,
        "accuracy": 0.8525,
        "error_rate": 0.02,
        "throughput": 41.27,
        "requests": 1250,
        "class[refund].recall": 0.75,
        "f1_macro": math.nan,
        "latency.p99.9": 0.1428,
    }
    results = evaluate_thresholds(ts, observed.get)
    assert [r.passed for r in results] == [
        True,
        False,
        False,
        True,
        True,
        False,
        False,
        False,
        True,
    ]
    assert results[6].observed is None and results[7].observed is None
    assert results[0].as_dict() == {
        "expression": "latency.p99 < 300ms",
        "metric": "latency.p99",
        "op": "<",
        "target": 0.3,
        "observed": 0.1092,
        "unit": "s",
        "passed": True,
    }
    assert isinstance(results[4].observed, float)


@pytest.mark.parametrize(
    ("op", "observed", "passed"),
    [
        ("<", 0.5, False), ("<", 0.4, True),
        ("<=", 0.5, True), ("<=", 0.6, False),
        (">", 0.5, False), (">", 0.6, True),
        (">=", 0.5, True), (">=", 0.4, False),
        ("==", 0.5, True), ("==", 0.4, False),
        ("!=", 0.5, False), ("!=", 0.4, True),
    ],
)  # fmt: skip
def test_every_operator(op: str, observed: float, passed: bool) -> None:
    (result,) = evaluate_thresholds(parsed(f"accuracy {op} 0.5"), lambda _: observed)
    assert result == ThresholdResult(result.threshold, observed, passed)


def test_evaluate_empty() -> None:
    assert evaluate_thresholds([], lambda _: 1.0) == []


@pytest.mark.parametrize(
    ("text", "metric", "confidence"),
    [
        ("accuracy >= 0.9 at 95% confidence", "accuracy", 0.95),
        ("error_rate < 1% at 99%", "error_rate", 0.99),
        ("class[refund].recall > 80% at 90% confidence", "class[refund].recall", 0.9),
        ("slice[complexity=complex].accuracy >= 0.7 at 95% confidence",
         "slice[complexity=complex].accuracy", 0.95),
        ("latency.p99 < 300ms at 95% confidence", "latency.p99", 0.95),
        ("goodput >= 20/s", "goodput", None),
    ],
)  # fmt: skip
def test_confidence_thresholds_parse(text, metric, confidence):
    t = parse_threshold(text)
    assert (t.metric, t.confidence) == (metric, confidence)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("f1_macro >= 0.9 at 95% confidence", "applies to proportions"),
        ("throughput >= 20/s at 95% confidence", "not to throughput"),
        ("accuracy == 0.9 at 95% confidence", "needs <, <=, > or >="),
        ("accuracy >= 0.9 at 100% confidence", "below 100%"),
        ("accuracy >= 0.9 at lots% confidence", "at least 50%"),
    ],
)
def test_bad_confidence_thresholds_say_why(text, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_threshold(text)


def test_a_confidence_threshold_without_an_interval_fails_rather_than_passes():
    (t,) = [parse_threshold("accuracy >= 0.5 at 95% confidence")]
    (r,) = evaluate_thresholds([t], lambda _: 0.9, lambda _m, _c: None)
    assert (r.passed, r.observed, r.estimate) == (False, None, 0.9)
    (r,) = evaluate_thresholds([t], lambda _: 0.9, lambda _m, _c: (0.6, 0.97))
    assert (r.passed, r.observed) == (True, 0.6)


@pytest.mark.parametrize(
    ("expression", "judges"),
    [
        ("accuracy >= 0.9", True),
        ("f1_macro >= 0.8", True),
        ("class[refund].recall >= 0.7", True),
        ("slice[complexity=complex].accuracy >= 0.7", True),
        ("goodput >= 10/s", True),
        ("accuracy >= 0.9 at 95% confidence", True),
        ("latency.p99 < 300ms", False),
        ("error_rate < 1%", False),
        ("unparseable_rate < 5%", False),
        ("throughput >= 20/s", False),
        ("class[refund].support >= 10", False),
        ("slice[complexity=complex].error_rate < 1%", False),
    ],
)
def test_which_thresholds_judge_the_answers_correctness(expression, judges):
    from stagecheck.judging.thresholds import judges_correctness

    assert judges_correctness(parse_threshold(expression).metric) is judges
