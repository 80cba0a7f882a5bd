"""report.html's "Robustness" section (``dataset.variants:``): figures per variant, flips by
class and slice, and the worst flips side by side."""

from __future__ import annotations

from stagecheck.reporting import fmt
from stagecheck.reporting.html.parts import e, meter, section, table
from stagecheck.summary.variant_schema import Variants

__all__ = ["variants_section"]

_INPUT_CHARS = 240
_MAX_GROUPS = 15  # class or slice groups shown (summary.json keeps every one)


def _ci(ci: list[float] | None) -> str:
    return f" [{ci[0] * 100:.1f}–{ci[1] * 100:.1f}]" if ci else ""


def variants_section(variants: Variants | None) -> str:
    if variants is None or not variants.variants:
        return ""
    rows = []
    for v in variants.variants:
        rows.append([
            e(v.name), f"{v.rows:,}",
            meter(v.accuracy, fmt.percent(v.accuracy, 1) + _ci(v.accuracy_ci)),
            e("—" if v.flip_rate is None else fmt.percent(v.flip_rate, 1) + _ci(v.flip_rate_ci)),
            e("" if v.right_to_wrong is None else f"{v.right_to_wrong:,}"),
            e("" if v.wrong_to_right is None else f"{v.wrong_to_right:,}"),
        ])  # fmt: skip
    body = table(["Variant", "Rows", "Accuracy", "Flip rate", "Right → wrong", "Wrong → right"],
                 rows, (1, 2, 3, 4, 5))  # fmt: skip
    groups = []
    for v in variants.variants:
        for g in [*v.by_class, *v.by_slice]:
            if g.flips and g.flip_rate is not None:
                where = f"{g.field}={g.value}" if g.field else f"class {g.value}"
                groups.append((g.flip_rate, g.flips, v.name, where, g))
    groups.sort(key=lambda x: (-x[0], -x[1], x[2], x[3]))
    if groups:
        rows = [[e(name), e(where), f"{g.pairs:,}", f"{g.flips:,}",
                 e(fmt.percent(g.flip_rate, 1)), f"{g.right_to_wrong:,}"]
                for _, _, name, where, g in groups[:_MAX_GROUPS]]  # fmt: skip
        body += (f"<h3>Where flips concentrate (highest flip rate first; {len(groups)} groups "
                 f"with flips, {min(len(groups), _MAX_GROUPS)} shown)</h3>") + table(
            ["Variant", "Where", "Pairs", "Flips", "Flip rate", "Right → wrong"], rows,
            (2, 3, 4, 5))  # fmt: skip
    flips = []
    for v in variants.variants:
        for w in v.worst:
            flips.append([
                e(v.name), e(w.id), e(w.expected),
                e(fmt.truncate(w.input, _INPUT_CHARS)), e(w.answer) + (" ✓" if w.right else " ✗"),
                e(fmt.truncate(w.varied_input, _INPUT_CHARS)),
                e(w.varied_answer) + (" ✓" if w.varied_right else " ✗"),
            ])  # fmt: skip
    if flips:
        body += "<h3>Worst flips, side by side</h3>" + table(
            ["Variant", "Row", "Expected", "As written", "Answer", "Varied", "Answer"], flips)
    body += "".join(f'<p class="note">{e(n)}</p>' for n in variants.notes)
    return section("variants", "Robustness", body,
                   "the same rows, varied; per dataset row, 95% intervals")  # fmt: skip
