# The two set-up commands: `make run` and `make test`. Everything else is reached from them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8501

.PHONY: run test install install-dev migrate bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate

run: migrate
	$(PY) serve.py --server.port $(PORT)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

# Every script in bench/ prints its figures and exits non-zero when a target is missed.
bench: install-dev
	status=0; for script in bench/*.py; do case $$script in bench/benchdb.py|bench/browserflows.py|bench/silentsmtp.py) continue;; esac; $(PY) $$script || status=1; done; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache
