"""The PromQL in grafana/: every dashboard query and every rule expression, as the tests read
them, and the Grafana variable substitution that turns a panel query into plain PromQL."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import yaml

from tests.support import REPO

GRAFANA = REPO / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "stagecheck.json"
RULES = GRAFANA / "rules" / "stagecheck.rules.yml"
RULE_TESTS = GRAFANA / "rules" / "stagecheck.rules.test.yml"
CONFIG = GRAFANA / "prometheus.yml"

# A metric name of ours; recording rules (stagecheck:...) have a colon and do not match.
METRIC_NAME = re.compile(r"\bstagecheck_[a-z0-9_]+\b")
# name{matchers}: the label names used in one selector.
_SELECTOR = re.compile(r"\b(stagecheck_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass(frozen=True)
class Query:
    where: str  # "panel 'Throughput' A", "rule stagecheck:requests:rate1m"...
    expr: str


def load_builder() -> ModuleType:
    """``grafana/build_dashboards.py`` as a module (grafana/ is no package)."""
    spec = importlib.util.spec_from_file_location("stagecheck_grafana_build",
                                                  GRAFANA / "build_dashboards.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # collapsed rows hold their panels


def panel_queries(board: dict[str, Any] | None = None) -> list[Query]:
    board = dashboard() if board is None else board
    return [
        Query(f"panel {panel.get('title')!r} {target.get('refId')}", target["expr"])
        for panel in _panels(board.get("panels") or [])
        for target in panel.get("targets") or []
        if target.get("expr")
    ]


def variable_queries(board: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """``(variable name, query)`` of the dashboard's query variables."""
    board = dashboard() if board is None else board
    return [(v["name"], v["query"]) for v in board["templating"]["list"] if v["type"] == "query"]


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_queries() -> list[Query]:
    return [Query(f"rule {r.get('record') or r.get('alert')}", r["expr"]) for r in rules()]


def metric_names(expr: str) -> set[str]:
    return set(METRIC_NAME.findall(expr))


def selector_labels(expr: str) -> Iterator[tuple[str, str]]:
    """``(metric, label)`` for each label matcher written in a ``metric{...}`` selector."""
    for name, matchers in _SELECTOR.findall(expr):
        for label in _MATCHER_LABEL.findall(matchers):
            yield name, label


def _regex_literal(value: str) -> str:
    """``value`` as an exact regex inside a PromQL double-quoted string."""
    return re.escape(value).replace("\\", "\\\\")


def substitute(expr: str, *, scenario: str, run_id: str, rate_interval: str = "10s") -> str:
    """What Grafana sends for one selected scenario and run: variables replaced (regex-escaped,
    as Grafana does for ``=~``) and ``$__rate_interval`` fixed."""
    out = expr.replace("$__rate_interval", rate_interval)
    out = out.replace("$scenario", _regex_literal(scenario))
    out = out.replace("$run_id", _regex_literal(run_id))
    assert "$" not in out, f"unknown variable left in {out}"
    return out


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<match>.+),\s*)?(?P<label>\w+)\)$")


def parse_label_values(query: str) -> tuple[str, str]:
    """``label_values(match, label)`` -> ``(match, label)``."""
    m = _LABEL_VALUES.match(query.strip())
    assert m is not None and m.group("match"), f"not label_values(metric, label): {query}"
    return m.group("match"), m.group("label")
