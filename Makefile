# One command to set up and open the app (`make run`), one to set up and run the tests (`make test`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install bench figures clean

run: $(STAMP)
	$(BIN)/detviewer

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check --quiet detviewer tests bench docs tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

install: $(STAMP)

# tidecv (the TIDE reference the tests compare with) declares opencv-python, whose Qt plugins break
# PySide6; opencv-contrib-python-headless already provides cv2, so it goes in without its declared deps
# (its real imports are in the test extra).
$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,ray]"
	$(BIN)/python -m pip install --quiet --no-deps "tidecv==1.0.1"
	touch $(STAMP)

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The README's screenshots and figures, drawn again from the code and the bundled demo.
figures: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python docs/make_figures.py

clean:
	rm -rf $(VENV) build dist *.egg-info
