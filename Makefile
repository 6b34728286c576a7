# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint types pytest bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

test: lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check src adapters tests benchmarks
	$(BIN)/ruff format --check src adapters tests benchmarks

types: $(STAMP)
	$(BIN)/mypy src adapters

pytest: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider --cov --cov-branch --cov-report=term-missing -q

demo: $(STAMP)
	$(BIN)/ssooidc demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .coverage .mypy_cache .ruff_cache
