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

.PHONY: help venv demo test lint sanity ansible-lint test-unit test-integration test-integration-own-beds test-integration-shared-bed test-molecule generated-docs testbed-build testbed-up testbed-down testbed-status bench clean

help:
	@echo "make demo | test | lint | sanity | ansible-lint | test-unit | test-integration | test-molecule | generated-docs | testbed-build | testbed-up | testbed-down | bench"

# $(PYTHON), else python3: the first that runs (a pyenv shim of a version pyenv has not selected is on PATH but
# fails) and is 3.11 or newer, which ansible-core 2.19 needs on the controller. The virtualenv is made from the
# interpreter itself (sys.executable), not from a shim.
$(BIN)/.installed: requirements.txt test-requirements.txt
	py=""
	for cand in $(PYTHON) python3; do
	  if exe=$$($$cand -c 'import sys; print(sys.executable) if sys.version_info >= (3, 11) else sys.exit(1)' 2>/dev/null); then
	    py=$$exe; break
	  fi
	  if ! command -v $$cand >/dev/null; then why="not found"
	  elif ! why=$$($$cand -V 2>&1); then why="$$(command -v $$cand) does not run"
	  fi
	  echo "pinotops: $$cand: $$why; ansible-core 2.19 needs Python 3.11 or newer" >&2
	done
	[ -n "$$py" ] || { echo "pinotops: neither $(PYTHON) nor python3 is Python 3.11 or newer; set PYTHON=" >&2; exit 1; }
	echo "pinotops: virtualenv $(VENV) from $$py ($$($$py -V 2>&1))"
	$$py -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	touch $@

venv: $(BIN)/.installed $(COLLECTION_LINK)

# Ansible finds the collection (and pytest-ansible its modules) through this link to the work tree.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# What `make demo` and `make test` need beside the Python packages, checked (and installed with apt as root on
# Debian) before anything builds: tests/testbed/prerequisites.sh says what and why.
.PHONY: prerequisites
prerequisites:
	@PYTHON=$(PYTHON) VENV_BIN=$(BIN) bash tests/testbed/prerequisites.sh

# Kubernetes binaries and every Pinot version of the matrix, built once into the cache (progress every 20 s).
testbed-build: prerequisites venv
	$(BIN)/python -m tests.testbed build

demo: testbed-build
	$(BIN)/python -m tests.testbed demo

# The molecule scenario runs after the own-bed modules (the real nodes' installs, upgrades and a zone's loss): with
# the control-surface modules the shared-bed lane became the longer one.
test: prerequisites lint sanity ansible-lint test-unit test-ansible-2.18 testbed-build
	$(call side_by_side,test-integration-own-beds test-molecule,test-integration-shared-bed)

lint: venv
	$(BIN)/ruff check plugins tests
	$(BIN)/yamllint -s .
	$(BIN)/antsibull-changelog lint
	PATH=$(BIN):$$PATH $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

# ansible-test needs the collection at .../ansible_collections/pinotops/k8s: copy the tracked tree there.
# Its pip bootstrap script (pip 24.2 in ansible-core 2.19) comes from a host this network cannot reach: a
# stand-in goes into ~/.ansible/test/cache only when that cache has none (said when written; never overwritten).
# Every test runs on the venv's Python (the controller's). The tests that depend on the Python where modules run
# (ansible-test's multi-version ones: compile, import) also run on every other Python of tests/config.yml's
# python_requires that ansible-test supports and this machine has: python3.X on PATH if it really runs (a pyenv
# shim of a version not selected does not), else the newest ~/.pyenv/versions/3.X*/bin/python3.X. ansible-test
# looks them up as python3.X on PATH, so $(SANITY_PYTHONS) holds a link to each. One line names them.
PIP_BOOTSTRAP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
SANITY_PYTHONS := $(CURDIR)/build/sanity-pythons
DECLARED_PYTHONS := import yaml; from ansible_test._internal.content_config import parse_python_requires as versions; \
  print(*versions(yaml.safe_load(open("tests/config.yml"))["modules"]["python_requires"]))
sanity: venv
	if [ ! -s $(PIP_BOOTSTRAP) ]; then
	  mkdir -p $(dir $(PIP_BOOTSTRAP)) && cp tests/sanity/bootstrap_pip.py $(PIP_BOOTSTRAP)
	  echo "sanity: wrote $(PIP_BOOTSTRAP) (tests/sanity/bootstrap_pip.py: ensurepip, then pip from PyPI)"
	fi
	rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(SANITY_TREE)
	ctl=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	declared=$$($(BIN)/python -c '$(DECLARED_PYTHONS)')
	rm -rf $(SANITY_PYTHONS) && mkdir -p $(SANITY_PYTHONS)
	targets=(--target-python $$ctl) also="" missing=""
	for v in $$declared; do
	  [ "$$v" != "$$ctl" ] || continue
	  found=""
	  for py in $$(command -v python$$v) $$(ls -d $(HOME)/.pyenv/versions/$$v*/bin/python$$v 2>/dev/null | sort -rV); do
	    out=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.executable)' 2>/dev/null) || continue
	    if [ "$${out%% *}" = "$$v" ]; then found=$${out#* }; break; fi
	  done
	  if [ -n "$$found" ]; then
	    ln -s "$$found" $(SANITY_PYTHONS)/python$$v
	    targets+=(--target-python $$v) also+="$${also:+, }$$v ($$found)"
	  else
	    missing+="$${missing:+, }$$v"
	  fi
	done
	echo "sanity: every test on Python $$ctl (the venv's); compile and import also on $${also:-no other Python};" \
	  "declared ($$(echo $$declared | tr ' ' ,)) but not found here: $${missing:-none}"
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  PATH=$(SANITY_PYTHONS):$$PATH $(BIN)/ansible-test sanity --color no --controller origin:python=venv/$$ctl "$${targets[@]}"

ansible-lint: venv
	$(BIN)/ansible-lint --profile production

# The collection's unit tests (tests/unit: plugins/ mirrored) and the test bed's own (tests/testbed/tests).
test-unit: venv
	$(PYTEST) tests/unit tests/testbed/tests

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
# Each lane's lines also go to build/lanes/<lane>.log; at the end the failures and results of both lanes are printed
# again, so that the last lines of a long run (all a CI page may show) say what failed.
LANE_RESULT := ( (FAILED|ERROR|XPASS) |=+ .*(passed|failed|error).* =+$$|make(\[[0-9]+\])?: \*\*\*|fatal: \[|CRITICAL )
define side_by_side
mkdir -p build/lanes
( $(MAKE) --no-print-directory -k $(1) 2>&1 | sed -u 's/^/[$(patsubst test-integration-%,%,$(firstword $(1)))] /' | tee build/lanes/first.log ) &
lane=$$!
status=0
$(MAKE) --no-print-directory -k $(2) 2>&1 | sed -u 's/^/[$(patsubst test-integration-%,%,$(firstword $(2)))] /' | tee build/lanes/second.log || status=$$?
wait $$lane || status=$$?
echo "=== results of both lanes (exit $$status) ==="
grep -h -E '$(LANE_RESULT)' build/lanes/first.log build/lanes/second.log || true
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

# YAML kept generated from one source: the roles' argument specs of the description, the nested Pinot connection
# options (tests/support/generated_docs.py).
generated-docs: venv
	$(BIN)/python -m tests.support.generated_docs

bench: venv
	$(BIN)/python -m tests.bench

clean:
	rm -rf build collections .pytest_cache

# ansible-core 2.18, the oldest that meta/runtime.yml's requires_ansible claims: `make sanity` (the same recipe, on
# a tree of its own under build/) and the unit tests under it, in a virtualenv of 2.18 from the venv's interpreter
# with requirements.txt and test-requirements.txt, kept under $(PINOTOPS_TESTBED_CACHE) by version. Its marker
# $(VENV_2_18)/bin/.installed is the one the sanity and test-unit recipes check, newer than the requirements, so
# they never install 2.19 into it. On two cores: cold (this virtualenv and ansible-test's 2.18 sanity virtualenvs
# built, packages from pip's cache) about 3.5 minutes, warm about 70 s (mostly pylint).
ANSIBLE_2_18 := 2.18
VENV_2_18 := $(PINOTOPS_TESTBED_CACHE)/ansible-core-$(ANSIBLE_2_18)/venv
.PHONY: test-ansible-2.18
$(VENV_2_18)/.installed: requirements.txt test-requirements.txt | $(BIN)/.installed
	py=$$(readlink -f $(BIN)/python)
	echo "pinotops: virtualenv $(VENV_2_18) from $$py with ansible-core $(ANSIBLE_2_18)"
	rm -rf $(VENV_2_18) && $$py -m venv $(VENV_2_18)
	sed '/^ansible-core\b/d' test-requirements.txt > $(VENV_2_18)/test-requirements.txt
	$(VENV_2_18)/bin/pip install -q -r requirements.txt -r $(VENV_2_18)/test-requirements.txt 'ansible-core==$(ANSIBLE_2_18).*'
	touch $(VENV_2_18)/bin/.installed $@

test-ansible-2.18: $(VENV_2_18)/.installed $(COLLECTION_LINK)
	on_2_18=(VENV=$(VENV_2_18) BIN=$(VENV_2_18)/bin)
	$(MAKE) --no-print-directory sanity "$${on_2_18[@]}" SANITY_TREE=$(CURDIR)/build/ansible-$(ANSIBLE_2_18)/ansible_collections/pinotops/k8s \
	  SANITY_PYTHONS=$(CURDIR)/build/ansible-$(ANSIBLE_2_18)/sanity-pythons
	$(MAKE) --no-print-directory test-unit "$${on_2_18[@]}"
	echo "test-ansible-$(ANSIBLE_2_18): sanity and unit tests pass on ansible-core $$($(VENV_2_18)/bin/python -c "import ansible; print(ansible.__version__)")"
