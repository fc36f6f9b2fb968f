# Two commands for a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

.PHONY: demo up test lint proto bench image clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start nats-server and the three services on loopback, run the demo, keep serving (KCC_DEMO_EXIT=1 exits).
demo: $(STAMP)
	$(BIN)/kcc up

## Start the platform without the demo.
up: $(STAMP)
	$(BIN)/kcc up --no-demo

## Every test: real nats-server, real SQLite and PostgreSQL, real gRPC servers.
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check services tests bench scripts
	$(BIN)/mypy services
	$(BIN)/buf lint

## Regenerate the committed protobuf code and stubs from proto/.
proto: $(STAMP)
	$(BIN)/python scripts/generate_proto.py

bench: $(STAMP)
	$(BIN)/python bench/classify_accuracy.py
	$(BIN)/python bench/route_contacts.py

## The one image for every service and the CLI (needs a Docker engine; see Dockerfile).
image:
	docker build --build-arg VERSION=$(VERSION) -t kcc-router:$(VERSION) .

clean:
	rm -rf $(VENV) var
