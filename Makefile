# EoE-CoSim. `make run` runs the default study; `make test` runs ruff and the test suite; `make test-real` checks the
# real simulators the site config names (EOESIM_SIMULATORS=<site config>, else config/simulators.yaml).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-real install install-cluster clean-results

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# the SLURM executor plugin (see requirements-cluster.txt for why it is installed without its deps)
install-cluster: $(STAMP)
	$(BIN)/pip install --quiet --no-deps -r requirements-cluster.txt

run: $(STAMP)
	$(BIN)/snakemake

# ruff (rules and line length in pyproject.toml) first: a lint error fails before the long test run. The tests run
# in TEST_WORKERS processes (pytest-xdist), a whole file per process (--dist loadfile): a workflow test file runs
# its study once in a module fixture, which splitting the file across processes would repeat
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# the tests marked `real` (skipped by `make test`): real-run tests of each adapter and one small study per
# simulator through Snakemake; -rs prints why a simulator's tests were skipped (not in the site config)
test-real: $(STAMP)
	EOESIM_REAL=1 $(BIN)/python -m pytest -q -rs -m real

clean-results:
	rm -rf results .snakemake
