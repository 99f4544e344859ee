"""Offscreen export of a frame with box layers to PNG/JPEG/SVG, drawn by the canvas's own items.

For ``detviewer render`` and slides: ``export_figure(image, layers, "out.png")`` gives what the
window's canvas shows for the same layers (the same items, the same label placement).

A figure is a slide's worth on its own: its title band above, the view's legend in a corner and its caption in
a band below; every text at least FIGURE_SIDE / 80 px of its width (24 px at 1920, ``figure_style``). The
selection highlight (the candidate or proposal picked in the window) is left out unless ``highlight`` is asked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detviewer.errors import DetviewerError
from detviewer.io.atomic import OutputError, write_bytes
from detviewer.render.model.nms_layers import LAYER_NAMES
from detviewer.render.qt.style import RenderStyle, qimage_from_rgb

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QFont, QImage, QPainter

    from detviewer.render.model.labels import Placement

#: (text, (r, g, b)) entries explaining the colours drawn (ViewFrame.legend).
Legend = Sequence[tuple[str, tuple[int, int, int]]]

__all__ = ["ensure_gui_app", "render_image", "export_figure", "drawing_order", "figure_scale", "FIGURE_SIDE",
           "save_qimage", "svg_bytes", "figure_style", "figure_layout", "FigureLayout", "SELECTION_LAYERS",
           "without_selection", "MIN_TEXT_PX", "figure_labels"]

#: The longer side of an exported figure in pixels (File → Export view and ``detviewer render`` alike).
FIGURE_SIDE = 1920
#: Text of a figure FIGURE_SIDE wide is at least this high (a slide at 1920×1080 read from the back of a hall);
#: narrower figures keep the same proportion.
MIN_TEXT_PX = 24
#: Layers that only show what the user picked in the window (the selected NMS candidate or proposal).
SELECTION_LAYERS = ("selected",)


def figure_scale(image: np.ndarray, side: int = FIGURE_SIDE) -> float:
    """The scale that makes the image's longer side ``side`` pixels."""
    return float(side) / max(max(image.shape[:2]), 1)


RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
_QT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP", ".gif": "GIF"}


def save_qimage(image: QImage, path: str | os.PathLike, quality: int = -1) -> Path:
    """Encode a QImage in the format its suffix names and write it atomically (io.atomic); the path.

    Encoding goes to memory first, so a full disk or a read-only folder is reported with its reason
    (:class:`~detviewer.io.atomic.OutputError`, one sentence) and never leaves a partial file.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    path = Path(path)
    fmt = _QT_FORMATS.get(path.suffix.lower(), "PNG")
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buffer, fmt, quality)  # type: ignore[call-overload]  # PySide6 takes the format as str
    buffer.close()
    if not ok:
        raise OutputError(f"Cannot write {path}: Qt could not encode the image as {fmt}.")
    return write_bytes(path, bytes(data.data()))


def svg_bytes(size: tuple[int, int], paint: Callable[[QPainter], object]) -> bytes:
    """An SVG document of ``size`` (width, height) drawn by ``paint(painter)`` (a QPainter), in memory."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(*size))
    generator.setViewBox(QRect(0, 0, *size))
    painter = QPainter(generator)
    try:
        paint(painter)
    finally:
        painter.end()
    buffer.close()
    return bytes(data.data())


def ensure_gui_app() -> QCoreApplication:
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


def _label_inputs(image: np.ndarray, layers: Sequence, scale: float, style: RenderStyle,
                  legend: Legend) -> tuple:
    """(layers in drawing order, fonts, bounds (w, h), the legend's rect or None) of a figure's label pass."""
    from detviewer.render.qt.legend import legend_rect, screen_boxes
    from detviewer.render.qt.style import LabelFonts

    h, w = image.shape[:2]
    bounds = (w * scale, h * scale)
    ordered = drawing_order(layers)
    fonts = LabelFonts(style)
    return ordered, fonts, bounds, legend_rect(legend, fonts, bounds, screen_boxes(ordered, lambda p: p * scale))


def figure_labels(image: np.ndarray, layers: Sequence, scale: float = 1.0, style: RenderStyle | None = None, *,
                  legend: Legend = (), highlight: bool = False) -> tuple[Placement, tuple | None]:
    """The label placement (render.model.labels.Placement, image-area pixels) and the legend's rect (x, y, w, h)
    of the figure ``render_image`` draws with the same arguments: what a test measures."""
    from PySide6.QtGui import QTransform

    from detviewer.render.qt.labels import place_layer_labels

    ensure_gui_app()
    style = figure_style(style, max(1, round(image.shape[1] * scale)))
    ordered, fonts, bounds, legend_box = _label_inputs(image, without_selection(layers, highlight), scale, style,
                                                       legend)
    placement = place_layer_labels(ordered, QTransform.fromScale(scale, scale), fonts, bounds,
                                   obstacles=[legend_box] if legend_box else [])
    return placement, legend_box


def _paint(painter: QPainter, image: np.ndarray, layers: Sequence, scale: float, style: RenderStyle | None = None,
           legend: Legend = (), dim: float = 0.0) -> None:
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor

    from detviewer.render.qt.labels import paint_labels
    from detviewer.render.qt.layer_items import paint_layer
    from detviewer.render.qt.legend import paint_legend
    from detviewer.render.qt.style import NORMAL

    style = NORMAL if style is None else style
    ordered, fonts, bounds, legend_box = _label_inputs(image, layers, scale, style, legend)
    h, w = image.shape[:2]
    origin = (painter.transform().dx(), painter.transform().dy())  # the image's corner under the title band
    painter.save()
    painter.setClipRect(QRectF(0, 0, *bounds))  # boxes reaching past the frame stay off the title band
    _draw_scaled_frame(painter, image, scale)
    painter.scale(scale, scale)
    if dim > 0:  # the frame fades so that thin outlines stand out
        painter.fillRect(QRectF(0, 0, w, h), QColor(0, 0, 0, int(255 * min(dim, 1.0))))
    for layer in ordered:
        paint_layer(painter, layer, style)
    paint_labels(painter, ordered, style, fonts, bounds, obstacles=[legend_box] if legend_box else [], origin=origin)
    painter.restore()
    paint_legend(painter, legend, fonts, legend_box)  # figure pixels: only the title band's offset is left


def _draw_scaled_frame(painter: QPainter, image: np.ndarray, scale: float) -> None:
    """The frame at ``scale``, resized by OpenCV and blitted 1:1: QPainter's smooth scaling of a figure-sized
    image held the GIL ~10 ms (PySide keeps it through drawImage), a stall of the window's thread each time the
    task runner exported a figure; OpenCV resizes with the GIL released."""
    import cv2

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        shrink = size[0] < w
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    painter.drawImage(0, 0, qimage_from_rgb(image))


def title_height(style: RenderStyle | None = None) -> int:
    """Height in pixels of a figure's title band."""
    from detviewer.render.qt.style import BOX_LABEL_PX, NORMAL

    return int(round(BOX_LABEL_PX * 1.5 * (style or NORMAL).font_scale + 12))


def figure_style(style: RenderStyle | None, width: float) -> RenderStyle:
    """``style`` for a figure ``width`` pixels wide: text and lines grown with the figure (twice the window's at
    1920 px, as lecture mode), no text under MIN_TEXT_PX · width / FIGURE_SIDE (24 px at 1920)."""
    from detviewer.render.qt.style import NORMAL, RenderStyle

    style = NORMAL if style is None else style
    k = width / (FIGURE_SIDE / 2)
    return RenderStyle(line_scale=max(style.line_scale, k), font_scale=max(style.font_scale, k),
                       min_text_px=max(style.min_text_px, math.ceil(MIN_TEXT_PX * width / FIGURE_SIDE)))


def without_selection(layers: Sequence, highlight: bool = False) -> list:
    """``layers`` less the selection highlight (SELECTION_LAYERS), unless ``highlight``."""
    return list(layers) if highlight else [layer for layer in layers if layer.name not in SELECTION_LAYERS]


_CAPTION_PX = 13.0  # before the style's font scale: 26 px at 1920


def _caption_font(style: RenderStyle) -> QFont:
    from PySide6.QtGui import QFont

    font = QFont()
    font.setPixelSize(max(style.min_text_px, round(_CAPTION_PX * style.font_scale)))
    return font


def _caption_height(caption: str, width: float, style: RenderStyle) -> int:
    """Height of the caption band: the caption wrapped to the figure's width, with a margin of half a line."""
    if not caption:
        return 0
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QFontMetricsF

    font = _caption_font(style)
    margin = font.pixelSize()
    rect = QFontMetricsF(font).boundingRect(QRectF(0, 0, max(width - 2 * margin, 1), 1e6),
                                            int(Qt.TextFlag.TextWordWrap), caption)
    return int(math.ceil(rect.height() + margin))


@dataclass(frozen=True)
class FigureLayout:
    """Where a figure's parts go: size (width, height) pixels; the title band's height over the image, the image
    (image_height pixels), the caption band's height under it; style: the figure's (``figure_style``)."""

    size: tuple[int, int]
    title_band: int
    image_height: int
    caption_band: int
    style: RenderStyle


def figure_layout(image: np.ndarray, scale: float, style: RenderStyle | None = None, title: str = "",
                  caption: str = "") -> FigureLayout:
    """The layout of a figure of ``image`` (H, W, 3) at ``scale`` with this title and caption."""
    h, w = image.shape[:2]
    width, image_height = max(1, round(w * scale)), max(1, round(h * scale))
    style = figure_style(style, width)
    band = title_height(style) if title else 0
    below = _caption_height(caption, width, style)
    return FigureLayout((width, band + image_height + below), band, image_height, below, style)


def _paint_figure(painter: QPainter, image: np.ndarray, layers: Sequence, scale: float, layout: FigureLayout,
                  title: str, legend: Legend, dim: float, caption: str = "") -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor

    style, width = layout.style, float(layout.size[0])
    if caption:  # white on black, under the image: 21:1
        top = layout.title_band + layout.image_height
        painter.fillRect(QRectF(0, top, width, layout.caption_band), QColor(0, 0, 0))
        font = _caption_font(style)
        margin = font.pixelSize()
        painter.setFont(font)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(QRectF(margin, top + margin / 2, width - 2 * margin, layout.caption_band),
                         int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         caption)
    if title:
        band = layout.title_band
        painter.fillRect(QRectF(0, 0, width, band), QColor(0, 0, 0))
        font, text = _title_font(title, band - 12, width - 16, max(11, style.min_text_px))
        painter.setFont(font)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(QRectF(8, 0, width - 16, band), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         text)
        painter.translate(0, band)
    _paint(painter, image, layers, scale, style, legend, dim)


def _title_font(title: str, pixels: int, width: float, smallest: int = 11) -> tuple[QFont, str]:
    """(font, text) of a title band: the font shrinks until the title fits ``width`` (not under ``smallest`` px),
    then the text is elided at its end."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QFont, QFontMetricsF

    font = QFont()
    font.setBold(True)
    for px in range(max(pixels, smallest), smallest - 1, -1):
        font.setPixelSize(px)
        if QFontMetricsF(font).horizontalAdvance(title) <= width:
            return font, title
    return font, QFontMetricsF(font).elidedText(title, Qt.TextElideMode.ElideRight, width)


def drawing_order(layers: Sequence) -> list:
    """As on the canvas: teaching-view layers in their order, the NMS layers above them in LAYER_NAMES order,
    overlays (``overlay_*``: boxes behind a metric, another model's) on top."""
    by_name = {layer.name: layer for layer in layers}
    overlays = [x for x in layers if x.name.startswith("overlay_")]
    rest = [x for x in layers if x.name not in LAYER_NAMES and not x.name.startswith("overlay_")]
    return rest + [by_name[n] for n in LAYER_NAMES if n in by_name] + overlays


def figure_size(image: np.ndarray, scale: float, style: RenderStyle | None = None, title: str = "",
                caption: str = "") -> tuple[int, int]:
    """(width, height) in pixels of a figure: the scaled image under its title band, over its caption band."""
    return figure_layout(image, scale, style, title, caption).size


def render_image(image: np.ndarray, layers: Sequence, scale: float = 1.0, style: RenderStyle | None = None, *,
                 title: str = "", legend: Legend = (), dim: float = 0.0, caption: str = "",
                 highlight: bool = False) -> QImage:
    """image (H, W, 3) uint8 RGB + layers (pixels of that image) -> QImage (RGB32) of the scaled image,
    under ``title``, over ``caption``.

    layers: BoxLayer / SegmentLayer / TextLayer / HeatmapLayer / ImageLayer; style: style.RenderStyle (grown to
    the figure's width, ``figure_style``); legend: (text, rgb) entries (ViewFrame.legend); dim: how much the frame
    fades under the layers (0..1); highlight: keep the selection highlight (SELECTION_LAYERS)."""
    from PySide6.QtGui import QImage, QPainter

    ensure_gui_app()
    layout = figure_layout(image, scale, style, title, caption)
    layers = without_selection(layers, highlight)
    # 32-bit RGB: Qt's raster engine has fast paths for it and none for 24-bit RGB888, where a 1.5 px
    # translucent outline of 7 boxes took 3.6 ms instead of 1.3 (0.9 vs 0.06 ms opaque): time the task runner
    # holds the GIL (PySide keeps it through each QPainter call) while the window's thread waits.
    out = QImage(*layout.size, QImage.Format.Format_RGB32)
    painter = QPainter(out)
    try:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        _paint_figure(painter, image, layers, scale, layout, title, legend, dim, caption)
    finally:
        painter.end()
    return out


def export_figure(image: np.ndarray, layers: Sequence, path: str | os.PathLike, scale: float = 1.0,
                  style: RenderStyle | None = None, *, title: str = "", legend: Legend = (), dim: float = 0.0,
                  caption: str = "", highlight: bool = False) -> Path:
    """Write the figure to ``path``: .png/.jpg/.bmp/.webp raster, or .svg (vector boxes and text); see
    ``render_image`` for the rest."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES | {".svg"}:
        raise DetviewerError(f"Cannot export {path}: use a .png, .jpg, .bmp, .webp or .svg file name.")
    if not path.parent.is_dir():
        raise DetviewerError(f"Cannot export {path}: the folder {path.parent} does not exist.")
    ensure_gui_app()
    if suffix == ".svg":
        layout = figure_layout(image, scale, style, title, caption)
        shown = without_selection(layers, highlight)
        write_bytes(path, svg_bytes(layout.size, lambda painter: _paint_figure(painter, image, shown, scale, layout,
                                                                                title, legend, dim, caption)))
    else:
        save_qimage(render_image(image, layers, scale, style, title=title, legend=legend, dim=dim, caption=caption,
                                 highlight=highlight), path)
    return path
