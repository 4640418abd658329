# Two commands for readers: `make book` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Offline copy of the data beside the repository (CI, developers); readers download instead.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export METALEARN_DATA ?= $(SHARED_DATA)
endif

.PHONY: book test unit notebooks data bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -e '.[test,book]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (metalearn-book)"
	touch $@

data: $(STAMP)
	$(BIN)/python -m metalearn_lib fetch-data

# The rendered book, every notebook executed at the `book` budget (override: METALEARN_BUDGET=paper).
book: data
	METALEARN_BUDGET=$${METALEARN_BUDGET:-book} $(BIN)/jupyter-book build -W -n --keep-going .
	@echo "Open _build/html/index.html"

# Unit tests, then every chapter executed under nbval at the `smoke` budget.
test: data
	METALEARN_BUDGET=smoke $(BIN)/python -m pytest tests
	METALEARN_BUDGET=smoke $(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider chapters

bench: data
	$(BIN)/python -m metalearn_lib bench

clean:
	rm -rf _build .pytest_cache
