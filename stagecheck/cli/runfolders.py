"""``stagecheck report`` and ``stagecheck compare``: run folders read again, rejudged,
compared."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stagecheck.errors import EXIT_THRESHOLD_FAILED, InputError

__all__ = ["cmd_report", "cmd_compare"]


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild the analysis and judge the thresholds again from the run folder; the exit code
    is the verdict's, as after the run. New thresholds (``--threshold``) judge the run into
    ``summary.rejudged.json`` and its reports, beside the run's own, which stay as they were.
    A run folder without a summary (its master or its process died) gets one rebuilt from the
    results on disk first, marked incomplete: invalid, exit 3."""
    from stagecheck.reporting import (
        REJUDGED,
        SUMMARY_FILE,
        load_summary,
        render_console,
        summary_variant,
        variant_name,
        write_reports,
    )
    from stagecheck.run.controller import exit_code_for
    from stagecheck.run.rebuild import can_rebuild, rebuild_summary
    from stagecheck.runfolder.layout import live_owner, write_summary
    from stagecheck.summary.pipeline import rejudge_run_folder

    run_dir = Path(args.run_dir)
    owner = live_owner(run_dir) if run_dir.is_dir() else None
    if owner is not None:  # a rebuild now would call a live run dead: leave its folder alone
        raise InputError(f"{run_dir}: its run is still going (process {owner}); report it "
                         "once the run has ended")  # fmt: skip
    rebuilt = can_rebuild(run_dir)
    if rebuilt:  # analysed and judged by its own thresholds as it is rebuilt
        path = write_summary(run_dir, rebuild_summary(run_dir))
        print(f"wrote {path} (rebuilt from the results on disk: the run did not end)")
    summary = load_summary(run_dir)
    if run_dir.is_dir():
        variant = REJUDGED if args.thresholds else ""
        if args.thresholds or not rebuilt:
            summary = rejudge_run_folder(run_dir, summary, args.thresholds)
            print(f"wrote {write_summary(run_dir, summary, variant_name(SUMMARY_FILE, variant))}")
        if variant:
            print(f"  (judged by --threshold; the run's own verdict stays in {SUMMARY_FILE})")
    elif args.thresholds:
        raise InputError(f"{run_dir}: --threshold needs the run folder, not a summary file")
    else:
        variant = summary_variant(run_dir)
    folder = run_dir if run_dir.is_dir() else run_dir.parent
    for path in write_reports(folder, summary, variant):
        print(f"wrote {path}")
    print(render_console(summary))
    return exit_code_for(str(summary.get("verdict")))


def cmd_compare(args: argparse.Namespace) -> int:
    from stagecheck.reporting.compare.html import write_comparison
    from stagecheck.reporting.compare.runs import compare_folders
    from stagecheck.reporting.compare.view import render_comparison, render_comparison_markdown

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".md", ".html", ".htm"):
        raise InputError(f"--out {out}: the file must end in .md or .html")
    comparison = compare_folders(
        args.base_run,
        args.new_run,
        quality_tolerance=args.quality_tolerance,
        error_rate_tolerance=args.error_rate_tolerance,
        latency_tolerance=args.latency_tolerance,
        throughput_tolerance=args.throughput_tolerance,
        alpha=args.alpha,
    )
    if out is not None:
        write_comparison(comparison, out)
    render = render_comparison_markdown if args.markdown else render_comparison
    code = EXIT_THRESHOLD_FAILED if comparison.regressed else 0
    try:
        sys.stdout.write(render(comparison))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): Python's documented recipe, so the exit at
        # shutdown does not flush into the closed pipe again; the exit code stays honest.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return code
