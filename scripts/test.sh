#!/usr/bin/env bash
# Run all checks: ruff (lint and format), mypy (strict, src and tests), pytest with coverage. Extra arguments go to pytest.
#   scripts/test.sh            # everything
#   scripts/test.sh -k token   # a subset
# On Debian it installs the tools the tests use (skopeo, docker-registry, graphviz, chromium)
# when missing, and creates .venv with hoist installed editable with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
[ -x /usr/sbin/squid ] || missing+=(squid)  # the proxy tests (tests/support/proxy.py)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the web view's browser tests (Playwright)
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}" >&2
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
    if ! "${apt[@]}" install -y -q "${missing[@]}"; then
        "${apt[@]}" update -q
        "${apt[@]}" install -y -q "${missing[@]}"
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e '.[test]'

# Missing tools must fail the registry tests here, not skip them.
export HOIST_TEST_REQUIRE_TOOLS=1

.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/mypy src tests
# Coverage of the library, printed at the end (files fully covered are left out of the table).
.venv/bin/pytest -q --cov=hoist --cov-report=term:skip-covered "$@"
