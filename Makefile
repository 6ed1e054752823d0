# The payment fleet. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements/base.txt requirements/no-deps.txt requirements/embedded.txt requirements/dev.txt requirements/constraints.txt libs/paykit/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt -c requirements/constraints.txt
	$(PY) -m pip install -q --no-deps -r requirements/no-deps.txt -c requirements/constraints.txt
	$(PY) -m pip install -q --no-deps -e libs/paykit
	$(PY) tools/devstack/paths.py
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create .venv with every pinned dependency

.PHONY: run
run: $(STAMP) ## Start the whole fleet locally (embedded Postgres/Redis, nginx if installed); Ctrl-C stops it
	$(PY) -m tools.devstack.run

.PHONY: service-token
service-token: $(STAMP) ## Print a service token: make service-token CALLER=ops [AUDIENCE=account] (keys of make run, or .env)
	@$(PY) -m tools.service_token --caller "$(CALLER)" $(if $(AUDIENCE),--audience "$(AUDIENCE)")

.PHONY: reset
reset: ## Wipe the local fleet's data (.data/)
	rm -rf .data

.PHONY: test
test: $(STAMP) ## Unit and service tests against real Postgres and Redis (embedded unless URLs are given)
	$(PY) -m pytest -m "not integration and not compose_up" -q

.PHONY: test-integration
test-integration: $(STAMP) ## The fleet behind nginx with a real Kafka broker, then docker-compose.yml as processes (needs nginx, promtool and Java 17)
	$(PY) -m pytest -m integration -q -p no:randomly --ignore=tests/stack
	$(PY) -m pytest -m integration -q -p no:randomly tests/stack

.PHONY: test-compose
test-compose: $(STAMP) ## The real `docker compose up` (demo data) and the same checks (needs a Docker engine)
	$(PY) -m pytest -m compose_up -q -p no:randomly tests/stack/test_compose_up.py

TOPIC ?= payment-events
.PHONY: dlq-list
dlq-list: $(STAMP) ## List a consumer group's dead letters: make dlq-list GROUP=notification-group [TOPIC=payment-events]
	@test -n "$(GROUP)" || { echo "GROUP=<consumer group> is required"; exit 2; }
	$(PY) -m tools.dlq list --group "$(GROUP)" --topic "$(TOPIC)"

.PHONY: dlq-replay
dlq-replay: $(STAMP) ## Replay a group's dead letters after fixing the cause: make dlq-replay GROUP=… [TOPIC=…]
	@test -n "$(GROUP)" || { echo "GROUP=<consumer group> is required"; exit 2; }
	$(PY) -m tools.dlq replay --group "$(GROUP)" --topic "$(TOPIC)"

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs/paykit/paykit $(foreach s,$(notdir $(wildcard services/*)),services/$(s)/$(s))

.PHONY: check
check: lint test test-integration ## What CI runs

.PHONY: bench
bench: $(STAMP) ## Benchmarks, reported as ratios against a baseline run in the same command
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

.PHONY: bench-fleet
bench-fleet: $(STAMP) ## The fleet under open-loop load (vegeta): sustained confirms/s, latency, hot account, overload, pgbench ratio, invariants (~6-12 min)
	$(if $(shell command -v flock),flock /tmp/fleet-ports.lock) $(PY) benchmarks/fleet/bench.py

.PHONY: clean
clean: ## Remove the virtualenv and caches (keeps .data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
