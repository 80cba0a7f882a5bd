"""The conversation figures (:class:`~stagecheck.summary.conversations.ConversationFigures`) as
console lines and Markdown: success, turn share, accuracy and timings by turn position, first
failing turn, derailment, timings by context length, and the conversations with wrong turns."""

from __future__ import annotations

from stagecheck.reporting import fmt
from stagecheck.summary.conversations import ConversationFigures, Proportion

__all__ = ["conversation_console_lines", "conversation_markdown_lines"]

_WORST_SHOWN = 5


def _ci(ci: list[float] | None) -> str:
    if ci is None:
        return ""
    return f" [{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%]"


def _share(p: Proportion) -> str:
    return f"{fmt.percent(p.value)} ({p.events}/{p.n}){_ci(p.ci)}"


def _head(c: ConversationFigures) -> str:
    plays = f"{c.plays} played to the end"
    if c.incomplete_plays:
        plays += f", {c.incomplete_plays} cut by the end of the run"
    return (f"Conversations  {c.conversations} ({c.history} history) · {c.turns} turns · "
            f"{plays}")  # fmt: skip


def _first_failure(c: ConversationFigures) -> str:
    return " · ".join(
        f"{'none' if k == 'none' else 'turn ' + k}: {n}" for k, n in c.first_failure.items()
    )


def _worst(c: ConversationFigures) -> str:
    parts = []
    for w in c.worst[:_WORST_SHOWN]:
        turns = ", ".join(map(str, w.wrong))
        parts.append(f"{w.conversation} turn{'s' if len(w.wrong) > 1 else ''} {turns} "
                     f"(of {w.turns})")  # fmt: skip
    more = len(c.worst) - _WORST_SHOWN
    return " · ".join(parts) + (f" · +{more} more" if more > 0 else "")


def conversation_console_lines(c: ConversationFigures | None) -> list[str]:
    if c is None:
        return []
    lines = [
        _head(c),
        f"  success        {_share(c.success)} every turn right · turn share "
        f"{fmt.percent(c.turn_share)}{_ci(c.turn_share_ci)}",
    ]
    if c.first_failure:
        lines.append(f"  first wrong    {_first_failure(c)}")
    streamed = any(t.ttft_p50_us is not None for t in c.by_turn)
    lines.append(f"  by turn         {'accuracy':<31} {'latency p50/p95 ms':>18}"
                 + ("  TTFT p50/p95 ms" if streamed else ""))  # fmt: skip
    for t in c.by_turn:
        acc = f"{fmt.percent(t.accuracy)} ({t.correct}/{t.scored}){_ci(t.accuracy_ci)}"
        ttft = f"  {fmt.ms(t.ttft_p50_us):>7} / {fmt.ms(t.ttft_p95_us)}" if streamed else ""
        lines.append(f"    turn {t.turn:<8} {acc:<31} {fmt.ms(t.latency_p50_us):>8} / "
                     f"{fmt.ms(t.latency_p95_us):<8}{ttft}".rstrip())  # fmt: skip
    if c.wrong_after_wrong.n or c.wrong_after_right.n:
        lines.append(f"  derailment     wrong after a wrong turn {_share(c.wrong_after_wrong)}")
        lines.append(f"                 wrong after a right turn {_share(c.wrong_after_right)}")
    for b in c.by_context:
        ttft = f" · TTFT p95 {fmt.ms(b.ttft_p95_us)} ms" if streamed else ""
        lines.append(f"  context {b.bucket + ' chars':<14} {b.requests} turns · latency p95 "
                     f"{fmt.ms(b.latency_p95_us)} ms{ttft}")  # fmt: skip
    for n, w in enumerate(c.worst[:_WORST_SHOWN]):  # error analysis: wrong turns by conversation
        head = "  wrong turns    " if n == 0 else " " * 17
        lines.append(f"{head}{w.conversation}: turn {', '.join(map(str, w.wrong))} of {w.turns}")
    if len(c.worst) > _WORST_SHOWN:
        lines.append(f"{' ' * 17}… and {len(c.worst) - _WORST_SHOWN} more conversations")
    return lines


def conversation_markdown_lines(c: ConversationFigures | None) -> list[str]:
    if c is None:
        return []
    lines = [
        "### Conversations",
        "",
        f"{c.conversations} conversations ({c.history} history), {c.turns} turns, {c.plays} "
        f"played to the end. Every turn right: **{_share(c.success)}**; turns right per "
        f"conversation: **{fmt.percent(c.turn_share)}**{_ci(c.turn_share_ci)} (95 % intervals, "
        "the conversation as the unit).",
        "",
        "| turn | accuracy | 95 % interval | latency p50 ms | latency p95 ms | TTFT p50 ms "
        "| TTFT p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in c.by_turn:
        ci = _ci(t.accuracy_ci).strip(" []") or fmt.MISSING
        lines.append(f"| {t.turn} | {fmt.percent(t.accuracy)} ({t.correct}/{t.scored}) | {ci} "
                     f"| {fmt.ms(t.latency_p50_us)} | {fmt.ms(t.latency_p95_us)} "
                     f"| {fmt.ms(t.ttft_p50_us)} | {fmt.ms(t.ttft_p95_us)} |")  # fmt: skip
    lines.append("")
    if c.first_failure:
        lines.append(f"First wrong turn: {_first_failure(c)}.")
    if c.wrong_after_wrong.n or c.wrong_after_right.n:
        lines.append(f"Derailment: wrong after a wrong turn {_share(c.wrong_after_wrong)}, "
                     f"after a right one {_share(c.wrong_after_right)}.")  # fmt: skip
    if c.by_context:
        lines.append("By context length: " + "; ".join(
            f"{b.bucket} chars {b.requests} turns, TTFT p95 {fmt.ms(b.ttft_p95_us)} ms, latency "
            f"p95 {fmt.ms(b.latency_p95_us)} ms" for b in c.by_context) + ".")  # fmt: skip
    if c.worst:
        lines.append(f"Wrong turns by conversation: {_worst(c)}.")
    return lines
