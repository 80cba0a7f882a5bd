"""The options reference (scenarios/REFERENCE.md) is generated from the pydantic models: the
file in the repository must be the generator's output (regenerate it with
``python -m stagecheck.scenario.reference > scenarios/REFERENCE.md``), name every option of every
protocol and scorer, and ``stagecheck protocols`` must print it."""

from __future__ import annotations

import pytest

from stagecheck.cli import main
from stagecheck.protocols import ADAPTERS
from stagecheck.protocols.presets import PRESETS
from stagecheck.scenario.reference import option_rows, reference_markdown
from stagecheck.scoring import SCORERS
from tests.support import SCENARIOS

pytestmark = pytest.mark.unit

REFERENCE = SCENARIOS / "REFERENCE.md"


def test_the_reference_file_is_current() -> None:
    assert REFERENCE.read_text() == reference_markdown(), (
        "scenarios/REFERENCE.md is stale: "
        "python -m stagecheck.scenario.reference > scenarios/REFERENCE.md"
    )


def test_every_option_is_documented_with_its_type_default_and_description() -> None:
    text = reference_markdown()
    for name, cls in ADAPTERS.items():
        section = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        for option, type_, default, description in option_rows(cls.Options):
            row = f"| `{option}` | `{type_.replace('|', chr(92) + '|')}` |"
            assert row in section, (name, option)
            assert description, f"{name}: option {option} has no description"
            assert default
    for kind, scls in SCORERS.items():
        assert f"### `{kind}`" in text
        for option, *_ in option_rows(scls.Options, skip=("kind",)):
            assert f"| `{option}` |" in text.split(f"### `{kind}`", 1)[1], (kind, option)
    for preset in PRESETS.values():
        assert f"### `{preset.name}`" in text and preset.key_env in text


def test_a_default_is_what_the_model_really_uses() -> None:
    chat = ADAPTERS["openai-chat"].Options()
    rows = {r[0]: r for r in option_rows(ADAPTERS["openai-chat"].Options)}
    assert rows["path"][2] == f'"{chat.path}"'
    assert rows["stream"][2] == str(chat.stream).lower()


def test_stagecheck_protocols_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols"]) == 0
    assert capsys.readouterr().out == REFERENCE.read_text()
