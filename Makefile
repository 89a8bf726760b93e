# Global Store: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint format superuser clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed since the last install.
$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make run: install, migrate, load the demo catalog and start web, worker, beat and sandbox
## in the foreground (Procfile.dev). Ctrl-C stops them all; running it again reuses var/.
run: install
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo
	@$(PY) -m storefront.banner
	exec $(VENV)/bin/honcho --procfile Procfile.dev start

## make test: lint, migrations check and the whole pytest suite.
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make superuser: create a staff login for /admin/.
superuser: install
	$(PY) manage.py createsuperuser

## make bench: load benchmark on PostgreSQL (see bench/README.md);
## e.g. make bench BENCH_ARGS="--products 5000 --duration 5".
BENCH_ARGS ?=
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var staticfiles test-artifacts
