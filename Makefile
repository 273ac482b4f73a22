# 政钉 Zhengding — `make run` starts the demo platform, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ZD := $(VENV)/bin/zhengding
WEB_DIST := src/zhengding/web_dist
WEB_SOURCES := $(shell find web -type f -not -path 'web/node_modules/*' -not -path 'web/shared/api/schema.ts' -not -path 'web/shared/api/openapi.json' 2>/dev/null)
# The web's API types are generated from the OpenAPI document (git-ignored, rebuilt when the
# Python code that declares the answers changes): `make web` and `make lint` make them first.
API_SCHEMA := web/shared/api/schema.ts
API_SOURCES := $(shell find src/zhengding -type f \( -name '*.py' -o -name '*.toml' \) -not -path '*/web_dist/*' -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: run test bench lint install web clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

web: $(WEB_DIST)/.built

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(API_SCHEMA): $(API_SOURCES) web/node_modules/.installed | $(VENV)/.installed
	$(ZD) openapi > web/shared/api/openapi.json.tmp
	mv web/shared/api/openapi.json.tmp web/shared/api/openapi.json
	cd web && npm run -s api:types

$(WEB_DIST)/.built: $(WEB_SOURCES) $(API_SCHEMA)
	@if [ -f web/package.json ]; then cd web && npm run build; \
	else echo "web/ not present: skipping the web build"; fi
	mkdir -p $(WEB_DIST) && touch $@

run: install web
	@mkdir -p var
	ZD_DEMO=1 $(ZD) db upgrade
	ZD_DEMO=1 $(ZD) demo seed
	@echo ""
	@echo "政钉已启动：手机端 http://127.0.0.1:8000/m/   管理控制台 http://127.0.0.1:8000/console/   接口文档 http://127.0.0.1:8000/api/docs"
	@echo "演示账号与密码见上方（亦保存在 var/demo-accounts.json）；按 Ctrl+C 停止。"
	ZD_DEMO=1 $(ZD) serve

# The browser tests drive Playwright's sync API, which keeps an event loop running in the main
# thread: they get a pytest process of their own. SKIP_BROWSER=1 leaves them out.
test: install web
	$(PY) -m pytest --ignore=tests/browser $(PYTEST_ARGS)
	$(if $(SKIP_BROWSER),@echo "browser tests skipped (SKIP_BROWSER)",$(PY) -m pytest tests/browser $(PYTEST_ARGS))

bench: install
	@set -e; for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script; done

lint: install web
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports --no-cache
	@if [ -f web/package.json ]; then cd web && npm run -s typecheck; fi

clean:
	rm -rf var $(WEB_DIST) web/node_modules $(API_SCHEMA) web/shared/api/openapi.json
