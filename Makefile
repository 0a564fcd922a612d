# pinotops.k8s — every entry point sets up what it needs (virtualenv, caches) on a fresh machine.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTION_LINK := $(CURDIR)/collections/ansible_collections/pinotops/k8s
SANITY_TREE := $(CURDIR)/build/ansible_collections/pinotops/k8s
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export PINOTOPS_TESTBED_CACHE ?= $(HOME)/.cache/pinotops-testbed
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: help venv demo test lint sanity ansible-lint test-unit test-integration test-integration-own-beds test-integration-shared-bed test-molecule role-specs testbed-build testbed-up testbed-down testbed-status bench clean

help:
	@echo "make demo | test | lint | sanity | ansible-lint | test-unit | test-integration | test-molecule | role-specs | testbed-build | testbed-up | testbed-down | bench"

# $(PYTHON), else python3; ansible-core 2.19 needs 3.11 or newer on the controller.
$(BIN)/.installed: requirements.txt test-requirements.txt
	py=$$(command -v $(PYTHON) || command -v python3)
	$$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "pinotops: ansible-core 2.19 needs Python 3.11 or newer; $$py is $$($$py -V 2>&1)" >&2; exit 1; }
	$$py -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	touch $@

venv: $(BIN)/.installed $(COLLECTION_LINK)

# Ansible finds the collection (and pytest-ansible its modules) through this link to the work tree.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# Kubernetes binaries and every Pinot version of the matrix, built once into the cache (progress every 20 s).
testbed-build: venv
	$(BIN)/python -m tests.testbed build

demo: testbed-build
	$(BIN)/python -m tests.testbed demo

# The molecule scenario runs in the lane of the own-bed modules, which ends first.
test: lint sanity ansible-lint test-unit testbed-build
	$(call side_by_side,test-integration-own-beds test-molecule,test-integration-shared-bed)

lint: venv
	$(BIN)/ruff check plugins tests
	$(BIN)/yamllint -s .

# ansible-test needs the collection at .../ansible_collections/pinotops/k8s: copy the tracked tree there.
# Its pip bootstrap script (pip 24.2 in ansible-core 2.19) comes from a host this network cannot reach: a
# stand-in goes into ~/.ansible/test/cache only when that cache has none. Sanity runs on the venv's Python.
PIP_BOOTSTRAP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
sanity: venv
	if [ ! -s $(PIP_BOOTSTRAP) ]; then
	  mkdir -p $(dir $(PIP_BOOTSTRAP)) && cp tests/sanity/bootstrap_pip.py $(PIP_BOOTSTRAP)
	  echo "sanity: wrote $(PIP_BOOTSTRAP) (tests/sanity/bootstrap_pip.py: ensurepip, then pip from PyPI)"
	fi
	rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(SANITY_TREE)
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  $(BIN)/ansible-test sanity --venv --python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') --color no

ansible-lint: venv
	$(BIN)/ansible-lint --profile production

test-unit: venv
	$(PYTEST) tests/unit

# Integration tests run in two lanes side by side, each a pytest of its own whose lines carry the lane's name:
# the modules that bring their own test beds (the real node's control plane, node and Pinot pods; the Kubernetes
# reliability tests' control plane), and the modules on the shared test bed. One after the other they take about
# 45 minutes. (xdist's loadgroup cannot keep a group together: pytest 9.2 ignores the group it appends to the id.)
OWN_BED_TESTS := $(sort $(wildcard tests/integration/test_real_node*.py)) tests/integration/test_reliability_k8s.py
test-integration-own-beds: testbed-build
	$(PYTEST) -m integration -v --durations=10 $(OWN_BED_TESTS)

test-integration-shared-bed: testbed-build
	$(PYTEST) -m integration -v --durations=15 $(addprefix --ignore=,$(OWN_BED_TESTS)) tests/integration

# $(1) and $(2): the targets of each lane, run with make -k so that a failure does not hide the next target's.
define side_by_side
( $(MAKE) --no-print-directory -k $(1) 2>&1 | sed -u 's/^/[$(patsubst test-integration-%,%,$(firstword $(1)))] /' ) &
lane=$$!
status=0
$(MAKE) --no-print-directory -k $(2) 2>&1 | sed -u 's/^/[$(patsubst test-integration-%,%,$(firstword $(2)))] /' || status=$$?
wait $$lane || status=$$?
exit $$status
endef

test-integration: testbed-build
	$(call side_by_side,test-integration-own-beds,test-integration-shared-bed)

# The molecule scenario (destroy, prepare, converge, idempotence, verify, destroy) against a test bed of its own.
test-molecule: testbed-build
	$(BIN)/python -m tests.testbed up
	trap 'cd $(CURDIR) && $(BIN)/python -m tests.testbed down' EXIT
	export PATH=$(BIN):$$PATH PYTHONPATH=$(CURDIR)
	export PINOTOPS_TESTBED_STATE=$(CURDIR)/.testbed/pinot/state.json
	export PINOTOPS_TESTBED_KUBECONFIG=$(CURDIR)/.testbed/k8s/kubeconfig
	$(BIN)/molecule test -s default

testbed-up: testbed-build
	$(BIN)/python -m tests.testbed up

testbed-down: venv
	$(BIN)/python -m tests.testbed down

testbed-status: venv
	$(BIN)/python -m tests.testbed status

# The roles' argument specs of the cluster description, from pinot_cluster's DOCUMENTATION (tests/support/role_specs.py).
role-specs: venv
	$(BIN)/python -m tests.support.role_specs

bench: venv
	$(BIN)/python -m tests.bench

clean:
	rm -rf build collections .pytest_cache
