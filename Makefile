# Two entry points: `make run` (dev server) and `make test` (whole suite).
PYTHON ?= $(shell .ci/find-python)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/openvault server -dev

test: $(BIN)/.installed
	$(BIN)/ruff check server tests plugins
	$(BIN)/ruff format --check server tests plugins
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(BIN)/.installed
	$(BIN)/ruff check server tests plugins
	$(BIN)/ruff format --check server tests plugins

clean:
	rm -rf $(VENV) build dist *.egg-info server/*.egg-info

# Not part of `make test`: our server against OpenBao, several minutes; writes
# docs/performance.md and its chart (the smoke run of the harness is in the suite).
bench: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	PYTHONPATH=tests $(BIN)/python -m bench.run --output docs/performance.md \
		--json docs/performance.json
