"""The report's "Conversations" section: success, accuracy and timings by turn position, first
failing turn, derailment, timings by context length, wrong turns by conversation."""

from __future__ import annotations

from stagecheck.reporting import fmt
from stagecheck.reporting.html.parts import e, meter, section, table
from stagecheck.summary.conversations import ConversationFigures, Proportion

__all__ = ["conversations_section"]


def _ci(ci: list[float] | None) -> str:
    return fmt.MISSING if ci is None else f"{ci[0] * 100:.1f}–{ci[1] * 100:.1f}%"


def _share(p: Proportion) -> str:
    return f"{fmt.percent(p.value)} ({p.events}/{p.n}), 95 % interval {_ci(p.ci)}"


def conversations_section(c: ConversationFigures | None) -> str:
    if c is None:
        return ""
    facts = [
        f"<p>{c.conversations} conversations ({e(c.history)} history), {c.turns} turns, "
        f"{c.plays} played to the end"
        + (f", {c.incomplete_plays} cut by the end of the run" if c.incomplete_plays else "")
        + ".</p>",
        f"<p>Every turn right: <b>{e(_share(c.success))}</b>. Turns right per conversation: "
        f"<b>{e(fmt.percent(c.turn_share))}</b> (95 % interval {e(_ci(c.turn_share_ci))}).</p>",
    ]
    if c.first_failure:
        facts.append("<p>First wrong turn: " + e(" · ".join(
            f"{'none' if k == 'none' else 'turn ' + k}: {n}"
            for k, n in c.first_failure.items())) + ".</p>")  # fmt: skip
    if c.wrong_after_wrong.n or c.wrong_after_right.n:
        facts.append(f"<p>Derailment: wrong after a wrong turn {e(_share(c.wrong_after_wrong))}; "
                     f"after a right turn {e(_share(c.wrong_after_right))}.</p>")  # fmt: skip
    turns = table(
        ["Turn", "Answers", "Accuracy", "95 % interval", "Latency p50 ms", "Latency p95 ms",
         "TTFT p50 ms", "TTFT p95 ms"],
        [[str(t.turn), f"{t.requests:,}",
          meter(t.accuracy, f"{fmt.percent(t.accuracy)} ({t.correct}/{t.scored})"),
          e(_ci(t.accuracy_ci)), e(fmt.ms(t.latency_p50_us)), e(fmt.ms(t.latency_p95_us)),
          e(fmt.ms(t.ttft_p50_us)), e(fmt.ms(t.ttft_p95_us))] for t in c.by_turn],
        tuple(range(1, 8)),
    )  # fmt: skip
    context = table(
        ["Context (characters)", "Turns", "Latency p50 ms", "Latency p95 ms", "TTFT p50 ms",
         "TTFT p95 ms"],
        [[e(b.bucket), f"{b.requests:,}", e(fmt.ms(b.latency_p50_us)),
          e(fmt.ms(b.latency_p95_us)), e(fmt.ms(b.ttft_p50_us)), e(fmt.ms(b.ttft_p95_us))]
         for b in c.by_context],
        tuple(range(1, 6)),
    )  # fmt: skip
    worst = ""
    if c.worst:
        worst = "<h3>Wrong turns by conversation</h3>" + table(
            ["Conversation", "Plays", "Turns", "Wrong turns"],
            [[e(w.conversation), str(w.plays), str(w.turns), e(", ".join(map(str, w.wrong)))]
             for w in c.worst],
            (1, 2),
        )  # fmt: skip
    body = "\n".join([*facts, "<h3>By turn position</h3>", turns,
                      "<h3>By context length</h3>", context, worst])  # fmt: skip
    return section("conversations", "Conversations", body,
                   "intervals treat the conversation as the unit")  # fmt: skip
