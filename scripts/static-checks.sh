#!/usr/bin/env bash
# The static checks .ci/run runs before the tests; each failure stops it.
#   ruff check, ruff format --check    lint and format (pyproject.toml [tool.ruff])
#   mypy                               types of builder/, store/, registry_client/
#   lint-imports                       the import rules (ARCHITECTURE §3)
#   scripts/gen_parser.py --check      builder/frontend/_dockerfile_parser.py matches grammar.lark
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "static-checks: $*"; "$@"; }
step ruff check --quiet .
step ruff format --check --quiet .
step mypy
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "static-checks: lint-imports --no-cache"
lint-imports --no-cache >"$log" 2>&1 || { cat "$log"; exit 1; }
step python3 scripts/gen_parser.py --check
echo "static-checks: all passed"
