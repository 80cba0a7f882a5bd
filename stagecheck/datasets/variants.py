"""Seeded, deterministic perturbations of a row's input text (``dataset.variants:``), and the
variant rows they make.

Each variant of a row is a prepared row of its own (its own row index, after every original
row), carrying its variant's name and the index of the row it was made from
(:attr:`RowTable.origins`); ``rows.jsonl`` writes both, so the figures read them back after the
run. A text's perturbation depends only on the seed, the variant's name and the origin row's
index: the same scenario gives the same texts, whatever ``limit`` or the order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from stagecheck.datasets.rows import RowTable
from stagecheck.errors import InputError
from stagecheck.protocols import PreparedRequest, ProtocolAdapter
from stagecheck.scenario.variants import (
    Case,
    Filler,
    Punctuation,
    Substitute,
    Template,
    Truncate,
    Typos,
    VariantSpec,
    Whitespace,
)

__all__ = ["perturb", "add_variants", "variant_rng"]

MAX_INPUT_CHARS = 2000  # as datasets.prepared: a longer text is cut where it is shown

# QWERTY neighbours of each letter: the keys beside it and those touching it on the rows above
# and below (rows are staggered: A sits a quarter key right of Q, Z three quarters).
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_OFFSETS = (0.0, 0.25, 0.75)
_NEIGHBOURS: dict[str, str] = {
    key: "".join(
        other for r2, keys2 in enumerate(_ROWS) for i2, other in enumerate(keys2)
        if other != key and abs(r2 - r) <= 1
        and abs((i2 + _OFFSETS[r2]) - (i + _OFFSETS[r])) <= (1.0 if r2 == r else 0.75)
    )
    for r, keys in enumerate(_ROWS) for i, key in enumerate(keys)
}  # fmt: skip
_PUNCT = ",.!?;:"
_WORD = re.compile(r"\S+")


def variant_rng(seed: int, name: str, row: int) -> random.Random:
    """The generator of one row's variant (a string seed: the same in every process)."""
    return random.Random(f"stagecheck-variant:{seed}:{name}:{row}")


def _at_least_one(n: int, rate: float) -> int:
    return 0 if n == 0 else min(n, max(1, round(n * rate)))


def _typos(text: str, spec: Typos, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(text) if c.lower() in _NEIGHBOURS]
    chars = list(text)
    for i in rng.sample(spots, _at_least_one(len(spots), spec.rate)):
        new = rng.choice(_NEIGHBOURS[chars[i].lower()])
        chars[i] = new.upper() if chars[i].isupper() else new
    return "".join(chars)


def _case(text: str, spec: Case, rng: random.Random) -> str:
    if spec.mode == "upper":
        return text.upper()
    if spec.mode == "lower":
        return text.lower()
    if spec.mode == "title":
        return text.title()
    spots = [i for i, c in enumerate(text) if c.isalpha()]
    chars = list(text)
    for i in rng.sample(spots, _at_least_one(len(spots), spec.rate)):
        chars[i] = chars[i].swapcase()
    return "".join(chars)


def _whitespace(text: str, spec: Whitespace, rng: random.Random) -> str:
    words = text.split()
    gaps = [" "] * max(len(words) - 1, 0)
    for i in rng.sample(range(len(gaps)), _at_least_one(len(gaps), spec.rate)):
        gaps[i] = rng.choice(("  ", "   ", "\t", ""))
    body = "".join(w + g for w, g in zip(words, [*gaps, ""], strict=True))
    return rng.choice(("", " ", "  ")) + body + rng.choice(("", " ", "\n"))


def _punctuation(text: str, spec: Punctuation, rng: random.Random) -> str:
    words = text.split(" ")
    for i in rng.sample(range(len(words)), _at_least_one(len(words), spec.rate)):
        w = words[i]
        stripped = w.rstrip(_PUNCT)
        words[i] = stripped if stripped != w else w + rng.choice(_PUNCT)
    return " ".join(words)


def _truncate(text: str, spec: Truncate, rng: random.Random) -> str:
    words = _WORD.findall(text)
    keep = int(len(words) * spec.keep)  # rounded down: 0 words make an empty input (noted)
    return " ".join(words[:keep])


def _filler(text: str, spec: Filler, rng: random.Random) -> str:
    words = text.split(" ")
    for i in sorted(rng.sample(range(len(words) + 1), _at_least_one(len(words) + 1, spec.rate)),
                    reverse=True):  # fmt: skip
        filler = rng.choice(spec.words)
        words.insert(i, filler + "," if i == 0 else filler)
    return " ".join(words)


def _template(text: str, spec: Template, rng: random.Random) -> str:
    template = rng.choice(spec.templates)
    chosen = {k: rng.choice(v) for k, v in sorted(spec.values.items())}
    # placeholders replaced one by one: a {…} inside the row's text is left as it is
    return re.sub(r"\{([^{}]*)\}", lambda m: text if m[1] == "text" else chosen[m[1]], template)


def _substitute(text: str, spec: Substitute, rng: random.Random) -> str:
    group_of = {w: g for g, words in sorted(spec.values.items()) for w in words}
    parts = sorted(group_of, key=len, reverse=True)
    alternatives = [re.escape(w) for w in parts]
    if spec.numbers:
        alternatives.append(r"\d+")
    if not alternatives:
        return text
    pattern = re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")

    def swap(m: re.Match[str]) -> str:
        word = m[0]
        if word in group_of:
            return rng.choice([w for w in spec.values[group_of[word]] if w != word])
        low = 10 ** (len(word) - 1) if len(word) > 1 else 0
        tries = (str(rng.randint(low, 10 ** len(word) - 1)) for _ in range(3))
        return next((n for n in tries if n != word), word)

    return pattern.sub(swap, text)


_KINDS: dict[str, Callable[[str, Any, random.Random], str]] = {
    "typos": _typos, "case": _case, "whitespace": _whitespace, "punctuation": _punctuation,
    "truncate": _truncate, "filler": _filler, "template": _template, "substitute": _substitute,
}  # fmt: skip


def perturb(text: str, spec: VariantSpec, seed: int, row: int) -> str:
    """``text`` as variant ``spec`` makes it for origin row ``row`` (deterministic)."""
    seed = spec.seed if spec.seed is not None else seed
    return _KINDS[spec.kind](text, spec, variant_rng(seed, spec.label, row))


def add_variants(
    rows: RowTable,
    variants: list[VariantSpec],
    seed: int,
    adapter: ProtocolAdapter,
    input_field: str,
) -> list[str]:
    """Append each row's variants to ``rows`` (variant by variant, in row order) and tag them
    in ``rows.origins``; the notes to report (variants that left some rows empty, not sent).
    :class:`InputError` when a variant leaves every row empty or the adapter cannot build its
    requests."""
    originals = len(rows)
    notes: list[str] = []
    for spec in variants:
        empty = 0
        for i in range(originals):
            text = perturb(rows.source_text(i), spec, seed, i)
            if not text.strip():
                empty += 1
                continue
            request: PreparedRequest | tuple[Any, ...]
            if adapter.reads_inputs_only:
                request = (text,)  # built when sent, like the original rows
            else:
                try:
                    request = adapter.prepare({input_field: text}, {input_field: text})
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    raise InputError(
                        f"dataset.variants ({spec.label}): cannot build a varied row's request "
                        f"({str(exc)[:200]}); protocol {adapter.name} builds it from more than "
                        "the input text"
                    ) from None
            shown = text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + "…"
            rows.append(rows.lines[i], f"{rows.row_id(i)}~{spec.label}", request,
                        rows.expected[i], rows.expected_texts[i], rows.slices[i],
                        shown)  # fmt: skip
            rows.origins[len(rows) - 1] = (spec.label, i)
        if empty == originals:
            raise InputError(f"dataset.variants ({spec.label}): every row's varied input is "
                             "empty (nothing to send)")  # fmt: skip
        if empty:
            notes.append(f"variant {spec.label}: {empty:,} of {originals:,} rows make an empty "
                         "input and are not sent")  # fmt: skip
    return notes
