"""Scenario loading: one clear line per problem, naming the file, the line and the key."""

from __future__ import annotations

import pytest

from stagecheck.errors import EXIT_BAD_INPUT, InputError
from stagecheck.scenario import load_scenario, redacted_yaml
from tests.conftest import BASIC_SCENARIO

pytestmark = pytest.mark.unit


def problems_of(path, overrides=()):
    with pytest.raises(InputError) as info:
        load_scenario(path, overrides)
    assert info.value.exit_code == EXIT_BAD_INPUT
    return info.value.problems


def test_valid_scenario_loads_with_units_parsed(write_scenario):
    loaded = load_scenario(write_scenario(BASIC_SCENARIO))
    sc = loaded.scenario
    assert sc.name == "basic"
    assert sc.load.duration == 5.0
    assert sc.endpoint.timeout == 10.0
    assert sc.dataset.input == ["text"]
    assert sc.scoring == {"kind": "label"}


def test_unknown_key_names_file_line_key_and_suggests(write_scenario):
    path = write_scenario(BASIC_SCENARIO.replace("  model: m", "  model: m\n  timout: 5s"))
    (line,) = problems_of(path)
    assert line.startswith(f"{path}:6: endpoint.timout: unknown key; did you mean 'timeout'?")


def test_wrong_type_and_missing_key_are_each_one_line(write_scenario):
    text = BASIC_SCENARIO.replace("users: 2", "users: many").replace("  expected: label\n", "")
    found = problems_of(write_scenario(text))
    assert len(found) == 2
    assert any(":10: load.users:" in p and "integer" in p for p in found)
    assert any("dataset.expected: required key is missing" in p for p in found)


def test_bad_duration_message(write_scenario):
    (line,) = problems_of(write_scenario(BASIC_SCENARIO.replace("duration: 5s", "duration: 5x")))
    assert "load.duration" in line and "30s" in line


def test_unknown_protocol_lists_the_valid_ones(write_scenario):
    (line,) = problems_of(write_scenario(BASIC_SCENARIO.replace("openai-chat", "grpc")))
    assert ":4: endpoint.protocol:" in line
    assert "kserve-v2" in line and "openai-chat" in line


def test_unknown_protocol_option_is_an_error_with_its_line(write_scenario):
    text = BASIC_SCENARIO.replace("  model: m", "  model: m\n  options:\n    sistem_prompt: hi")
    (line,) = problems_of(write_scenario(text))
    assert ":7: endpoint.options.sistem_prompt: unknown key" in line


def test_bad_threshold_names_its_index_and_line(write_scenario):
    (line,) = problems_of(write_scenario(BASIC_SCENARIO.replace("accuracy >=", "acuracy >=")))
    assert ":13: thresholds[0]:" in line and "acuracy" in line


def test_yaml_syntax_error_names_the_line(write_scenario):
    (line,) = problems_of(write_scenario(BASIC_SCENARIO.replace("users: 2,", "users: [2,")))
    assert line.endswith(":11: not valid YAML: expected ',' or ']', but got '}'")


def test_duplicate_key_is_reported(write_scenario):
    (line,) = problems_of(write_scenario(BASIC_SCENARIO + "name: again\n"))
    assert line.endswith("name: key appears twice")


def test_env_interpolation_and_missing_variable(write_scenario, monkeypatch):
    text = BASIC_SCENARIO.replace(
        "  model: m", '  model: m\n  headers: {Authorization: "Bearer ${SC_TEST_KEY}"}'
    )
    path = write_scenario(text)
    monkeypatch.delenv("SC_TEST_KEY", raising=False)
    (line,) = problems_of(path)
    assert ":6: endpoint.headers.Authorization: environment variable SC_TEST_KEY is not set" in line
    monkeypatch.setenv("SC_TEST_KEY", "s3cret")
    loaded = load_scenario(path)
    assert loaded.scenario.endpoint.headers["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in redacted_yaml(loaded.raw)
    assert "${SC_TEST_KEY}" in redacted_yaml(loaded.raw)


def test_literal_secret_header_is_redacted(write_scenario):
    path = write_scenario(
        BASIC_SCENARIO.replace("  model: m", "  model: m\n  headers: {X-Api-Key: abc123}")
    )
    text = redacted_yaml(load_scenario(path).raw)
    assert "abc123" not in text and "<redacted>" in text


def test_overrides_apply_and_unknown_override_names_set(write_scenario):
    path = write_scenario(BASIC_SCENARIO)
    loaded = load_scenario(path, ["endpoint.url=http://127.0.0.1:1234", "load.users=7"])
    assert loaded.scenario.endpoint.url == "http://127.0.0.1:1234"
    assert loaded.scenario.load.users == 7
    (line,) = problems_of(path, ["load.userz=3"])
    assert line.startswith("--set: load.userz: unknown key")


def test_malformed_override(write_scenario):
    (line,) = problems_of(write_scenario(BASIC_SCENARIO), ["novalue"])
    assert line == "--set novalue: expected key.path=value, e.g. endpoint.url=http://…"


def test_missing_file(tmp_path):
    (line,) = problems_of(tmp_path / "nope.yaml")
    assert "nope.yaml" in line and "cannot read" in line


def test_shipped_scenarios_validate(monkeypatch):
    from tests.conftest import REPO

    monkeypatch.setenv("SEEKR_API_KEY", "test-key")  # scenarios/seekrflow.yaml's preset
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        load_scenario(path)


def test_json_schema_file_is_current_and_accepts_the_shipped_scenarios():
    import json

    import jsonschema
    import yaml

    from stagecheck.scenario.schema import scenario_json_schema
    from tests.conftest import REPO

    path = REPO / "scenarios" / "scenario.schema.json"
    schema = scenario_json_schema()
    assert json.loads(path.read_text()) == schema, (
        "scenarios/scenario.schema.json is stale: regenerate it with make schema"
    )
    for scenario in sorted((REPO / "scenarios").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(scenario.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "endpoint": {"url": "u", "protocol": "p"},
                             "dataset": {"path": "d", "input": "t", "expected": "l"},
                             "load": {"userz": 3}}, schema)  # fmt: skip
