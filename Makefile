# Every target builds (or refreshes) the repo-local virtualenv it needs first, so a fresh clone
# with nothing but Python 3.10+ can run `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# Extras the whole toolchain needs; a stamp per set so a change of setup.cfg reinstalls.
EXTRAS ?= test,testing,flask,django,metrics,docs
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
comma  := ,

.PHONY: help venv lint format test test-fast demo bench bench-asyncio bench-server bench-groups chaos chaos-long chaos-short chaos-group chaos-group-short docs dist dist-extras clean

help:
	@echo "make demo    candidates electing and failing over against the embedded Lease API server"
	@echo "make test    lint (ruff, mypy --strict) and the whole test suite"
	@echo "make bench   benchmarks side by side with the official kubernetes.leaderelection (asyncio: make bench-asyncio)"
	@echo "make bench-asyncio  event-loop lag of the asyncio face (async with) against blocking calls"
	@echo "make bench-server  the embedded Lease API server alone: updates/s and watchers"
	@echo "make bench-groups  LeaderElectionGroup: hand-offs between 3 member processes (crash, join,"
	@echo "             SIGTERM), then 1,000 Leases in one process and a second member joining"
	@echo "make chaos   the long chaos run (never two leaders, never overlapping work; the short"
	@echo "             one runs in make test); CHAOS_ARGS=\"--faults all\" adds the kinds that fail today"
	@echo "make chaos-group   the same faults against members of a LeaderElectionGroup, judged per Lease"
	@echo "make docs    build the documentation site with warnings as errors"
	@echo "make dist    build sdist + wheel, twine check, install the wheel in a clean venv"
	@echo "make dist-extras   the same, plus a clean venv per extra (slower; not run by CI)"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict leader_election harness chaos benchmarks

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# CI runs this (.ci/run): lint, the docs site and the distributions must pass with the suite
# (pytest last, so its summary closes the output).
test: lint docs dist
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/pytest -x -q -m "not slow" $(PYTEST_ARGS)

demo: venv
	$(BIN)/leader-election demo

# Ours against the official kubernetes.leaderelection; writes docs/benchmarks.md (about 20
# minutes). BENCH_QUICK=1 (or BENCH_ARGS=--quick): a few minutes, written under build/bench/.
# matplotlib (the `bench` extra) draws the failover timeline; without it the PNG is skipped.
bench: venv
	-@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) -m benchmarks $(BENCH_ARGS)

# The long chaos run: at least 500 leadership transitions and 200 graceful handovers under
# faults (about 20 minutes), every candidate running the leader-only work job.
# CHAOS_SEED=N replays a run; CHAOS_ARGS="--impl official" runs the official client instead;
# CHAOS_ARGS="--faults all" (or a list such as --faults rolling,edit-follower) chooses kinds.
chaos: venv
	$(PY) -m chaos --profile long $(CHAOS_ARGS)

chaos-long: chaos

# The short profile, as `make test` runs it.
chaos-short: venv
	$(PY) -m chaos --profile short $(CHAOS_ARGS)

# The group profiles: members of one LeaderElectionGroup over four Leases under the same
# faults, each aimed at one Lease; 0 overlaps per Lease. chaos-group: at least 200
# transitions over all Leases; chaos-group-short: as `make test` runs it (about a minute).
chaos-group: venv
	$(PY) -m chaos --profile group $(CHAOS_ARGS)

chaos-group-short: venv
	$(PY) -m chaos --profile group-short $(CHAOS_ARGS)

# The event loop's lag while a leader renews, starts and stops: `async with` against the
# blocking start()/stop() called from a coroutine (about a minute). Writes its own section of
# docs/benchmarks.md; BENCH_QUICK=1: a few seconds, written under build/bench/.
bench-asyncio: venv
	$(PY) -m benchmarks.loop_lag $(BENCH_ARGS)

bench-server: venv
	$(PY) benchmarks/server_bench.py $(BENCH_ARGS)

# One member process with 1,000 Leases, then a second joining: threads, idle CPU, RSS, API
# requests/min against (held + 1) per renewal interval, time to rebalance (a few minutes).
# BENCH_ARGS="--leases 200 --interval 2000 --window 10" for a quick run.
bench-groups: venv
	$(PY) benchmarks/group_handover.py
	$(PY) benchmarks/groups.py $(BENCH_ARGS)

docs: venv
	$(BIN)/mkdocs build --strict --site-dir site

# Build in an isolated environment as a user's pip would, then prove what a release needs.
dist: venv
	rm -rf dist
	$(PY) -m build --sdist --wheel --outdir dist . > /dev/null
	$(BIN)/twine check --strict dist/*
	$(PY) scripts/check_dist.py dist

dist-extras: dist
	$(PY) scripts/check_dist.py dist --extras

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
