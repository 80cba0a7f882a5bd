"""Property-based fuzzing of everything that reads input a user or a server controls
(issue 7, "Hostile input"): whatever it is given, each reader returns a result or raises the
one documented error — ``InputError`` (one printable line per problem, exit code 2) for
scenarios, ``--set``, datasets; ``ValueError`` for units and thresholds; ``ResponseParseError``
for the adapters' response parsers — never another exception, and never a value that would
break encoding the results at run time (lone surrogates, non-finite numbers).

Budget: ``max_examples`` per target (``EXAMPLES``, 200; ``STAGECHECK_FUZZ_EXAMPLES=5000`` to hunt
by hand), no deadline; the file runs in well under a minute on a 2-core machine.
"""

from __future__ import annotations

import math
import os
import string
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stagecheck.errors import EXIT_BAD_INPUT, InputError
from stagecheck.judging.thresholds import parse_threshold
from stagecheck.protocols import STREAM_DONE, ResponseParseError, StreamUsage, build_adapter
from stagecheck.redact import redact_mapping, redact_override, redact_text
from stagecheck.run.preparation import prepare_loaded
from stagecheck.scenario import load_scenario
from stagecheck.units import (
    MAX_DURATION_S,
    MAX_RATE,
    parse_duration,
    parse_percent_or_fraction,
    parse_rate,
)

pytestmark = pytest.mark.unit

EXAMPLES = int(os.environ.get("STAGECHECK_FUZZ_EXAMPLES", "200"))  # more to hunt, by hand
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- strategies ---

# Numbers at the edges: huge integers (beyond 4300 digits' worth of bits too), infinities, NaN.
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**60, max_value=2**14000),  # str() refuses beyond ~2**14284
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -0.0, float("inf"), float("nan"), 2**64, -(2**63) - 1]),
)
# Text with the characters parsers trip on: units, operators, brackets, surrogates, controls.
nasty_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0xDFFF)),
    st.text(alphabet="0123456789.e+-_ /smhuµ%<>=![]()pP,\n\t\x00", max_size=40),
    st.sampled_from(["", " ", "inf", "nan", "1e999", "-0", "0x10", "1_000", "∞", "\udc00"]),
)
_HUGE = st.just(20000).map(lambda bits: 2**bits)  # repr() of the strategy stays printable
scalars = st.one_of(st.none(), st.booleans(), numbers, nasty_text, _HUGE)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _one_line_problems(exc: InputError) -> None:
    assert exc.exit_code == EXIT_BAD_INPUT
    assert exc.problems
    for line in exc.problems:
        assert "\n" not in line and "\r" not in line
        assert len(line) <= 500
        line.encode("utf-8")  # printable on any UTF-8 terminal: no lone surrogate


# --- units ---


@FUZZ
@given(json_values)
def test_units_return_a_bounded_finite_number_or_value_error(value: Any) -> None:
    for parse, limit in ((parse_duration, MAX_DURATION_S), (parse_rate, MAX_RATE)):
        try:
            out = parse(value)
        except ValueError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300
        else:
            assert isinstance(out, float) and math.isfinite(out) and 0 <= out <= limit
    try:
        fraction = parse_percent_or_fraction(value)
    except ValueError:
        pass
    else:
        assert math.isfinite(fraction)


# --- thresholds ---

threshold_text = st.one_of(
    nasty_text,
    st.builds(
        lambda m, op, v: f"{m} {op} {v}",
        st.sampled_from(
            ["latency.p99", "latency.p(99.9)", "ttft.mean", "accuracy", "error_rate", "requests",
             "throughput", "class[a].recall", "slice[x=y].accuracy", "latency.pinf",
             "latency.p1e-400", "class[].f1", "slice[=].requests", "itl.", "f1_macro"]
        ),  # fmt: skip
        st.sampled_from(["<", "<=", ">=", "==", "!=", "=", "=>", "<<"]),
        st.one_of(
            nasty_text,
            st.builds(
                lambda n, u: f"{n}{u}",
                numbers.map(str),
                st.sampled_from(["", "ms", "s", "%", "/s", "/m", "us", "h"]),
            ),
        ),
    ),
)


@FUZZ
@given(threshold_text)
def test_threshold_parser_returns_a_finite_threshold_or_value_error(text: str) -> None:
    try:
        t = parse_threshold(text)
    except ValueError:
        return
    assert math.isfinite(t.target)


# --- scenario loader and --set ---

BASE: dict[str, Any] = {
    "name": "fuzz",
    "endpoint": {"url": "http://127.0.0.1:9", "protocol": "openai-chat", "model": "m"},
    "dataset": {"path": "rows.jsonl", "input": "text", "expected": "label", "slices": ["tier"]},
    "load": {"users": 2, "duration": "5s"},
    "thresholds": ["accuracy >= 0.5"],
}
PATHS = [
    ("name",), ("description",), ("endpoint",), ("endpoint", "url"), ("endpoint", "protocol"),
    ("endpoint", "model"), ("endpoint", "headers"), ("endpoint", "headers", "Authorization"),
    ("endpoint", "timeout"), ("endpoint", "connect_timeout"), ("endpoint", "options"),
    ("endpoint", "options", "path"), ("endpoint", "options", "stream"),
    ("endpoint", "options", "user_template"), ("endpoint", "metrics_url"),
    ("endpoint", "verify_tls"), ("dataset", "input"), ("dataset", "expected"),
    ("dataset", "slices"), ("dataset", "order"), ("dataset", "seed"), ("dataset", "passes"),
    ("dataset", "limit"), ("dataset", "format"), ("scoring",), ("scoring", "kind"),
    ("load", "users"), ("load", "duration"), ("load", "arrival_rate"), ("load", "spawn_rate"),
    ("load", "stages"), ("load", "wait"), ("thresholds",), ("validity", "min_requests"),
    ("validity", "max_generator_cpu"), ("unknown",),
]  # fmt: skip
urls = st.one_of(
    nasty_text,
    st.builds(
        lambda scheme, user, host, port, tail: f"{scheme}://{user}{host}{port}{tail}",
        st.sampled_from(["http", "https", "ftp", "HTTP"]),
        st.sampled_from(["", "u:p@", "u@", ":@", "ü:ö@", "%zz@"]),
        st.sampled_from(["127.0.0.1", "[::1]", "[::1", "::1]", "[fe80::1%eth0]", "a..b", "",
                         "xn--", "ä.example", "host\x00", "[v1.x]", "[]"]),
        st.sampled_from(["", ":", ":0", ":80", ":65536", ":99999", ":abc", ":-1", ":٣"]),
        st.sampled_from(["", "/", "/v1?key=s", "#x", "?a=b&token=t"]),
    ),  # fmt: skip
)


def _set(data: dict[str, Any], loc: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = yaml.safe_load(yaml.safe_dump(data))
    target = out
    for part in loc[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[loc[-1]] = value
    return out


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d)
        (path / "rows.jsonl").write_text(
            '{"text": "hi", "label": "a", "tier": "t"}\n'
            '{"text": "yo", "label": "b", "tier": "u"}\n',
            encoding="utf-8",
        )
        yield path


def _load(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> None:
    try:
        loaded = load_scenario(path, overrides)
    except InputError as exc:
        _one_line_problems(exc)
        return
    sc = loaded.scenario
    assert math.isfinite(sc.load.total_duration) and sc.load.total_duration <= 31 * 86400
    assert sc.load.arrival_rate is None or math.isfinite(sc.load.arrival_rate)
    # everything that is written or sent later encodes
    orjson.dumps(loaded.raw, option=orjson.OPT_NON_STR_KEYS)
    try:
        prepare_loaded(loaded)
    except InputError as exc:
        _one_line_problems(exc)


@FUZZ
@given(st.sampled_from(PATHS), st.one_of(json_values, urls))
def test_scenario_with_any_value_anywhere_loads_or_gives_one_line_problems(
    workdir: Path, loc: tuple[str, ...], value: Any
) -> None:
    try:
        text = yaml.safe_dump(_set(BASE, loc, value), allow_unicode=True)
    except ValueError:  # PyYAML cannot write ints over 4300 digits (fragments below can)
        assume(False)
    path = workdir / "s.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _load(path)


yaml_fragments = st.lists(
    st.sampled_from(
        ["a: &a [1, 2]\n", "b: &b [*a, *a, *a, *a]\n", "c: &c {x: *b, y: *b}\n", "d: *c\n",
         "e: &e [*e]\n", "f: &f {g: *f}\n", "<<: *c\n", "h: !!binary aGk=\n",
         "i: !!python/name:os\n",
         "j: 2024-13-45\n", "k: 0x" + "f" * 500 + "\n", "l: " + "9" * 4400 + "\n", "? [1]\n: 2\n",
         "m: [\n", "n: '\n", "\t- x\n", "o: \"\\udc00\"\n", "p: .inf\n", "%YAML 9.9\n", "---\n",
         "...\n", "q: " + "[" * 80 + "]" * 80 + "\n", "r: {\n", "*zz\n", "&a s: 1\n", "\ufeff",
         "\x85\n", "t: \x07\n"]  # fmt: skip
    ),
    max_size=6,
)


@FUZZ
@given(yaml_fragments, st.binary(max_size=64))
def test_hostile_yaml_text_and_bytes_give_one_line_problems(
    workdir: Path, fragments: list[str], noise: bytes
) -> None:
    base = yaml.safe_dump(BASE)
    path = workdir / "s.yaml"
    for content in ("".join(fragments).encode("utf-8", "surrogatepass") + base.encode(),
                    base.encode() + "".join(fragments).encode("utf-8", "surrogatepass"),
                    noise, base.encode() + noise):  # fmt: skip
        path.write_bytes(content)
        _load(path)


override_keys = st.one_of(
    st.sampled_from([".".join(p) for p in PATHS] + ["load.stages.0.users", "thresholds.0",
                                                    "dataset.slices.5", "a..b", "", "load.²",
                                                    "x." * 40 + "y", "1" * 50]),  # fmt: skip
    st.text(alphabet=string.ascii_lowercase + "._0123456789", max_size=20),
)
override_values = st.one_of(
    nasty_text,
    st.sampled_from(["[&a [1], *a, *a]", "{a: &a [*a]}", "[" * 500, ".inf", "9" * 5000,
                     "0x" + "f" * 400, "!!binary aGk=", "*x", "{", "null", "~", "[]", "{}"]),
)  # fmt: skip


@FUZZ
@given(st.lists(st.builds(lambda k, v: f"{k}={v}", override_keys, override_values), max_size=3),
       st.lists(nasty_text, max_size=1))  # fmt: skip
def test_any_set_override_loads_or_gives_one_line_problems(
    workdir: Path, items: list[str], raw_items: list[str]
) -> None:
    path = workdir / "s.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    _load(path, items + raw_items)


# --- dataset readers ---

rows_text = st.one_of(
    st.lists(json_values.map(lambda v: orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS)
                             if _encodable(v) else b"{}"), max_size=4)
    .map(lambda rows: b"\n".join(rows)),
    st.lists(
        st.fixed_dictionaries(
            {"text": json_values, "label": json_values, "tier": json_values},
            optional={"id": json_values},
        ).map(lambda d: _dumps(d)),
        min_size=1, max_size=4,
    ).map(lambda rows: b"\n".join(rows)),
    st.binary(max_size=200),
    st.sampled_from([
        b'{"text": "a", "label": "\\udc00", "tier": "t"}',
        b'{"text": "a", "label": "b", "tier": "\\ud800\\udc00"}',
        b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b', "label": "a", "tier": "t"}',
        b'{"text": "a", "label": ' + b"1" * 4400 + b', "tier": "t"}',
        b'{"text": "a", "label": NaN, "tier": Infinity}',
        b'{"text": "a", "label": 1e999, "tier": -1e999}',
    ]),
)  # fmt: skip
csv_text = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200).map(
        lambda t: ("text,label,tier\n" + t).encode("utf-8")
    ),
    st.binary(max_size=200).map(lambda b: b"text,label,tier\n" + b),
    st.sampled_from([
        b"text,label,tier\n" + b"x" * 140_000 + b",a,t\n",
        b'text,label,tier\n"unclosed,a,t\n',
        b"text,label,tier\na,b,c,d\n",
        b"text,label,tier\na\x00b,c,d\n",
        b"",
        b"\xef\xbb\xbftext,label,tier\na,b,c\n",
    ]),
)  # fmt: skip


def _dumps(row: dict[str, Any]) -> bytes:
    import json

    try:
        return json.dumps(row, ensure_ascii=True).encode()  # keeps lone surrogates as \\udc00
    except (ValueError, TypeError):
        return b"{}"


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


def _prepare_dataset(workdir: Path, name: str, content: bytes, protocol: str) -> None:
    (workdir / name).write_bytes(content)
    endpoint: dict[str, Any] = {"url": "http://127.0.0.1:9", "protocol": protocol, "model": "m"}
    if protocol == "json":
        endpoint["options"] = {"path": "/p", "prediction": "label"}
    data = _set(_set(BASE, ("dataset", "path"), name), ("endpoint",), endpoint)
    data = _set(data, ("dataset", "id"), "id")
    path = workdir / "d.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        prepared = prepare_loaded(load_scenario(path))
    except InputError as exc:
        _one_line_problems(exc)
        return
    for row in prepared.dataset.rows:
        # what the recorder and the reports write about a row must encode, at validate time
        orjson.dumps([row.row_id, row.expected_text, list(row.slices), row.input_text])
        assert row.request.body is not None


@FUZZ
@given(rows_text, st.sampled_from(["openai-chat", "kserve-v2", "mlflow", "json"]))
def test_jsonl_dataset_prepares_or_gives_one_line_problems(
    workdir: Path, content: bytes, protocol: str
) -> None:
    _prepare_dataset(workdir, "rows_fuzz.jsonl", content, protocol)


@FUZZ
@given(csv_text)
def test_csv_dataset_prepares_or_gives_one_line_problems(workdir: Path, content: bytes) -> None:
    _prepare_dataset(workdir, "rows_fuzz.csv", content, "openai-chat")


# --- protocol adapters' response parsers ---

ADAPTERS = [
    build_adapter("openai-chat", model="m", inputs=["text"], options={}),
    build_adapter("openai-chat", model="m", inputs=["text"], options={"stream": True}),
    build_adapter("openai-completions", model="m", inputs=["text"], options={"stream": True}),
    build_adapter("kserve-v2", model="m", inputs=["text"], options={}),
    build_adapter("kserve-v2", model="m", inputs=["text"], options={"output_name": "out"}),
    build_adapter("mlflow", model=None, inputs=["text"], options={}),
    build_adapter("mlflow", model=None, inputs=["text"], options={"prediction_key": "label"}),
    build_adapter("json", model=None, inputs=["text"],
                  options={"path": "/p", "prediction": "result.items[-1].label"}),
    build_adapter("json", model=None, inputs=["text"], options={"path": "/p", "prediction": "$"}),
]  # fmt: skip
_IDS = [f"{a.name}{'-stream' if a.stream else ''}" for a in ADAPTERS]


def _answer_shapes(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Structures close to real answers, with hostile leaves: parsers get past the first key."""
    return st.one_of(
        inner,
        st.builds(lambda c: {"choices": c}, inner),
        st.builds(lambda m: {"choices": [{"message": m, "delta": m, "text": m}]}, inner),
        st.builds(lambda m: {"choices": [{"message": {"content": m}}]}, inner),
        st.builds(lambda e: {"error": e}, inner),
        st.builds(lambda o: {"outputs": o}, inner),
        st.builds(lambda d: {"outputs": [{"name": "out", "data": d}]}, inner),
        st.builds(lambda p: {"predictions": p}, inner),
        st.builds(lambda p: {"predictions": [p]}, inner),
        st.builds(lambda r: {"result": {"items": r}}, inner),
        st.builds(lambda m, e: {"message": m, "error_code": e}, inner, inner),
    )


bodies = st.one_of(
    st.binary(max_size=100),
    _answer_shapes(plain_json).map(lambda v: orjson.dumps(v)),
    st.sampled_from([
        b"", b"null", b"[]", b"{}", b'"\\udc00"',
        b'{"choices": [{"message": {"content": "\\ud800"}}]}',
        b"[" * 2000 + b"]" * 2000, b"[" * 1000 + b"]" * 1000,
        b'{"predictions": [' + b"[" * 1000 + b"]" * 1000 + b"]}",
        b'{"outputs": [{"data": [' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"]}]}",
        b'{"result": {"items": [{"label": ' + b"[" * 1000 + b"]" * 1000 + b"}]}}",
        b'{"error": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"message": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"outputs": [{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}]}",
        b'{"error": ' + b"[" * 1020 + b"]" * 1020 + b"}",
        b'{"predictions": [' + b"9" * 400 + b"]}", b'{"outputs": [{"data": [[[[]]]]}]}',
        b"\xff\xfe", b'{"predictions": [NaN]}', b'{"choices": [{"message": {"content": 1e999}}]}',
    ]),
)  # fmt: skip


@contextmanager
def _run_time_stack() -> Iterator[None]:
    """The stack a request has at run time: Hypothesis raises the recursion limit while it
    runs a test, which hid RecursionErrors (str() of a 1000-level answer) from this fuzzer."""
    frames, f = 0, sys._getframe()
    while f is not None:
        frames, f = frames + 1, f.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(frames + 900)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, (list, dict)):
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return deepest


def _check_value(value: Any) -> None:
    # printed and scored at run time: nesting must not overflow the stack (str() of 1000
    # levels raises RecursionError), and the text must encode (the "got" of results)
    assert _depth(value) <= 64
    str(value).encode("utf-8")


@FUZZ
@given(bodies)
@pytest.mark.parametrize("adapter", ADAPTERS, ids=_IDS)
def test_response_parsers_return_or_raise_response_parse_error(adapter: Any, body: bytes) -> None:
    with _run_time_stack():
        try:
            value = adapter.parse(body)
        except ResponseParseError as exc:
            assert str(exc)
            return
        _check_value(value)


stream_lines = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda b: b"data: " + b, bodies),
    st.builds(lambda b: b"data:" + b, st.binary(max_size=40)),
    st.sampled_from([b"data: [DONE]", b"data:", b": ping", b"event: x", b"data: {\"choices\": 5}",
                     b'data: {"choices": [{"delta": []}]}', b'data: {"choices": [{"text": 3}]}',
                     b'data: "\\udc00"']),
)  # fmt: skip


@FUZZ
@given(stream_lines, st.text())
@pytest.mark.parametrize("adapter", [a for a in ADAPTERS if a.stream], ids=lambda a: a.name)
def test_stream_parsers_return_or_raise_response_parse_error(
    adapter: Any, line: bytes, text: str
) -> None:
    with _run_time_stack():
        try:
            piece = adapter.parse_stream_line(line)
        except ResponseParseError:
            piece = None
        assert piece is None or piece is STREAM_DONE or isinstance(piece, (str, StreamUsage))
        if isinstance(piece, str):
            piece.encode("utf-8")
        with suppress(ResponseParseError):
            _check_value(adapter.finish_stream(text))


# --- redaction ---


@FUZZ
@given(nasty_text, nasty_text)
def test_redaction_is_total_and_drops_what_it_must(secret: str, text: str) -> None:
    assume(secret.isalnum() and secret.isascii())
    secret = "S3CR" + secret  # never a word of the texts around it
    assert secret not in redact_text(f"http://user:{secret}@host/p?x=1")
    assert secret not in redact_text(f"failed: GET /v1?api_key={secret}&a=b")
    assert secret not in redact_override(f"endpoint.headers.X-Any={secret}")
    assert secret not in str(redact_mapping({"endpoint": {"headers": {"Authorization": secret}}}))
    for s in (text, f"http://{text}@{text}?{text}={text}"):  # never raises
        redact_text(s)
        redact_override(s)
        redact_mapping({s: s, "password": [s, {s: s}]})
