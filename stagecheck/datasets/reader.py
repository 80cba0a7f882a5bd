"""Read dataset records (JSONL, CSV, Parquet) with the line each came from."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from stagecheck.errors import InputError

__all__ = ["Record", "read_records", "read_chunks", "detect_format"]

Record = tuple[int, dict[str, Any]]  # (line number, fields)
CHUNK_BYTES = 512 * 1024  # JSONL read this much at a time (~4,000 short rows)
CHUNK_ROWS = 4096  # CSV and Parquet rows in a chunk


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError(
        f"{path}: cannot tell the dataset format from the file name; set dataset.format "
        "to jsonl, csv or parquet"
    )


def _jsonl(path: Path, problems: list[str]) -> Iterator[list[Record]]:
    # Bytes and orjson, a chunk of lines at a time (5x faster than text lines and json: 1 M
    # rows in ~1.5 s). A chunk with a line orjson refuses, or with a lone carriage return (a
    # line break in text mode), is read line by line with the json module as before: the same
    # records and the same problem lines.
    loads = orjson.loads
    local: list[str] = []
    with path.open("rb") as f:
        n = 0
        while lines := f.readlines(CHUNK_BYTES):
            blob = b"".join(lines)
            if blob.count(b"\r") == blob.count(b"\r\n"):
                try:
                    objs = [loads(raw) for raw in lines]
                except orjson.JSONDecodeError:
                    pass
                else:
                    if all(type(o) is dict for o in objs):
                        yield list(zip(range(n + 1, n + 1 + len(lines)), objs, strict=True))
                        n += len(lines)
                        continue
            chunk: list[Record] = []
            for raw in lines:
                texts = io.StringIO(raw.decode("utf-8"), newline=None).readlines()
                for i, line in enumerate(texts, start=n + 1):
                    chunk.extend(_json_line(path, i, line, local))
                    if local:  # after the rows before it: problems stay in line order
                        if chunk:
                            yield chunk
                            chunk = []
                        problems += local
                        local.clear()
                n += len(texts)
            if chunk:
                yield chunk


def _json_line(path: Path, n: int, line: str, problems: list[str]) -> Iterator[Record]:
    if not line.strip():
        return
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        problems.append(f"{path}:{n}: not valid JSON ({exc.msg})")
        return
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        reason = "integer too large" if "digits" in str(exc) else str(exc)[:100]
        problems.append(f"{path}:{n}: not usable JSON ({reason})")
        return
    except RecursionError:
        problems.append(f"{path}:{n}: not usable JSON (nested too deeply)")
        return
    if not isinstance(obj, dict):
        problems.append(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        return
    yield n, obj


def _csv(path: Path, problems: list[str]) -> Iterator[Record]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        rows = iter(reader)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                # e.g. a field over csv.field_size_limit() (128 KiB): the file cannot be read
                # on from there, so this one line ends it.
                raise InputError(
                    f"{path}:{reader.line_num}: not readable CSV ({exc}); rows from here on "
                    "were not read"
                ) from None
            if None in row:
                problems.append(f"{path}:{reader.line_num}: more values than header columns")
                continue
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def _parquet(path: Path) -> Iterator[Record]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise InputError(
            f"{path}: reading Parquet needs pyarrow: pip install 'stagecheck[parquet]'"
        ) from None
    except Exception as exc:  # pyarrow's errors are many and undocumented: one line for all
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{path}: not a readable Parquet file ({reason})") from None
    for i, rec in enumerate(frame.to_dict(orient="records"), start=1):
        # Parquet has no lines: report the 1-based row number instead.
        yield i, {str(k): (v.tolist() if hasattr(v, "tolist") else v) for k, v in rec.items()}


def _chunks(path: Path, fmt: str, problems: list[str]) -> Iterator[list[Record]]:
    local: list[str] = []
    records = _csv(path, local) if fmt == "csv" else _parquet(path)
    chunk: list[Record] = []
    for record in records:
        if local:  # lines before this record's: after the rows before them, in line order
            if chunk:
                yield chunk
                chunk = []
            problems += local
            local.clear()
        chunk.append(record)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
    problems += local


def read_chunks(path: Path, fmt: str, problems: list[str]) -> Iterator[list[Record]]:
    """Yield lists of (line, record) of a few thousand rows each, in order; malformed lines
    are appended to ``problems``."""
    if not path.is_file():
        raise InputError(f"{path}: dataset file not found")
    try:
        if fmt == "jsonl":
            yield from _jsonl(path, problems)
        else:
            yield from _chunks(path, fmt, problems)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the dataset ({exc.strerror or exc})") from None


def read_records(path: Path, fmt: str, problems: list[str]) -> Iterator[Record]:
    """Yield (line, record); malformed lines are appended to ``problems``."""
    for chunk in read_chunks(path, fmt, problems):
        yield from chunk
