"""Generate the demo's production sample (``scenarios/data/production_sample.jsonl``): real-looking
production inputs, unlabelled, whose mix differs from the validation set in a known way.

``python -m stagecheck.demo.make_production`` rewrites it; the output depends only on the seed.
Rows are made like the validation rows (:mod:`stagecheck.demo.make_dataset`: the same templates,
slot values and channel styling), with these differences, which ``--against`` should find:

- complexity: :data:`COMPLEX_SHARE` complex (the validation set: about half);
- channel: :data:`CHANNEL_MIX`, voice transcripts the largest, and ``sms`` (styled as chat),
  a channel the validation set does not have;
- intents: refund and shipping twice as frequent as in validation, product_info half as often.

Each row carries ``predicted``: the production model's label, the true intent 85 % of the time,
another intent otherwise. No row carries the true label (production data is unlabelled).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from stagecheck.demo.channels import style
from stagecheck.demo.make_dataset import _INTENT_WEIGHTS, _complex_text, _fill, _pool, write_jsonl

__all__ = ["PRODUCTION_PATH", "PRODUCTION_SIZE", "PRODUCTION_SEED", "COMPLEX_SHARE",
           "CHANNEL_MIX", "generate_production", "main"]  # fmt: skip

PRODUCTION_PATH = Path(__file__).parents[2] / "scenarios" / "data" / "production_sample.jsonl"
PRODUCTION_SIZE = 1000
PRODUCTION_SEED = 20261207
COMPLEX_SHARE = 0.70
CHANNEL_MIX: dict[str, float] = {"voice_transcript": 0.40, "chat": 0.30, "email": 0.20,
                                 "sms": 0.10}  # fmt: skip
_INTENT_SHIFT = {"refund": 2.0, "shipping": 2.0, "product_info": 0.5}
PREDICTED_RIGHT = 0.85


def generate_production(seed: int = PRODUCTION_SEED, size: int = PRODUCTION_SIZE) -> list[dict]:
    """The production rows; the same seed always gives the same rows."""
    rng = random.Random(seed)
    intents = list(_INTENT_WEIGHTS)
    weights = [_INTENT_WEIGHTS[i] * _INTENT_SHIFT.get(i, 1.0) for i in intents]
    channels, channel_weights = list(CHANNEL_MIX), list(CHANNEL_MIX.values())
    rows = []
    for n in range(1, size + 1):
        intent = rng.choices(intents, weights=weights)[0]
        kind = "complex" if rng.random() < COMPLEX_SHARE else "simple"
        channel = rng.choices(channels, weights=channel_weights)[0]
        template = rng.choice(_pool(kind, intent, "validation"))
        clean = _fill(template, rng) if kind == "simple" else _complex_text(intent, template, rng)
        text = style(clean, "chat" if channel == "sms" else channel, rng)
        right = rng.random() < PREDICTED_RIGHT
        predicted = intent if right else rng.choice([i for i in intents if i != intent])
        rows.append({"id": f"p{n:04d}", "text": text, "complexity": kind, "channel": channel,
                     "predicted": predicted})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stagecheck.demo.make_production",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--seed", type=int, default=PRODUCTION_SEED)
    parser.add_argument("--out", type=Path, default=PRODUCTION_PATH)
    args = parser.parse_args(argv)
    rows = generate_production(args.seed)
    write_jsonl(rows, args.out)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
