# CineSync — `make run` (main job on the bundled data) and `make test` (the test suite).
# Both create the virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= results

.PHONY: run leaderboard results results-extended options test test-slow test-all lint benchmark bench-serve bench-train lock clean

## Every extra plus the test tools, at the exact versions of constraints.txt.
$(BIN)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CineSync needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[all,dev]'
	@touch $@

HOST ?= 127.0.0.1
PORT ?= 8000

## Main job: the service (API + web page) on http://$(HOST):$(PORT); the first start imports the
## bundled data into SQLite under $$CINESYNC_HOME (default ~/.cinesync) and trains the default model.
run: $(BIN)/.installed
	$(BIN)/cinesync serve --host $(HOST) --port $(PORT)

## Evaluation leaderboard of every model on the bundled MovieLens data (loo and recbole-8-1-1).
leaderboard: $(BIN)/.installed
	@mkdir -p $(OUT)
	$(BIN)/cinesync evaluate --protocol loo --models classical --k 10,20 --json $(OUT)/loo.json --csv $(OUT)/loo.csv --report $(OUT)/loo
	$(BIN)/cinesync evaluate --protocol recbole-8-1-1 --models classical --k 10,20 --json $(OUT)/recbole.json --csv $(OUT)/recbole.csv --report $(OUT)/recbole

## Results table of the neural models next to the classical ones: loo (sequential + general models) and
## recbole-8-1-1 (general models). Classical models and the fast neural ones are tuned on validation only;
## the slow neural ones keep their defaults (chosen on validation) to bound the run time on 2 cores.
NEURAL_LOO ?= sasrec,bert4rec,twotower,multvae,lightgcn,ncf,seqrules,ease,als,itemknn,pop
NEURAL_RB ?= multvae,lightgcn,twotower,ncf,seqrules,ease,als,itemknn,pop
results: $(BIN)/.installed
	@mkdir -p $(OUT)
	$(BIN)/cinesync evaluate --protocol loo --models $(NEURAL_LOO) --no-tune-models sasrec,bert4rec,twotower,lightgcn,ncf \
	    --k 10,20 --json $(OUT)/neural-loo.json --report $(OUT)/neural-loo --train-log $(OUT)/train-logs-loo
	$(BIN)/cinesync evaluate --protocol recbole-8-1-1 --models $(NEURAL_RB) --no-tune-models ncf \
	    --k 10,20 --json $(OUT)/neural-recbole.json --report $(OUT)/neural-recbole --train-log $(OUT)/train-logs-recbole

## Content, cold start, movie <-> TV, the ensemble and the two-tower fusion ablation (README section
## "Content, cold start, cross-domain and the ensemble"); TMDB overviews from $(TMDB).
TMDB ?= ../shared/data/tmdb-5000/tmdb_5000_movies.csv.zip
results-extended: $(BIN)/.installed
	@mkdir -p $(OUT)
	$(BIN)/cinesync coldstart --tmdb-path $(TMDB) --json $(OUT)/coldstart.json
	$(BIN)/cinesync crossdomain --json $(OUT)/crossdomain.json
	$(BIN)/cinesync ensemble --protocol loo --members ease,rp3beta,itemknn,als,seqrules --json $(OUT)/ensemble-loo.json
	$(BIN)/cinesync ensemble --protocol recbole-8-1-1 --members ease,rp3beta,itemknn,als,multvae,twotower,seqrules \
	    --json $(OUT)/ensemble-recbole.json
	$(BIN)/cinesync ensemble --protocol temporal --members ease,rp3beta,itemknn,als,seqrules \
	    --json $(OUT)/ensemble-temporal.json
	$(BIN)/cinesync ablation-fusion --tmdb-path $(TMDB) --seeds 0,1,2 --epochs 20 --json $(OUT)/fusion.json

## Training options (contrastive, multi-task, label smoothing, hard negatives, sampled softmax) of
## SASRec (loo, 8 epochs each) and the two-tower model (recbole-8-1-1) against their base recipes.
options: $(BIN)/.installed
	@mkdir -p $(OUT)
	$(BIN)/python -m benchmarks.options --suite twotower --json $(OUT)/options-twotower.json
	$(BIN)/python -m benchmarks.options --suite sasrec --epochs 8 --json $(OUT)/options-sasrec.json

## Tests: the default (fast) suite.
test: $(BIN)/.installed
	$(BIN)/pytest -q -m "not slow" -n 2

## Slow tests (real-data checks); CI runs these too.
test-slow: $(BIN)/.installed
	$(BIN)/pytest -q -m "slow" || [ $$? -eq 5 ]

test-all: test test-slow

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks

## Fit / evaluation time and peak memory per model (bundled data + a synthetic power-law set).
benchmark: $(BIN)/.installed
	$(BIN)/python -m benchmarks.bench --out $(OUT)/benchmark

## The HTTP service under open-loop load on loopback (latency table).
bench-serve: $(BIN)/.installed
	$(BIN)/python -m benchmarks.bench_serve

## SASRec training speed on the bundled data (s/epoch, sequences/s, time to the best validation epoch).
bench-train: $(BIN)/.installed
	$(BIN)/python -m benchmarks.bench_train --model sasrec --out $(OUT)/bench-train

## Rewrite constraints.txt from the installed environment (after changing a range in pyproject.toml).
lock: $(BIN)/.installed
	@{ head -2 constraints.txt; $(BIN)/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
