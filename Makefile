# The two commands: `make run` starts the platform, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLIENTS := .venv-clients
CLIENTS_STAMP := $(CLIENTS)/.installed
TYPESCRIPT := clients/typescript
TYPESCRIPT_STAMP := $(TYPESCRIPT)/node_modules/.installed

.PHONY: install run test lint bench clean compose-check

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

# The contract tests generate a Python client with openapi-python-client, kept apart from the platform's packages.
$(CLIENTS_STAMP): clients/requirements.txt
	@test -x $(CLIENTS)/bin/python || $(PYTHON) -m venv $(CLIENTS)
	$(CLIENTS)/bin/python -m pip install -q -r clients/requirements.txt
	@touch $@

# And TypeScript types with openapi-typescript, checked by tsc: exact versions in package.json, no lock file.
$(TYPESCRIPT_STAMP): $(TYPESCRIPT)/package.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (for openapi-typescript and tsc)" >&2; exit 1; }
	cd $(TYPESCRIPT) && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@rm -f $(TYPESCRIPT)/node_modules/.package-lock.json
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/cpted dev

test: install $(CLIENTS_STAMP) $(TYPESCRIPT_STAMP)
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf var
