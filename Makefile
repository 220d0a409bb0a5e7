# Two commands for a fresh machine: `make demo` and `make test`. Both run the idempotent setup first.
SHELL := /bin/bash
ENV := . scripts/env.sh &&

.PHONY: setup demo test pipeline bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(ENV) bash scripts/demo.sh

test: setup
	@$(ENV) python -m pytest -q

pipeline: setup  ## record -> dataset -> train every demo bundle -> export -> evaluate (documented, under an hour)
	@$(ENV) bash scripts/pipeline.sh

bench: setup
	@$(ENV) python bench/dds_latency.py

clean:
	rm -rf build install log .pytest_cache
