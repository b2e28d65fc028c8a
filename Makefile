# Two commands set everything up on a machine with only Python 3.11+:
#   make run   - virtualenv, install, migrate, serve on http://127.0.0.1:8000/graphql/
#   make test  - virtualenv, install with dev extras, run the suite
# Both install the exact versions in requirements-dev.lock (`make lock` regenerates the lock
# files from the ranges in pyproject.toml; the Dockerfile installs requirements.lock).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(DEV_LOCK) | cksum | cut -d' ' -f1)
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock run test test-quick lint schema worker scheduler bench fuzz clean vendor-graphiql frontend-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

lock: $(BIN)/python
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet 'uv>=0.9,<0.14'
	$(UV_COMPILE) -o $(LOCK)
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver --nostatic $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite without the schema-wide fuzz run (about 40% of the time).
test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not fuzz" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

schema: $(STAMP)
	$(BIN)/python manage.py export_schema schema.schema:schema --path schema/schema.graphql

# Separate worker and scheduler processes share work through Redis: without REDIS_URL they
# would talk to an in-memory broker nobody else sees (`make run` runs both in-process instead).
WORKER_PROCESSES ?= 1
WORKER_THREADS ?= 8
NEEDS_REDIS = @[ -n "$$REDIS_URL" ] || { echo "make $@: REDIS_URL is not set. A separate $@ needs the Redis broker the web processes use, e.g. REDIS_URL=redis://127.0.0.1:6379/0 make $@ (without Redis, make run already runs the worker and the scheduler inside the web process)." >&2; exit 2; }

# Dramatiq's idle poll (its own variable, in ms): its 1 s default makes reminders up to 1 s late.
worker: $(STAMP)
	$(NEEDS_REDIS)
	dramatiq_worker_timeout=$${dramatiq_worker_timeout:-100} $(BIN)/python manage.py rundramatiq --processes $(WORKER_PROCESSES) --threads $(WORKER_THREADS)

scheduler: $(STAMP)
	$(NEEDS_REDIS)
	$(BIN)/python manage.py runscheduler

# Refresh schema/static/graphiql/vendor/ from the npm registry (needs npm; the output is
# committed, so `make run` never needs this). Versions and integrity: frontend/vendor_graphiql.py.
vendor-graphiql:
	$(PYTHON) frontend/vendor_graphiql.py

# A client nobody here wrote: the committed SDL through graphql-js (buildSchema +
# validateSchema) and GraphQL Code Generator, the generated types compiled by tsc --strict.
# Needs node and npm; versions locked in frontend/package-lock.json.
frontend-check:
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run -s check

bench: $(STAMP)
	$(BIN)/python bench/graphql_list.py

# The fuzz run at full size with fresh random cases (over 5,000 requests; `make test` runs a
# smaller, repeatable one). Whatever it finds goes into tests/security/test_fuzz_regressions.py.
fuzz: $(STAMP)
	FUZZ_RANDOM=1 FUZZ_SCALE=$${FUZZ_SCALE:-4} $(BIN)/python -m pytest tests/security/test_fuzz.py -q -s -p no:cacheprovider

clean:
	rm -rf $(VENV) db.sqlite3
