# The two commands: `make run` serves the example site, `make test` runs the suite.
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# `make run` needs only the package itself: the test tools (a browser driver,
# database drivers) would triple the first install for nothing.
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run check test test-lowest schema wheel bench docs i18n-extract i18n-update i18n-compile \
	i18n-agents-extract i18n-agents-update i18n-agents-compile clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(RUN_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(PY) -m example_app

# The architecture rule, the types and the lint come first: each fails fast and
# names the import, the line or the rule that broke.
check: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff check flask_gdprchat tests example_app bench tools docs

test: check
	$(PY) -m pytest

# The same suite on the oldest release of every dependency pyproject.toml declares,
# so the minimums it states stay true. Rebuilt from scratch when pyproject.toml changes.
VENV_LOWEST := .venv-lowest
STAMP_LOWEST := $(VENV_LOWEST)/.installed

$(STAMP_LOWEST): setup.cfg pyproject.toml tools/lowest_constraints.py
	$(PYTHON) -m venv --clear $(VENV_LOWEST)
	$(VENV_LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(PYTHON) tools/lowest_constraints.py > $(VENV_LOWEST)/constraints.txt
	$(VENV_LOWEST)/bin/python -m pip install --quiet -c $(VENV_LOWEST)/constraints.txt -e '.[test]'
	touch $(STAMP_LOWEST)

test-lowest: $(STAMP_LOWEST)
	$(VENV_LOWEST)/bin/python -m pytest

# Rewrite the initial migration from the models (only before the first release).
schema: $(STAMP)
	$(PY) tools/regenerate_schema.py

wheel: $(STAMP)
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .

# Every benchmark at modest sizes, a few minutes in all (each script has flags for
# the full sizes; docs/performance.md has the figures). Needs PostgreSQL and Redis.
bench: $(STAMP)
	$(PY) bench/throughput.py
	$(PY) bench/encryption.py
	$(PY) bench/latency.py
	$(PY) bench/idle.py
	$(PY) bench/redis_queue.py
	$(PY) bench/purge.py --db sqlite
	$(PY) bench/purge.py --db postgres
	$(PY) bench/erasure.py
	$(PY) bench/export.py
	$(PY) bench/startup.py

# Translations, in the chat's own gettext domain "gdprchat" (see babel.cfg).
# extract: every visitor-facing string into the template gdprchat.pot;
# update: merge it into each language's gdprchat.po (new strings arrive empty);
# compile: the .mo files the package ships (committed; a test checks they are fresh).
I18N := flask_gdprchat/translations
PYBABEL := $(VENV)/bin/pybabel

i18n-extract: $(STAMP)
	$(PYBABEL) extract -F babel.cfg -k lazy_gettext -k N_ --no-wrap --sort-by-file \
		--project=flask-gdprchat --copyright-holder="The flask-gdprchat developers" \
		--msgid-bugs-address=https://github.com/flask-gdprchat/flask-gdprchat/issues \
		-o $(I18N)/gdprchat.pot .

i18n-update: $(STAMP)
	$(PYBABEL) update -D gdprchat -i $(I18N)/gdprchat.pot -d $(I18N) --no-wrap --ignore-obsolete

i18n-compile: $(STAMP)
	$(PYBABEL) compile -D gdprchat -d $(I18N) --statistics

# The agents' own domain "gdprchat_agents" (console and sign-in page; see babel_agents.cfg),
# in the languages of flask_gdprchat/core/agent_i18n.py's AGENT_LANGUAGES. Only its own
# keywords, so no visitor string enters it; update touches only the agents' catalogs.
AGENT_KEYWORDS := -k _a -k agent_gettext -k agent_ngettext:1,2 -k agent_pgettext:1c,2 \
	-k lazy_agent_gettext

i18n-agents-extract: $(STAMP)
	$(PYBABEL) extract -F babel_agents.cfg --no-default-keywords $(AGENT_KEYWORDS) \
		--no-wrap --sort-by-file \
		--project=flask-gdprchat --copyright-holder="The flask-gdprchat developers" \
		--msgid-bugs-address=https://github.com/flask-gdprchat/flask-gdprchat/issues \
		-o $(I18N)/gdprchat_agents.pot .

i18n-agents-update: $(STAMP)
	$(PYBABEL) update -D gdprchat_agents -i $(I18N)/gdprchat_agents.pot -d $(I18N) \
		--no-wrap --ignore-obsolete

i18n-agents-compile: $(STAMP)
	$(PYBABEL) compile -D gdprchat_agents -d $(I18N) --statistics

# The reference documentation, warnings as errors, into docs/_build/html.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) $(VENV_LOWEST) build dist *.egg-info
