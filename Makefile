# Two commands for a fresh machine: `make demo` and `make test`. Both run the idempotent setup first.
SHELL := /bin/bash
ENV := . scripts/env.sh &&

.PHONY: setup demo test test-fast bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(ENV) bash scripts/demo.sh

test: setup
	@$(ENV) python -m pytest -q

test-fast: setup  ## skip the slow learning/sim end-to-end tests
	@$(ENV) python -m pytest -q -m "not slow"

bench: setup
	@$(ENV) python bench/dds_latency.py

clean:
	rm -rf build install log .pytest_cache
