"""core/, io/ and detectors/ must never import Qt (DESIGN.md layering)."""

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import detviewer.core, detviewer.io, detviewer.detectors
for package in (detviewer.core, detviewer.io, detviewer.detectors):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
qt = sorted(m for m in sys.modules if m.startswith(("PySide6", "PyQt", "pyqtgraph", "superqt")))
print("QT:" + ",".join(qt))
"""


def test_core_io_and_detectors_load_no_qt_module():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "QT:"


def test_registry_import_does_not_import_torch():
    # The window lists the models before torch is imported (fast start).
    code = "import sys, detviewer.detectors.registry; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
