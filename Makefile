# One entry for humans and CI. `make run` sets up and serves; `make test` sets up and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel; override for another build, e.g. TORCH_SPEC="torch==2.13.0+cu126".
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup run test lint demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: setup
	$(BIN)/arxiv-reco serve

demo: setup
	$(BIN)/arxiv-reco demo

test: setup
	$(BIN)/python -m pytest -q -n 3

lint: setup
	$(BIN)/ruff check app training tests bench migrations
	$(BIN)/ruff format --check app training tests bench migrations
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
