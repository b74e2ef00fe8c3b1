# The two commands: `make local` (run the engine on 127.0.0.1:3000) and `make test`.
# Each creates its own virtualenv (.venv) and installs what it needs. `make` alone lists the targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
# checkov pins dozens of packages of its own: its own tool environment, one per version (a new pin
# installs afresh). Its settings and the checks skipped for every resource: .checkov.yaml.
CHECKOV_VERSION := 3.3.30
CHECKOV := $(TOOLS)/checkov-$(CHECKOV_VERSION)/bin/checkov
# sam build needs the deployed runtime's Python (3.13) on PATH; find one, pyenv's included.
PY313_DIR ?= $(shell for d in "$$(dirname "$$(command -v python3.13 2>/dev/null)" 2>/dev/null)" \
		$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin 2>/dev/null | sort -rV); do \
	[ -n "$$d" ] && "$$d/python3.13" -V >/dev/null 2>&1 && { echo "$$d"; break; }; done)

.PHONY: help local local-reset invoke test lint policy chromium lock bench build deploy clean
.DEFAULT_GOAL := help

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

local: $(STAMP)  ## the engine on http://127.0.0.1:3000 (moto in-process; AUTOMATIONS_PORT for another port; ARGS="--parameter ExpressFirst=false")
	TZ=UTC $(BIN)/python -m devstack $(ARGS)

# --reset, not rm -rf: the stack first takes the data directory's lock, so a running one is left alone.
local-reset: $(STAMP)  ## make local, starting clean: forgets what the data directory kept (flows, runs, keys)
	TZ=UTC $(BIN)/python -m devstack --reset

# Docker-free `sam local invoke`: the function's handler and environment from template.yaml, once.
invoke: $(STAMP)  ## one function, once, against the running local stack: FUNCTION=ApiFunction EVENT=events/api_list_flows.json
	TZ=UTC $(BIN)/python -m devstack.invoke $(FUNCTION) $(EVENT)

# -p tests.unit.test_policies: the local stacks of the end-to-end tests record their functions' AWS
# calls, and the session ends checking them against each function's policy in template.yaml.
test: $(STAMP) policy chromium  ## checkov (make policy), then every test: unit, integration (moto), state machine, end-to-end, browser
	$(BIN)/ruff check .
	TZ=UTC $(BIN)/python -m pytest -p tests.unit.test_policies

# Figures are ratios to a baseline timed in the same run (these machines are noisy); the README's
# performance table is generated from bench/results.json, never typed.
bench: $(STAMP)  ## benchmarks (cold starts as ratios to bare boto3; cost per run) -> bench/results.json and the README's table
	TZ=UTC $(BIN)/python -m bench
	$(BIN)/python -m bench.report --readme README.md

lint: $(STAMP) $(SAM) policy  ## static checks: ruff, mypy, cfn-lint, sam validate --lint, asl-validator, checkov
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template template.yaml
	npx --yes asl-validator@3.16.0 --json-path statemachine/flow_interpreter.asl.json --json-path statemachine/flow_interpreter_express.asl.json

# The deployed layer's dependencies: pyproject.toml's, resolved and pinned for the Lambda runtime
# (python3.13, arm64) into layers/shared/requirements.txt, which sam build installs; less what the
# runtime ships (boto3 and its own dependencies) and the operator CLI's click.
LAYER_RUNTIME_PROVIDED := boto3 botocore s3transfer jmespath python-dateutil six click
lock: $(STAMP)  ## re-resolve the layer's pinned dependencies from pyproject.toml (layers/shared/requirements.txt)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.13 --python-platform aarch64-manylinux_2_28 \
		$(foreach package,$(LAYER_RUNTIME_PROVIDED),--no-emit-package $(package)) \
		--custom-compile-command "make lock" --quiet -o layers/shared/requirements.txt

# The console's browser tests drive Debian's Chromium (a system package, not a pip one): installed
# with apt when missing (as root, or through sudo); Playwright, from pyproject.toml, only drives it.
chromium:  ## Debian's Chromium for the browser tests (apt-get install chromium, when missing)
	@command -v chromium >/dev/null 2>&1 || { \
		as_root=""; [ "$$(id -u)" -eq 0 ] || as_root="sudo"; \
		echo "installing Debian's chromium for the browser tests ($$as_root apt-get install chromium)"; \
		$$as_root apt-get update -q && DEBIAN_FRONTEND=noninteractive $$as_root apt-get install -y -q chromium; }

# Static policy analysis of template.yaml (IAM, encryption, logging...): checkov's CloudFormation
# checks, which read SAM's resources too. Offline (no vendor platform); prints failures only.
policy: $(CHECKOV)  ## static policy analysis of template.yaml: checkov (settings in .checkov.yaml)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --config-file .checkov.yaml

$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov-$(CHECKOV_VERSION)
	$(TOOLS)/checkov-$(CHECKOV_VERSION)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/checkov-$(CHECKOV_VERSION)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'

# aws-sam-cli pins its own boto3/pydantic: it lives in its own tool environment.
$(SAM):
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install --quiet 'aws-sam-cli>=1.129'  # 1.129: first with python3.13

build: $(SAM)  ## sam build (needs python3.13; see README)
	@if [ -z "$(PY313_DIR)" ] || ! "$(PY313_DIR)/python3.13" -V >/dev/null 2>&1; then \
		echo "make build: no working python3.13 found$(if $(PY313_DIR), in PY313_DIR=$(PY313_DIR))." >&2; \
		echo "  sam build (without a container) needs the Lambda runtime's Python, 3.13, on PATH." >&2; \
		echo "  Install it (e.g. 'pyenv install 3.13') or point at its bin directory: make build PY313_DIR=/path/to/bin" >&2; \
		exit 1; \
	fi
	PATH="$(PY313_DIR):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --template template.yaml

# First deploy (no samconfig.toml yet) is interactive and saves the answers; later ones reuse them.
# `make deploy GUIDED=1` asks again.
deploy: build  ## first time: sam deploy --guided
	SAM_CLI_TELEMETRY=0 $(SAM) deploy $(if $(GUIDED),--guided,$$([ -f samconfig.toml ] || echo --guided))

clean:  ## remove .venv, .tools, the sam build and the tools' caches
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# Every target with a `## ` comment, in file order, the comments aligned.
help:  ## this list
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { name[++n] = $$1; text[n] = $$2; if (length($$1) > w) w = length($$1) } \
		END { for (i = 1; i <= n; i++) printf "  %-" w "s  %s\n", name[i], text[i] }' $(MAKEFILE_LIST)
