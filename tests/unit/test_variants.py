"""dataset.variants: the perturbations are seeded and deterministic, each does what it says,
and the scenario rejects what cannot be varied (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stagecheck.datasets.variants import perturb
from stagecheck.judging.expressions import parse_threshold
from stagecheck.scenario.schema import DatasetConfig
from tests.support import REPO

pytestmark = pytest.mark.unit

TEXTS = [
    "I was charged twice for my order, please refund the second payment.",
    "Where is my parcel? The tracking page has not changed in a week.",
    "hello! the pair of hiking boots is too small, can i swap it?",
    "My password reset email never arrives.",
]
_NEIGHBOURS = {  # QWERTY neighbours, written out independently of the module's table
    "q": "wa", "w": "qeas", "e": "wrsd", "r": "etdf", "t": "ryfg", "y": "tugh", "u": "yihj",
    "i": "uojk", "o": "ipkl", "p": "ol", "a": "qwsz", "s": "awedzx", "d": "serfxc",
    "f": "drtgcv", "g": "ftyhvb", "h": "gyujbn", "j": "huiknm", "k": "jiolm", "l": "kop",
    "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}  # fmt: skip


def _spec(**kw):
    return DatasetConfig(path="x.jsonl", input="text", expected="label", variants=[kw]).variants[0]


@pytest.mark.parametrize("kind", ["typos", "case", "whitespace", "punctuation", "filler"])
def test_same_seed_same_text_other_seed_other_text(kind):
    extra = {"mode": "random"} if kind == "case" else {}
    spec = _spec(kind=kind, **extra)
    first = [perturb(t, spec, 7, i) for i, t in enumerate(TEXTS)]
    again = [perturb(t, spec, 7, i) for i, t in enumerate(TEXTS)]
    other = [perturb(t, spec, 8, i) for i, t in enumerate(TEXTS)]
    assert first == again
    assert first != other
    assert all(f != t for f, t in zip(first, TEXTS, strict=True))  # every text is varied


def test_same_seed_same_text_in_another_process():
    """A string seed, not Python's salted hash: another interpreter makes the same typos."""
    spec = _spec(kind="typos", rate=0.1)
    code = ("from stagecheck.datasets.variants import perturb;"
            "from stagecheck.scenario.schema import DatasetConfig;"
            "s=DatasetConfig(path='x',input='t',expected='l',"
            "variants=[{'kind':'typos','rate':0.1}]).variants[0];"
            f"print(perturb({TEXTS[0]!r}, s, 3, 5))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, env={"PYTHONHASHSEED": "123"}).stdout  # fmt: skip
    assert out.strip() == perturb(TEXTS[0], spec, 3, 5)


def test_typos_replace_letters_with_keyboard_neighbours_at_the_rate():
    spec = _spec(kind="typos", rate=0.1)
    for i, text in enumerate(TEXTS):
        varied = perturb(text, spec, 1, i)
        assert len(varied) == len(text)
        changed = [(a, b) for a, b in zip(text, varied, strict=True) if a != b]
        letters = sum(c.lower() in _NEIGHBOURS for c in text)
        assert 1 <= len(changed) <= max(1, round(letters * 0.1))
        assert all(b.lower() in _NEIGHBOURS[a.lower()] for a, b in changed), changed


def test_truncate_keeps_the_first_words_and_case_upper():
    assert perturb("one two three four five", _spec(kind="truncate", keep=0.4), 0, 0) == "one two"
    assert perturb("Hi there", _spec(kind="case", mode="upper"), 0, 0) == "HI THERE"


def test_template_and_substitute_use_the_users_values():
    tpl = _spec(kind="template", templates=["{name} here: {text}"],
                values={"name": ["Ana", "Bo"]})  # fmt: skip
    out = perturb("my {order} is late", tpl, 0, 0)
    assert out in ("Ana here: my {order} is late", "Bo here: my {order} is late")
    sub = _spec(kind="substitute", values={"product": ["kettle", "toaster", "blender"]},
                numbers=True)  # fmt: skip
    out = perturb("the kettle from order 12345 leaks", sub, 0, 0)
    words = out.split()
    assert words[1] in ("toaster", "blender") and words[4].isdigit() and len(words[4]) == 5
    assert words[4] != "12345"


@pytest.mark.parametrize(("variants", "message"), [
    ([{"kind": "typos"}, {"kind": "typos"}], "two variants are named 'typos'"),
    ([{"kind": "template", "templates": ["no text here"]}], "has no {text}"),
    ([{"kind": "typos", "rate": 2}], "less than or equal to 1"),
    ([{"kind": "typo"}], "does not match any of the expected tags"),
    ([{"kind": "typos", "name": "original"}], "names the unperturbed rows"),
])  # fmt: skip
def test_bad_variants_are_rejected(variants, message):
    with pytest.raises(ValueError, match=message):
        DatasetConfig(path="x.jsonl", input="text", expected="label", variants=variants)


def test_variant_thresholds_parse():
    t = parse_threshold("variant[typos].flip_rate < 5%")
    assert (t.metric, t.op, t.target, t.unit) == ("variant[typos].flip_rate", "<", 0.05, "%")
    assert parse_threshold("variant[typos].accuracy >= 0.8 at 95% confidence").confidence == 0.95
    with pytest.raises(ValueError, match="unknown variant metric 'flips'"):
        parse_threshold("variant[typos].flips < 5%")


def _scenario(tmp_path: Path, rows: list[dict], dataset: str, thresholds: str = "[]") -> Path:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sc = tmp_path / "s.yaml"
    sc.write_text(f"name: v\nendpoint: {{url: 'http://127.0.0.1:9', protocol: openai-chat}}\n"
                  f"dataset: {{path: d.jsonl, input: text, expected: label, {dataset}}}\n"
                  f"thresholds: {thresholds}\n")  # fmt: skip
    return sc


def _validate(sc: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stagecheck.cli", "validate", str(sc)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)  # fmt: skip


def test_a_variant_that_empties_every_input_is_bad_input(tmp_path):
    rows = [{"text": "refund", "label": "refund"}, {"text": "hello", "label": "other"}]
    r = _validate(_scenario(tmp_path, rows, "variants: [{kind: truncate, keep: 0.5}]"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncate" in lines[0] and "empty" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_a_variant_that_empties_some_inputs_is_a_note(tmp_path):
    rows = [{"text": "refund", "label": "refund"}, {"text": "refund me now", "label": "refund"}]
    r = _validate(_scenario(tmp_path, rows, "variants: [{kind: truncate, keep: 0.5}]"))
    assert r.returncode == 0, r.stderr
    assert "variant truncate: 1 of 2 rows make an empty input and are not sent" in r.stdout
    assert "1 varied rows beside 2 as written" in r.stdout


def test_a_threshold_on_an_unknown_variant_is_bad_input(tmp_path):
    rows = [{"text": "refund me", "label": "refund"}]
    r = _validate(_scenario(tmp_path, rows, "variants: [{kind: typos}]",
                            "['variant[typo].flip_rate < 5%']"))  # fmt: skip
    assert r.returncode == 2
    assert "'typo' is not a variant of dataset.variants (variants: original, typos)" in r.stderr


def test_variants_with_several_inputs_are_bad_input(tmp_path):
    rows = [{"text": "refund me", "label": "refund"}]
    sc = _scenario(tmp_path, rows, "variants: [{kind: typos}]")
    sc.write_text(sc.read_text().replace("input: text", "input: [text, label]"))
    r = _validate(sc)
    assert r.returncode == 2 and "name one dataset.input field" in r.stderr, r.stderr
