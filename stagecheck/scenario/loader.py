"""Load a scenario file: YAML with line numbers, ``--set`` overrides, ``${VAR}`` from the
environment, validation into :class:`Scenario`, and one error line per problem.

Problems are reported as ``<file>:<line>: <key.path>: <message>``; keys set with ``--set`` are
reported as ``--set: <key.path>: <message>``.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from stagecheck.errors import InputError, unicode_problem
from stagecheck.redact import redact_mapping, redact_override
from stagecheck.scenario.schema import Scenario
from stagecheck.scenario.yamlread import MAX_BYTES, YAMLProblem, read_yaml, yaml_value

__all__ = ["LoadedScenario", "load_scenario", "parse_overrides", "redacted_yaml"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_OVERRIDE_PARTS = 32
_INT_LIMIT = 2**63  # larger integers are no sane setting, and some cannot even be printed
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and where it came from."""

    scenario: Scenario
    path: Path
    raw: dict[str, Any]  # as written plus overrides, ${VAR} NOT expanded: safe to save
    overrides: tuple[str, ...] = field(default=())

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


class _Lines:
    """Key path → line number (1-based), read from the YAML node tree."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[tuple[Loc, int]] = []
        self.overridden: set[Loc] = set()

    def walk(self, node: yaml.Node, loc: Loc = ()) -> None:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
                if key in seen:
                    self.duplicates.append((loc + (key,), key_node.start_mark.line + 1))
                seen.add(key)
                self.lines[loc + (key,)] = key_node.start_mark.line + 1
                self.walk(value_node, loc + (key,))
                self.lines[loc + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, loc + (i,))

    def where(self, file: str, loc: Loc) -> str:
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.overridden:
                return "--set"
            if loc[:n] in self.lines:
                return f"{file}:{self.lines[loc[:n]]}"
        return file


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_overrides(items: Iterable[str]) -> list[tuple[Loc, Any]]:
    """``key.path=value`` strings → (loc, value); values are read as YAML scalars."""
    out: list[tuple[Loc, Any]] = []
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
            problems.append(
                f"--set {redact_override(item)}: expected key.path=value, "
                "e.g. endpoint.url=http://…"
            )
            continue
        loc: Loc = tuple(_index_or_key(p) for p in key.strip().split("."))
        out.append((loc, yaml_value(value)))
    if problems:
        raise InputError(problems)
    return out


def _index_or_key(part: str) -> str | int:
    """``0`` → list index 0; anything else (``²``, a 5000-digit number) stays a key."""
    return int(part) if part.isascii() and part.isdigit() and len(part) <= 9 else part


def _apply_override(data: dict[str, Any], loc: Loc, value: Any) -> None:
    target: Any = data
    for part in loc[:-1]:
        if isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        elif isinstance(target, dict):
            target = target.setdefault(part, {})
        else:
            raise InputError(f"--set {_dotted(loc)}: {_dotted(loc[:-1])} is not a mapping")
    last = loc[-1]
    in_list = isinstance(target, list) and isinstance(last, int) and last < len(target)
    if not (in_list or isinstance(target, dict)):
        raise InputError(f"--set {_dotted(loc)}: {_dotted(loc[:-1])} is not a mapping")
    target[last] = value


def _interpolate(value: Any, loc: Loc, missing: list[Loc]) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in os.environ:
                missing.append(loc + (f"${{{var}}}",))
                return ""
            return os.environ[var]

        escaped = value.replace("$${", "\0")
        return _ENV_REF.sub(sub, escaped).replace("\0", "${")
    if isinstance(value, dict):
        return {k: _interpolate(v, loc + (k,), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, loc + (i,), missing) for i, v in enumerate(value)]
    return value


def _explain(error: Mapping[str, Any], model_fields: Iterable[str] | None) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        known = sorted(model_fields or [])
        name = str(error["loc"][-1]) if error.get("loc") else ""
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown key{hint} (known: {', '.join(known)})" if known else "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(error.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The keys a model accepts at ``loc[:-1]`` (for 'did you mean' hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        ann = info.annotation
        args = getattr(ann, "__args__", ())
        current = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _validation_lines(
    exc: ValidationError, model: type[BaseModel], prefix: Loc, file: str, lines: _Lines
) -> list[str]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        fields = _fields_at(model, tuple(err["loc"]))
        out.append(f"{lines.where(file, loc)}: {_dotted(loc)}: {_explain(err, fields)}")
    return out


def _check_plugins(scenario: Scenario, file: str, lines: _Lines) -> list[str]:
    """Protocol options and scoring options are validated by their own registries' models."""
    from stagecheck.protocols import build_adapter, get_adapter_class
    from stagecheck.scoring import build_scorer, get_scorer_class

    problems: list[str] = []
    ep = scenario.endpoint
    try:
        adapter = build_adapter(
            ep.protocol, model=ep.model, inputs=scenario.dataset.input, options=ep.options
        )
    except ValidationError as exc:
        options_model = get_adapter_class(ep.protocol).Options
        problems += _validation_lines(exc, options_model, ("endpoint", "options"), file, lines)
    except ValueError as exc:
        problems.append(f"{lines.where(file, ('endpoint', 'protocol'))}: endpoint.protocol: {exc}")
    else:
        for p in adapter.problems():
            problems.append(f"{lines.where(file, ('endpoint',))}: {p}")
    try:
        build_scorer(scenario.scoring, Path(file).parent)
    except ValidationError as exc:
        scorer_model = get_scorer_class(str(scenario.scoring["kind"])).Options
        problems += _validation_lines(exc, scorer_model, ("scoring",), file, lines)
    except ValueError as exc:
        problems.append(f"{lines.where(file, ('scoring', 'kind'))}: scoring.kind: {exc}")
    return problems


def _check_thresholds(scenario: Scenario, file: str, lines: _Lines) -> list[str]:
    from stagecheck.judging.thresholds import parse_threshold

    problems = []
    for i, text in enumerate(scenario.thresholds or ()):
        try:
            parse_threshold(text)
        except ValueError as exc:
            problems.append(f"{lines.where(file, ('thresholds', i))}: thresholds[{i}]: {exc}")
    return problems


def _value_problems(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Values no setting can sensibly hold and that break printing or encoding later:
    integers beyond 64 bits, text that is not valid Unicode."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -_INT_LIMIT <= value < _INT_LIMIT:
            yield loc, f"integer too large (more than {len(str(_INT_LIMIT))} digits)"
    elif isinstance(value, str):
        reason = unicode_problem(value)
        if reason:
            yield loc, reason
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, (str, int)) and not isinstance(k, bool):
                key_problems = list(_value_problems(k, loc))
                if key_problems:
                    yield loc, f"a key: {key_problems[0][1]}"
                    continue
            yield from _value_problems(v, loc + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _value_problems(v, loc + (i,))
    elif value is not None and not isinstance(value, float):
        # !!binary, !!set, dates: pydantic would quietly turn some into text
        kind = type(value).__name__
        yield loc, f"a YAML {kind} value is not supported here (quote it to make it text)"


def _read_text(p: Path, file: str) -> str:
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"{file}: cannot read the scenario file ({reason})") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{file}: larger than {MAX_BYTES // 1024} KiB: not a scenario file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{file}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def load_scenario(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> LoadedScenario:
    """Read, override, interpolate and validate a scenario; raise :class:`InputError`."""
    p = Path(path)
    file = str(path)
    text = _read_text(p, file)
    lines = _Lines()
    try:
        _, data = read_yaml(text, lines.walk)
    except YAMLProblem as exc:
        where = f"{file}:{exc.line}" if exc.line is not None else file
        raise InputError(f"{where}: {exc.message}") from None
    if not isinstance(data, dict):
        raise InputError(f"{file}:1: the scenario must be a YAML mapping (name:, endpoint:, …)")
    problems = [
        f"{file}:{line}: {_dotted(loc)}: key appears twice" for loc, line in lines.duplicates
    ]
    for loc, value in parse_overrides(overrides):
        if len(loc) > _MAX_OVERRIDE_PARTS:
            raise InputError(f"--set {_dotted(loc[:3])}…: more than {_MAX_OVERRIDE_PARTS} keys")
        _apply_override(data, loc, value)
        lines.overridden.add(loc)
    problems += [
        f"{lines.where(file, loc)}: {_dotted(loc)}: {reason}"
        for loc, reason in _value_problems(data)
    ]
    if problems:
        raise InputError(problems)
    raw = copy.deepcopy(data)
    missing: list[Loc] = []
    data = _interpolate(data, (), missing)
    for loc in missing:
        problems.append(
            f"{lines.where(file, loc[:-1])}: {_dotted(loc[:-1])}: environment variable "
            f"{str(loc[-1])[2:-1]} is not set"
        )
    if problems:
        raise InputError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputError(_validation_lines(exc, Scenario, (), file, lines)) from None
    problems = _check_plugins(scenario, file, lines) + _check_thresholds(scenario, file, lines)
    if problems:
        raise InputError(problems)
    return LoadedScenario(scenario=scenario, path=p.resolve(), raw=raw, overrides=tuple(overrides))


def redacted_yaml(raw: Mapping[str, Any]) -> str:
    """The scenario as run, for the run folder: ``${VAR}`` references stay unexpanded;
    literal values of secret-looking keys (headers included), URL credentials and secret
    query values are replaced (:mod:`stagecheck.redact`)."""
    return yaml.safe_dump(redact_mapping(dict(raw)), sort_keys=False, allow_unicode=True)
