# The commands a user types: `make bench SUITE=long FRAC=0.1 [SET="train.steps=30000 ..."]`, `make test-fast` (no
# simulator, < 1 min) and `make test` (everything, as CI runs it).
PY      ?= python3.11
VENV    ?= .venv
SUITE   ?= long
FRAC    ?= 0.1
METHODS ?= baku
SEEDS   ?= 0
PROFILE ?= cpu
WORKERS ?= 0
KEEP    ?= 0
CELLS   ?=
DATA    ?= data/demos
DEMOS   ?=
ATTEMPTS ?=
VIDEO   ?= data/video
RECIPE  ?= clean
RESULTS ?= runs/cells
EVAL_SUITE ?=
SET     ?=
BIN     := $(VENV)/bin

.PHONY: install bench test test-fast expert tables keysteps hma clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml scripts/install.sh
	PY=$(PY) VENV=$(VENV) bash scripts/install.sh
	touch $@

bench: install
	$(BIN)/hilam bench --suite $(SUITE) --frac $(FRAC) --methods $(METHODS) --seeds $(SEEDS) --video $(VIDEO) \
		--profile $(PROFILE) --workers $(WORKERS) --data $(DATA) --keep-every $(KEEP) --recipe $(RECIPE) \
		--results $(RESULTS) $(if $(EVAL_SUITE),--eval-suite $(EVAL_SUITE)) $(if $(SET),--set $(SET)) \
		$(if $(DEMOS),--demos-per-task $(DEMOS))

# Tables (Markdown, CSV, LaTeX) and plots under results/tables/, from the reference cells results/runs/**/*.json
# alone (your own cells: make tables TABLES_FROM=runs/cells TABLES_TO=runs/tables)
TABLES_FROM ?= results/runs
TABLES_TO   ?= results/tables
tables: install
	$(BIN)/python -m benchmarks.tables --runs $(TABLES_FROM) --out $(TABLES_TO)

# one pytest worker per core (worksteal: the long simulator tests don't queue behind each other); slowest listed
test: install
	$(BIN)/python -m pytest -q -n auto --dist worksteal --durations=10 tests

# the tests that need no simulator (not marked `sim`: no LIBERO env, no demo generation, no cell): under a minute
test-fast: install
	$(BIN)/python -m pytest -q -n auto -m "not sim" tests

# Scripted-expert quality of one suite (state pass only, DEMOS successes in at most ATTEMPTS episodes per task;
# unset: the generator's defaults): writes results/expert/<suite>.json
expert: install
	$(BIN)/hilam generate --suite $(SUITE) --no-render --workers $(WORKERS) --root $(DATA) \
		$(if $(DEMOS),--demos-per-task $(DEMOS)) $(if $(ATTEMPTS),--max-attempts $(ATTEMPTS))
	$(BIN)/hilam expert-report --suite $(SUITE) --root $(DATA)

# KS-Gen key-step generation + HiLAM boundary scores (results/keysteps/), HMA world model (results/hma/)
keysteps: install
	$(BIN)/python -m benchmarks.keystep_report --suite $(SUITE) --profile $(PROFILE) --data $(DATA)

# CELLS: results cells (made with KEEP=N) whose kept checkpoints run in the world model and the simulator
hma: install
	$(BIN)/python -m benchmarks.hma_report --suite $(SUITE) --frac $(FRAC) --profile $(PROFILE) --data $(DATA) \
		--workers $(WORKERS) $(if $(CELLS),--cells $(CELLS))

clean:
	rm -rf $(VENV) build *.egg-info
