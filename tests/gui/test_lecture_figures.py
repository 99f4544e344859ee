"""Every view of every demo model in lecture mode at 1920×1080, as a lecturer would project it.

From the label-placement pass: no two labels overlap, none leaves the canvas, label text is at least 24 px
high; from the pixels of the grabbed step bar: the caption's contrast is at least 7:1 (WCAG AAA). The
figures are saved for a person to look at (DETVIEWER_FIGURES=folder keeps them; else pytest's tmp folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from views_helpers import DEMO_IMAGE, to_array

from detviewer.render.model.registry import VIEWS

MODELS = ("demo-frcnn", "demo-ssd", "demo-yolo")
MIN_TEXT_PX = 24
MIN_CONTRAST = 7.0


def relative_luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0..255)."""
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])


def contrast_of(pixels: np.ndarray) -> float:
    """Contrast ratio between a widget's background (its commonest colour) and its text (the pixel most
    different in luminance from it)."""
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[np.argmax(counts)]
    lum = np.array([relative_luminance(c) for c in colours])
    bg = relative_luminance(background)
    text = lum[np.argmax(np.abs(lum - bg))]
    hi, lo = max(bg, text), min(bg, text)
    return (hi + 0.05) / (lo + 0.05)


def _steps(count: int) -> list[int]:
    return sorted({0, count // 2, count - 1})


@pytest.fixture(scope="module")
def figures_dir(tmp_path_factory) -> Path:
    folder = os.environ.get("DETVIEWER_FIGURES")
    out = Path(folder) if folder else tmp_path_factory.mktemp("lecture_figures")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_every_view_is_readable_in_lecture_mode(model, make_window, qtbot, figures_dir):
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest(model, "default", "cpu"))
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(DEMO_IMAGE)])
    window.lecture.enter(full_screen=False)
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: window.width() == 1920, timeout=5000)
    checked = 0
    for name in VIEWS:
        if not window.views_panel.is_enabled(name):
            continue
        window.state.set_view(name)
        qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=60000)
        for step in _steps(window.presenter.shown.frame.step_count):
            window.state.set_step(step)
            qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=60000)
            qtbot.waitUntil(lambda: _bar_settled(window), timeout=5000)  # the bar grew to its caption's lines
            _check_figure(window, f"{model} {name} step {step + 1}")
            window.grab().save(str(figures_dir / f"{model}_{name}_{step + 1:02d}.png"))
            checked += 1
    assert checked >= 8, "too few views were enabled for this model"


def _bar_settled(window) -> bool:
    bar = window.lecture.bar
    bottom = bar.mapTo(window, bar.rect().bottomLeft()).y()
    return bar.caption_fits() and bottom < window.height()


def _check_figure(window, where: str) -> None:
    placement = window.canvas.place_labels()
    width, height = window.canvas.viewport().width(), window.canvas.viewport().height()
    assert placement.overlaps() == 0, f"{where}: labels overlap"
    if len(placement.rects):
        x, y, w, h = placement.rects.T
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= width + 0.5).all() and (y + h <= height + 0.5).all(), \
            f"{where}: a label leaves the canvas"
        assert (h - 4 >= MIN_TEXT_PX).all(), f"{where}: label text under {MIN_TEXT_PX} px"
    bar = window.lecture.bar
    assert bar.caption_fits(), f"{where}: the caption is cut off"
    pixels = to_array(bar.caption.grab().toImage())
    assert contrast_of(pixels) >= MIN_CONTRAST, f"{where}: caption contrast under {MIN_CONTRAST}:1"
    step_pixels = to_array(bar.step.grab().toImage())
    if bar.step.text():
        assert contrast_of(step_pixels) >= MIN_CONTRAST, f"{where}: step label contrast under {MIN_CONTRAST}:1"
    assert bar.caption.font().pixelSize() >= MIN_TEXT_PX or bar.caption.fontInfo().pixelSize() >= MIN_TEXT_PX
