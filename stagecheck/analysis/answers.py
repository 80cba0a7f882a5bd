"""Row by row: how often rows were replayed, whether a row answered more than once got the
same answer each time (MLPerf TEST01's question), and every wrong answer, deduplicated."""

from __future__ import annotations

import numpy as np

from stagecheck.analysis.columns import OUTCOMES
from stagecheck.analysis.frame import Frame, excerpt
from stagecheck.analysis.packed import unique_rows
from stagecheck.analysis.schema import Consistency, InconsistentRow, Replays, WrongAnswer

__all__ = ["replays", "consistency", "wrong_answers", "MAX_WRONG", "normalise_answer"]

MAX_WRONG = 5000  # wrong-answer entries kept in summary.json (the total is always counted)
MAX_INCONSISTENT = 20
_NO_ANSWER = "(no label)"


def replays(fr: Frame) -> Replays:
    cols = fr.cols
    unique = int(np.unique(cols.row).size) if cols.n else 0
    dataset = fr.cols.dataset_rows
    if not dataset:
        run = fr.summary.get("run") or {}
        ds = run.get("dataset") if isinstance(run, dict) else None
        dataset = int(ds.get("rows") or 0) if isinstance(ds, dict) else 0
    return Replays(
        unique_rows=unique,
        dataset_rows=dataset or unique,
        requests=cols.n,
        factor=round(cols.n / unique, 3) if unique else 0.0,
    )


def normalise_answer(text: str) -> str:
    """An answer as compared for consistency: case and whitespace do not count."""
    return " ".join(text.lower().split())


def consistency(fr: Frame) -> Consistency:
    """Rows with two or more scored answers whose answers differ: the predicted label for
    classification, else the answer text (lower case, whitespace collapsed)."""
    cols = fr.cols
    idx = np.flatnonzero(fr.scored)
    key, shown = _answer_keys(fr, idx)
    rows = cols.row[idx]
    if not rows.size:
        return Consistency(rows_repeated=0, rows_inconsistent=0, share=0.0)
    width = int(key.max()) + 2  # keys are -1 (no label) and up
    if int(rows.max()) < (1 << 62) // width:  # one int64 per pair: a 1-D unique is much faster
        packed, n = np.unique(rows * width + (key + 1), return_counts=True)
        pairs = np.stack((packed // width, packed % width - 1), axis=1)
    else:
        pairs, n = np.unique(np.stack((rows, key), axis=1), axis=0, return_counts=True)
    row_of_pair = pairs[:, 0]
    urows, first, distinct = np.unique(row_of_pair, return_index=True, return_counts=True)
    answers_per_row = np.add.reduceat(n, first)
    repeated = int((answers_per_row >= 2).sum())
    bad = np.flatnonzero(distinct >= 2)
    examples = []
    # most answers first: the rows a reader can trust most to be inconsistent
    for j in bad[np.lexsort((urows[bad], -answers_per_row[bad]))][:MAX_INCONSISTENT]:
        lo, hi = int(first[j]), int(first[j] + distinct[j])
        answers = sorted(
            (
                (_NO_ANSWER if int(pairs[i, 1]) < 0 else shown[int(pairs[i, 1])], int(n[i]))
                for i in range(lo, hi)
            ),
            key=lambda a: (-a[1], a[0]),
        )[:5]
        r = int(urows[j])
        info = cols.rows[r]
        examples.append(
            InconsistentRow(
                row=r,
                id=info.id,
                input=excerpt(info.input) or "",
                expected=info.expected,
                answers=answers,
            )
        )
    return Consistency(
        rows_repeated=repeated,
        rows_inconsistent=int(bad.size),
        share=bad.size / repeated if repeated else 0.0,
        examples=examples,
    )


def _answer_keys(fr: Frame, idx: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The answer of each request ``idx`` as a code (-1: no label), and each code's text as
    shown: the predicted label for classification, else one code per normalised text."""
    cols = fr.cols
    if fr.classification:
        return cols.predicted[idx].astype(np.int64), [excerpt(t, 80) or "" for t in cols.texts]
    norm: dict[str, int] = {}
    shown: list[str] = []
    mapping = np.empty(len(cols.texts) + 1, dtype=np.int64)
    for i, text in enumerate(cols.texts):
        plain = normalise_answer(text)
        c = norm.get(plain)
        if c is None:
            c = norm[plain] = len(shown)
            shown.append(excerpt(plain, 80) or "")
        mapping[i] = c
    mapping[-1] = -1
    return mapping[cols.got[idx]], shown


def wrong_answers(fr: Frame) -> tuple[list[WrongAnswer], int, list[str]]:
    """Every wrong or unusable request, deduplicated by (row, outcome, answer, error) with its
    count; the most frequent first, at most MAX_WRONG; the distinct total; notes."""
    cols = fr.cols
    idx = np.flatnonzero(fr.wrong)
    if not idx.size:
        return [], 0, []
    keys = np.stack(
        (
            cols.row[idx],
            cols.outcome[idx].astype(np.int64),
            cols.got[idx].astype(np.int64),
            cols.error[idx].astype(np.int64),
        ),
        axis=1,
    )
    uniq, inverse, n = unique_rows(keys)
    slowest = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(slowest, inverse, cols.latency_us[idx])
    predicted = np.full(len(uniq), -1, dtype=np.int64)
    predicted[inverse] = cols.predicted[idx]  # the same answer gives the same label
    total = int(len(uniq))
    order = np.lexsort((uniq[:, 0], -n))[:MAX_WRONG]
    out = []
    for j in order:
        r, o, g, e = (int(v) for v in uniq[j])
        info = cols.rows[r]
        out.append(
            WrongAnswer(
                row=r,
                id=info.id,
                input=excerpt(info.input) or "",
                expected=info.expected,
                got=excerpt(fr.text(g)),
                predicted=excerpt(fr.text(int(predicted[j])), 80),
                outcome=OUTCOMES[o],
                error=excerpt(fr.text(e), 300),
                slices=dict(info.slices),
                count=int(n[j]),
                latency_us=int(slowest[j]),
            )
        )
    notes = []
    if total > MAX_WRONG:
        notes.append(
            f"{total:,} distinct wrong answers; the {MAX_WRONG:,} most frequent are kept in "
            "summary.json (results.jsonl has them all)"
        )
    return out, total, notes
