"""Datasets: formats, field mapping, bad rows with line numbers, seeded order, exact pass."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from stagecheck.datasets import RowFeeder, load_dataset
from stagecheck.errors import InputError
from stagecheck.fields import field_value
from stagecheck.protocols import build_adapter
from stagecheck.scenario import load_scenario
from stagecheck.scoring import build_scorer
from tests.conftest import BASIC_SCENARIO, SMALL_ROWS

pytestmark = pytest.mark.unit


def prepare(path, overrides=()):
    loaded = load_scenario(path, overrides)
    sc = loaded.scenario
    adapter = build_adapter(
        sc.endpoint.protocol,
        model=sc.endpoint.model,
        inputs=sc.dataset.input,
        options=sc.endpoint.options,
    )
    return load_dataset(loaded, adapter, build_scorer(sc.scoring))


def test_jsonl_rows_are_prepared_once(write_scenario):
    ds = prepare(write_scenario(BASIC_SCENARIO))
    assert len(ds.rows) == len(SMALL_ROWS)
    row = ds.rows[3]
    assert row.line == 4
    assert row.expected_text == "refund"
    assert row.slices == ("complex", "email")
    body = json.loads(row.request.body)
    assert body["messages"][-1]["content"] == SMALL_ROWS[3]["text"]
    assert ds.labels == ["account_access", "billing", "refund", "shipping"]
    assert ds.slice_values() == {"complexity": ["complex", "simple"], "channel": ["chat", "email"]}


def test_a_request_built_when_sent_is_kept_and_the_same_bytes(write_scenario):
    ds = prepare(write_scenario(BASIC_SCENARIO))
    table = ds.rows
    first = [table[i].request for i in range(len(table))]
    again = [table[i].request for i in range(len(table))]
    # the next send of a row sends what its first did, without building it again
    assert all(a is b for a, b in zip(first, again, strict=True))
    built_now = [table._adapter.prepare(*[dict(zip(table._inputs, (text,), strict=True))] * 2)
                 for text in table.input_texts]  # fmt: skip
    assert first == built_now
    table.set_request(0, built_now[1])  # a loader's own request replaces a kept one
    assert table[0].request == built_now[1]


def test_bad_rows_are_reported_with_their_lines(write_scenario, small_dataset):
    lines = small_dataset.read_text().splitlines()
    lines[1] = "{not json"
    lines[4] = json.dumps({"text": "x", "complexity": "simple", "channel": "chat"})
    small_dataset.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO))
    problems = info.value.problems
    assert problems == [
        f"{small_dataset}:2: not valid JSON (Expecting property name enclosed in double quotes)",
        f"{small_dataset}:5: expected field 'label' is missing",
    ]


def test_skip_mode_skips_and_counts(write_scenario, small_dataset):
    with small_dataset.open("a") as f:
        f.write('{"text": "no label", "complexity": "simple", "channel": "chat"}\n')
        f.write("[1, 2]\n")
    ds = prepare(write_scenario(BASIC_SCENARIO), ["dataset.on_bad_row=skip"])
    assert len(ds.rows) == len(SMALL_ROWS)
    assert ds.skipped == 2


def test_csv_with_nested_path_and_missing_file(write_scenario, tmp_path):
    csv_path = tmp_path / "d.csv"
    csv_path.write_text(
        "text,label,complexity,channel\nhello,billing,simple,chat\nbye,refund,complex,email,EXTRA\n"
    )
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO), [f"dataset.path={csv_path}"])
    assert info.value.problems == [f"{csv_path}:3: more values than header columns"]
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO), [f"dataset.path={tmp_path / 'nope.jsonl'}"])
    assert info.value.problems == [f"{tmp_path / 'nope.jsonl'}: dataset file not found"]


def test_field_value_dotted_paths():
    record = {"a": {"b": [{"c": 1}, {"c": 2}]}, "x.y": 5}
    assert field_value(record, "a.b.1.c") == 2
    assert field_value(record, "x.y") == 5
    assert repr(field_value(record, "a.z")) == "MISSING"


class _Row:
    def __init__(self, index):
        self.index = index


def _rows(n):
    return [_Row(i) for i in range(n)]


def test_feeder_sequential_cycles_and_shuffle_is_seeded():
    feeder = RowFeeder(_rows(5))  # type: ignore[arg-type]
    assert [feeder.next_row().index for _ in range(7)] == [0, 1, 2, 3, 4, 0, 1]
    a = RowFeeder(_rows(50), order="shuffle", seed=3)  # type: ignore[arg-type]
    b = RowFeeder(_rows(50), order="shuffle", seed=3)  # type: ignore[arg-type]
    c = RowFeeder(_rows(50), order="shuffle", seed=4)  # type: ignore[arg-type]
    first = [a.next_row().index for _ in range(100)]
    assert first == [b.next_row().index for _ in range(100)]
    assert first != [c.next_row().index for _ in range(100)]
    assert sorted(first[:50]) == list(range(50)) and first[:50] != first[50:]


def test_exact_pass_hands_out_every_row_exactly_n_times_across_shards():
    handed: Counter[int] = Counter()
    for shard in range(3):
        feeder = RowFeeder(
            _rows(10),
            order="shuffle",
            passes=2,
            shard_index=shard,  # type: ignore[arg-type]
            shard_count=3,
        )
        while (row := feeder.next_row()) is not None:
            handed[row.index] += 1
        assert feeder.exhausted
    assert handed == Counter({i: 2 for i in range(10)})


def test_a_csv_without_the_label_column_is_one_line_about_its_header(write_scenario, tmp_path):
    """A CSV whose label column is named otherwise: one line naming the column and the scenario
    key, with the nearest header name, not a line per row and advice to skip them."""
    csv_path = tmp_path / "d.csv"
    csv_path.write_text(
        "text,labels,complexity,channel\n"
        + "".join(f"hello {i},billing,simple,chat\n" for i in range(30))
    )
    for mode in ("fail", "skip"):
        with pytest.raises(InputError) as info:
            prepare(write_scenario(BASIC_SCENARIO),
                    [f"dataset.path={csv_path}", f"dataset.on_bad_row={mode}"])  # fmt: skip
        assert info.value.problems == [
            f"{csv_path}: no column 'label' (dataset.expected) in the header; "
            "did you mean 'labels'?"
        ]
    # no near name: the header is listed; every scenario key is checked (id and slices too)
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO),
                [f"dataset.path={csv_path}", "dataset.expected=labels", "dataset.id=qid",
                 "dataset.slices=[complexity, chanel]"])  # fmt: skip
    assert info.value.problems == [
        f"{csv_path}: no column 'chanel' (dataset.slices) in the header; did you mean 'channel'?",
        f"{csv_path}: no column 'qid' (dataset.id) in the header; "
        "the columns are: text, labels, complexity, channel",
    ]


def test_a_jsonl_field_no_row_has_is_one_line(write_scenario, small_dataset):
    rows = [{k: v for k, v in r.items() if k != "label"} | {"labels": r["label"]}
            for r in SMALL_ROWS]  # fmt: skip
    small_dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO))
    assert info.value.problems == [
        f"{small_dataset}: no row has the field 'label' (dataset.expected); did you mean 'labels'?"
    ]
    # a field some rows have is a problem of the rows that lack it, as before
    rows[2]["label"] = "billing"
    small_dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO))
    assert info.value.problems[0] == f"{small_dataset}:1: expected field 'label' is missing"


def test_a_column_is_in_the_header_whatever_its_first_row_holds():
    """A nested field (``meta.text``) of a struct column that is null in the first row is a
    problem of that row, not of the header."""
    from stagecheck.datasets.columns import absent_fields

    fields = [("dataset.input", "meta.text"), ("dataset.expected", "label")]
    record = {"meta": None, "labels": "a"}
    assert absent_fields(record, fields, header=True) == [("dataset.expected", "label")]
    assert absent_fields(record, fields) == fields


def _many_rows(small_dataset, n):
    """``n`` rows (several read chunks) of text, labels and slices; row 6 has no id."""
    rows = []
    for i in range(n):
        r = dict(SMALL_ROWS[i % len(SMALL_ROWS)])
        r["text"] = f"{r['text']} #{i} ünïcode" if i % 3 else f"{r['text']} #{i}"
        r["id"] = f"q{i}"
        if i == 5:
            del r["id"]
        rows.append(r)
    small_dataset.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def _columns(ds):
    return [(r.index, r.line, r.row_id, r.expected, r.expected_text, r.slices, r.input_text,
             r.request) for r in ds.rows]  # fmt: skip


def test_a_large_dataset_loads_the_same_rows_as_one_read_row_by_row(write_scenario, small_dataset):
    """Clean chunks are prepared column by column; ``dataset.limit`` prepares row by row: both
    give the same rows, the same requests (built when read) and the same labels and slices."""
    rows = _many_rows(small_dataset, 30_000)
    scenario = write_scenario(BASIC_SCENARIO.replace("  input: text", "  input: text\n  id: id"))
    fast = prepare(scenario)
    slow = prepare(scenario, ["dataset.limit=1000000"])
    assert len(fast.rows) == len(slow.rows) == len(rows)
    assert _columns(fast) == _columns(slow)
    assert fast.rows[5].row_id == "6" and fast.rows[8].row_id == "q8"  # no id: the line
    assert json.loads(fast.rows[29_999].request.body)["messages"][-1]["content"] == rows[-1]["text"]
    assert fast.labels == slow.labels and fast.slice_values() == slow.slice_values()


def test_bad_rows_of_a_large_dataset_are_named_in_line_order(write_scenario, small_dataset):
    _many_rows(small_dataset, 9_000)
    lines = small_dataset.read_text().splitlines()
    lines[8_000] = json.dumps({"text": "x", "complexity": "simple", "channel": "chat"})
    lines[8_001] = "{not json"
    lines[8_003] = json.dumps({"text": "\udc00", "label": "refund", "complexity": "simple",
                               "channel": "chat"})  # fmt: skip
    lines[20] = json.dumps({"text": "y", "label": 3, "complexity": "simple", "channel": "chat"})
    small_dataset.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        prepare(write_scenario(BASIC_SCENARIO))
    assert info.value.problems == [
        f"{small_dataset}:8001: expected field 'label' is missing",
        f"{small_dataset}:8002: not valid JSON (Expecting property name enclosed in double quotes)",
        f"{small_dataset}:8004: input field 'text' holds text that is not valid Unicode "
        "(a lone surrogate such as \\udc00)",
    ]
    skipped = prepare(write_scenario(BASIC_SCENARIO), ["dataset.on_bad_row=skip"])
    assert len(skipped.rows) == 9_000 - 3 and skipped.skipped == 3
    assert skipped.rows[20].expected_text == "3"


def test_a_row_read_again_is_the_same_and_a_changed_row_reads_changed():
    """A table keeps the rows it made (each send and each fold reads its row): the same row
    again, until its request or id is set anew, or the table is cut below it."""
    from stagecheck.datasets.rows import RowTable
    from stagecheck.protocols.base import PreparedRequest

    table = RowTable()
    for i in range(3):
        table.append(i + 1, None, PreparedRequest("/p", b"{%d}" % i), f"e{i}", f"e{i}", (), "x")
    first = table[1]
    assert table[1] is first and table[-2] is first and first.row_id == "2"
    table.set_request(1, PreparedRequest("/q", b"{}"))
    assert table[1].request.path == "/q"
    table.set_row_id(1, "r-2")
    assert table[1].row_id == "r-2" and table[1].request.path == "/q"
    table.truncate(1)
    table.append(9, "new", PreparedRequest("/n", b"{}"), "n", "n", (), "y")
    assert (table[1].row_id, table[1].expected_text) == ("new", "n")
