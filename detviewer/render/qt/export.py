"""Offscreen export of a frame with box layers to PNG/JPEG/SVG, drawn by the canvas's own items.

For ``detviewer render`` and slides: ``export_figure(image, layers, "out.png")`` gives what the
window's canvas shows for the same layers (the same items, the same label placement).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from detviewer.errors import DetviewerError
from detviewer.render.model.nms_layers import LAYER_NAMES
from detviewer.render.qt.style import qimage_from_rgb

__all__ = ["ensure_gui_app", "render_image", "export_figure", "drawing_order"]

RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def ensure_gui_app():
    """The application object (fonts and painting need one); offscreen when there is no display.

    It is a QApplication, not a QGuiApplication: widgets created later in the same process (the
    window, or pytest-qt) abort Qt when the existing instance cannot host widgets.
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication([])
    return app


def _paint(painter, image: np.ndarray, layers: list, scale: float, style=None) -> None:
    from detviewer.render.qt.labels import paint_labels
    from detviewer.render.qt.layer_items import paint_layer
    from detviewer.render.qt.style import NORMAL

    style = NORMAL if style is None else style
    painter.scale(scale, scale)
    painter.drawImage(0, 0, qimage_from_rgb(image))
    ordered = drawing_order(layers)
    for layer in ordered:
        paint_layer(painter, layer, style)
    paint_labels(painter, ordered, style)  # above every layer, as on the canvas


def drawing_order(layers: list) -> list:
    """As on the canvas: teaching-view layers in their order, the NMS layers above them in LAYER_NAMES order."""
    by_name = {layer.name: layer for layer in layers}
    return [x for x in layers if x.name not in LAYER_NAMES] + [by_name[n] for n in LAYER_NAMES if n in by_name]


def render_image(image: np.ndarray, layers: list, scale: float = 1.0, style=None):
    """image (H, W, 3) uint8 RGB + layers (pixels of that image) -> QImage of (H*scale, W*scale).

    layers: BoxLayer / SegmentLayer / TextLayer / HeatmapLayer / ImageLayer; style: style.RenderStyle."""
    from PySide6.QtGui import QImage, QPainter

    ensure_gui_app()
    h, w = image.shape[:2]
    out = QImage(max(1, round(w * scale)), max(1, round(h * scale)), QImage.Format.Format_RGB888)
    painter = QPainter(out)
    try:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        _paint(painter, image, layers, scale, style)
    finally:
        painter.end()
    return out


def export_figure(image: np.ndarray, layers: list, path: str | os.PathLike, scale: float = 1.0, style=None) -> Path:
    """Write the figure to ``path``: .png/.jpg/.bmp/.webp raster, or .svg (vector boxes and text)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES | {".svg"}:
        raise DetviewerError(f"Cannot export {path}: use a .png, .jpg, .bmp, .webp or .svg file name.")
    if not path.parent.is_dir():
        raise DetviewerError(f"Cannot export {path}: the folder {path.parent} does not exist.")
    ensure_gui_app()
    if suffix == ".svg":
        from PySide6.QtCore import QRect, QSize
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        h, w = image.shape[:2]
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        size = QSize(max(1, round(w * scale)), max(1, round(h * scale)))
        generator.setSize(size)
        generator.setViewBox(QRect(0, 0, size.width(), size.height()))
        painter = QPainter(generator)
        try:
            _paint(painter, image, layers, scale, style)
        finally:
            painter.end()
    elif not render_image(image, layers, scale, style).save(str(path)):
        raise DetviewerError(f"Cannot export {path}: Qt could not write the file.")
    return path
