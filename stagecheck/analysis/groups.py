"""Where the wrong answers are: off-label answers, top confusions, and the groups (slice values,
crossings of two slices, input-length buckets, expected classes, a conversation run's turn
positions and context lengths) whose accuracy is significantly worse than the rest of the run's.

Every group is a set of dataset rows (a row's slices, length and label are its own), and a
timed run replays rows: the unit of evidence is the row. A group's accuracy is over its scored
requests, as ever; its interval and its test against the rest take the replays into account
through each side's design effect (:mod:`stagecheck.stats`: Wilson at the effective sample size,
the Rao–Scott adjusted test). A group with fewer than ``MIN_ROWS`` scored rows is thin and never
significant; a crossing is shown only with ``MIN_CROSS`` scored rows of its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from stagecheck.analysis.conversation_rows import ConversationRows
from stagecheck.analysis.frame import Frame, excerpt
from stagecheck.analysis.packed import unique_rows
from stagecheck.analysis.schema import Concentration, Confusion, OffLabel, OffLabelExample
from stagecheck.analysis.turns import turn_groups
from stagecheck.datasets.profile import bucket_index, bucket_label, length_buckets
from stagecheck.scoring import UNPARSEABLE_LABEL
from stagecheck.stats import (
    MIN_ROWS,
    clustered_proportion_p,
    design_effect,
    holm,
    is_thin,
    wilson,
)

__all__ = ["off_label", "confusions", "concentrations", "OTHER", "MIN_CROSS", "MIN_ROWS", "ALPHA",
           "OFF_LABEL_HINT_SHARE"]  # fmt: skip

OTHER = "(other)"  # the predicted column of answers that are none of the dataset's labels
MIN_CROSS = 10  # a crossing of two slices is shown only with this many scored rows
ALPHA = 0.05  # family-wise error rate of the concentration tests (Holm)
OFF_LABEL_HINT_SHARE = 0.5  # above this share of off-label answers, suggest an extraction
MAX_CONFUSIONS = 10
MAX_EXAMPLES = 10
MAX_CONCENTRATIONS = 200  # kept in summary.json (the most significant first)
SAMPLED_CONCENTRATIONS = 20  # the first ones carry wrong-answer samples


def _off_label_mask(fr: Frame) -> np.ndarray:
    """Answers whose predicted label is none of the dataset's labels (or that are incorrect
    without any predicted label). Unparseable answers are counted as such, not here."""
    cols = fr.cols
    labels = set(fr.labels)
    known = np.zeros(len(cols.texts) + 1, dtype=bool)  # index -1 (no label) is the last slot
    known[: len(cols.texts)] = np.fromiter(
        (t in labels for t in cols.texts), dtype=bool, count=len(cols.texts)
    )
    known_pred = known[cols.predicted]
    has_pred = cols.predicted >= 0
    return (fr.incorrect & ~has_pred) | (has_pred & ~known_pred & (cols.outcome != 2))


def off_label(fr: Frame) -> OffLabel | None:
    if not fr.classification:
        return None
    cols = fr.cols
    mask = _off_label_mask(fr)
    answers = int(fr.scored.sum())
    count = int(mask.sum())
    examples: list[OffLabelExample] = []
    if count:
        idx = np.flatnonzero(mask)
        keys = np.stack((cols.got[idx], cols.predicted[idx], fr.expected[idx]), axis=1)
        uniq, _, n = unique_rows(keys)
        for j in np.lexsort((uniq[:, 0], -n))[:MAX_EXAMPLES]:
            got, pred, exp = (int(v) for v in uniq[j])
            examples.append(
                OffLabelExample(
                    got=excerpt(fr.text(got)) or "",
                    predicted=excerpt(fr.text(pred)),
                    expected=fr.expected_values[exp],
                    count=int(n[j]),
                )
            )
    share = count / answers if answers else 0.0
    hint = None
    if share > OFF_LABEL_HINT_SHARE:
        shown = ", ".join(fr.labels[:8]) + (", …" if len(fr.labels) > 8 else "")
        hint = (
            "take the label out of the answer: scoring 'extract: contains-label' with "
            f"'labels: [{shown}]' (the first label the answer names), 'extract: first-word', "
            "or 'extract: regex' with a 'pattern' (its group 1 is the label); "
            "'aliases: {variant: label}' maps other spellings"
        )
    return OffLabel(count=count, answers=answers, share=share, examples=examples, hint=hint)


def confusions(fr: Frame) -> list[Confusion]:
    """The most frequent expected → predicted pairs off the diagonal (classification)."""
    if not fr.classification or not fr.cols.n:
        return []
    cols = fr.cols
    off = _off_label_mask(fr)
    wrong = fr.incorrect | (cols.outcome == 2)
    if not wrong.any():
        return []
    # predicted column: the label's text code, OTHER as -2, unparseable as -3
    column = np.where(off, -2, cols.predicted).astype(np.int64)
    column[cols.outcome == 2] = -3
    scored_per_expected = np.bincount(fr.expected[fr.scored], minlength=len(fr.expected_values))
    idx = np.flatnonzero(wrong)
    keys = np.stack((fr.expected[idx].astype(np.int64), column[idx]), axis=1)
    uniq, _, n = unique_rows(keys)
    out = []
    for j in np.lexsort((uniq[:, 1], uniq[:, 0], -n))[:MAX_CONFUSIONS]:
        exp, col = int(uniq[j, 0]), int(uniq[j, 1])
        name = OTHER if col == -2 else UNPARSEABLE_LABEL if col == -3 else fr.text(col) or OTHER
        members = wrong & (fr.expected == exp) & (column == col)
        out.append(
            Confusion(
                expected=fr.expected_values[exp],
                predicted=name,
                count=int(n[j]),
                share_of_expected=int(n[j]) / max(int(scored_per_expected[exp]), 1),
                samples=fr.samples(members),
            )
        )
    return out


def _groups(fr: Frame, conv: ConversationRows | None, scored: np.ndarray | None = None
            ) -> Iterator[tuple[str, dict[str, str], str, np.ndarray]]:  # fmt: skip
    """(kind, group, label, per-request mask) of every group compared with the rest
    (``scored``: the requests whose rows count towards a crossing's rows; default: the scored
    requests of the rows as written)."""
    if scored is None:
        scored = fr.scored & fr.written
    for f in fr.slice_fields:
        codes = fr.slice_codes[f]
        for c, value in enumerate(fr.slice_values[f]):
            yield "slice", {f: value}, f"{f}={value}", codes == c
    yield from turn_groups(fr, conv)  # a conversation run's turn positions and context lengths
    lengths = fr.input_len
    if lengths.size and lengths.max() > 0:
        buckets = length_buckets(lengths.tolist())
        if len(buckets) > 1:
            per_row = np.fromiter(
                (bucket_index(int(v), buckets) for v in lengths), np.int32, count=lengths.size
            )
            per_request = per_row[fr.pos]
            for i, bucket in enumerate(buckets):
                name = bucket_label(bucket, buckets)
                yield "length", {"input_chars": name}, f"input {name} chars", per_request == i
    scored_rows = np.unique(fr.pos[scored])  # rows with a scored answer, each once
    for a_i, fa in enumerate(fr.slice_fields):
        for fb in fr.slice_fields[a_i + 1 :]:
            width = len(fr.slice_values[fb])
            cell = fr.slice_codes[fa].astype(np.int64) * width + fr.slice_codes[fb]
            of_row = np.zeros(len(fr.row_keys), np.int64)
            of_row[fr.pos] = cell  # a row's slices are its own: one cell per row
            counts = np.bincount(of_row[scored_rows], minlength=len(fr.slice_values[fa]) * width)
            for cc in np.flatnonzero(counts >= MIN_CROSS).tolist():
                va, vb = fr.slice_values[fa][cc // width], fr.slice_values[fb][cc % width]
                yield "cross", {fa: va, fb: vb}, f"{fa}={va} × {fb}={vb}", cell == cc
    if fr.classification:
        for c, label in enumerate(fr.expected_values):
            yield "class", {"expected": label}, f"expected {label}", fr.expected == c


def concentrations(fr: Frame) -> tuple[list[Concentration], list[str]]:
    """Every group with its accuracy against the rest of the run, most significantly worse
    first (Holm-adjusted over all groups), then by how much worse; and notes."""
    if not fr.cols.n:
        return [], []
    # the rows as written (dataset.variants' varied rows are copies: their figures are the
    # summary's variants, flips by class and slice)
    written = fr.written
    correct, scored, failed = fr.correct & written, fr.scored & written, fr.failed & written
    items = _ranked(_compared(fr, correct, scored, written))
    notes = []
    if len(items) > MAX_CONCENTRATIONS:
        notes.append(
            f"{len(items)} groups were compared; the {MAX_CONCENTRATIONS} most significant are kept"
        )
    answered_wrong = scored & ~correct  # samples show answers; failures have their own section
    out = []
    for i, (_, kind, group, label, mask, requests, rows, k, n, deff, enough, accuracy, rest, p,
            p_adj, significant) in enumerate(items[:MAX_CONCENTRATIONS]):  # fmt: skip
        out.append(
            Concentration(
                kind=kind,
                group=group,
                label=label,
                requests=requests,
                rows=rows,
                scored=n,
                accuracy=accuracy,
                accuracy_ci=wilson(k, n, deff=deff),
                rest_accuracy=rest,
                failure_rate=int((failed & mask).sum()) / requests,
                p_value=p,
                p_adjusted=p_adj,
                significant=significant,
                thin=not enough or is_thin(n / deff),
                samples=fr.samples(mask & answered_wrong) if i < SAMPLED_CONCENTRATIONS else [],
            )
        )
    return out, notes


def _compared(fr: Frame, correct: np.ndarray, scored: np.ndarray, written: np.ndarray
              ) -> list[tuple[Any, ...]]:  # fmt: skip
    """Each group of the rows as written (``written``: per request) against the rest of them:
    its counts, its units' design effect, and the p-value of the difference (rows as the unit;
    a conversation run's conversations)."""
    k_all, n_all = int(correct.sum()), int(scored.sum())
    conv = fr.conversations()  # rows.jsonl read once for the groups and the units
    units, size = fr.units()
    row_k = np.bincount(units[correct], minlength=size)
    row_n = np.bincount(units[scored], minlength=size)
    everything = int(written.sum())
    found = []
    for kind, group, label, mask in _groups(fr, conv, scored):
        mask = mask & written
        requests = int(mask.sum())
        if not requests or requests == everything:
            continue  # a group that is the whole run has no rest to compare with
        rows = int((np.bincount(fr.pos[mask], minlength=len(fr.row_keys)) > 0).sum())
        mine = np.bincount(units[mask], minlength=size) > 0  # the group's units of evidence
        k, n = int((correct & mask).sum()), int((scored & mask).sum())
        k_rest, n_rest = k_all - k, n_all - n
        accuracy = k / n if n else None
        rest = k_rest / n_rest if n_rest else None
        deff = design_effect(row_k[mine], row_n[mine])
        deff_rest = design_effect(row_k[~mine], row_n[~mine])
        p = clustered_proportion_p(k, n, deff, k_rest, n_rest, deff_rest)
        enough = int((row_n[mine] > 0).sum()) >= MIN_ROWS
        found.append((kind, group, label, mask, requests, rows, k, n, deff, enough, accuracy,
                      rest, p))  # fmt: skip
    return found


def _ranked(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The compared groups with their Holm-adjusted p-values, significantly worse first."""
    adjusted = holm([f[-1] for f in found])
    items = []
    for entry, p_adj in zip(found, adjusted, strict=True):
        kind, group, label, mask, requests, rows, k, n, deff, enough, accuracy, rest, p = entry
        worse = accuracy is not None and rest is not None and accuracy < rest
        significant = bool(worse and enough and p_adj is not None and p_adj < ALPHA)
        effect = (rest - accuracy) if worse and rest is not None and accuracy is not None else 0.0
        rank = (0 if significant else 1, 0 if worse else 1,
                p_adj if (worse and p_adj is not None) else 1.0, -effect, label)  # fmt: skip
        items.append((rank, kind, group, label, mask, requests, rows, k, n, deff, enough,
                      accuracy, rest, p, p_adj, significant))  # fmt: skip
    items.sort(key=lambda it: it[0])
    return items
