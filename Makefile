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

# coverage starts before pytest, so the modules the pytest11 plugin imports early are measured
# too; pytest's exit status (5 when no test ran) is coverage run's, and fails the target.
pytest: $(STAMP)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -p no:cacheprovider -q
	$(BIN)/coverage report

demo: $(STAMP)
	$(BIN)/ssooidc demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .coverage .mypy_cache .ruff_cache
