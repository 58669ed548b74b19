# EoE-CoSim. `make run` runs the default study; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install install-cluster clean-results

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

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean-results:
	rm -rf results .snakemake
