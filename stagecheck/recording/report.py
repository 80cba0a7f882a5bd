"""One interval's figures as a process folds them (:class:`IntervalReport`), and as they cross
from a worker to its master (:meth:`IntervalReport.to_payload`, in Locust's worker report: the
format is ``wire.WIRE_VERSION``)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from stagecheck.recording.samples import SampleCandidate
from stagecheck.recording.tally import int64s
from stagecheck.recording.wire import WIRE_VERSION, StringTable, pack_counts

__all__ = ["IntervalReport", "PACKED"]

# the counts that cross the wire packed (wire.pack_counts): their keys' parts, string parts
PACKED = {"outcomes": (4, (2,)), "confusion": (5, (2, 3, 4)), "mislabelled": (2, (1,))}


@dataclass
class IntervalReport:
    """The figures of one interval of one process (see :mod:`stagecheck.recording.interval`)."""

    started: float
    ended: float
    dropped: int = 0  # open loop: arrivals due that no user was free to send
    late: int = 0  # open loop: requests that left over LATE_US after their due time
    histograms: dict[tuple[int, str], HdrHistogram] = field(default_factory=dict)
    out_of_range: Counter[tuple[int, str]] = field(default_factory=Counter)
    outcomes: Counter[tuple[int, int, str, int]] = field(default_factory=Counter)
    # dataset.variants: the part of ``outcomes`` that varied rows answered (the quality figures
    # are of the rows as written; the variants' own come from the run folder); ``confusion``
    # counts the rows as written only
    varied: Counter[tuple[int, int, str, int]] = field(default_factory=Counter)
    confusion: Counter[tuple[int, int, str, str, str]] = field(default_factory=Counter)
    causes: Counter[tuple[int, str]] = field(default_factory=Counter)
    per_second: Counter[int] = field(default_factory=Counter)
    lag_max: dict[int, int] = field(default_factory=dict)
    samples: list[SampleCandidate] = field(default_factory=list)
    lines: bytes = b""
    tokens: HdrHistogram | None = None  # output tokens per streamed answer
    tokens_per_s_milli: HdrHistogram | None = None  # per answer, after its first token
    output_tokens: int = 0
    token_sources: Counter[str] = field(default_factory=Counter)  # "usage" | "deltas"
    # Per dataset row, the unit of evidence of the statistics (a timed run replays rows): per
    # stage, the rows answered in the interval (unique indexes) and each one's scored and
    # correct requests, as int64 arrays (the master adds them with numpy: no per-row Python);
    # and the wrong answers that named another label, per (row index, label).
    row_tallies: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    mislabelled: Counter[tuple[int, str]] = field(default_factory=Counter)
    # An interval from a worker (from_payload) carries its histograms as they came, in HDR's
    # encoding, and none decoded: the master adds the encodings straight into the run's
    # histograms (hdr.EncodedAdder), and latency.hlog reuses them. ``encoded``: the latency
    # histograms (as ``histograms``); ``encoded_tokens``: "tokens", "tokens_per_s_milli".
    encoded: dict[tuple[int, str], bytes] = field(default_factory=dict)
    encoded_tokens: dict[str, bytes] = field(default_factory=dict)
    # … and its outcomes, confusion and mislabelled counts packed (wire.py; names of PACKED),
    # added by the master straight into the run's counts, their strings in ``strings``
    packed: dict[str, bytes] = field(default_factory=dict)
    strings: list[str] = field(default_factory=list)
    # stream timings the kernel's merged packets left unknown: "ttft" (upper bounds) and
    # "itl" (gaps that are bounds)
    stamp_bounds: Counter[str] = field(default_factory=Counter)
    loop: Counter[str] = field(default_factory=Counter)  # event-loop "checks" and "late" ones

    # -- from a worker to the master (msgpack-safe; histograms in HDR's compressed encoding) --
    def to_payload(self) -> dict[str, Any]:
        table = StringTable()
        payload = {
            "wire": WIRE_VERSION,
            "started": self.started,
            "ended": self.ended,
            "dropped": self.dropped,
            "late": self.late,
            "histograms": [[s, t, h.encode()] for (s, t), h in self.histograms.items()],
            "out_of_range": [[s, t, n] for (s, t), n in self.out_of_range.items()],
            "outcomes": pack_counts(self.outcomes, PACKED["outcomes"][1], table),
            # varied rows' outcomes (dataset.variants only): few keys, sent as they are
            "varied": [[*k, n] for k, n in self.varied.items()],
            "confusion": pack_counts(self.confusion, PACKED["confusion"][1], table),
            "causes": [[s, c, n] for (s, c), n in self.causes.items()],
            "per_second": list(self.per_second.items()),
            "lag_max": list(self.lag_max.items()),
            "samples": [list(c) for c in self.samples],
            "lines": self.lines,
            "tokens": self.tokens.encode() if self.tokens is not None else None,
            "tokens_per_s_milli": (
                self.tokens_per_s_milli.encode() if self.tokens_per_s_milli is not None else None
            ),
            "output_tokens": self.output_tokens,
            "token_sources": dict(self.token_sources),
            "row_tallies": [
                [s, i.astype("<i8").tobytes(), n.astype("<i8").tobytes(), c.astype("<i8").tobytes()]
                for s, (i, n, c) in self.row_tallies.items()
            ],  # fmt: skip
            "mislabelled": pack_counts(self.mislabelled, PACKED["mislabelled"][1], table),
            "stamp_bounds": dict(self.stamp_bounds),
            "loop": dict(self.loop),
        }
        payload["strings"] = table.strings()  # once the counts above have named theirs
        return payload

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> IntervalReport:
        tokens = {name: bytes(p[name]) for name in ("tokens", "tokens_per_s_milli")
                  if p[name] is not None}  # fmt: skip
        # interned: the run's totals keep the first ones, and keys then compare by identity
        strings = [sys.intern(str(x)) for x in p["strings"]]
        return cls(
            started=float(p["started"]),
            ended=float(p["ended"]),
            dropped=int(p["dropped"]),
            late=int(p["late"]),
            encoded={(int(s), str(t)): bytes(e) for s, t, e in p["histograms"]},
            encoded_tokens=tokens,
            out_of_range=Counter({(int(s), str(t)): int(n) for s, t, n in p["out_of_range"]}),
            varied=Counter({(s, i, v, o): n for s, i, v, o, n in p.get("varied", ())}),
            packed={name: bytes(p[name]) for name in PACKED},
            strings=strings,
            causes=Counter({(s, c): n for s, c, n in p["causes"]}),
            per_second=Counter({int(s): int(n) for s, n in p["per_second"]}),
            lag_max={int(s): int(us) for s, us in p["lag_max"]},
            samples=[(int(r), int(o), g, int(lat), e) for r, o, g, lat, e in p["samples"]],
            lines=bytes(p["lines"]),
            output_tokens=int(p["output_tokens"]),
            token_sources=Counter(p["token_sources"]),
            row_tallies={
                int(s): (int64s(i), int64s(n), int64s(c)) for s, i, n, c in p["row_tallies"]
            },  # fmt: skip
            stamp_bounds=Counter(p.get("stamp_bounds", {})),
            loop=Counter(p.get("loop", {})),
        )
