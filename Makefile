# `make test` and `make local` are the front door (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Commands (and nginx's allocator) the tests and `make local` run, with the Debian package that provides each.
# dockerd and debootstrap: the tests build and run the images (nodestack/images.py), on an engine they find or
# start, from stand-in bases that debootstrap makes. docker-registry (the ECR stand-in), curl (the user data's and
# the probes') and nsenter boot a node from the rendered user data (nodestack/node.py); taskset pins the
# benchmarks' servers and load generator each to its own core.
SYSTEM_PACKAGES := nginx:nginx openssl:openssl envsubst:gettext-base shellcheck:shellcheck gzip:gzip ss:iproute2 \
	libjemalloc.so.2:libjemalloc2 iptables:iptables dockerd:docker.io debootstrap:debootstrap \
	docker-registry:docker-registry curl:curl nsenter:util-linux taskset:util-linux strace:strace \
	pg_ctlcluster:postgresql
SHELL_SCRIPTS := .ci/run scripts/require-system-packages scripts/require-sysctl scripts/require-binfmt \
	scripts/local scripts/sast \
	docker/nginx/render.sh docker/nginx/precompress.sh
PY_SOURCES := app docker infra offline policy bench nodestack tests __main__.py

STACK ?= dev
NODE_REPORT_DIR ?= docs
export HTTP_PORT ?= 8080
export HTTPS_PORT ?= 8443

.PHONY: help test local plan bench bench-quick bench-machine node-test node-report arm64-test arm64-machine lint \
	typecheck pytest sast system venv clean

help:
	@echo "make test    install everything into $(VENV), then run every lint and test"
	@echo "make local   run the node stack (gunicorn + nginx, edge mode) on https://127.0.0.1:$(HTTPS_PORT)/"
	@echo "make plan STACK=prod   the stack created in moto (the AWS emulator): no AWS account, no Pulumi CLI"
	@echo "make bench   benchmarks of the node stack (tens of minutes: the report gives its run time); writes docs/benchmarks.md and .png"
	@echo "make bench-quick   the same scenarios, shorter (under 2 min when the machine is idle); report in .bench/"
	@echo "make node-test   build the images and boot a node from the user data (root); IMAGE_BASES=production for the real bases"
	@echo "make node-report   what ships: the images' sizes, a booted node's memory, boot steps and warm start (root); writes docs/node-report.md"
	@echo "make arm64-test   the images built for linux/arm64 and run under qemu emulation (root; slow, not in make test)"

$(STAMP): requirements.txt requirements-dev.txt docker/requirements.txt app/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python 3.11+ is required (found " + sys.version.split()[0] + "); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(STAMP)

system:
	@scripts/require-system-packages $(SYSTEM_PACKAGES)

lint: venv system
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	shellcheck $(SHELL_SCRIPTS)

# Every Python file in the tree. The policy pack's entry point gets a run of its own: mypy holds one module
# named __main__ per run, and the Pulumi program's __main__.py is the other.
typecheck: venv
	$(BIN)/mypy . --exclude '^policy/__main__\.py$$'
	$(BIN)/mypy policy/__main__.py

# Two runs. Those that drive the Docker engine share its images and boot nodes with a dockerd each: one at a
# time. All the others on both cores, a file per worker, so a module's fixtures (a deployment to moto, a
# PostgreSQL) are made once.
ENGINE_TESTS := tests/node tests/nodestack
pytest: venv system
	$(BIN)/pytest -n 2 --dist loadfile $(addprefix --ignore=,$(ENGINE_TESTS))
	$(BIN)/pytest $(ENGINE_TESTS)

# Static security testing and supply chain: workflows, Python, Dockerfile, rendered nginx, pinned packages.
sast: venv system
	scripts/sast

test: lint typecheck pytest sast

local: venv system
	@scripts/local

# The stack deployed to moto, the AWS emulator, as a readable plan: no AWS account, no Pulumi CLI.
plan: venv
	PYTHONPATH=policy $(BIN)/python -m offline.plan --stack $(STACK)

# Benchmarks of the node stack (docs/benchmarks.md): real nginx and gunicorn on loopback, load from wrk.
bench: bench-machine
	$(BIN)/python -m bench --profile full --out docs

bench-quick: bench-machine
	$(BIN)/python -m bench --profile quick --out .bench

# What the benchmarks need beyond `system`: wrk, and a node's accept-queue cap (infra/user_data.py).
bench-machine: venv system
	@scripts/require-system-packages wrk:wrk
	@scripts/require-sysctl net.core.somaxconn "$$($(BIN)/python -c 'from infra.user_data import SOMAXCONN; print(SOMAXCONN)')"

# What ships (docs/node-report.md): the images' sizes over their bases, and a node booted from the user data
# (root, as in make test): its memory idle and under wrk from the load balancer's namespace, its start.
node-report: venv system
	@scripts/require-system-packages wrk:wrk
	$(BIN)/python -m bench.node_report --out $(NODE_REPORT_DIR)

# The images built and a node booted, alone (part of `make test` too): on a real engine with the production
# bases, IMAGE_BASES=production (.github/workflows/test.yml does this on GitHub's runners).
node-test: venv system
	$(BIN)/pytest tests/node/test_images.py tests/node/test_boot.py tests/node/test_warm_start.py

# The images built for linux/arm64 (architecture: arm64, AWS Graviton) and started under emulation: their
# aarch64 binaries run through qemu-user-static. Too slow for `make test`; .ci/run and CI run it after it.
arm64-test: venv system arm64-machine
	$(BIN)/pytest -m arm64 tests/node/test_arm64.py

# What emulation needs beyond `system`: qemu-user-static, registered with the kernel's binfmt_misc (root).
arm64-machine:
	@scripts/require-system-packages qemu-aarch64-static:qemu-user-static
	@scripts/require-binfmt aarch64

clean:
	rm -rf $(VENV) .local .bench .build/docker .pytest_cache .mypy_cache .ruff_cache
