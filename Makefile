# boltscope: the two commands a newcomer needs are `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKSPACE ?= workspace
PORT ?= 8501
# The name users type to reach this server. Given explicitly, Streamlit never asks the internet for the
# machine's external address (it would, at start-up and for some origin checks, when none is set).
HOST ?= $(shell hostname -f 2>/dev/null || hostname)
STREAMLIT_ARGS = --server.port $(PORT) --browser.serverAddress $(HOST)

.PHONY: setup setup-dev demo run user test test-fast lint browser

$(BIN)/python:
	$(PY) -m venv $(VENV)

# pip runs again only when a requirements file is newer than the stamp it leaves in the venv
$(VENV)/.requirements.stamp: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.requirements-dev.stamp: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.requirements.stamp

setup: $(VENV)/.requirements.stamp

setup-dev: $(VENV)/.requirements-dev.stamp

## Set up, load 330 demo photos and 3 wheel photos with their station (once) and start the dashboard on http://localhost:$(PORT) in single-user mode
demo: setup
	@if [ "$$($(BIN)/python -m core --workspace $(WORKSPACE) stats | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["total"])')" = "0" ]; then \
		$(BIN)/python -m core --workspace $(WORKSPACE) demo --n 330 && \
		$(BIN)/python -m core --workspace $(WORKSPACE) demo-wheels $(WORKSPACE)/demo-wheels; fi
	$(BIN)/streamlit run serve.py $(STREAMLIT_ARGS) -- --workspace $(WORKSPACE) --no-auth

## The plant server: sign-in required (create the first admin with `make user NAME=... ROLE=admin`)
run: setup
	$(BIN)/streamlit run serve.py $(STREAMLIT_ARGS) -- --workspace $(WORKSPACE)

## Add an account to the workspace: make user NAME=kim ROLE=trainer (asks for the password twice)
user: setup
	@test -n "$(NAME)" || { echo "usage: make user NAME=... ROLE=viewer|labeler|trainer|admin"; exit 2; }
	$(BIN)/python -m core --workspace $(WORKSPACE) user add $(NAME) --role $(or $(ROLE),viewer)

## Install Debian's Chromium for the browser tests, the CJK font the reports embed and poppler (PDF to PNG in the
## report tests); needs root or sudo; never downloads a browser build
browser:
	@{ command -v chromium && command -v pdftoppm && test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc; } \
		>/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk poppler-utils; }

## Set up and run every test except the GPU ones (browser tests included)
test: setup-dev browser
	@$(BIN)/python -m pytest -m "not gpu"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## The quick inner loop: no slow, no browser
test-fast: setup-dev
	$(BIN)/python -m pytest -m "not slow and not gpu and not e2e" -n $(or $(JOBS),2)

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
