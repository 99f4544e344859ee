#!/usr/bin/env bash
# Apply ruff's automatic fixes (isort, pyupgrade, simplify, ...) to the whole tree ONCE, after every branch of a
# session is merged (run on its own, the fix would touch every file other branches edit), then list what is left
# for a person: the findings ruff cannot fix by itself.
# Usage: tools/lint_fix.sh            (from the repository root; RUFF=path/to/ruff to choose the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF="${RUFF:-.venv/bin/ruff}"
[ -x "$RUFF" ] || RUFF="$(command -v ruff)"
PATHS=(detviewer tests bench docs tools)
echo "before:"; "$RUFF" check --statistics "${PATHS[@]}" || true
"$RUFF" check --fix --quiet "${PATHS[@]}" || true
echo "left for a person (fix by hand, then commit):"
if "$RUFF" check --statistics "${PATHS[@]}"; then echo "nothing: ruff passes"; fi
