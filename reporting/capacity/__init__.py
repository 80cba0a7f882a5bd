"""The capacity search's report: console/Markdown view (:mod:`.view`) and HTML (:mod:`.html`)."""

from __future__ import annotations

from pathlib import Path

from stagecheck.capacity.schema import CapacityResult
from stagecheck.reporting.capacity.html import render_capacity_html
from stagecheck.reporting.capacity.view import render_capacity_markdown

__all__ = ["write_capacity_reports"]


def write_capacity_reports(folder: Path, result: CapacityResult) -> list[Path]:
    """capacity.json, capacity.md and capacity.html in the capacity folder."""
    paths = [folder / "capacity.json", folder / "capacity.md", folder / "capacity.html"]
    paths[0].write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(render_capacity_markdown(result), encoding="utf-8")
    paths[2].write_text(render_capacity_html(result), encoding="utf-8")
    return paths
