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
    ds = prepared.dataset.as_written()  # variant rows are copies: not part of the profile
    sample = None
    if args.against:  # a bad sample is exit 2 before anything is printed as OK
        from stagecheck.production.against import sample_for_dataset

        sample = sample_for_dataset(args.against, prepared.loaded.scenario.dataset, ds,
                                    args.against_label)  # fmt: skip
    print(describe_scenario(prepared))
    profile = profile_dataset(ds, ds.slice_fields, prepared.scorer.classification)
    print("\n".join(profile_lines(profile) + conversation_profile_lines(ds)))
    if sample is not None:
        from stagecheck.production.view import sample_lines

        print("\n".join(["", *sample_lines(sample)]))
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
