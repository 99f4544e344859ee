"""Where the bundled demo models and assets live, in a source tree and in an installed wheel.

In the source tree they are the top-level ``models/`` and ``assets/`` folders; a wheel ships them as
package data under ``detviewer/_bundled/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    source_tree = _PACKAGE_DIR.parent / name
    if source_tree.is_dir():
        return source_tree
    return _PACKAGE_DIR / "_bundled" / name


def models_dir() -> Path:
    """Folder holding the shipped demo checkpoints and ``manifest.json``."""
    return _find("models")


def assets_dir() -> Path:
    """Folder holding demo images, their annotations and icons."""
    return _find("assets")


def demo_images() -> list[Path]:
    """The bundled demo images, sorted by name (may be empty before the demo assets exist)."""
    folder = assets_dir() / "demo"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})


def sample_photos() -> list[Path]:
    """The bundled photographs (assets/photos: astronaut, coffee, chelsea, camera, rocket; licences in its
    LICENSES.md), sorted by name; empty when they are missing."""
    folder = assets_dir() / "photos"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
