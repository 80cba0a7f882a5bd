"""The dataset profile as text: console lines for ``stagecheck validate`` and a Markdown
section for the report (views of :class:`~stagecheck.datasets.profile.DatasetProfile`)."""

from __future__ import annotations

from stagecheck.datasets.profile import MAX_EXAMPLES, DatasetProfile, Groups, excerpt

__all__ = ["profile_lines", "profile_markdown", "HISTORY_NOTE"]

# a conversation turn is a duplicate only after the same history (datasets.conversations.turn_keys)
HISTORY_NOTE = "a conversation's turn counted with its history"


def _points(half_width: float) -> str:
    return f"±{round(half_width * 100)} points"


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%" if share < 0.1 else f"{share * 100:.0f}%"


def _group_cells(groups: Groups, limit: int) -> str:
    cells = [f"{excerpt(g.value, 24)} {g.rows} ({_pct(g.share)})" for g in groups.values]
    if len(cells) <= limit:
        return " · ".join(cells)
    last = groups.values[-1]
    smallest = (
        f", smallest {excerpt(last.value, 24)} {last.rows}"
        if groups.distinct == len(groups.values)
        else f", the smallest {groups.min_rows}"
    )
    return " · ".join(cells[: limit - 1]) + f" · +{groups.distinct - limit + 1} more{smallest}"


def profile_lines(profile: DatasetProfile) -> list[str]:
    """The profile as console lines, aligned like ``stagecheck validate``'s own output."""
    every = [*([profile.classes] if profile.classes else []), *profile.slices.values()]
    unit = "conversations" if any(g.by_conversation for g in every) else "rows"
    lines = [
        f"  profile    {profile.rows} rows; a class or slice value under {profile.thin_below} "
        f"{unit} is thin (its accuracy known only to within more than ±10 points)"
    ]
    if profile.classes is not None:
        cls = profile.classes
        lines.append(f"  classes    {cls.distinct}: {_group_cells(cls, 6)}")
    for name, groups in profile.slices.items():
        lines.append(f"  rows by    {excerpt(name, 24)}: {_group_cells(groups, 6)}")
    ln = profile.lengths
    lines.append(
        f"  length     {ln.min}–{ln.max} chars, median {ln.p50}, p90 {ln.p90}; "
        + " · ".join(f"{b.label} {_pct(b.share)}" for b in ln.buckets)
    )
    d = profile.duplicates
    dup = f"{_rows(d.rows)} repeat another row's input" if d.rows else "none"
    if d.conflicting_inputs:
        dup += f"; {d.conflicting_inputs} labelled more than one way"
    if d.compared != "input":
        dup += f" ({HISTORY_NOTE})"
    lines.append(f"  duplicates {dup}")
    lines += [f"  warning    {w}" for w in profile.warnings]
    return lines


def _md(text: str) -> str:
    flat = " ".join(text.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in "\\`*_[]#~|!" else ch for ch in flat)


def _md_groups(title: str, groups: Groups) -> list[str]:
    lines = [f"| {title} | rows | share | widest 95 % interval |", "| :--- | ---: | ---: | ---: |"]
    for g in groups.values:
        mark = " ⚠️ thin" if g.thin else ""
        cells = [_md(excerpt(g.value)), str(g.rows), _pct(g.share), _points(g.half_width) + mark]
        lines.append("| " + " | ".join(cells) + " |")
    if groups.omitted_rows:
        lines.append(
            f"| … {groups.distinct - len(groups.values)} more | {groups.omitted_rows} | | |"
        )
    return lines


def profile_markdown(profile: DatasetProfile, level: int = 2) -> str:
    """The profile as a Markdown section (GFM tables) for the report, its heading at ``level``."""
    out = ["#" * level + " Dataset profile", ""]
    out.append(
        f"{profile.rows} rows. A class or slice value with fewer than {profile.thin_below} rows "
        "is *thin*: its accuracy cannot be known to better than ±10 points (95 % interval)."
    )
    out.append("")
    if profile.warnings:
        out += [f"- ⚠️ {_md(w)}" for w in profile.warnings]
        out.append("")
    if profile.classes is not None:
        out += [*_md_groups("class", profile.classes), ""]
    for name, groups in profile.slices.items():
        out += [*_md_groups(f"slice {_md(excerpt(name, 40))}", groups), ""]
    ln = profile.lengths
    out.append(
        f"Input length: {ln.min}–{ln.max} characters, median {ln.p50}, p90 {ln.p90}, "
        f"mean {ln.mean:.0f}."
    )
    out += ["", "| length (chars) | rows | share |", "| :--- | ---: | ---: |"]
    out += [f"| {b.label} | {b.rows} | {_pct(b.share)} |" for b in ln.buckets]
    out.append("")
    d = profile.duplicates
    if d.compared != "input":
        out.append(f"Duplicate inputs ({HISTORY_NOTE}):")
    if not d.rows:
        out.append("Duplicate inputs: none.")
    else:
        out.append(
            f"Duplicate inputs: {d.rows} rows repeat another row's input ({d.inputs} distinct "
            f"inputs); {d.conflicting_inputs} of them carry different expected answers."
        )
        out += ["", "| input | rows | row ids | expected |", "| :--- | ---: | :--- | :--- |"]
        shown = list(d.conflicting_examples)
        shown += [e for e in d.examples if e not in shown]
        for e in shown[: 2 * MAX_EXAMPLES]:
            out.append(
                f"| {_md(e.input)} | {e.rows} | {_md(', '.join(e.row_ids))} | "
                f"{_md(' / '.join(e.expected))} |"
            )
    return "\n".join(out) + "\n"
