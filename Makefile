# Two commands for a newcomer: `make run` (portal with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Tests run on the real components; override these to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/loanportal
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint format check-deploy migrations-check messages messages-check system-packages demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

system-packages:
	@bash scripts/system-packages.sh

messages: $(VENV)/.installed
	$(BIN)/python manage.py compilemessages --ignore=.venv -v 0

# Every string of the code has its Chinese translation, none fuzzy, and re-extracting drops no message of the
# catalogue (the catalogue is left as it was).
messages-check: $(VENV)/.installed
	bash scripts/messages-check.sh

run: system-packages $(VENV)/.installed messages
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py load_demo --url http://127.0.0.1:$(PORT)
	$(BIN)/python manage.py load_demo_insurance
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: system-packages $(VENV)/.installed messages
	DJANGO_SETTINGS_MODULE=config.settings.test \
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	OMP_THREAD_LIMIT=1 DJANGO_ALLOW_ASYNC_UNSAFE=true \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Models against migrations only: no database is needed (an in-memory one keeps Django from looking for one).
migrations-check: $(VENV)/.installed
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run

check-deploy: $(VENV)/.installed
	DJANGO_SETTINGS_MODULE=config.settings.production \
	DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CACHE_URL=$${CACHE_URL:-redis://127.0.0.1:6379/1} \
	LENDER_REGISTERED_ADDRESS="$${LENDER_REGISTERED_ADDRESS:-deployment check: the operator's registered address}" \
	LENDER_REGISTRATION_NUMBER="$${LENDER_REGISTRATION_NUMBER:-deployment check: the operator's registration number}" \
	DISPUTE_RESOLUTION_VENUE="$${DISPUTE_RESOLUTION_VENUE:-deployment check: the operator's dispute venue}" \
	PLATFORM_RAIL_URL="$${PLATFORM_RAIL_URL:-https://rails.platform.invalid/v1}" \
	PLATFORM_RAIL_SECRET="$${PLATFORM_RAIL_SECRET:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(40))')}" \
	RAIL_CALLBACK_SECRET="$${RAIL_CALLBACK_SECRET:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(40))')}" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles .test-media
