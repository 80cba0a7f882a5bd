"""The tables of stagecheck's tabs in Locust's web UI (pure: a live view in, table rows out).

Locust's React UI renders an extended tab as one table whose rows come from an
``extended_stats`` entry of the ``/stats/requests`` JSON it polls every couple of seconds
(:mod:`stagecheck.locust.webui` adds them). The UI renders every cell as text, so dataset rows
holding HTML show as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stagecheck.judging.catalogue import PERCENTILES
from stagecheck.judging.thresholds import judges_correctness
from stagecheck.summary.schema import ungated_text

if TYPE_CHECKING:
    from stagecheck.run import LiveView

__all__ = ["TABS", "breakdown_rows", "extended_stats", "latency_rows", "verdict_rows"]

SAMPLES_SHOWN = 50  # the summary keeps a bounded sample already
SLICES_SHOWN = 15
_PERCENTILES = tuple(p.value for p in PERCENTILES)
# column keys: the UI camel-cases keys, so p99.9's is spelled without its dot
_LAT_COLS = tuple(p.label.replace("99.9", "nines") for p in PERCENTILES)

# key → (tab title, columns). Keys are lower-case words: the UI camel-cases table keys. No
# column is keyed "name": Locust's table sorts its rows by that key unless a header is clicked,
# which would undo our worst-first order. Three tabs with short titles, so that they fit in the
# tab bar beside Locust's own in a 1280-pixel window (~100 px a tab): the wrong answers are
# rows of the Quality tab.
TABS: dict[str, tuple[str, Sequence[tuple[str, str]]]] = {
    "stagecheck": (
        "Verdict",
        (("item", "Item"), ("value", "Value"), ("status", "Status"), ("detail", "Detail")),
    ),
    "stagecheck_quality": (
        "Quality",
        (
            ("kind", "Kind"),
            ("group", "Name"),
            ("requests", "Requests"),
            ("accuracy", "Accuracy"),
            ("errors", "Error rate"),
            ("fone", "F1"),
            ("expected", "Expected"),
            ("got", "Got"),
            ("detail", "Detail"),
        ),
    ),
    "stagecheck_latency": (
        "Latency",
        (
            ("timing", "Timing"),
            ("source", "Source"),
            ("window", "Window"),
            ("count", "Count"),
            *((p.label.replace("99.9", "nines"), p.label) for p in PERCENTILES),
            ("max", "max"),
        ),
    ),
}


# -- rows (pure: a live view in, table rows out) ----------------------------------------------
def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f} %"


def _num(x: Any) -> str:
    return "–" if x is None else f"{float(x):.4f}"


def _ms(us: Any) -> str:
    return "–" if us is None else f"{float(us) / 1000:.3f} ms"


def _observed(t: Mapping[str, Any]) -> str:
    obs, unit = t.get("observed"), t.get("unit") or ""
    if obs is None:
        return "–"
    if unit == "s":
        return f"{1000 * float(obs):.3f} ms"
    if unit == "%":
        return _pct(obs)
    return f"{float(obs):.4g}{unit}"


def verdict_rows(
    view: LiveView, report_url: str | None, report_note: str = "also under Download Data"
) -> list[dict[str, Any]]:
    s = view.summary
    req = s.get("requests", {})
    q = s.get("quality") or {}
    validity = s.get("validity") or {}
    rows: list[dict[str, Any]] = [
        {"item": "verdict", "value": str(s.get("verdict", "")).upper(),
         "status": "finished" if view.finished else "running",
         "detail": f"{view.scenario} · run {view.run_id} · {view.elapsed_s:.0f} s · "
                   f"{view.users} users"},
        {"item": "run valid", "value": "yes" if validity.get("valid", True) else "no",
         "status": "ok" if validity.get("valid", True) else "INVALID",
         "detail": "; ".join(validity.get("reasons") or [])},
    ]  # fmt: skip
    thresholds = s.get("thresholds") or []
    if validity.get("valid", True) and not any(
        judges_correctness(str(t.get("metric", ""))) for t in thresholds
    ):
        rows.append({"item": "correctness gate", "value": "none", "status": "WARNING",
                     "detail": ungated_text(q.get("accuracy"))})  # fmt: skip
    for t in thresholds:
        passed = t.get("passed")
        rows.append({"item": f"threshold {t.get('expression')}", "value": _observed(t),
                     "status": "–" if passed is None else ("PASS" if passed else "FAIL"),
                     "detail": ""})  # fmt: skip
    rows.append({"item": "requests", "value": str(req.get("total", 0)), "status": "",
                 "detail": f"error rate {_pct(req.get('error_rate'))}, achieved "
                           f"{view.achieved_rate:.1f}/s"})  # fmt: skip
    for key, title in (("accuracy", "accuracy"), ("f1_macro", "F1 macro"),
                       ("f1_weighted", "F1 weighted")):  # fmt: skip
        if key in q:
            rows.append({"item": title, "value": _num(q.get(key)), "status": "", "detail": ""})
    rows.extend(production_rows(s))
    for outcome, n in (req.get("by_outcome") or {}).items():
        rows.append({"item": f"outcome {outcome}", "value": str(n), "status": "", "detail": ""})
    for cause, n in (req.get("by_cause") or {}).items():
        rows.append({"item": f"failure cause {cause}", "value": str(n), "status": "",
                     "detail": ""})  # fmt: skip
    if report_url is not None:
        rows.append({"item": "report", "value": report_url,
                     "status": "ready" if view.finished else "when the run ends",
                     "detail": report_note})  # fmt: skip
    return rows


def class_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    classes = sorted(summary.get("classes") or [],
                     key=lambda c: (c.get("f1") is None, c.get("f1") or 0.0))  # fmt: skip
    return [{"kind": "class (worst F1 first)", "group": str(c.get("label")),
             "requests": c.get("support"), "accuracy": "–", "errors": "–",
             "fone": _num(c.get("f1")),
             "detail": f"precision {_num(c.get('precision'))} · recall {_num(c.get('recall'))}"}
            for c in classes]  # fmt: skip


def _worst_first(group: Mapping[str, Any]) -> tuple[float, float]:
    """Lowest accuracy first (a group with no scored answer, all failed, first of all), then
    the highest error rate."""
    accuracy = (group.get("quality") or {}).get("accuracy")
    return (-1.0 if accuracy is None else float(accuracy), -float(group.get("error_rate") or 0))


def latency_rows(view: LiveView, locust_entry: Any = None) -> list[dict[str, Any]]:
    """HDR percentiles (µs resolution) of each timing, whole run and last interval; beside
    e2e, Locust's own figures for the same request name (bucketed: 1 ms steps, then 2
    significant digits)."""
    rows: list[dict[str, Any]] = []
    for timing, lat in (view.summary.get("latency") or {}).items():
        keys = [p.key for p in PERCENTILES]
        row = {"timing": timing, "source": "stagecheck HDR", "window": "whole run",
               "count": lat.get("count", 0), "max": _ms(lat.get("max_us"))}  # fmt: skip
        row.update({col: _ms(lat.get(k)) for col, k in zip(_LAT_COLS, keys, strict=True)})
        rows.append(row)
        recent = view.interval.get(timing)
        if recent is not None:
            row = {"timing": timing, "source": "stagecheck HDR", "window": "last 10 s",
                   "count": recent.count, "max": _ms(recent.max_us)}  # fmt: skip
            row.update({col: _ms(recent.percentiles_us.get(p))
                        for col, p in zip(_LAT_COLS, _PERCENTILES, strict=True)})  # fmt: skip
            rows.append(row)
        if timing == "e2e" and locust_entry is not None:
            rows.extend(_locust_rows(locust_entry))
    return rows


def _locust_rows(entry: Any) -> list[dict[str, Any]]:
    def ms(v: Any) -> str:
        return "–" if v is None else f"{float(v):.0f} ms"

    whole = {"timing": "e2e", "source": "Locust (rounded)", "window": "whole run",
             "count": entry.num_requests, "max": ms(entry.max_response_time)}  # fmt: skip
    recent = {"timing": "e2e", "source": "Locust (rounded)", "window": "last 10 s",
              "count": "", "max": ""}  # fmt: skip
    for col, p in zip(_LAT_COLS, _PERCENTILES, strict=True):
        whole[col] = ms(entry.get_response_time_percentile(p / 100)) if entry.num_requests else "–"
        recent[col] = ms(entry.get_current_response_time_percentile(p / 100))
    return [whole, recent]


def breakdown_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Classes (worst F1 first), the stages in order, then the slices (worst first)."""
    rows = class_rows(summary)
    stages = summary.get("stages") or []
    if len(stages) > 1 or (stages and stages[0].get("name") != "steady"):
        for st in stages:
            quality = st.get("quality") or {}
            rows.append({"kind": "stage", "group": f"{st.get('index', 0) + 1}. {st.get('name')}",
                         "requests": st.get("requests", 0),
                         "accuracy": _num(quality.get("accuracy")),
                         "errors": _pct(st.get("error_rate")),
                         "fone": _num(quality.get("f1_macro")),
                         "detail": f"{st.get('users')} users, "
                                   f"{float(st.get('throughput_per_s') or 0):.1f}/s"})  # fmt: skip
    slices = sorted(summary.get("slices") or [], key=_worst_first)
    for sl in slices[:SLICES_SHOWN]:
        quality = sl.get("quality") or {}
        rows.append({"kind": "slice (worst first)", "group": f"{sl.get('field')}={sl.get('value')}",
                     "requests": sl.get("requests", 0), "accuracy": _num(quality.get("accuracy")),
                     "errors": _pct(sl.get("error_rate")), "fone": _num(quality.get("f1_macro")),
                     "detail": ""})  # fmt: skip
    return rows + variant_rows(summary) + tool_call_rows(summary) + conversation_rows(summary)


def _interval(ci: Any, fmt: Any = _num) -> str:
    return f" [{fmt(ci[0])}–{fmt(ci[1])}]" if ci else ""


def production_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``--against PROD`` (once the run ends): accuracy and macro-F1 re-weighted to
    production's mix, beside the run's own, as rows of the Verdict tab."""
    production = summary.get("production") or {}
    figures = production.get("figures")
    if not figures:
        return []
    weights = (f"weights: {production['rows']:,} production rows by "
               f"{' × '.join(production['slice_fields']) or 'no slice field'}")  # fmt: skip
    recalls = sorted((c for c in figures["classes"] if c["recall"] is not None),
                     key=lambda c: c["recall"])  # fmt: skip
    lowest = ", ".join(f"{c['label']} {_num(c['recall'])}" for c in recalls[:3])
    return [
        {"item": "accuracy (production-weighted)", "value": _num(figures["accuracy"]),
         "status": "", "detail": f"95 %{_interval(figures['accuracy_ci'])} · run's own "
                                 f"{_num(figures['unweighted_accuracy'])} · {weights}"},
        {"item": "F1 macro (production-weighted)", "value": _num(figures["f1_macro"]),
         "status": "", "detail": f"95 %{_interval(figures['f1_macro_ci'])}"
                                 + (f" · lowest recall: {lowest}" if lowest else "")},
    ]  # fmt: skip


def variant_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``dataset.variants`` (once the run ends): per variant its accuracy and flip rate, in
    the scenario's order (original, the rows as written, first)."""
    section = summary.get("variants")
    if not section:
        return []
    rows = []
    for v in section["variants"]:
        if v.get("flip_rate") is None:
            detail = "the rows as written" if v["name"] == "original" else "no pair answered"
        else:
            detail = (f"flip rate {_pct(v['flip_rate'])}{_interval(v['flip_rate_ci'], _pct)} · "
                      f"right→wrong {v['right_to_wrong']} of {v['pairs']} rows")  # fmt: skip
        rows.append({"kind": "variant", "group": v["name"], "requests": v["scored"],
                     "accuracy": _num(v["accuracy"]), "detail": detail})  # fmt: skip
    return rows


def tool_call_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Answers scored on their tool call: the accuracy, and the wrong calls' reasons."""
    calls = summary.get("tool_calls")
    if not calls:
        return []
    reasons = sorted(calls["reasons"].items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{reason} ×{n}" for reason, n in reasons[:4])
    return [{"kind": "tool calls", "group": f"{calls['rows']} rows", "requests": calls["scored"],
             "accuracy": _num(calls["accuracy"]),
             "detail": f"wrong: {shown}" if shown else "every call right"}]  # fmt: skip


def conversation_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A conversation run's figures (success and accuracy by turn live, timings once the run
    ends): success, then each turn position."""
    conv = summary.get("conversations")
    if not conv:
        return []
    success = conv["success"]
    rows = [{"kind": "conversations", "group": f"{conv['conversations']} ({conv['history']})",
             "requests": conv["turns"], "accuracy": _num(success["value"]),
             "detail": f"every turn right in {success['events']} of {success['n']}; turns "
                       f"right per conversation {_num(conv.get('turn_share'))}"}]  # fmt: skip
    for t in conv.get("by_turn") or []:
        rows.append({"kind": "turn", "group": f"turn {t['turn']}", "requests": t["requests"],
                     "accuracy": _num(t["accuracy"]),
                     "detail": f"latency p95 {_ms(t['latency_p95_us'])}, TTFT p95 "
                               f"{_ms(t['ttft_p95_us'])}"})  # fmt: skip
    return rows


def sample_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The latest wrong answers, as rows of the Quality tab: the input as the name, the error
    (for a failure) as the detail."""
    samples = list(summary.get("samples") or [])[-SAMPLES_SHOWN:]
    return [{"kind": f"answer {s.get('outcome', '')}", "group": _text(s.get("input")),
             "requests": "", "accuracy": "", "errors": "", "fone": "",
             "expected": _text(s.get("expected")), "got": _text(s.get("got")),
             "detail": _text(s.get("error"))} for s in reversed(samples)]  # fmt: skip


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def extended_stats(
    view: LiveView | None,
    report_url: str | None = None,
    locust_entry: Any = None,
    report_note: str = "also under Download Data",
) -> list[dict[str, Any]]:
    """The ``extended_stats`` entry of ``/stats/requests``: one table per tab."""
    if view is None:
        empty: dict[str, list[dict[str, Any]]] = {key: [] for key in TABS}
        empty["stagecheck"] = [{"item": "verdict", "value": "not started", "status": "",
                                "detail": "start a run from the form"}]  # fmt: skip
        return [{"key": key, "data": data} for key, data in empty.items()]
    s = view.summary
    tables = {
        "stagecheck": verdict_rows(view, report_url, report_note),
        "stagecheck_quality": breakdown_rows(s) + sample_rows(s),
        "stagecheck_latency": latency_rows(view, locust_entry),
    }
    # every row has every column of its tab (a class row has no expected answer): blank cells
    return [
        {"key": key, "data": [{k: row.get(k, "") for k, _ in TABS[key][1]} for row in data]}
        for key, data in tables.items()
    ]

