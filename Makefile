# LeadCoach. `make run` starts the coach (Telegram with a token, else this terminal); `make test` tests it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LEADCOACH_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: run chat test lint bench migration clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/leadcoach start

chat: $(STAMP)
	$(BIN)/leadcoach chat

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 4  # four workers on two cores: many tests wait on PostgreSQL, processes and timers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy frameworks flows bot tests bench

bench: $(STAMP)
	$(BIN)/python bench/lookup.py
	$(BIN)/python bench/inline.py
	$(BIN)/python bench/updates.py --postgres
	$(BIN)/python bench/instances.py
	$(BIN)/python bench/purge.py
	$(BIN)/python bench/claim.py
	$(BIN)/python bench/nudges.py
	$(BIN)/python bench/chart.py
	$(BIN)/python bench/pack.py

migration: $(STAMP)
	$(BIN)/alembic -c alembic.ini revision --autogenerate -m "$(m)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
