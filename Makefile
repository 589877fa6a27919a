# airhook: two commands do all the set-up on a fresh machine.
#   make run    airhook on a real local Airflow 3 (installed and started for you)
#   make test   the whole test suite (unit, real Airflow 2.11 and 3.3, Terraform checks)
# Heavy installs (Airflow venvs, uv's cache, Terraform tools) are cached in ~/.cache/airhook/.

PYTHON ?= python3
VENV   ?= .venv
CACHE  ?= $(HOME)/.cache/airhook
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
export UV_CACHE_DIR ?= $(CACHE)/uv
export AIRHOOK_CACHE ?= $(CACHE)
# The harness would bootstrap its own uv; the dev venv already has one.
export AIRHOOK_UV ?= $(abspath $(UV))

.PHONY: lint run run-plugin bench-plugin test test-unit test-integration test-slow test-reliability test-long bench system-deps venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-mwaa.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --python $(PY) -r requirements-dev.txt
	$(UV) pip install --quiet --python $(PY) --no-deps -e .   # the `airhook` command
	@touch $@

# PostgreSQL backs the local Airflow 3 (on SQLite it answers 500 under concurrent triggers).
system-deps:
	@bash tools/system_deps.sh

run: venv system-deps
	$(PY) -m tools.run_local

# airhook as a plugin inside a local Airflow 3 (AIRFLOW=2.11.2 for Airflow 2): pip-installed into
# Airflow's own environment (a copy in ~/.cache/airhook/plugin), nothing beside it. Prints the
# send command, as `make run` does.
AIRFLOW ?= 3.3.2
run-plugin: venv system-deps
	$(PY) -m tools.run_local --plugin --airflow-version $(AIRFLOW)

# Types and lint first (seconds): mypy --strict over the package, ruff over everything.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy airhook main.py

test: venv system-deps lint
	$(PY) -m pytest tests

test-unit: venv
	$(PY) -m pytest tests/unit

test-integration: venv system-deps
	$(PY) -m pytest tests/integration

# The long load tests (`slow` marker), e.g. 1,000 deliveries through the durable queue.
test-slow: venv system-deps
	$(PY) -m pytest -m slow tests

# Reliability suites, fast profile (also part of `make test`).
test-reliability: venv system-deps
	$(PY) -m pytest tests/reliability

# The long profile (docs/reliability.md): >= 100,000 bad-input cases, atheris on the verifiers,
# the body parser and the routing engine, load and faults at scale, and the `slow` tests. ~15 min.
test-long: venv system-deps
	AIRHOOK_RELIABILITY=long $(PY) -m pytest tests/reliability
	$(PY) -m pytest -m slow tests

# Benchmarks against baselines measured in the same run (bench/README.md). On a shared machine:
#   make bench BENCH_ARGS="--wait-quiet 300"
BENCH_ARGS ?=
bench: venv
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 || echo "bench: no wrk; using the Python load generator"
	$(PY) bench/run.py --json bench/results/latest.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
