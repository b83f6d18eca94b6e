# One entry point for the course. On a fresh machine with Python 3.11:
#   make book    create .venv, install everything, execute every chapter, build the HTML book
#   make test    install what the tests need and run the whole test suite (what CI runs)
# Other targets: make exercises (regenerate exercises/ from solutions/), make bench, make clean.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# nbgrader and jupyter-book start helper programs and kernels from PATH: use the venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: book test exercises bench install keras-cache browser grading clean

book: install keras-cache
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo ""
	@echo "The book is built. Open $(CURDIR)/_build/html/index.html in a browser."

# The grading tests and the others run side by side, in two pytest processes (tools/run_tests.py says why).
test: install keras-cache browser grading
	$(BIN)/python -m tools.run_tests

exercises: install
	$(BIN)/python -m tools.nbgrader_course regenerate

bench: install keras-cache grading
	$(BIN)/python bench/run_bench.py

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

keras-cache: install
	$(BIN)/python tools/fill_keras_cache.py

# Debian's chromium, for the browser tests of the built site (apt-get; root or sudo).
browser:
	sh tools/install_browser.sh

# The sandbox user and PostgreSQL, for the hardened grading (python -m grader) and its tests (root or sudo).
grading: install
	sh tools/install_grading.sh $(BIN)/python

clean:
	rm -rf _build $(VENV) .pytest_cache
