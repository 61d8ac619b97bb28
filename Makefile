# The two entry points of the README. Everything they need is installed here, into .venv.
PY := .venv/bin/python
PIP := .venv/bin/pip

.PHONY: build demo test bench-rust clean

.venv/.ready: requirements/dev.txt requirements/reference.txt
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/dev.txt
	$(PIP) install -q -r requirements/reference.txt
	$(PIP) install -q --no-deps verl==0.9.1 openrlhf==0.11.2
	touch $@

build: .venv/.ready
	.venv/bin/maturin develop --release -q

# Main job: the credit-assignment benchmark against verl, OpenRLHF and TRL, printing its table.
demo: build
	$(PY) benches/bench_credit.py

# Whole test suite: the Rust core's cargo tests, then pytest on the package.
test: build
	cargo test -q -p rewardlab-core
	$(PY) -m pytest -q tests

bench-rust:
	cargo bench -p rewardlab-core

clean:
	rm -rf .venv target
