"""A worse model on demand: ``--degrade`` answers a fraction of chosen rows wrongly.

A rule is ``intent=LABEL:FRACTION`` (rows the model would answer ``LABEL``) or
``slice:FIELD=VALUE:FRACTION`` (rows whose ``FIELD`` is ``VALUE`` in the ``--degrade-rows``
JSONL file, looked up by their exact ``text``; any field of that file works, ``label``
included). A matching row is answered with the model's second choice instead of its first.

Which rows are hit is decided by a hash of the seed, the rule and the text, not by a random
generator: the same row gets the same answer in every run, in any order, in any process, so two
exact passes of the degraded model agree row for row (what a paired comparison needs).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DegradeRule", "parse_rule", "Degrader", "load_rows"]

_RULE = re.compile(
    r"^(?:(?P<intent>intent)|slice:(?P<field>[^=:]+))=(?P<value>[^:]+):(?P<fraction>[^:]+)$"
)


@dataclass(frozen=True)
class DegradeRule:
    """Answer ``fraction`` of the rows where ``field`` is ``value`` wrongly.

    ``field`` is ``None`` for an ``intent=`` rule (matched on the model's own answer).
    """

    field: str | None
    value: str
    fraction: float

    def __str__(self) -> str:
        where = "intent" if self.field is None else f"slice:{self.field}"
        return f"{where}={self.value}:{self.fraction:g}"


def parse_rule(text: str) -> DegradeRule:
    """``intent=refund:0.5`` or ``slice:channel=email:0.4``; ``ValueError`` says what is wrong."""
    match = _RULE.match(text.strip())
    if match is None:
        raise ValueError(
            f"degrade rule {text!r} is not 'intent=LABEL:FRACTION' or 'slice:FIELD=VALUE:FRACTION'"
        )
    try:
        fraction = float(match["fraction"])
    except ValueError:
        fraction = float("nan")
    if not 0 <= fraction <= 1:
        raise ValueError(f"degrade rule {text!r}: the fraction must be between 0 and 1")
    field = None if match["intent"] else match["field"].strip()
    return DegradeRule(field, match["value"].strip(), fraction)


def load_rows(path: str | Path) -> dict[str, dict[str, str]]:
    """``text`` → the row's other fields (as strings), from a JSONL dataset file."""
    out: dict[str, dict[str, str]] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"degrade_rows {path}: cannot read: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ValueError(f"degrade_rows {path}:{number}: not valid JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise ValueError(f"degrade_rows {path}:{number}: no 'text' field")
        out[row["text"]] = {str(k): str(v) for k, v in row.items() if k != "text"}
    return out


def _unit(seed: int, rule: DegradeRule, text: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, rule, text)."""
    digest = hashlib.blake2b(f"{seed}\0{rule}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Degrader:
    """Applies rules to the model's ranked answers for one text."""

    def __init__(
        self,
        rules: Sequence[DegradeRule],
        rows: Mapping[str, Mapping[str, str]] | None = None,
        seed: int = 0,
    ) -> None:
        needs_rows = [str(r) for r in rules if r.field is not None]
        if needs_rows and rows is None:
            raise ValueError(
                f"degrade rule {needs_rows[0]!r} names a slice: give the dataset with degrade_rows"
            )
        self._rules = tuple(rules)
        self._rows = rows or {}
        self._seed = seed

    def __bool__(self) -> bool:
        return bool(self._rules)

    def hits(self, text: str, label: str) -> bool:
        """Whether ``text`` (which the model answers ``label``) is to be answered wrongly."""
        row = self._rows.get(text, {})
        for rule in self._rules:
            got = label if rule.field is None else row.get(rule.field)
            matched = got == rule.value
            if matched and _unit(self._seed, rule, text) < rule.fraction:
                return True
        return False

    def answer(self, text: str, probabilities: Mapping[str, float]) -> tuple[str, float]:
        """The label to send and its probability: the first choice, or the second when hit."""
        ranked = sorted(probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
        first = ranked[0]
        if len(ranked) > 1 and self.hits(text, first[0]):
            return ranked[1]
        return first
