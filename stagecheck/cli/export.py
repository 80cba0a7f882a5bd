"""``stagecheck export``: a run's errors (``--errors``) or its regressions against a base run
(``--flips-from BASE``) as training data: JSONL or CSV in the dataset's own field names, or
chat fine-tuning records (``openai-chat``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from stagecheck.errors import InputError

__all__ = ["cmd_export"]


def _classification(run_dir: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        return isinstance(summary, dict) and bool(summary.get("classes"))
    return True  # no summary: labels are known from rows.jsonl all the same


def cmd_export(args: argparse.Namespace) -> int:
    from stagecheck.reporting.export import error_rows, field_names, flip_rows, write_records

    run_dir = Path(args.run_dir)
    if args.flips_from:
        rows, notes = flip_rows(Path(args.flips_from), run_dir)
        what = f"rows right in {args.flips_from} and wrong here"
    else:
        rows, notes = error_rows(run_dir, _classification(run_dir))
        what = "wrong, off-label or failed rows"
    names = field_names(run_dir)
    out: Any
    if args.out:
        try:
            out = open(args.out, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"--out {args.out}: cannot write it ({exc.strerror or exc})") from None
    else:
        out = sys.stdout
    try:
        write_records(rows, names, args.format, out)
    finally:
        if out is not sys.stdout:
            out.close()
    for note in notes:
        print(f"stagecheck: note: {note}", file=sys.stderr)
    where = f" to {args.out}" if args.out else ""
    print(f"stagecheck: exported {len(rows):,} {what} ({args.format}){where}", file=sys.stderr)
    return 0
