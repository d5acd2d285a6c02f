# upload-store-process: `make run` starts everything on the embedded default,
# `make test` runs the tests. Both create the virtualenv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export USP_DATA_DIR ?= $(CURDIR)/var

# The separate-process deployment on this machine's RabbitMQ and PostgreSQL.
SERVICES_ENV := USP_BROKER_URL=amqp://guest:guest@127.0.0.1:5672/%2F \
	USP_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/usp_webapp \
	USP_STORAGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/usp_storage

.PHONY: install run run-services test lint proto bench clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python -m usp.run

run-services: $(INSTALLED)
	-createdb -h 127.0.0.1 -U postgres usp_webapp 2>/dev/null
	-createdb -h 127.0.0.1 -U postgres usp_storage 2>/dev/null
	$(SERVICES_ENV) $(BIN)/python manage.py migrate --noinput
	$(SERVICES_ENV) $(BIN)/python -m usp.run --processes

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy usp storage_service processor_service webapp

proto: $(INSTALLED)
	$(BIN)/python scripts/gen_protos.py

bench: $(INSTALLED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
