"""What the run's aggregate writes into the run folder as it goes: ``rows.jsonl`` once, and
``latency.hlog``'s header and one line per merged interval."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from stagecheck.datasets import PreparedRow, RowTable

__all__ = ["ROWS_PER_PAUSE", "open_hlog", "write_rows_file", "write_hlog_interval"]

ROWS_PER_PAUSE = 512  # rows.jsonl lines written between two pauses (~1 ms)


def open_hlog(path: Path, started: float) -> IO[str]:
    """``latency.hlog`` opened for appending, its header written (the run's start)."""
    hlog = path.open("a", encoding="utf-8")
    try:
        writer = HistogramLogWriter(hlog)
        writer.output_comment("[Logged with stagecheck: end-to-end latency in microseconds]")
        writer.output_log_format_version()
        # hdrh's own output_start_time is broken (it treats ms as s): write the line here.
        iso = datetime.fromtimestamp(started, timezone.utc).isoformat()
        hlog.write(f"#[StartTime: {started:.3f} (seconds since epoch), {iso}]\n")
        hlog.write(f"#[BaseTime: {started:.3f} (seconds since epoch)]\n")
        writer.output_legend()
        hlog.flush()
    except OSError:
        with contextlib.suppress(OSError):
            hlog.close()
        raise
    return hlog


def write_rows_file(
    path: Path, rows: Sequence[PreparedRow], fields: Sequence[str], pause: Callable[[], None]
) -> None:
    """Write ``rows.jsonl`` from the columns of a row table (1 M rows in ~2 s of CPU), pausing
    every :data:`ROWS_PER_PAUSE` rows. Raises OSError."""
    if isinstance(rows, RowTable):
        columns: Iterator[tuple[int, str, str, str, tuple[str, ...]]] = zip(
            range(len(rows)), rows.row_ids(), rows.input_texts, rows.expected_texts,
            rows.slices, strict=True,
        )  # fmt: skip
    else:
        columns = ((r.index, r.row_id, r.input_text, r.expected_text, r.slices) for r in rows)
    named: dict[tuple[str, ...], dict[str, str]] = {}  # slice values → their dict, once
    dumps = orjson.dumps
    origins = rows.origins if isinstance(rows, RowTable) else {}
    # a conversation dataset's rows are its turns: each line says whose and which (1-based)
    table = rows.conversations if isinstance(rows, RowTable) else None
    with path.open("wb") as f:
        while chunk := list(islice(columns, ROWS_PER_PAUSE)):
            lines: list[dict[str, Any]] = [
                {"row": i, "id": rid, "input": text, "expected": expected,
                 "slices": named.get(sl) or named.setdefault(
                     sl, dict(zip(fields, sl, strict=True))),
                 **_origin(origins.get(i))}
                for i, rid, text, expected, sl in chunk
            ]  # fmt: skip
            if table is not None:
                for line in lines:
                    i = line["row"]
                    line["conversation"] = table.ids[table.conversation_of[i]]
                    line["turn"] = table.turn_of[i]
                    line["context_chars"] = table.context_chars[i]
            f.write(b"".join(dumps(line) + b"\n" for line in lines))
            pause()


def _origin(tag: tuple[str, int] | None) -> dict[str, object]:
    """A variant row's ``variant`` and ``origin`` keys (dataset.variants), else none."""
    return {} if tag is None else {"variant": tag[0], "origin": tag[1]}


def write_hlog_interval(
    hlog: IO[str],
    start: float,
    end: float,
    *,
    histogram: HdrHistogram | None = None,
    encoded: bytes | None = None,
    max_us: int = 0,
) -> None:
    """One interval's line of ``latency.hlog`` (seconds since the run's start): of
    ``histogram``, or of a histogram already encoded (a worker's) whose ``get_max_value()`` is
    ``max_us``. Raises OSError."""
    if encoded is None:
        assert histogram is not None
        HistogramLogWriter(hlog).output_interval_histogram(
            histogram, start_time_stamp_sec=start, end_time_stamp_sec=end,
            max_value_unit_ratio=1000.0,  # interval max column in milliseconds
        )  # fmt: skip
    else:  # HistogramLogWriter's line, with the encoding already at hand
        max_ms = max_us // 1000.0
        hlog.write(f"{start:f},{end - start:f},{max_ms:f},{encoded.decode()}\n")
    hlog.flush()
