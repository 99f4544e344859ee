"""Import-time costs the window relies on (the layer contracts themselves are import-linter's, in pyproject.toml)."""

import subprocess
import sys


def test_registry_import_does_not_import_torch():
    # The window lists the models before torch is imported (fast start).
    code = "import sys, detviewer.detectors.registry; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_lint_imports_contracts_hold():
    """The contracts of docs/architecture.md: layers, Qt only in gui/render.qt/charts, numpy-only core, no cycles."""
    lint = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())"]
    result = subprocess.run(lint, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
