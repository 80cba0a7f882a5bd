"""The dataset profile in ``report.html``: how representative the validation set is (rows per
class and slice value, thin groups, duplicates, input lengths). A view of
:class:`~stagecheck.datasets.profile.DatasetProfile`."""

from __future__ import annotations

from stagecheck.datasets.profile import DatasetProfile, Groups
from stagecheck.datasets.profile_view import HISTORY_NOTE
from stagecheck.reporting.html.parts import e, section, table

__all__ = ["profile_section"]

_SHOWN = 30  # values per class list or slice field


def _groups(title: str, groups: Groups) -> str:
    by_conversation = groups.by_conversation
    rows = [
        [e(g.value), f"{g.rows:,}",
         *([f"{g.conversations:,}"] if by_conversation else []), f"{g.share:.1%}",
         f"±{g.half_width * 100:.0f} pts"
         + (' <span class="pill na">thin</span>' if g.thin else "")]
        for g in groups.values[:_SHOWN]
    ]  # fmt: skip
    more = groups.distinct - min(len(groups.values), _SHOWN)
    note = f'<p class="note">and {more:,} more values</p>' if more > 0 else ""
    head = ["value", "rows", *(["conversations"] if by_conversation else []), "share",
            "widest 95% interval"]  # fmt: skip
    numeric = (1, 2, 3) if by_conversation else (1, 2)
    return f"<h3>{e(title)}</h3>" + table(head, rows, numeric=numeric) + note


def profile_section(profile: DatasetProfile | None) -> str:
    """``<section id="profile">``, or "" for runs written before the profile."""
    if profile is None:
        return ""
    every = [*([profile.classes] if profile.classes else []), *profile.slices.values()]
    unit = "conversations" if any(g.by_conversation for g in every) else "rows"
    parts = [
        f"<p>{profile.rows:,} rows. A class or slice value with fewer than {profile.thin_below} "
        f"{unit} is <b>thin</b>: its accuracy cannot be known to better than ±10 points"
        + (" (a conversation's turns are not independent evidence)" if unit != "rows" else "")
        + ".</p>"
    ]
    if profile.warnings:
        parts.append("<ul>" + "".join(f"<li>⚠ {e(w)}</li>" for w in profile.warnings) + "</ul>")
    if profile.classes is not None:
        parts.append(_groups("Rows per class", profile.classes))
    for name, groups in profile.slices.items():
        parts.append(_groups(f"Rows per {name}", groups))
    ln = profile.lengths
    parts.append(
        f"<h3>Input length</h3><p>{ln.min:,}–{ln.max:,} characters, median {ln.p50:,}, "
        f"p90 {ln.p90:,}.</p>"
        + table(
            ["characters", "rows", "share"],
            [[e(b.label), f"{b.rows:,}", f"{b.share:.1%}"] for b in ln.buckets],
            numeric=(1, 2),
        )  # fmt: skip
    )
    d = profile.duplicates
    dup = "none" if not d.rows else (
        f"{d.rows:,} rows repeat another row's input ({d.inputs:,} distinct inputs); "
        f"{d.conflicting_inputs:,} of them carry different expected answers"
    )  # fmt: skip
    if d.compared != "input":
        dup += f" ({HISTORY_NOTE})"
    parts.append(f"<h3>Duplicate inputs</h3><p>{e(dup)}</p>")
    return section("profile", "Dataset profile", "\n".join(parts),
                   "how representative the validation set is")  # fmt: skip
