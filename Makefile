# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint types docs pytest bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

test: lint types docs pytest

lint: $(STAMP)
	$(BIN)/ruff check src adapters tests benchmarks docs/hooks
	$(BIN)/ruff format --check src adapters tests benchmarks docs/hooks

types: $(STAMP)
	$(BIN)/mypy src adapters

# The site, into site/ (git-ignored): offline (no theme, font or plugin downloads) and with warnings
# as errors. docs/hooks/ generates the state diagrams, the error tree and the CLI's help at build
# time, and lets the API reference read src/ and adapters/ as one package.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# coverage starts before pytest, so the modules the pytest11 plugin imports early are measured
# too; pytest's exit status (5 when no test ran) is coverage run's, and fails the target.
pytest: $(STAMP)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -p no:cacheprovider -q
	$(BIN)/coverage report

demo: $(STAMP)
	$(BIN)/ssooidc demo

# Every script in benchmarks/, one after the other; the figures go into docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .coverage .mypy_cache .ruff_cache
