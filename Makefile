# Two commands matter: `make demo` and `make test`. Each sets up what it needs on a fresh machine.
SHELL := bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

# The first interpreter of each list that runs (pyenv shims exist for versions that do not).
runs = $(firstword $(foreach p,$(1),$(shell $(p) -c "" >/dev/null 2>&1 && command -v $(p))))
PYTHON ?= $(call runs,python3.11 python3)
PYTHON_NEW ?= $(call runs,$(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13)
PYTHON_OLDEST ?= $(call runs,$(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) python3.10)
PYTHON_MID ?= $(call runs,$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
VENV := .venv
VENV_NEW := .venv-py313
VENV_OLDEST := .venv-py310
VENV_MID := .venv-py312
DIST := dist

.PHONY: demo test test-primary test-newest test-claimed lint wheel clean bench docs

$(VENV)/.ready: pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q build ruff twine
	touch $@

# The linters' own virtualenv: the package and its test project (mypy's Django plugin loads
# tests/testproject's settings), the type stubs, import-linter.
VENV_LINT := .venv-lint
$(VENV_LINT)/.ready: pyproject.toml
	@$(PYTHON) -m venv $(VENV_LINT)
	$(VENV_LINT)/bin/pip install -q --upgrade pip
	$(VENV_LINT)/bin/pip install -q -e ".[redis]" --group test --group lint
	touch $@

# The documentation site's own virtualenv: Sphinx, MyST and Furo (docs/requirements.txt).
VENV_DOCS := .venv-docs
$(VENV_DOCS)/.ready: docs/requirements.txt
	@$(PYTHON) -m venv $(VENV_DOCS)
	$(VENV_DOCS)/bin/pip install -q --upgrade pip
	$(VENV_DOCS)/bin/pip install -q -r docs/requirements.txt
	touch $@

# The documentation site (docs/), warnings as errors; then the links inside it, anchors
# included (docs/conf.py leaves links to the web out: the build may have no internet).
docs: $(VENV_DOCS)/.ready
	@$(VENV_DOCS)/bin/sphinx-build -W --keep-going -n -b html docs docs/_build/html
	$(VENV_DOCS)/bin/sphinx-build -W --keep-going -b linkcheck docs docs/_build/linkcheck

# The sdist, and the wheel built from it (so the sdist is known to be whole); both checked as
# PyPI would render and accept them.
wheel: $(VENV)/.ready
	@rm -rf $(DIST)
	$(VENV)/bin/python -m build -q --outdir $(DIST) . >/dev/null
	$(VENV)/bin/twine check --strict $(DIST)/*
	ls $(DIST)/*

# The page scripts' linter and node tests (package.json): installed from package-lock.json.
node_modules/.ready: package.json package-lock.json
	@scripts/system-deps node:nodejs npm
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# ruff; the layer contracts of .importlinter; the shape rules of scripts/check-structure;
# mypy --strict (pyproject.toml); ESLint on the page scripts.
lint: $(VENV_LINT)/.ready node_modules/.ready
	@$(VENV_LINT)/bin/ruff check .
	$(VENV_LINT)/bin/ruff format --check .
	$(VENV_LINT)/bin/lint-imports --no-cache
	$(VENV_LINT)/bin/python scripts/check-structure
	$(VENV_LINT)/bin/mypy
	npx --no-install eslint static/live_admin tests/js eslint.config.js

# Runs the suite against the built wheel (not the source tree), with warnings as errors.
# $(1): virtualenv, $(2): interpreter, $(3): seconds of soak (tests/test_soak.py),
# $(4): "themes" to install the admin themes and run their browser tests too
define run_suite
	$(2) -m venv $(1)
	$(1)/bin/pip install -q --upgrade pip
	$(1)/bin/pip install -q --force-reinstall --no-deps $(DIST)/*.whl
	$(1)/bin/pip install -q "$$(ls $(DIST)/*.whl)[redis]" --group test $(if $(4),--group themes)
	$(1)/bin/python -c "import django, sys; print('Python', sys.version.split()[0], '· Django', django.get_version())"
	rm -f .coverage .coverage.*
	export COVERAGE_FILE=$(CURDIR)/.coverage LIVE_ADMIN_SUBPROCESS_COVERAGE=1
	LIVE_ADMIN_SOAK_SECONDS=$(3) LIVE_ADMIN_TEST_WHEEL=1 PYTHONDEVMODE=1 $(1)/bin/coverage run $(1)/bin/pytest --ignore=tests/browser --hypothesis-show-statistics
	# Browser tests: their own process (sync Playwright), Debian's Chromium, a real daphne.
	$(if $(4),,echo "The admin themes' browser tests (tests/browser/test_themes.py) run in the Python 3.11 entry.")
	LIVE_ADMIN_TEST_WHEEL=1 $(1)/bin/pytest tests/browser $(if $(4),,--ignore=tests/browser/test_themes.py)
	$(1)/bin/coverage combine -q
	$(1)/bin/coverage report
endef

# The other ends of what pyproject.toml claims (Python 3.10-3.13, Django 5.2 and 6.0): the
# server-side suite on the wheel, on a PostgreSQL cluster of its own (tests/postgres.py), and
# with psycopg 3 the browser convergence test too. The Redis topologies, restarts and the soak
# depend on neither Python, Django nor the database: they run in the SQLite entries only.
# $(1): virtualenv, $(2): interpreter, $(3): Django spec, $(4): the PostgreSQL driver
# (psycopg2-binary replaces the group's psycopg 3)
TOPOLOGY_TESTS := tests/test_failover.py tests/test_shards.py tests/test_restart.py tests/test_soak.py
PSYCOPG3_TESTS := tests/test_database_capture.py
define run_server_suite
	$(2) -m venv $(1)
	$(1)/bin/pip install -q --upgrade pip
	$(1)/bin/pip install -q --force-reinstall --no-deps $(DIST)/*.whl
	$(1)/bin/pip install -q "$$(ls $(DIST)/*.whl)[redis]" --group test "django$(3)"
	$(if $(filter psycopg2%,$(4)),$(1)/bin/pip uninstall -q -y psycopg psycopg-binary; $(1)/bin/pip install -q "$(4)")
	$(1)/bin/python -c "import django, sys; from django.db.backends.postgresql.psycopg_any import is_psycopg3 as p3; print('Python', sys.version.split()[0], '· Django', django.get_version(), '· PostgreSQL with psycopg', 3 if p3 else 2); assert p3 is $(if $(filter psycopg2%,$(4)),False,True)"
	echo "Not in this entry (the SQLite entries run them): $(TOPOLOGY_TESTS)"
	$(if $(filter psycopg2%,$(4)),echo "Not in this entry (database capture needs psycopg 3; the others run it): $(PSYCOPG3_TESTS)")
	LIVE_ADMIN_TEST_WHEEL=1 PYTHONDEVMODE=1 $(1)/bin/python tests/postgres.py $(1)/bin/pytest -q --ignore=tests/browser $(TOPOLOGY_TESTS:%=--ignore=%) $(if $(filter psycopg2%,$(4)),$(PSYCOPG3_TESTS:%=--ignore=%)) -p no:cacheprovider
	$(if $(filter psycopg2%,$(4)),,LIVE_ADMIN_TEST_WHEEL=1 $(1)/bin/python tests/postgres.py $(1)/bin/pytest -q -p no:cacheprovider tests/browser/test_convergence.py)
endef

test: lint docs wheel
	@scripts/system-deps redis-server redis-sentinel chromium chromedriver:chromium-driver node:nodejs npm pg_ctlcluster:postgresql
	node --test tests/js/
	$(MAKE) --no-print-directory test-primary test-newest test-claimed

test-primary:
	@$(call run_suite,$(VENV),$(PYTHON),120,themes)
	# Django's own admin and model suites, stock and with live_admin injected (docs/compatibility.md).
	$(VENV)/bin/python scripts/django-compat --python $(VENV)/bin/python

test-newest:
	@if [ -z "$(PYTHON_NEW)" ]; then
	  if [ "$${CI:-}" = "true" ]; then echo "error: CI needs Python 3.13 for the newest-Django run" >&2; exit 1; fi
	  echo "*** SKIPPED the Python 3.13 + newest Django run: no python3.13 found (set PYTHON_NEW=...) ***"
	  exit 0
	fi
	$(call run_suite,$(VENV_NEW),$(PYTHON_NEW),30)

test-claimed:
	@for python in "$(PYTHON_OLDEST)" "$(PYTHON_MID)"; do
	  if [ -z "$$python" ]; then
	    if [ "$${CI:-}" = "true" ]; then echo "error: CI needs Python 3.10 and 3.12 for the claimed-versions runs" >&2; exit 1; fi
	    echo "*** SKIPPED a claimed-versions run: no python3.10 or python3.12 found (set PYTHON_OLDEST/PYTHON_MID=...) ***"
	  fi
	done
	# Side by side (each suite waits on its servers more than it computes), each on ports of its own.
	$(MAKE) --no-print-directory -j2 --output-sync=target claimed-oldest claimed-mid

.PHONY: claimed-oldest claimed-mid
claimed-oldest:
	@export LIVE_ADMIN_TEST_PORTS=20000-25999
	$(if $(PYTHON_OLDEST),$(call run_server_suite,$(VENV_OLDEST),$(PYTHON_OLDEST),~=5.2.0,psycopg2-binary))

claimed-mid:
	@export LIVE_ADMIN_TEST_PORTS=26000-31999
	$(if $(PYTHON_MID),$(call run_server_suite,$(VENV_MID),$(PYTHON_MID),~=6.0.0,psycopg))

demo: $(VENV)/.ready
	@$(if $(filter-out jazzmin grappelli unfold,$(DEMO_THEME)),echo "DEMO_THEME=$(DEMO_THEME): one of jazzmin grappelli unfold" >&2; exit 1)
	$(VENV)/bin/pip install -q -e ".[redis]" $(if $(DEMO_THEME),"django-$(DEMO_THEME)")
	cd demo && ../$(VENV)/bin/python manage.py migrate -v 0
	../$(VENV)/bin/python manage.py demo_setup
	exec ../$(VENV)/bin/python manage.py rundemo

clean:
	@rm -rf $(VENV) $(VENV_NEW) $(VENV_OLDEST) $(VENV_MID) $(VENV_BENCH) $(VENV_LINT) $(VENV_DOCS) node_modules $(DIST) docs/_build .coverage .coverage.* demo/db.sqlite3

# The benchmarks (docs/benchmarks.md): their own virtualenv with DCRF and uvicorn, their own
# redis-server and servers on loopback. BENCH_ARGS=--quick for a small smoke run.
VENV_BENCH := .venv-bench
bench: wheel
	@scripts/system-deps redis-server node:nodejs pg_ctlcluster:postgresql chromium
	$(PYTHON) -m venv $(VENV_BENCH)
	$(VENV_BENCH)/bin/pip install -q --upgrade pip
	$(VENV_BENCH)/bin/pip install -q --force-reinstall --no-deps $(DIST)/*.whl
	$(VENV_BENCH)/bin/pip install -q "$$(ls $(DIST)/*.whl)[redis,postgres]" --group bench
	$(VENV_BENCH)/bin/python bench/run.py $(BENCH_ARGS)

# Django's own admin and model-layer test suites, stock and with live_admin injected; fails on
# tests that pass stock only (docs/compatibility.md). COMPAT_ARGS: e.g. --pass server --only admin_views
.PHONY: compat
compat: $(VENV)/.ready
	@$(VENV)/bin/pip install -q -e ".[redis]"
	$(VENV)/bin/python scripts/django-compat --python $(VENV)/bin/python $(COMPAT_ARGS)
