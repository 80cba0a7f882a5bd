"""results.jsonl's plain lines read with numpy over the bytes (issue 19 item 3: the end of a 1 M-
request run under 10 s) give exactly what orjson gives, and anything else is left to orjson."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest

from stagecheck.analysis import columns
from stagecheck.analysis.columns import read_columns
from stagecheck.recording.interval import _LINE, _OUTCOME_JSON
from stagecheck.recording.recorder import OUTCOMES
from stagecheck.runfolder.plain_lines import parse_block

pytestmark = pytest.mark.unit


def writer_lines(n: int, seed: int) -> list[bytes]:
    """Lines as the writer makes them (its own format string), plain and with more fields."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = rng.choice((rng.uniform(1.7e9, 1.9e9), rng.uniform(0, 10), 9_007_199_253.999999,
                        rng.uniform(0, 9e9)))  # fmt: skip
        line = _LINE % (
            rng.choice((0, 9, 10, rng.randrange(10**6), rng.randrange(10**16))),
            t,
            _OUTCOME_JSON[rng.randrange(len(OUTCOMES))],
            rng.choice((0, 7, rng.randrange(10**8), rng.randrange(10**16))),
            rng.choice((0, 3, 12, 2**31 - 1)),
        )
        extra = rng.random()
        if extra < 0.2:
            line += b',"predicted":"label, with a comma","error":"HTTP 503: x,y"}'
        elif extra < 0.3:
            line += b',"got":"Refund.","lag_us":1500}'
        else:
            line += b"}"
        out.append(line)
        if i % 97 == 5:
            out.append(b"")  # a blank line is skipped
    return out


def test_plain_lines_read_as_orjson_reads_them() -> None:
    lines = writer_lines(5000, seed=7)
    block = parse_block(b"\n".join(lines))
    assert block is not None
    parsed = [orjson.loads(x) for x in lines if x]
    assert block.n == len(parsed)
    extra = set(block.extra.tolist())
    assert [parsed[i] for i in sorted(extra)] == [orjson.loads(x) for x in block.extra_lines]
    plain = [i for i in range(len(parsed)) if i not in extra]
    assert len(plain) > 3000 and len(extra) > 1000
    assert block.row[plain].tolist() == [parsed[i]["row"] for i in plain]
    assert block.latency_us[plain].tolist() == [parsed[i]["latency_us"] for i in plain]
    assert block.stage[plain].tolist() == [parsed[i]["stage"] for i in plain]
    assert [OUTCOMES[c] for c in block.outcome[plain].tolist()] == [
        parsed[i]["outcome"] for i in plain
    ]
    # t bit for bit: the same float64 as a JSON parser's, not merely close
    want = np.array([parsed[i]["t"] for i in plain], np.float64)
    assert block.t[plain].view(np.int64).tolist() == want.view(np.int64).tolist()


PLAIN = b'{"row":12,"t":1800000000.000600,"outcome":"correct","latency_us":80838,"stage":0}'


@pytest.mark.parametrize(
    "other",
    [
        PLAIN.replace(b'"row":12', b'"row":012'),  # not JSON
        PLAIN.replace(b'"row":12', b'"row":-12'),
        PLAIN.replace(b"80838", b"8.5e4"),
        PLAIN.replace(b"80838", b"12345678901234567"),  # more digits than the reader takes
        PLAIN.replace(b".000600", b".0006"),  # not the writer's %.6f
        PLAIN.replace(b"correct", b"correctly"),
        PLAIN.replace(b'"t"', b'"T"'),
        PLAIN + b" ",
        PLAIN + b"\r",
        PLAIN[:-1],
        b'{"outcome":"correct","row":12,"t":1800000000.000600,"latency_us":1,"stage":0}',
    ],
)
def test_any_other_line_leaves_the_block_to_orjson(other: bytes) -> None:
    assert parse_block(b"\n".join([PLAIN, PLAIN])) is not None
    assert parse_block(b"\n".join([PLAIN, other, PLAIN])) is None


def test_a_line_with_more_fields_is_handed_back_whatever_it_holds() -> None:
    old = b'{"row":12,"id":"a","t":1.0,"outcome":"correct","latency_us":1,"stage":0,"x":1}'
    block = parse_block(b"\n".join([PLAIN, old, PLAIN]))
    assert block is not None and block.extra.tolist() == [1] and block.extra_lines == [old]


def test_the_analysis_reads_the_same_columns_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    rows = [{"row": i, "id": f"r{i}", "input": "x", "expected": ("a", "b")[i % 2],
             "slices": {"k": "v"}} for i in range(50)]  # fmt: skip
    lines = []
    for i in range(20_000):
        outcome = rng.choice((0, 0, 0, 1, 2, 3, 4))
        line = _LINE % (rng.randrange(50), 1.8e9 + i / 1000, _OUTCOME_JSON[outcome],
                        rng.randrange(10**6), i // 10_000)  # fmt: skip
        if outcome == 1:
            line += b',"predicted":"' + rng.choice((b"a", b"b", b"c")) + b'"}'
        elif outcome == 0 and rng.random() < 0.1:
            line += b',"got":"A."}'
        elif outcome >= 3:
            line += b',"error":"HTTP 503"}'
        else:
            line += b"}"
        lines.append(line)
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:40]))
    (tmp_path / "results.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(columns, "_CHUNK", 1 << 16)  # many blocks, each cut mid-line
    fast = read_columns(tmp_path, {0: 4, 1: 8}, classification=True)
    monkeypatch.setattr(columns, "parse_block", lambda block, labels=False: None)
    slow = read_columns(tmp_path, {0: 4, 1: 8}, classification=True)
    assert fast.n == slow.n == len(lines)
    for name in ("row", "t", "outcome", "predicted", "got", "error", "latency_us", "stage",
                 "users"):  # fmt: skip
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert fast.texts == slow.texts and fast.rows.keys() == slow.rows.keys() == set(range(50))
    assert all(fast.rows[r] == slow.rows[r] for r in range(50))  # rows 40-49 from the lines


def test_compare_folds_the_same_rows_by_columns_as_line_by_line(tmp_path: Path) -> None:
    from stagecheck.reporting.compare import data

    rng = random.Random(5)
    # rows 0-29 in rows.jsonl (rows 0 and 1 share an id: one entry), 30-39 only in the results
    rows = [{"row": i, "id": "dup" if i < 2 else f"r{i}", "expected": ("a", "b")[i % 2],
             "slices": {"k": ("x", "y")[i % 3 == 0]}} for i in range(30)]  # fmt: skip
    lines = []
    for _ in range(6000):
        outcome = rng.choice((0, 0, 0, 1, 2, 3, 4, 5, 6))
        t = 1.8e9 + rng.randrange(200) / 100  # many ties: the first in the file wins
        line = _LINE % (rng.randrange(40), t, _OUTCOME_JSON[outcome], rng.randrange(10**6),
                        0)  # fmt: skip
        u = rng.random()
        if outcome == 1 and u < 0.5:
            line += b',"predicted":"' + rng.choice((b"a", b"b", b"c")) + b'"}'
        elif outcome in (0, 2) and u < 0.2:
            line += b',"got":"A, said the model"}'
        elif outcome in (3, 4, 5):
            line += b',"error":"HTTP 503"}'
        elif u < 0.05:  # no latency: counted as a request, no latency value
            line = line.replace(b',"latency_us":', b',"lag_us":') + b',"t2":1}'
        else:
            line += b"}"
        lines.append(line)
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    by_columns = data.fold_columns(path)
    assert by_columns is not None
    fast, slow = by_columns[0], data._fold_lines(path)[0]
    for name in ("key", "expected", "slices", "answer", "failure", "inputs"):
        assert getattr(fast, name) == getattr(slow, name), name
    for name in ("row", "correct", "requests", "answers", "right"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert np.array_equal(by_columns[1], data._fold_lines(path)[1])
    assert by_columns[2:] == data._fold_lines(path)[2:] == (6000, by_columns[3])
    old = b'{"row":1,"id":"v1","t":1.0,"outcome":"correct","latency_us":5,"stage":0,"x":1}'
    path.write_bytes(b"\n".join([*lines, old]))
    assert data.fold_columns(path) is None  # an old line: the file is folded line by line


LABELS = ["billing", "", "a", "exactly8", "sixteen-bytes-ab", "seventeen-bytes-a", "x" * 40,
          "with, comma", "café", "tab\there", 'say "hi"', "back\\slash", "\x7f", "new\nline",
          "ends with space ", "{}", "label:colon"]  # fmt: skip


def test_a_wrong_labels_line_reads_as_orjson_reads_it() -> None:
    """Lines that go on with a label alone are read without orjson when the label is printable
    ASCII without quote or backslash (at any length, of any bytes around it); any other label
    (escaped, not ASCII, a control character) is handed back with the lines of more fields."""
    rng = random.Random(11)
    lines = []
    for _ in range(4000):
        line = _LINE % (rng.randrange(10**6), rng.uniform(1.7e9, 1.9e9),
                        _OUTCOME_JSON[rng.randrange(len(OUTCOMES))], rng.randrange(10**8),
                        rng.choice((0, 3)))  # fmt: skip
        kind = rng.random()
        if kind < 0.7:
            line += b',"predicted":' + orjson.dumps(rng.choice(LABELS)) + b"}"
        elif kind < 0.8:
            line += b',"predicted":"a","got":"A."}'
        else:
            line += b"}"
        lines.append(line)
    block = parse_block(b"\n".join(lines), labels=True)
    assert block is not None
    parsed = [orjson.loads(x) for x in lines]
    labelled = block.labelled.tolist()
    assert [parsed[i]["predicted"] for i in labelled] == block.labels.tolist()
    assert [set(parsed[i]) for i in labelled] == [{"row", "t", "outcome", "latency_us",
                                                  "stage", "predicted"}] * len(labelled)
    kept = {x for x in LABELS if x.isascii() and x.isprintable() and '"' not in x
            and "\\" not in x}  # fmt: skip
    assert set(block.labels.tolist()) == kept
    others = [i for i in range(len(parsed)) if set(parsed[i]) == {"row", "t", "outcome",
              "latency_us", "stage", "predicted"} and parsed[i]["predicted"] not in kept]
    assert others and set(others) <= set(block.extra.tolist())
    assert sorted(labelled + block.extra.tolist()) == sorted(
        i for i in range(len(parsed)) if len(parsed[i]) > 5)
    for i in labelled:
        want = parsed[i]
        got = (int(block.row[i]), float(block.t[i]), OUTCOMES[block.outcome[i]],
               int(block.latency_us[i]), int(block.stage[i]))  # fmt: skip
        assert got == (want["row"], want["t"], want["outcome"], want["latency_us"], want["stage"])
    assert parse_block(b"\n".join(lines)).labelled.size == 0  # only when asked for


def test_the_analysis_reads_the_same_wrong_labels_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    rows = [{"row": i, "id": f"r{i}", "input": "x", "expected": LABELS[i % len(LABELS)],
             "slices": {}} for i in range(60)]  # fmt: skip
    lines = []
    for i in range(12_000):
        outcome = rng.choice((0, 1, 1, 1, 2))
        line = _LINE % (rng.randrange(60), 1.8e9 + i / 1000, _OUTCOME_JSON[outcome],
                        rng.randrange(10**6), 0)  # fmt: skip
        if outcome == 1:
            line += b',"predicted":' + orjson.dumps(rng.choice(LABELS)) + b"}"
        else:
            line += b"}"
        lines.append(line)
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "results.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(columns, "_CHUNK", 1 << 16)  # many blocks, each cut mid-line
    fast = read_columns(tmp_path, {0: 4}, classification=True)
    monkeypatch.setattr(columns, "parse_block", lambda block, labels=False: None)
    slow = read_columns(tmp_path, {0: 4}, classification=True)
    for name in ("row", "t", "outcome", "predicted", "got", "error", "latency_us", "stage",
                 "users"):  # fmt: skip
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert fast.texts == slow.texts
