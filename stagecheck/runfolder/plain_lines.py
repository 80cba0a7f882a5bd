"""The common lines of ``results.jsonl`` read with numpy over the bytes, without a dict per line.

Most lines of a format-2 results file are exactly what the writer
(:data:`stagecheck.recording.interval._LINE`) makes of a request that needs nothing more::

    {"row":4402,"t":1800000000.000600,"outcome":"correct","latency_us":80838,"stage":0}

:func:`parse_block` checks every such *plain* line byte by byte and takes its five numbers
as whole columns (a million lines in a fraction of a second, where ``orjson.loads`` plus a
field at a time cost ~2 s). Lines with more fields (five commas or more: a label, an answer,
an error, … after ``stage``; or an old line) are handed back by position, whatever they hold,
for the caller to read with orjson. A block with any other line (a broken one, a number
written another way) gives None, and the caller reads it as before: the figures are the same
either way.

Exactness: integers are summed from their digits (at most 18); ``t`` (``%.6f``) is its
digits as an integer N divided by 10⁶ — N/10⁶ is exact in decimal and IEEE division rounds
once, so it is the correctly rounded value, as a JSON parser gives (N < 2⁵³ is checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stagecheck.recording.recorder import OUTCOMES

__all__ = ["PlainBlock", "parse_block"]

_MAX_DIGITS = 16  # two words of eight digits
_FRACTION = 6  # "%.6f"
_T_LIMIT = 2**53  # t's digits as one integer must be exact in a float64
_MIN_LINE = len(b'{"row":0,"t":0.000000,"outcome":"timeout","latency_us":0,"stage":0}')
_ROW, _T, _OUTCOME = b'{"row":', b',"t":', b',"outcome":"'
_LATENCY, _STAGE = b',"latency_us":', b',"stage":'
_ZERO, _NINE = ord("0"), ord("9")
_LABEL = b',"predicted":"'


@dataclass
class PlainBlock:
    """A block's lines (empty ones left out), in order: the five columns are filled for the
    plain lines; ``extra`` lists the lines (their positions) that go on after ``stage``, whose
    raw bytes are ``extra_lines`` and whose columns the caller fills. Read with ``labels``, the
    lines that go on with a label alone (``,"predicted":"…"}``, printable ASCII without quote
    or backslash: a wrong label's line) are read too: their five columns are filled, their
    positions are ``labelled`` and their labels ``labels``."""

    row: np.ndarray  # int64
    t: np.ndarray  # float64
    outcome: np.ndarray  # int8 index into OUTCOMES
    latency_us: np.ndarray  # int64
    stage: np.ndarray  # int64
    extra: np.ndarray  # int64 positions
    extra_lines: list[bytes]
    labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.empty(0, object))  # str each

    @property
    def n(self) -> int:
        return int(self.row.shape[0])


def _words(block: bytes) -> np.ndarray:
    """The 8 bytes of ``block`` from each of its positions, as one little-endian uint64 (a
    strided view; zeros past the end): one gather reads 8 bytes of every line."""
    return np.ndarray((len(block) + 1,), "<u8", block + bytes(8), 0, (1,))


def _word(text: bytes) -> int:
    return int.from_bytes(text.ljust(8, b"\0"), "little")


def _literal(words: np.ndarray, at: np.ndarray, text: bytes) -> bool:
    """Whether ``text`` (up to 16 bytes) is at every position ``at``."""
    return bool(_literal_at(words, at, text).all())


def _literal_at(words: np.ndarray, at: np.ndarray, text: bytes) -> np.ndarray:
    """Whether ``text`` (up to 16 bytes) is at each position ``at``."""
    if len(text) > 8:
        return _literal_at(words, at, text[:8]) & _literal_at(words, at + len(text) - 8, text[-8:])
    mask = np.uint64((1 << (8 * len(text))) - 1)
    return (words[at] & mask) == np.uint64(_word(text))


_ASCII_ZEROS = np.uint64(0x3030303030303030)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)


def _eight(words: np.ndarray, end: np.ndarray, length: np.ndarray) -> np.ndarray | None:
    """The number written in the ``length`` (0–8) bytes before each ``end``, or None when one
    of those bytes is not a digit. Eight digits at once (SWAR): the bytes before the number
    are set to "0", then pairs, quads and halves are combined."""
    word = words[end - 8]
    lead = (np.uint64(8) - length.astype(np.uint64)) * np.uint64(8)  # bits before the number
    low = np.where(
        lead >= 64, np.uint64(2**64 - 1), (np.uint64(1) << (lead & np.uint64(63))) - np.uint64(1)
    )
    word = (word & ~low) | (_ASCII_ZEROS & low)
    if not (
        ((word & _HIGH_NIBBLES) == _ASCII_ZEROS)
        & (((word + _SIXES) & _HIGH_NIBBLES) == _ASCII_ZEROS)
    ).all():
        return None
    v = word - _ASCII_ZEROS
    v = (v * np.uint64(10) + (v >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v * np.uint64(100) + (v >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    v = (v * np.uint64(10000) + (v >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return v.astype(np.int64)


def _digits(words: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """The non-negative integers written in ``[start, end)`` (JSON: no leading zero; at most
    16 digits), or None when one is not such a number."""
    length = end - start
    if length.size == 0:
        return np.zeros(0, np.int64)
    if int(length.min()) < 1 or int(length.max()) > _MAX_DIGITS:
        return None
    if ((length > 1) & ((words[start] & np.uint64(0xFF)) == np.uint64(_ZERO))).any():
        return None
    low = _eight(words, end, np.minimum(length, 8))
    if low is None:
        return None
    if int(length.max()) <= 8:
        return low
    high = _eight(words, end - 8, np.maximum(length - 8, 0))
    return None if high is None else high * 10**8 + low


def parse_block(block: bytes, labels: bool = False) -> PlainBlock | None:
    """``block``: whole lines of results.jsonl (the last one may lack its newline). Its plain
    lines as columns and the lines with more fields by position, or None when a line with
    fewer commas is not a plain line. ``labels``: lines with a label alone read too (see
    :class:`PlainBlock`)."""
    try:
        return _parse(block, labels)
    except IndexError:  # a delimiter too near the block's end: not a plain line
        return None


def _labelled(block: bytes, buf: np.ndarray, words: np.ndarray, c5: np.ndarray,
              ends: np.ndarray, maybe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Which lines (of those ``maybe``) go on after ``stage`` (its end at ``c5``) with a label
    alone that orjson would read as its bytes (printable ASCII, no quote, no backslash), and
    their labels (an object array, in line order)."""
    first = c5 + len(_LABEL)
    last = ends - 2  # the label's closing quote
    maybe = maybe & (last >= first)
    at = np.flatnonzero(maybe)
    if at.size:
        maybe[at] = (_literal_at(words, c5[at], _LABEL) & (buf[last[at]] == ord('"'))
                     & (buf[ends[at] - 1] == ord("}")))  # fmt: skip
        at = np.flatnonzero(maybe)
    labels = np.empty(at.size, object)
    if not at.size:
        return maybe, labels
    f, z = first[at], last[at]
    valid = np.zeros(at.size, bool)
    short = np.flatnonzero(z - f <= 16)
    if short.size:
        # Few distinct labels: each read once. Up to 16 bytes, a label is its length with its
        # first 8 and last 8 bytes (as outcomes are read).
        fs, zs = f[short], z[short]
        length = (zs - fs).astype(np.uint64)
        low = np.where(length >= 8, np.uint64(2**64 - 1),
                       (np.uint64(1) << (np.uint64(8) * (length & np.uint64(7)))) - np.uint64(1))
        head = np.unique(words[fs] & low, return_inverse=True)[1].reshape(-1)
        tail = np.unique(words[zs - 8], return_inverse=True)[1].reshape(-1)
        key = (head.astype(np.int64) * (int(tail.max()) + 1) + tail) * 17 + length.astype(np.int64)
        _, one, inverse = np.unique(key, return_index=True, return_inverse=True)
        texts = [_label_text(block[a:b]) for a, b in zip(fs[one].tolist(), zs[one].tolist(),
                                                          strict=True)]  # fmt: skip
        distinct = np.empty(len(texts), object)
        distinct[:] = texts
        labels[short] = distinct[inverse.reshape(-1)]
        valid[short] = np.array([t is not None for t in texts], bool)[inverse.reshape(-1)]
    for i in np.flatnonzero(z - f > 16).tolist():  # long labels (rare): one by one
        text = _label_text(block[int(f[i]) : int(z[i])])
        labels[i], valid[i] = text, text is not None
    maybe[at] = valid
    return maybe, labels[valid]


def _label_text(raw: bytes) -> str | None:
    """``raw`` as a JSON string's text when it is printable ASCII without quote or backslash
    (what it reads as, byte for byte), else None."""
    if not raw.isascii() or b'"' in raw or b"\\" in raw:
        return None
    text = raw.decode("ascii")
    return text if text.isprintable() else None  # ASCII: " " to "~"


def _parse(block: bytes, labels: bool = False) -> PlainBlock | None:
    buf = np.frombuffer(block, np.uint8)
    newline = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], newline + 1))
    ends = np.concatenate((newline, [buf.size]))
    keep = ends > starts  # blank lines are skipped, as the other readers do
    starts, ends = starts[keep], ends[keep]
    n = starts.size
    if n == 0 or int((ends - starts).min()) < _MIN_LINE:
        return None
    # The first five commas of each line: a plain line has four (between its five fields),
    # a line with more after ``stage`` a fifth before its closing brace.
    commas = np.flatnonzero(buf == 44)
    first = np.searchsorted(commas, starts)
    padded = np.concatenate((commas, np.full(5, buf.size + 1)))
    c1, c2, c3, c4, c5 = (padded[first + i] for i in range(5))
    if not (c4 < ends).all():
        return None
    plain = c5 > ends
    words = _words(block)
    tagged, label_texts = (_labelled(block, buf, words, c5, ends, ~plain) if labels
                           else (np.zeros(n, bool), np.empty(0, object)))  # fmt: skip
    read = plain | tagged
    extra = np.flatnonzero(~read)
    extra_lines = [block[starts[i] : ends[i]] for i in extra.tolist()]
    labelled = np.flatnonzero(tagged)
    # a labelled line's stage ends at its fifth comma, a plain line's at its closing brace
    s, e = starts[read], np.where(plain, ends - 1, c5)[read] + 1
    c1, c2, c3, c4 = c1[read], c2[read], c3[read], c4[read]
    if not (
        _literal(words, s, _ROW)
        and _literal(words, c1, _T)
        and _literal(words, c2, _OUTCOME)
        and _literal(words, c3, _LATENCY)
        and _literal(words, c4, _STAGE)
        and (buf[ends[read] - 1] == ord("}")).all()
        and (buf[c3 - 1] == ord('"')).all()
    ):
        return None
    dot = c2 - _FRACTION - 1
    if not (dot > c1 + len(_T)).all() or not (buf[dot] == ord(".")).all():
        return None
    row = _digits(words, s + len(_ROW), c1)
    whole = _digits(words, c1 + len(_T), dot)
    fraction = _eight(words, c2, np.full(c2.size, _FRACTION))
    latency = _digits(words, c3 + len(_LATENCY), c4)
    stage = _digits(words, c4 + len(_STAGE), e - 1)
    if row is None or whole is None or fraction is None or latency is None or stage is None:
        return None
    if (whole >= _T_LIMIT // 10**_FRACTION).any():
        return None
    outcome = _outcomes(words, c2 + len(_OUTCOME), c3 - 1)
    if outcome is None:
        return None
    t = (whole * 10**_FRACTION + fraction) / float(10**_FRACTION)
    dtypes = (np.int64, np.float64, np.int8, np.int64, np.int64)
    columns: list[np.ndarray] = [np.zeros(n, dtype) for dtype in dtypes]
    values: list[np.ndarray] = [row, t, outcome, latency, stage]
    for column, value in zip(columns, values, strict=True):
        column[read] = value
    row, t, outcome, latency, stage = columns
    return PlainBlock(row, t, outcome, latency, stage, extra, extra_lines, labelled, label_texts)


def _outcomes(words: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """The outcome code of each name in ``[start, end)``, or None when one is not an outcome.
    A name's first and last 8 bytes (with the text around it) cover all of it (≤ 16 bytes)."""
    length = end - start
    head, tail = words[start], words[end - 8]
    code = np.full(start.size, -1, np.int8)
    for i, name in enumerate(OUTCOMES):
        text = _OUTCOME + name.encode() + b'"' + _LATENCY
        at = len(_OUTCOME)
        want_head, want_tail = (
            _word(text[at : at + 8]),
            _word(text[at + len(name) - 8 : at + len(name)]),
        )
        match = (
            (length == len(name)) & (head == np.uint64(want_head)) & (tail == np.uint64(want_tail))
        )
        code[match] = i
    return None if (code < 0).any() else code
