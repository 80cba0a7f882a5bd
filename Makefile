# make demo  — set up, start the embedded staging endpoint, run the smoke scenario, stop it.
# make test  — set up (test extras included) and run the whole test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# pytest worker processes (pytest-xdist). Most tests wait on real servers and runs rather than
# compute, so more workers than cores pays; each worker runs its tests one at a time.
TEST_PROCS ?= 3

.PHONY: demo test test-deps install install-test bench schema fixture dashboards clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

demo: install
	$(BIN)/stagecheck demo

# Debian's chromium, prometheus, prometheus-pushgateway: installed as root, else the one
# command that does (STAGECHECK_ALLOW_SKIPS=1 runs without them, their tests skipped).
test-deps:
	bash .ci/test-deps

# LiteLLM's proxy, a third-party OpenAI-compatible server the tool-call test replays against
# (tests/integration/test_tool_calls_litellm.py): not a dependency of stagecheck, so in a venv
# of its own (~1 minute, ~750 MB).
LITELLM_VENV ?= .venv-litellm
$(LITELLM_VENV)/bin/litellm:
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/pip install --quiet 'litellm[proxy]==1.108.7'

test: test-deps install-test $(LITELLM_VENV)/bin/litellm
	$(BIN)/ruff check stagecheck reporting locustfiles tests benchmarks grafana
	$(BIN)/python grafana/build_dashboards.py --check
	$(BIN)/mypy stagecheck reporting
	STAGECHECK_LITELLM=$(abspath $(LITELLM_VENV)/bin/litellm) \
		$(BIN)/pytest -q -n $(TEST_PROCS) --dist worksteal --durations=10

bench: install-test
	$(BIN)/python benchmarks/generator_cost.py

schema: install
	$(BIN)/python -c "import json; from stagecheck.scenario.schema import scenario_json_schema as s; \
	print(json.dumps(s(), indent=2, ensure_ascii=False))" > scenarios/scenario.schema.json
	$(BIN)/python -m stagecheck.summary.schema > reporting/summary.schema.json
	$(BIN)/python -m stagecheck.scenario.reference > scenarios/REFERENCE.md

fixture: install-test
	$(BIN)/python -m tests.fixtures.make_summary_example

dashboards: install-test
	$(BIN)/python grafana/build_dashboards.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
