"""A run's errors back into the retrain: the wrong, off-label and failed rows of a run folder
(``--errors``), or the rows that regressed from right to wrong against a base run
(``--flips-from``), one record per dataset row, in the dataset's own field names or as chat
fine-tuning records.

Rows are read from the run folder alone: ``rows.jsonl`` (each row's id, input, expected answer
and slices), ``results.jsonl`` (every answer) and ``scenario.yaml`` (the dataset's field names,
the system prompt). A variant row (``dataset.variants``) is exported with its varied input.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from stagecheck.errors import InputError

__all__ = ["ExportRow", "FieldNames", "FORMATS", "error_rows", "flip_rows", "field_names",
           "write_records"]  # fmt: skip

Format = Literal["jsonl", "csv", "openai-chat"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "openai-chat")
_PREFIX = "stagecheck_"  # the fields export adds beside the dataset's own


@dataclass
class ExportRow:
    row: int
    id: str
    input: str
    expected: str
    slices: dict[str, str]
    variant: str | None = None
    origin: int | None = None
    requests: int = 0
    correct: int = 0
    wrong: int = 0  # incorrect or unparseable answers
    failed: int = 0  # requests without an answer
    answers: Counter[str] = field(default_factory=Counter)  # the wrong answers given
    errors: Counter[str] = field(default_factory=Counter)  # the failures' outcome or error
    off_label: bool = False  # a wrong answer is none of the dataset's labels

    @property
    def answer(self) -> str | None:
        return self.answers.most_common(1)[0][0] if self.answers else None


@dataclass(frozen=True)
class FieldNames:
    """The dataset's field names, from the run's ``scenario.yaml``."""

    input: str
    expected: str
    id: str | None
    slices: tuple[str, ...]
    system_prompt: str | None = None
    user_template: str | None = None


def _read_scenario(run_dir: Path) -> Mapping[str, Any]:
    from stagecheck.scenario.yamlread import YAMLProblem, read_yaml

    path = run_dir / "scenario.yaml"
    try:
        _, raw = read_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the scenario as run "
                         f"({exc.strerror or exc})") from None  # fmt: skip
    except (UnicodeDecodeError, YAMLProblem) as exc:
        raise InputError(f"{path}: not a readable scenario ({str(exc)[:200]})") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("dataset"), Mapping):
        raise InputError(f"{path}: has no dataset: section")
    return raw


def field_names(run_dir: Path) -> FieldNames:
    raw = _read_scenario(run_dir)
    ds = raw["dataset"]
    inputs = ds.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not inputs or not isinstance(ds.get("expected"), str):
        raise InputError(f"{run_dir / 'scenario.yaml'}: dataset.input or dataset.expected "
                         "is missing")  # fmt: skip
    # several input fields were sent as one text ("a=… | b=…"): it goes under the first name
    slices = ds.get("slices") or []
    endpoint = _mapping(raw.get("endpoint"))
    options = _mapping(endpoint.get("options"))
    chat = endpoint.get("protocol") == "openai-chat"
    return FieldNames(
        input=str(inputs[0]), expected=str(ds["expected"]),
        id=str(ds["id"]) if isinstance(ds.get("id"), str) else None,
        slices=tuple(str(s) for s in slices if isinstance(s, str)),
        system_prompt=_text_or_none(options.get("system_prompt")) if chat else None,
        user_template=_text_or_none(options.get("user_template")) if chat else None,
    )  # fmt: skip


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _need(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder")
    for name in ("results.jsonl", "rows.jsonl", "scenario.yaml"):
        if not (run_dir / name).is_file():
            raise InputError(f"{run_dir}: not a complete run folder ({name} is missing)")


def _read_rows(path: Path, wanted: set[int] | None) -> dict[int, ExportRow]:
    """rows.jsonl's rows (only ``wanted``, when given); a damaged line is an InputError."""
    out: dict[int, ExportRow] = {}
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = orjson.loads(line)
                r = int(d["row"])
                if wanted is not None and r not in wanted:
                    continue
                out[r] = ExportRow(
                    row=r, id=str(d.get("id", r)), input=str(d.get("input") or ""),
                    expected=str(d.get("expected") or ""),
                    slices={str(k): str(v) for k, v in (d.get("slices") or {}).items()},
                    variant=d.get("variant"), origin=d.get("origin"),
                )  # fmt: skip
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                raise InputError(f"{path}:{number}: not a row of rows.jsonl") from None
    return out


def error_rows(run_dir: Path, classification: bool = True) -> tuple[list[ExportRow], list[str]]:
    """Every row with a wrong or unparseable answer or a failed request, once, in row order,
    with its counts; and notes (unreadable results lines). ``classification``: an answer
    that is none of the dataset's labels is marked off-label."""
    from stagecheck.analysis.columns import read_columns

    _need(run_dir)
    cols = read_columns(run_dir, None, classification=classification)
    notes = []
    if cols.bad_lines:
        notes.append(f"{cols.bad_lines:,} unreadable lines of results.jsonl are left out")
    labels = set(cols.rows.table().expected_texts) if classification else set()
    per_row: dict[int, list[tuple[int, int, int, int]]] = {}
    rows, outcomes = cols.row.tolist(), cols.outcome.tolist()
    bad = {i for i, o in enumerate(outcomes) if o in (1, 2, 3, 4, 5)}
    wanted = {rows[i] for i in bad}
    if not wanted:
        return [], notes
    found = _read_rows(run_dir / "rows.jsonl", wanted)
    predicted, got, error = cols.predicted.tolist(), cols.got.tolist(), cols.error.tolist()
    for i, r in enumerate(rows):
        if r in wanted:
            per_row.setdefault(r, []).append((outcomes[i], predicted[i], got[i], error[i]))
    from stagecheck.recording.recorder import OUTCOMES

    out = []
    for r in sorted(wanted):
        row = found.get(r) or ExportRow(row=r, id=str(r), input="", expected="", slices={})
        for outcome, pred, raw, err in per_row[r]:
            row.requests += 1
            if outcome == 0:
                row.correct += 1
            elif outcome in (1, 2):
                row.wrong += 1
                code = pred if pred >= 0 else raw
                answer = "" if code < 0 else cols.texts[code]
                row.answers[answer] += 1
                row.off_label |= bool(labels) and answer not in labels
            elif outcome in (3, 4, 5):
                row.failed += 1
                row.errors[cols.texts[err] if err >= 0 else OUTCOMES[outcome]] += 1
        out.append(row)
    return out, notes


def flip_rows(base_dir: Path, run_dir: Path) -> tuple[list[ExportRow], list[str]]:
    """The rows of ``run_dir`` right in ``base_dir`` (most of their answers) and wrong in it,
    paired by row key as ``stagecheck compare`` pairs them."""
    from stagecheck.reporting.compare.data import load_run

    for d in (base_dir, run_dir):
        _need(d)
    a, b = load_run(base_dir), load_run(run_dir)
    assert a.rows is not None and b.rows is not None  # both have results.jsonl (_need)
    index = {key: j for j, key in enumerate(b.rows.key)}
    regressed: dict[int, tuple[int, int]] = {}  # new row → (base entry, new entry)
    notes = []
    differ = 0
    for i, key in enumerate(a.rows.key):
        j = index.get(key, -1)
        if j < 0 or a.rows.correct[i] != 1 or b.rows.correct[j] != 0:
            continue
        if a.rows.expected[i] != b.rows.expected[j]:
            differ += 1
            continue
        regressed[int(b.rows.row[j])] = (i, j)
    if differ:
        notes.append(f"{differ} rows have a different expected answer in the two runs "
                     "(another dataset version?): left out")  # fmt: skip
    found = _read_rows(run_dir / "rows.jsonl", set(regressed))
    out = []
    for r in sorted(regressed):
        i, j = regressed[r]
        row = found.get(r)
        if row is None:
            continue
        row.requests = int(b.rows.requests[j])
        if b.rows.answers.size == len(b.rows):
            row.correct = int(b.rows.right[j])
            row.wrong = int(b.rows.answers[j] - b.rows.right[j])
        answer = b.rows.answer[j]
        row.answers[answer or ""] += max(row.wrong, 1)
        row.errors["base answer: " + str(a.rows.answer[i])] += 1
        out.append(row)
    return out, notes


def _set(record: dict[str, Any], name: str, value: Any, nested: bool) -> None:
    """``record[name] = value``; a dotted name nests in JSONL (the reader follows the path)."""
    if not nested or "." not in name:
        record[name] = value
        return
    parts = name.split(".")
    at = record
    for part in parts[:-1]:
        at = at.setdefault(part, {})
    at[parts[-1]] = value


def dataset_record(row: ExportRow, names: FieldNames, *, nested: bool) -> dict[str, Any]:
    """One row in the dataset's own field names, plus ``stagecheck_*`` fields."""
    rec: dict[str, Any] = {}
    if names.id:
        _set(rec, names.id, row.id, nested)
    _set(rec, names.input, row.input, nested)
    _set(rec, names.expected, row.expected, nested)
    for name in names.slices:
        _set(rec, name, row.slices.get(name, ""), nested)
    extra = {
        "row": row.row, "answer": row.answer, "requests": row.requests, "correct": row.correct,
        "wrong": row.wrong, "failed": row.failed, "off_label": row.off_label,
        "errors": "; ".join(f"{e} ×{n}" for e, n in row.errors.most_common()),
        "variant": row.variant, "origin": row.origin,
    }  # fmt: skip
    for key, value in extra.items():
        rec.setdefault(_PREFIX + key, value)
    return rec


def chat_record(row: ExportRow, names: FieldNames) -> dict[str, Any]:
    """``{"messages": [system?, user, assistant=expected]}``: the answer the model should give."""
    user = row.input
    if names.user_template:
        try:
            user = names.user_template.format_map({names.input: row.input})
        except (KeyError, IndexError, ValueError, AttributeError, TypeError):
            user = row.input  # the template names other fields: the input as it is
    messages = []
    if names.system_prompt:
        messages.append({"role": "system", "content": names.system_prompt})
    messages += [{"role": "user", "content": user},
                 {"role": "assistant", "content": row.expected}]  # fmt: skip
    return {"messages": messages}


def _cell(value: Any) -> Any:
    """A CSV cell: empty for None, true/false as JSON writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv_text(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for rec in rows:
        writer.writerow({k: _cell(v) for k, v in rec.items()})
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def write_records(rows: list[ExportRow], names: FieldNames, fmt: str, out: io.TextIOBase | Any
                  ) -> None:  # fmt: skip
    """Write ``rows`` to the text stream ``out`` in ``fmt``."""
    if fmt == "openai-chat":
        for row in rows:
            out.write(orjson.dumps(chat_record(row, names)).decode() + "\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(orjson.dumps(dataset_record(row, names, nested=True)).decode() + "\n")
    else:
        records = [dataset_record(row, names, nested=False) for row in rows]
        columns = list(records[0]) if records else [
            *([names.id] if names.id else []), names.input, names.expected, *names.slices]
        for text in _csv_text(records, columns):
            out.write(text)
