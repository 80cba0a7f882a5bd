"""``stagecheck validate`` prints the dataset profile (issue 8, §3) after its checks: the
figures a user would recount from the dataset file, the labelling problems, nothing secret and
no whole long input."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.support import SCENARIOS

pytestmark = pytest.mark.e2e


def section(stdout: str, label: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"  {label} ")]


def test_validate_prints_the_profile_of_a_shipped_scenario(cli):
    r = cli("validate", str(SCENARIOS / "smoke.yaml"), timeout=60)
    assert r.code == 0, r.stderr
    rows = [
        json.loads(line)
        for line in (SCENARIOS / "data/support_intents.jsonl").read_text().splitlines()
    ]
    (profile,) = section(r.stdout, "profile")
    assert f"{len(rows)} rows" in profile
    (classes,) = section(r.stdout, "classes")
    labels = Counter(row["label"] for row in rows)
    assert classes.split()[1] == f"{len(labels)}:"
    for label, n in labels.most_common(5):
        assert f"{label} {n} (" in classes
    by = section(r.stdout, "rows by")
    assert len(by) == 2
    for line, field in zip(by, ("complexity", "channel"), strict=True):
        assert f"rows by    {field}:" in line
        for value, n in Counter(row[field] for row in rows).items():
            assert f"{value} {n} (" in line
    (length,) = section(r.stdout, "length")
    sizes = [len(row["text"]) for row in rows]
    assert f"{min(sizes)}–{max(sizes)} chars" in length
    assert section(r.stdout, "duplicates")
    # the profile comes after validate's own lines
    assert r.stdout.index("  threshold") < r.stdout.index("  profile")


def test_validate_warns_of_duplicates_labelled_two_ways_without_secrets(cli, tmp_path):
    canary = "sk-canary-7d1f0c"
    long_text = "please help " * 400
    rows = [{"id": f"q{i}", "text": f"question {i}", "label": "refund"} for i in range(120)]
    rows += [{"id": "dup1", "text": long_text, "label": "refund"}]
    rows += [{"id": "dup2", "text": long_text, "label": "billing"}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"""\
name: dup-check
endpoint:
  url: http://127.0.0.1:9
  protocol: openai-chat
  model: m
  headers: {{Authorization: "Bearer ${{PROFILE_KEY}}"}}
dataset: {{path: {data}, input: text, expected: label, id: id}}
load: {{users: 1, duration: 1s}}
""",
        encoding="utf-8",
    )
    r = cli("validate", str(scenario), env={"PROFILE_KEY": canary}, timeout=60)
    assert r.code == 0, r.stderr
    assert canary not in r.stdout + r.stderr
    assert "1 row repeats another row's input" in r.stdout
    (labelled,) = [w for w in section(r.stdout, "warning") if "more than one way" in w]
    assert "'refund' in row dup1, 'billing' in row dup2" in labelled
    (thin,) = [w for w in section(r.stdout, "warning") if "class 'billing'" in w]
    assert "has 1 row:" in thin
    assert long_text[:100] not in r.stdout  # excerpts only
