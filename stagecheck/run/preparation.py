"""Everything checked and built before any load: scenario, adapter, scorer, prepared rows,
and threshold names checked against the dataset (classes, slices) and the protocol (streams).

No Locust import: ``stagecheck validate`` and the CLI's pre-flight use it as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stagecheck.datasets import PreparedDataset, load_dataset
from stagecheck.endpoint.check import url_path_warning
from stagecheck.errors import InputError
from stagecheck.judging.thresholds import check_threshold_names, judges_correctness, parse_threshold
from stagecheck.protocols import ProtocolAdapter, build_adapter
from stagecheck.redact import redact_url
from stagecheck.scenario import LoadedScenario, load_scenario
from stagecheck.scenario.variants import ORIGINAL
from stagecheck.scoring import Scorer, build_scorer

__all__ = ["PreparedScenario", "prepare_scenario", "prepare_loaded", "describe_scenario"]


@dataclass(frozen=True)
class PreparedScenario:
    loaded: LoadedScenario
    adapter: ProtocolAdapter
    scorer: Scorer
    dataset: PreparedDataset

    @property
    def streams(self) -> bool:
        return self.dataset.rows[0].request.stream


def prepare_loaded(
    loaded: LoadedScenario, pause: Callable[[], None] | None = None
) -> PreparedScenario:
    """Build and check everything (``pause``: see :func:`load_dataset`)."""
    sc = loaded.scenario
    ep = sc.endpoint
    adapter = build_adapter(
        ep.protocol, model=ep.model, inputs=sc.dataset.input, options=ep.options
    )
    scorer = build_scorer(sc.scoring, loaded.base_dir)
    dataset = load_dataset(loaded, adapter, scorer, pause)
    prepared = PreparedScenario(loaded, adapter, scorer, dataset)
    gates = [parse_threshold(t) for t in sc.gates]
    problems = check_threshold_names(
        gates,
        classes=dataset.labels if scorer.classification else None,
        classification=scorer.classification,
        slices=dataset.slice_values(),
        timings=("e2e", "ttft", "itl") if prepared.streams else ("e2e",),
        variants=[ORIGINAL, *(v.label for v in sc.dataset.variants)],
    )
    problems = [f"thresholds: {p}" for p in problems]
    problems += _tool_call_problems(sc.scoring.get("kind"), adapter, [g.metric for g in gates])
    problems += [f"thresholds: {p}" for p in _conversation_gates(sc.gates, dataset,
                                                                 prepared.streams)]
    if problems:
        raise InputError([f"{loaded.path}: {p}" for p in problems])
    return prepared


def _tool_call_problems(
    kind: str | None, adapter: ProtocolAdapter, metrics: Sequence[str]
) -> list[str]:
    """The tool-call scorer reads tool calls, which only an adapter with tools returns."""
    declared = getattr(getattr(adapter, "options", None), "tools", None) is not None
    out = []
    if kind == "tool-call" and not declared:
        out.append(
            "scoring: kind tool-call needs the tools declared in endpoint.options.tools "
            "(protocol openai-chat)"
        )
    if kind != "tool-call" and "tool_call.accuracy" in metrics:
        out.append("thresholds: tool_call.accuracy needs scoring.kind: tool-call")
    return out


def _conversation_gates(gates: Sequence[str], dataset: PreparedDataset, streams: bool) -> list[str]:
    """Conversation figures exist only for a conversation dataset; TTFT only for streams."""
    problems = []
    for t in map(parse_threshold, gates):
        if t.metric.startswith(("conversation.", "turn[", "context[")):
            if dataset.conversations is None:
                problems.append(f"{t.expression}: {t.metric} needs a conversation dataset "
                                "(dataset.conversations)")  # fmt: skip
            elif ".ttft." in t.metric and not streams:
                problems.append(f"{t.expression}: ttft needs a streamed answer "
                                "(endpoint.options.stream: true)")  # fmt: skip
            elif t.metric.startswith("turn["):
                position = int(t.metric[len("turn[") :].split("]", 1)[0])
                longest = max(dataset.conversations.turns_per_conversation())
                if position > longest:
                    problems.append(f"{t.expression}: no conversation has {position} turns "
                                    f"(the longest has {longest})")  # fmt: skip
    return problems


def prepare_scenario(path: str, overrides: Sequence[str] = ()) -> PreparedScenario:
    """Load and check a scenario and its dataset; raise :class:`InputError` (exit code 2)."""
    return prepare_loaded(load_scenario(path, overrides))


def describe_scenario(p: PreparedScenario) -> str:
    sc = p.loaded.scenario
    ds = p.dataset
    load = sc.load
    if load.stages and load.open_loop:
        rates = "/s, ".join(f"{s.arrival_rate:g}" for s in load.stages)
        plan = f"{len(load.stages)} stages of arrival rates ({rates}/s), open loop"
    elif load.stages:
        plan = f"{len(load.stages)} stages, up to {max(s.users for s in load.stages)} users"
    elif load.arrival_rate:
        plan = f"arrival rate {load.arrival_rate:g}/s (open loop, up to {load.users} in flight)"
    else:
        plan = f"{load.users} users"
    plan += f" for {load.total_duration:g}s"
    if sc.dataset.passes is not None:
        plan += f", exact pass ×{sc.dataset.passes} ({sc.dataset.passes * len(ds.rows)} requests)"
    lines = [
        f"scenario {sc.name}: OK",
        f"  endpoint   {redact_url(sc.endpoint.url)} ({sc.endpoint.protocol}"
        + (f", model {sc.endpoint.model})" if sc.endpoint.model else ")")
        + (" streaming" if p.streams else ""),
        f"  dataset    {ds.path}: {len(ds.rows)} rows"
        + (f" ({ds.skipped} bad rows skipped)" if ds.skipped else "")
        + (f", {len(ds.labels)} classes" if p.scorer.classification else ""),
    ]
    if sc.endpoint.preset:
        lines.append(f"  preset     {sc.endpoint.preset}: route "
                     f"{sc.endpoint.options.get('path')}")  # fmt: skip
    warning = url_path_warning(sc.endpoint)
    if warning:
        lines.append(f"  warning    {warning}")
    for name, values in ds.slice_values().items():
        lines.append(
            f"  slice      {name}: {', '.join(values[:8])}"
            + (f" (+{len(values) - 8})" if len(values) > 8 else "")
        )
    if sc.dataset.variants:
        varied = len(ds.rows.origins)
        lines.append(f"  variants   {', '.join(v.label for v in sc.dataset.variants)}: "
                     f"{varied} varied rows beside {len(ds.rows) - varied} as written")  # fmt: skip
        lines += [f"  note       {n}" for n in ds.variant_notes]
    lines.append(f"  scoring    {sc.scoring['kind']}")
    lines.append(f"  load       {plan}")
    for t in sc.gates:
        lines.append(f"  threshold  {t}" + ("  (default)" if sc.thresholds is None else ""))
    if sc.gates_note:
        lines.append(f"  note       {sc.gates_note}")
    if not any(judges_correctness(parse_threshold(t).metric) for t in sc.gates):
        lines.append("  warning    no correctness gate: a run passes however wrong the answers "
                     "are; add a threshold such as 'accuracy >= 0.9'")  # fmt: skip
    return "\n".join(lines)
