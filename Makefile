# The two commands of the README, and the set-up both share.
#   make run    set up (once) and run gdlab on its embedded defaults
#   make test   set up (once) and run the whole test suite: the programs it needs that pip
#               cannot install (Debian's chromium, redis-server, postgresql: installed if
#               missing), pytest, ruff, every bundled exercise checked, the compose
#               smoke test and the Gradescope/PrairieLearn export test (where a Docker
#               engine answers)
# Set-up is a virtual environment in .venv with gdlab installed in editable mode;
# it is redone only when pyproject.toml changes, so both commands are idempotent.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gdlab-installed

.PHONY: setup test-packages run test pytest lint check-exercises compose-smoke platforms-smoke bench bench-queue clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else f"gdlab needs Python 3.11 or newer; {sys.executable} is {v.major}.{v.minor}")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

test-packages:
	@bash tests/install-test-packages.sh

run: $(STAMP)
	$(BIN)/gdlab serve

test: $(STAMP) test-packages
	$(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/gdlab exercises check
	bash tests/deploy/compose_smoke.sh
	bash tests/deploy/platforms_smoke.sh

# the parts of `make test`, one at a time
pytest: $(STAMP) test-packages
	$(BIN)/python -m pytest

check-exercises: $(STAMP)
	$(BIN)/gdlab exercises check

compose-smoke: $(STAMP)
	bash tests/deploy/compose_smoke.sh

platforms-smoke: $(STAMP)
	bash tests/deploy/platforms_smoke.sh

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/api.py

# the job queue against in-process grading (needs redis-server and PostgreSQL here)
bench-queue: $(STAMP)
	$(BIN)/python bench/job_queue.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis seed-experiment.png
