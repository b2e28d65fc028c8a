# Two commands set everything up on a machine with only Python 3.11+:
#   make run   - virtualenv, install, migrate, serve on http://127.0.0.1:8000/graphql/
#   make test  - virtualenv, install with dev extras, run the suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint schema worker scheduler bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

schema: $(STAMP)
	$(BIN)/python manage.py export_schema schema.schema:schema --path schema/schema.graphql

worker: $(STAMP)
	$(BIN)/python manage.py rundramatiq

bench: $(STAMP)
	$(BIN)/python bench/graphql_list.py

clean:
	rm -rf $(VENV) db.sqlite3
