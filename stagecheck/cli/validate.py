"""``stagecheck validate``: the scenario and its dataset checked and described; with
``--probe``, one real request."""

from __future__ import annotations

import argparse

__all__ = ["cmd_validate"]


def cmd_validate(args: argparse.Namespace) -> int:
    from stagecheck.datasets.conversations import conversation_profile_lines
    from stagecheck.datasets.profile import profile_dataset
    from stagecheck.datasets.profile_view import profile_lines
    from stagecheck.run.preparation import describe_scenario, prepare_scenario

    prepared = prepare_scenario(args.scenario, args.overrides)
    print(describe_scenario(prepared))
    ds = prepared.dataset
    profile = profile_dataset(ds, ds.slice_fields, prepared.scorer.classification)
    print("\n".join(profile_lines(profile) + conversation_profile_lines(ds)))
    if not args.probe:
        return 0
    from stagecheck.endpoint.check import check_endpoint
    from stagecheck.errors import RunError
    from stagecheck.run.probe import probe_endpoint

    check_endpoint(prepared.loaded.scenario.endpoint)
    result = probe_endpoint(prepared)
    print("\n".join(result.lines), flush=True)
    if result.failure:
        raise RunError(result.failure)
    return 0
