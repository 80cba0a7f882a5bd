"""stagecheck.reporting: a run folder's summary.json → reports, and compare two runs.

Every report is a view of the one summary model (:class:`stagecheck.summary.schema.Summary`,
read leniently from any summary.json by :func:`build_report`): the terminal summary,
``summary.md``, ``report.html`` and ``junit.xml`` read its figures by attribute.
This package reads run folders only; it never imports Locust.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stagecheck.errors import InputError
from stagecheck.reporting.compare.runs import Comparison, ComparisonRow, Tolerances, compare_runs
from stagecheck.reporting.compare.view import render_comparison, render_comparison_markdown
from stagecheck.reporting.console import render_console
from stagecheck.reporting.html.page import render_html
from stagecheck.reporting.junit import render_junit
from stagecheck.reporting.markdown import render_markdown
from stagecheck.summary.read import load_summary_model
from stagecheck.summary.schema import Summary

__all__ = [
    "SCHEMA_VERSION",
    "SUMMARY_FILE",
    "HTML_FILE",
    "MARKDOWN_FILE",
    "JUNIT_FILE",
    "load_summary",
    "write_reports",
    "variant_name",
    "summary_variant",
    "REJUDGED",
    "build_report",
    "Summary",
    "render_console",
    "render_markdown",
    "render_html",
    "render_junit",
    "compare_runs",
    "Comparison",
    "ComparisonRow",
    "Tolerances",
    "render_comparison",
    "render_comparison_markdown",
]

#: A summary.json dict (any age, even half-written) → the summary model every report reads.
build_report = load_summary_model
#: The summary.json schema this package reads.
SCHEMA_VERSION = 1
SUMMARY_FILE = "summary.json"
HTML_FILE = "report.html"
MARKDOWN_FILE = "summary.md"
JUNIT_FILE = "junit.xml"
#: The variant of a run's files that ``stagecheck report RUN --threshold`` writes beside the
#: run's own (``summary.rejudged.json``, ``report.rejudged.html``, …): re-judging never replaces
#: the verdict the run was given.
REJUDGED = "rejudged"


def variant_name(name: str, variant: str = "") -> str:
    """``report.html`` of a variant: ``report.<variant>.html`` (the name itself for none)."""
    if not variant:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{variant}{dot}{ext}"


def summary_variant(path: Path) -> str:
    """The variant a summary file is of: ``summary.rejudged.json`` → ``rejudged``; any other
    name → none (its reports are the run's own)."""
    parts = path.name.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "summary" and parts[2] == "json" else ""


def _summary_path(run_dir: str | Path) -> Path:
    path = Path(run_dir)
    return path if path.suffix == ".json" and not path.is_dir() else path / SUMMARY_FILE


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    """Read and check ``summary.json`` of a run folder (or the path of a summary file itself).

    Raises :class:`~stagecheck.errors.InputError` with one line naming the file when it is
    missing, unreadable, not JSON, or of another schema version.
    """
    path = _summary_path(run_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = Path(run_dir)
        if not where.exists():
            raise InputError(f"{where}: no such run folder") from None
        raise InputError(
            f"{path}: no summary.json here (is this a stagecheck run folder?)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"{path}: cannot read the file: {reason}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        found = "no schema_version" if version is None else f"schema_version {version!r}"
        raise InputError(f"{path}: {found}, this stagecheck reads schema_version {SCHEMA_VERSION}")
    return data


def write_reports(
    run_dir: str | Path, summary: Mapping[str, Any] | None = None, variant: str = ""
) -> list[Path]:
    """Write ``report.html``, ``summary.md`` and ``junit.xml`` into ``run_dir`` (with a
    ``variant``, ``report.<variant>.html`` and so on).

    ``summary`` defaults to the folder's summary.json. Returns the paths written. Each file is
    written to a temporary name first and renamed, so a reader never sees half a report.
    """
    folder = Path(run_dir)
    data = load_summary(folder) if summary is None else summary
    model = load_summary_model(data)
    outputs = {
        HTML_FILE: render_html(model),
        MARKDOWN_FILE: render_markdown(model),
        JUNIT_FILE: render_junit(model),
    }
    written = []
    for name, text in outputs.items():
        target = folder / variant_name(name, variant)
        tmp = folder / f".{target.name}.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            with contextlib.suppress(OSError):  # a folder gone or read-only refuses this too
                tmp.unlink(missing_ok=True)
            raise InputError(f"{target}: cannot write the report: {exc.strerror or exc}") from None
        written.append(target)
    return written
