"""The browsable table of every wrong answer in report.html (``analysis.wrong``).

The rows are plain HTML, so the table reads without script (and in a mail client or a printed
page). A small inline script, allowed by the page's Content-Security-Policy through its hash
(:data:`SCRIPT_CSP_SOURCE`), adds a text filter, outcome and expected-label filters and sorting
by count and latency. It reads only the table it enhances: every value it filters on is already
in the escaped DOM (``data-*`` attributes and cell text), so no data is embedded as code.
"""

from __future__ import annotations

import base64
import hashlib

from stagecheck.analysis.schema import WrongAnswer
from stagecheck.recording.recorder import OUTCOMES
from stagecheck.reporting import fmt
from stagecheck.reporting.html.parts import e, empty, section
from stagecheck.summary.schema import Summary

__all__ = ["CSS", "SCRIPT", "SCRIPT_CSP_SOURCE", "wrong_answers_section"]

_INPUT_CHARS = 400

#: Styles of the table and its filters (report.html adds it to its stylesheet).
CSS = """
.filters { display:flex; flex-wrap:wrap; gap:8px 14px; align-items:center; margin:0 0 10px; }
.filters[hidden] { display:none; }
.filters label { font-size:13px; color:var(--muted); display:flex; gap:6px; align-items:center; }
.filters input, .filters select { font:inherit; font-size:13px; padding:4px 7px;
  border:1px solid var(--line); border-radius:6px; background:#fff; color:var(--ink); }
.filters input[type=search] { width:min(22em, 100%); }
.filters output { font-size:13px; color:var(--muted); margin-left:auto; }
table.wrong td, table.wrong th { padding:6px 8px; }
table.wrong .got { overflow-wrap:break-word; min-width:8em; max-width:20em; }
table.wrong .exp, table.wrong .ans { display:block; }
table.wrong .ans { margin-top:2px; }
table.wrong .pred { display:block; color:var(--muted); font-size:12px; }
table.wrong th button { white-space:nowrap; font:inherit; color:inherit; text-transform:inherit;
  letter-spacing:inherit; background:none; border:none; padding:0; cursor:pointer; }
table.wrong th button::after { content:" ↕"; opacity:.5; }
table.wrong th[aria-sort=descending] button::after { content:" ↓"; opacity:1; }
table.wrong th[aria-sort=ascending] button::after { content:" ↑"; opacity:1; }
.wrongscroll { max-height:80vh; overflow:auto; }
.wrongscroll thead th { position:sticky; top:0; z-index:1; }
"""

#: The table's script (vanilla, no external code). Kept constant so its hash is too.
SCRIPT = """
(() => {
  const root = document.getElementById('wrong-answers');
  const table = root && root.querySelector('table.wrong');
  if (!table) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const haystack = rows.map((r) => r.textContent.toLowerCase());
  const form = root.querySelector('.filters');
  const text = form.querySelector('[name=q]');
  const outcome = form.querySelector('[name=outcome]');
  const expected = form.querySelector('[name=expected]');
  const shown = form.querySelector('output');
  const n = (x) => x.toLocaleString('en-US');
  const apply = () => {
    const needle = text.value.trim().toLowerCase();
    let count = 0;
    rows.forEach((r, i) => {
      const keep = (!needle || haystack[i].includes(needle))
        && (!outcome.value || r.dataset.outcome === outcome.value)
        && (!expected.value || r.dataset.expected === expected.value);
      if (r.hidden === keep) r.hidden = !keep;  // touch only rows that change
      if (keep) count += 1;
    });
    shown.textContent = `${n(count)} of ${n(rows.length)} rows match`;
  };
  table.querySelectorAll('th[data-sort]').forEach((th) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = th.textContent;
    th.replaceChildren(button);
    th.setAttribute('aria-sort', 'none');
    button.addEventListener('click', () => {
      const key = th.dataset.sort;
      const down = th.getAttribute('aria-sort') !== 'descending';
      table.querySelectorAll('th[data-sort]').forEach((h) => h.setAttribute('aria-sort', 'none'));
      th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
      const order = rows.map((r, i) => i).sort((a, b) => {
        const d = Number(rows[a].dataset[key]) - Number(rows[b].dataset[key]);
        return (down ? -d : d) || a - b;
      });
      const frag = document.createDocumentFragment();
      order.forEach((i) => frag.appendChild(rows[i]));
      body.appendChild(frag);
    });
  });
  text.addEventListener('input', apply);
  outcome.addEventListener('change', apply);
  expected.addEventListener('change', apply);
  form.hidden = false;
  apply();
})();
"""

#: The CSP source that allows :data:`SCRIPT` and no other script: ``'sha256-…'``.
SCRIPT_CSP_SOURCE = (
    "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'"
)


def _row(w: WrongAnswer) -> str:
    answer = f'<span class="ans">→\u00a0{e(w.got)}</span>' if w.got is not None else ""
    if w.predicted is not None and w.predicted != w.got:
        answer += f'<span class="pred">label: {e(w.predicted)}</span>'
    if w.error:
        answer += f'<span class="err">{e(w.error)}</span>'
    slices = "".join(
        f'<span class="slice">{e(k)}=<wbr>{e(v)}</span>' for k, v in sorted(w.slices.items())
    )
    ident = f'<span class="sid" title="row index {w.row} (0-based)">{e(w.id)}</span>'
    return (
        f'<tr data-outcome="{e(w.outcome)}" data-expected="{e(w.expected)}" '
        f'data-count="{w.count}" data-latency="{w.latency_us}">'
        f'<td class="num">×{w.count:,}</td>'
        f'<td>{ident}<span class="pill bad">{e(w.outcome)}</span></td>'
        f'<td class="got"><span class="exp">{e(w.expected)}</span>{answer}</td>'
        f'<td><div class="input">{e(fmt.truncate(w.input, _INPUT_CHARS))}</div>'
        + (f'<div class="slices">{slices}</div>' if slices else "")
        + f'</td><td class="num">{e(fmt.ms(w.latency_us))}</td></tr>'
    )


def _options(values: list[tuple[str, int]], everything: str) -> str:
    return f'<option value="">{e(everything)}</option>' + "".join(
        f'<option value="{e(v)}">{e(v)} ({n:,})</option>' for v, n in values
    )


def _counted(values: list[str], order: dict[str, int] | None = None) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    rank = order or {}
    return sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def wrong_answers_section(report: Summary) -> str:
    """Every wrong answer and failure of the run, deduplicated by row (×N), filterable.

    ``""`` for a run without an analysis (older summary.json): its samples section stands.
    """
    analysis = report.analysis
    if analysis is None:
        return ""
    wrong = analysis.wrong
    if not wrong:
        body = empty("No wrong answers and no failures: every request was answered correctly.")
        return section("wrong-answers", "All wrong answers", body)
    total = max(analysis.wrong_total, len(wrong))
    outcomes = _counted([w.outcome for w in wrong], {o: i for i, o in enumerate(OUTCOMES)})
    expected = _counted([w.expected for w in wrong])
    filters = (
        '<div class="filters" hidden role="search" aria-label="Filter the wrong answers">'
        '<label>Search <input type="search" name="q" '
        'placeholder="words, id, label, error…"></label>'
        f'<label>Outcome <select name="outcome">{_options(outcomes, "all")}</select></label>'
        f'<label>Expected <select name="expected">{_options(expected, "all")}</select></label>'
        '<output aria-live="polite"></output></div>'
    )
    head = (
        '<thead><tr><th class="num" data-sort="count" title="requests that behaved this way">'
        "Count</th><th>Id · outcome</th><th>Expected → got</th>"
        '<th>Input · slices</th><th class="num" data-sort="latency" '
        'title="the slowest of the requests counted">Latency ms</th></tr></thead>'
    )
    rows = "".join(_row(w) for w in wrong)
    table = (
        f'<div class="scroll wrongscroll"><table class="wrong samples">{head}'
        f"<tbody>{rows}</tbody></table></div>"
    )
    requests = sum(w.count for w in wrong)
    note = f"{len(wrong):,} of {total:,} shown" if total > len(wrong) else f"all {total:,}"
    note += f" · {requests:,} requests · one line per row, outcome and answer (×N)"
    return section(
        "wrong-answers",
        "All wrong answers",
        filters + table + f"<script>{SCRIPT}</script>",
        note,
    )
