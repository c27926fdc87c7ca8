# The README's commands. Each target creates .venv and installs the project when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check serve docs bench mutations clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make demo POLICY=us` runs it under the US policy (a shipped policy's name or a YAML path).
demo: $(STAMP)
	$(BIN)/socialcredit $(POLICY_ARG) demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# Serves SOCIALCREDIT_DATABASE_URL if set, else the demo's database if `make demo` ran;
# `make serve PORT=8001` (and HOST=) serves elsewhere than 127.0.0.1:8000; after
# `make demo POLICY=us`, `make serve POLICY=us` serves it under the same policy.
SERVE_ARGS = $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))
POLICY_ARG = $(if $(POLICY),--policy $(POLICY))
serve: $(STAMP)
	@if [ -z "$$SOCIALCREDIT_DATABASE_URL" ] && [ -f var/demo/registry.db ]; then \
	  SOCIALCREDIT_NOTICES_DIR=var/demo/notices \
	  $(BIN)/socialcredit --database-url sqlite:///./var/demo/registry.db $(POLICY_ARG) \
	    serve $(SERVE_ARGS); \
	else $(BIN)/socialcredit $(POLICY_ARG) serve $(SERVE_ARGS); fi

# The CLI reference, generated from the CLI itself (tests/test_cli_docs.py fails when stale).
docs: $(STAMP)
	$(BIN)/typer socialcredit.cli utils docs --name socialcredit --output docs/cli.md

# Each script prints its figures beside a baseline measured in the same run (bench/README.md).
bench: $(STAMP)
	$(BIN)/python bench/ingest_and_gate.py
	$(BIN)/python bench/gate_national.py
	$(BIN)/python bench/national_day.py
	$(BIN)/python bench/freshness.py --trials 200
	$(BIN)/python bench/http_gate.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/crash_trials.py --rows 5000 --batch-rows 250 --evaluate-chunk 100
	$(BIN)/python bench/evaluate.py --skip-spark
	$(BIN)/python bench/clocks.py
	$(BIN)/python bench/metro2.py

# Deliberate faults against the README's guarantees, one at a time in a scratch copy of src/;
# fails if any survives (bench/mutations.py lists them and the tests that must catch each).
mutations: $(STAMP)
	$(BIN)/python bench/mutations.py $(MUTATIONS_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
