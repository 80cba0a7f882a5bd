"""Generate the bundled support-intents dataset (training and validation splits).

``python -m stagecheck.demo.make_dataset`` rewrites both files; the output depends only on the
seed. Rows are composed from the hand-written phrasing in ``templates`` and then styled for
their channel (``channels``):

- *simple* rows: one short template, one clear intent;
- *complex* rows: a long template (indirect phrasing, vocabulary of other intents, "I don't
  want X, I want Y"), optionally with a backstory sentence, a negated or settled mention of
  another intent, and a closing line.

Half of the complex templates are held out of training, so the complex validation rows include
phrasings the model has never seen, as production traffic does; simple phrasings are common
enough that all of them occur in training (with other slot values, styling and typos). No text
(compared case- and whitespace-insensitively) appears in both splits.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from stagecheck.demo import templates
from stagecheck.demo.channels import CHANNEL_WEIGHTS, CHANNELS, style

__all__ = [
    "SupportRow",
    "DEFAULT_SEED",
    "TRAIN_SIZE",
    "VALIDATION_SIZE",
    "TRAIN_PATH",
    "VALIDATION_PATH",
    "generate",
    "write_jsonl",
    "main",
]


class SupportRow(TypedDict):
    """One labelled support query, as stored in the JSONL files."""

    id: str
    text: str
    label: str
    complexity: str  # "simple" | "complex"
    channel: str  # "chat" | "email" | "voice_transcript"


DEFAULT_SEED = 20240611
TRAIN_SIZE = 1200
VALIDATION_SIZE = 480
TRAIN_PATH = Path(__file__).parent / "data" / "support_intents_train.jsonl"
VALIDATION_PATH = Path(__file__).parents[2] / "scenarios" / "data" / "support_intents.jsonl"

# Relative share of each intent: real support traffic is not balanced.
_INTENT_WEIGHTS: dict[str, float] = {
    "shipping": 1.3,
    "refund": 1.2,
    "billing": 1.1,
    "account_access": 1.0,
    "return_exchange": 1.0,
    "cancel_order": 0.9,
    "technical_issue": 0.9,
    "product_info": 0.9,
    "complaint": 0.9,
    "order_change": 0.8,
}
# Complex template i is validation-only when i is odd.
_HOLDOUT_PERIOD = 2
_MAX_ATTEMPTS_PER_ROW = 200
_ARTICLE = re.compile(r"\ba \{(product|size)\}")


def _allocate(total: int) -> dict[str, int]:
    """Split ``total`` rows over the intents by weight (largest remainder, so it sums exactly)."""
    weight_sum = sum(_INTENT_WEIGHTS.values())
    exact = {k: total * w / weight_sum for k, w in _INTENT_WEIGHTS.items()}
    counts = {k: int(v) for k, v in exact.items()}
    by_remainder = sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _slot_value(name: str, rng: random.Random) -> str:
    if name == "order":
        digits = str(rng.randint(10_000_000, 99_999_999))
        return rng.choice((f"#{digits[:6]}", f"SC-{digits[:7]}", digits))
    if name == "amount":
        cents = rng.choice(("", ".00", ".99", ".50", ".95", ".49"))
        return f"{rng.choice('$$£€')}{rng.randint(9, 450)}{cents}"
    if name == "years":
        return str(rng.randint(2, 12))
    if name.startswith("a_"):
        value = _slot_value(name[2:], rng)
        return ("an " if value[0] in "aeiouAEIOUX" else "a ") + value  # "an XL"
    return rng.choice(templates.SLOTS[name])


def _fill(template: str, rng: random.Random) -> str:
    template = _ARTICLE.sub(r"{a_\1}", template)
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    values = {name: _slot_value(name, rng) for name in dict.fromkeys(names)}
    return template.format_map(values)


def _complex_text(intent: str, template: str, rng: random.Random) -> str:
    parts = [_fill(template, rng)]
    if rng.random() < 0.45:
        parts.insert(0, _fill(rng.choice(templates.CONTEXT), rng))
    other = rng.choice(templates.COMPATIBLE[intent])
    roll = rng.random()
    if roll < 0.3:
        extra = rng.choice(templates.NEGATIONS[other])
        parts.insert(rng.choice((0, len(parts))), extra)
    elif roll < 0.5:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(templates.ASIDES[other]))
    if rng.random() < 0.3:
        parts.append(rng.choice(templates.CLOSINGS))
    return " ".join(parts)


def _pool(kind: str, intent: str, split: str) -> list[str]:
    if kind == "simple":
        return templates.SIMPLE[intent]
    all_templates = templates.COMPLEX[intent]
    if split == "validation":
        return all_templates
    return [t for i, t in enumerate(all_templates) if i % _HOLDOUT_PERIOD != _HOLDOUT_PERIOD - 1]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _split_rows(
    split: str, total: int, rng: random.Random, seen: set[str]
) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for intent, count in _allocate(total).items():
        for kind, n in (("simple", count // 2), ("complex", count - count // 2)):
            pool = _pool(kind, intent, split)
            made = 0
            for _ in range(n * _MAX_ATTEMPTS_PER_ROW):
                if made == n:
                    break
                template = rng.choice(pool)
                channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
                clean = (
                    _fill(template, rng)
                    if kind == "simple"
                    else _complex_text(intent, template, rng)
                )
                text = style(clean, channel, rng)
                key = _normalise(text)
                if key in seen:
                    continue
                seen.add(key)
                rows.append((text, intent, kind, channel))
                made += 1
            if made < n:
                raise RuntimeError(f"could not make {n} distinct {kind} {intent} rows")
    return rows


def _with_ids(prefix: str, rows: list[tuple[str, str, str, str]]) -> list[SupportRow]:
    return [
        SupportRow(id=f"{prefix}{i:04d}", text=text, label=label, complexity=kind, channel=ch)
        for i, (text, label, kind, ch) in enumerate(rows, start=1)
    ]


def generate(
    seed: int = DEFAULT_SEED, train_size: int = TRAIN_SIZE, validation_size: int = VALIDATION_SIZE
) -> tuple[list[SupportRow], list[SupportRow]]:
    """Return ``(train, validation)`` rows; the same seed always gives the same rows."""
    rng = random.Random(seed)
    seen: set[str] = set()
    # Validation first, so that it gets its full share of the held-out templates.
    validation = _split_rows("validation", validation_size, rng, seen)
    train = _split_rows("train", train_size, rng, seen)
    rng.shuffle(validation)
    rng.shuffle(train)
    return _with_ids("t", train), _with_ids("v", validation)


def write_jsonl(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """One JSON object a line (UTF-8, ``\\n`` line ends: the same bytes on every OS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stagecheck.demo.make_dataset", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--train", type=Path, default=TRAIN_PATH, help="training split path")
    parser.add_argument(
        "--validation", type=Path, default=VALIDATION_PATH, help="validation split path"
    )
    args = parser.parse_args(argv)
    train, validation = generate(args.seed)
    write_jsonl(train, args.train)
    write_jsonl(validation, args.validation)
    print(f"wrote {len(train)} rows to {args.train} and {len(validation)} to {args.validation}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
