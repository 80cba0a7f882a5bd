"""Conversation figures: accuracy by turn position, conversation success, first failing turn,
derailment, latency and TTFT by turn and by context length; built from a run folder
(``rows.jsonl`` says which conversation and turn each row is, ``results.jsonl`` holds every
request), so a summary rebuilt or re-judged later gets the same figures.

The unit of evidence is the conversation (DESIGN.md): the turns of one conversation are not
independent (the same customer, the same history), so every interval is clustered by
conversation — Wilson's interval at Kish's effective sample size (:func:`stats.design_effect`
over the conversations' counts), or for a mean share the cluster-robust (sandwich) normal
interval.

A *play* is one conversation played once. When a conversation is played more than once (a
timed run, or ``passes`` > 1), its k-th play is made of the k-th answer of each of its turns in
time order. A play is *complete* when each of its turns has an outcome (a run that ended between
two turns leaves it incomplete: it counts for the figures by turn, not for success).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from stagecheck.judging.catalogue import CONTEXT_BUCKETS
from stagecheck.stats import design_effect, wilson, z_value
from stagecheck.summary.figures import Interval, _Strict

__all__ = ["ConversationFigures", "TurnFigures", "ContextFigures", "conversation_figures",
           "conversation_lookup", "conversation_interval", "percentile_of"]  # fmt: skip

_SCORED = ("correct", "incorrect", "unparseable")
_MAX_WORST = 20  # conversations listed in the error analysis


class TurnFigures(_Strict):
    turn: int  # 1-based position
    conversations: int  # distinct conversations with an answer at this turn
    requests: int  # finished requests (every outcome but unfinished)
    scored: int
    correct: int
    accuracy: float | None
    accuracy_ci: Interval
    design_effect: float
    latency_p50_us: int | None
    latency_p95_us: int | None
    ttft_p50_us: int | None
    ttft_p95_us: int | None


class ContextFigures(_Strict):
    bucket: str  # "<500", "500-1k", … (characters of the messages sent)
    low_chars: int
    high_chars: int | None
    requests: int
    latency_p50_us: int | None
    latency_p95_us: int | None
    ttft_p50_us: int | None
    ttft_p95_us: int | None


class Proportion(_Strict):
    events: int
    n: int
    value: float | None
    ci: Interval
    design_effect: float


class WrongTurns(_Strict):
    conversation: str
    plays: int
    turns: int
    wrong: list[int]  # turn positions with a wrong answer (or no answer), in any play


class ConversationFigures(_Strict):
    history: str  # reference | live
    conversations: int  # in the dataset
    turns: int  # turn rows in the dataset
    turns_per_conversation: dict[str, int]  # "2" → conversations with 2 turns
    plays: int  # complete plays
    incomplete_plays: int  # plays cut by the end of the run
    success: Proportion  # complete plays with every turn right
    turn_share: float | None  # mean share of a play's turns right
    turn_share_ci: Interval
    first_failure: dict[str, int]  # "1", "2", … → complete plays whose first wrong turn it is
    by_turn: list[TurnFigures]
    wrong_after_wrong: Proportion  # derailment: P(wrong | previous wrong)
    wrong_after_right: Proportion  # P(wrong | previous right)
    by_context: list[ContextFigures]
    worst: list[WrongTurns]  # error analysis: wrong turns grouped by conversation


def percentile_of(values: Sequence[int], p: float) -> int | None:
    """The nearest-rank percentile: the smallest value with at least p % of the values at or
    below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return int(ordered[rank - 1])


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open("rb") as f:
        for raw in f:
            try:
                d = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # a cut last line
            if isinstance(d, dict):
                yield d


def _proportion(per_conversation: dict[str, list[float]]) -> Proportion:
    """events/n over conversations, its interval clustered by conversation."""
    k = [v[0] for v in per_conversation.values()]
    n = [v[1] for v in per_conversation.values()]
    events, total = sum(k), int(sum(n))
    if not total:
        return Proportion(events=0, n=0, value=None, ci=None, design_effect=1.0)
    deff = design_effect(k, n)
    ci = wilson(events, total, deff=deff)
    return Proportion(events=int(events), n=total, value=events / total,
                      ci=None if ci is None else [ci[0], ci[1]], design_effect=deff)  # fmt: skip


def _mean_share_ci(shares: dict[str, list[float]], confidence: float = 0.95) -> Interval:
    """Cluster-robust interval of the mean share over plays: Σ(s_i − m·n_i)² / (Σn)² with s_i
    a conversation's sum of shares over its n_i plays, clamped to [0, 1]."""
    s = np.array([v[0] for v in shares.values()], dtype=np.float64)
    n = np.array([v[1] for v in shares.values()], dtype=np.float64)
    return _share_ci(s, n, confidence)


def _share_ci(s: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> Interval:
    """:func:`_mean_share_ci` of the conversations' sums of shares ``s`` over ``n`` plays."""
    total = float(n.sum())
    if total <= 0 or len(s) < 2:
        return None
    m = float(s.sum()) / total
    half = z_value(confidence) * math.sqrt(float(np.square(s - m * n).sum())) / total
    return [max(0.0, m - half), min(1.0, m + half)]


def _bucket_of(chars: int) -> int:
    for i, (_, low, high) in enumerate(CONTEXT_BUCKETS):
        if chars >= low and (high is None or chars < high):
            return i
    return len(CONTEXT_BUCKETS) - 1


def conversation_figures(run_dir: Path, history: str = "reference") -> dict[str, Any] | None:
    """The conversation figures of a run folder (a plain dict of :class:`ConversationFigures`),
    or None when its rows are not conversation turns."""
    turn_of: dict[int, tuple[str, int, int]] = {}  # row → (conversation, turn, context chars)
    for d in _lines(run_dir / "rows.jsonl"):
        if "conversation" in d and "turn" in d:
            turn_of[int(d["row"])] = (str(d["conversation"]), int(d["turn"]),
                                      int(d.get("context_chars") or 0))  # fmt: skip
    if not turn_of:
        return None
    length: dict[str, int] = defaultdict(int)
    for conv, _, _ in turn_of.values():
        length[conv] += 1
    # every finished answer, by conversation and turn, in time order
    answers: dict[tuple[str, int], list[tuple[float, bool]]] = defaultdict(list)
    turn_values: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    bucket_values: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    turn_counts: dict[int, dict[str, list[float]]] = defaultdict(dict)  # turn → conv → [k, n]
    for d in _lines(run_dir / "results.jsonl"):
        found = turn_of.get(int(d.get("row", -1)))
        outcome = d.get("outcome")
        if found is None or outcome == "unfinished" or outcome is None:
            continue
        conv, turn, chars = found
        right = outcome == "correct"
        answers[(conv, turn)].append((float(d.get("t") or 0.0), right))
        for store in (turn_values[turn], bucket_values[_bucket_of(chars)]):
            store["requests"].append(1)
            if "latency_us" in d:
                store["latency"].append(int(d["latency_us"]))
            if "ttft_us" in d:
                store["ttft"].append(int(d["ttft_us"]))
        if outcome in _SCORED:
            counts = turn_counts[turn].setdefault(conv, [0.0, 0.0])
            counts[0] += right
            counts[1] += 1
    plays, shares, success = _plays(length, answers)
    return _figures(history, length, turn_of, answers, plays, shares, success, turn_values,
                    bucket_values, turn_counts)  # fmt: skip


def _plays(
    length: dict[str, int], answers: dict[tuple[str, int], list[tuple[float, bool]]]
) -> tuple[dict[str, list[list[bool]]], dict[str, list[float]], dict[str, list[float]]]:
    """Each conversation's plays (a list of right/wrong by turn; cut ones shorter), and per
    conversation [shares summed, complete plays] and [successes, complete plays]."""
    plays: dict[str, list[list[bool]]] = {}
    shares: dict[str, list[float]] = {}
    success: dict[str, list[float]] = {}
    for conv, turns in length.items():
        by_turn = [sorted(answers.get((conv, k), [])) for k in range(1, turns + 1)]
        count = max((len(a) for a in by_turn), default=0)
        mine = [[a[j][1] for a in by_turn if j < len(a)] for j in range(count)]
        plays[conv] = mine
        complete = [p for p in mine if len(p) == turns]
        if complete:
            shares[conv] = [sum(sum(p) / turns for p in complete), float(len(complete))]
            success[conv] = [float(sum(all(p) for p in complete)), float(len(complete))]
    return plays, shares, success


def _by_turn(turn_values: dict[int, dict[str, list[int]]],
             turn_counts: dict[int, dict[str, list[float]]],
             answers: dict[tuple[str, int], list[tuple[float, bool]]]
             ) -> list[TurnFigures]:  # fmt: skip
    """Each turn position's accuracy (the conversation as the unit), latency and TTFT."""
    by_turn = []
    for turn in sorted(turn_values):
        acc = _proportion(turn_counts.get(turn, {}))
        v = turn_values[turn]
        by_turn.append(TurnFigures(
            turn=turn, conversations=len({c for (c, k) in answers if k == turn}),
            requests=len(v["requests"]), scored=acc.n, correct=acc.events, accuracy=acc.value,
            accuracy_ci=acc.ci, design_effect=acc.design_effect,
            latency_p50_us=percentile_of(v["latency"], 50),
            latency_p95_us=percentile_of(v["latency"], 95),
            ttft_p50_us=percentile_of(v["ttft"], 50), ttft_p95_us=percentile_of(v["ttft"], 95),
        ))  # fmt: skip
    return by_turn


def _by_context(bucket_values: dict[int, dict[str, list[int]]]) -> list[ContextFigures]:
    """Latency and TTFT of the turns in each context-length bucket."""
    by_context = []
    for i in sorted(bucket_values):
        label, low, high = CONTEXT_BUCKETS[i]
        v = bucket_values[i]
        by_context.append(ContextFigures(
            bucket=label, low_chars=low, high_chars=high, requests=len(v["requests"]),
            latency_p50_us=percentile_of(v["latency"], 50),
            latency_p95_us=percentile_of(v["latency"], 95),
            ttft_p50_us=percentile_of(v["ttft"], 50), ttft_p95_us=percentile_of(v["ttft"], 95),
        ))  # fmt: skip
    return by_context


def _worst(plays: dict[str, list[list[bool]]], length: dict[str, int]) -> list[WrongTurns]:
    """The conversations with wrong turns, the most wrong first."""
    worst = []
    for conv, ps in plays.items():
        wrong = sorted({i + 1 for play in ps for i, right in enumerate(play) if not right})
        if wrong:
            worst.append(WrongTurns(conversation=conv, plays=len(ps), turns=length[conv],
                                    wrong=wrong))  # fmt: skip
    worst.sort(key=lambda w: (-len(w.wrong), w.wrong[0], w.conversation))
    return worst


def _figures(history: str, length: dict[str, int], turn_of: dict[int, tuple[str, int, int]],
             answers: dict[tuple[str, int], list[tuple[float, bool]]],
             plays: dict[str, list[list[bool]]], shares: dict[str, list[float]],
             success: dict[str, list[float]], turn_values: dict[int, dict[str, list[int]]],
             bucket_values: dict[int, dict[str, list[int]]],
             turn_counts: dict[int, dict[str, list[float]]]) -> dict[str, Any]:  # fmt: skip
    complete = [(conv, p) for conv, ps in plays.items() for p in ps if len(p) == length[conv]]
    first: dict[str, int] = defaultdict(int)
    after: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}  # previous right? → …
    for _, play in complete:
        wrong_at = next((i + 1 for i, right in enumerate(play) if not right), None)
        first["none" if wrong_at is None else str(wrong_at)] += 1
    for conv, ps in plays.items():
        for play in ps:
            for prev, cur in zip(play, play[1:], strict=False):
                pair = after[prev].setdefault(conv, [0.0, 0.0])
                pair[0] += not cur
                pair[1] += 1
    by_turn = _by_turn(turn_values, turn_counts, answers)
    by_context = _by_context(bucket_values)
    worst = _worst(plays, length)
    per_length: dict[str, int] = defaultdict(int)
    for n in length.values():
        per_length[str(n)] += 1
    mean_share = (sum(s for s, _ in shares.values()) / sum(n for _, n in shares.values())
                  if shares else None)  # fmt: skip
    figures = ConversationFigures(
        history=history,
        conversations=len(length),
        turns=len(turn_of),
        turns_per_conversation=dict(sorted(per_length.items(), key=lambda kv: int(kv[0]))),
        plays=len(complete),
        incomplete_plays=sum(len(ps) for ps in plays.values()) - len(complete),
        success=_proportion(success),
        turn_share=mean_share,
        turn_share_ci=_mean_share_ci(shares),
        first_failure=dict(sorted(first.items(), key=lambda kv: (kv[0] == "none", kv[0]))),
        by_turn=by_turn,
        wrong_after_wrong=_proportion(after[False]),
        wrong_after_right=_proportion(after[True]),
        by_context=by_context,
        worst=worst[:_MAX_WORST],
    )
    return figures.model_dump(mode="json")


# -- threshold lookups ------------------------------------------------------------------------
def _turn(conv: dict[str, Any], metric: str) -> tuple[dict[str, Any] | None, str]:
    pos, _, rest = metric[len("turn[") :].partition("].")
    found = next((t for t in conv.get("by_turn") or [] if str(t["turn"]) == pos), None)
    return found, rest


def _context(conv: dict[str, Any], metric: str) -> tuple[dict[str, Any] | None, str]:
    bucket, _, rest = metric[len("context[") :].partition("].")
    buckets = [b for b in conv.get("by_context") or [] if b["requests"]]
    if bucket == "last":
        return (buckets[-1] if buckets else None), rest
    return next((b for b in buckets if b["bucket"] == bucket), None), rest


def _timed(group: dict[str, Any] | None, rest: str) -> float | None:
    """``latency.p95`` / ``ttft.p50`` of a turn or a context bucket, in seconds (p50 and p95
    are kept)."""
    if group is None:
        return None
    timing, _, stat = rest.partition(".")
    value = group.get(f"{timing}_{stat}_us")
    return None if value is None else float(value) / 1e6


def conversation_lookup(summary: Mapping[str, Any], metric: str) -> tuple[bool, float | None]:
    """(whether ``metric`` is a conversation figure, its value in base units)."""
    if not metric.startswith(("conversation.", "turn[", "context[")):
        return False, None
    conv = summary.get("conversations")
    if not conv:
        return True, None
    if metric.startswith("conversation."):
        name = metric.split(".", 1)[1]
        if name == "turn_share":
            value = conv.get("turn_share")
        else:
            value = (conv.get(name) or {}).get("value")
        return True, None if value is None else float(value)
    if metric.startswith("turn["):
        found, rest = _turn(conv, metric)
        if rest == "accuracy":
            value = None if found is None else found.get("accuracy")
            return True, None if value is None else float(value)
        return True, _timed(found, rest)
    found, rest = _context(conv, metric)
    return True, _timed(found, rest)


def conversation_interval(
    summary: Mapping[str, Any], metric: str, confidence: float
) -> tuple[bool, tuple[float, float] | None]:
    """(whether ``metric`` is a conversation proportion, its interval clustered by
    conversation)."""
    if not metric.startswith(("conversation.", "turn[")):
        return False, None
    conv = summary.get("conversations") or {}
    if metric.startswith("conversation."):
        p = conv.get(metric.split(".", 1)[1])
        if not isinstance(p, dict) or not p.get("n"):
            return True, None
        return True, wilson(p["events"], p["n"], confidence, deff=p["design_effect"])
    found, rest = _turn(conv, metric)
    if found is None or rest != "accuracy" or not found["scored"]:
        return True, None
    return True, wilson(found["correct"], found["scored"], confidence,
                        deff=found["design_effect"])  # fmt: skip
