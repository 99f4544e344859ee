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
    """The bar grew to its caption's lines and its step label to its text (a new text is laid out on the next
    pass of the event loop: a grab before it cut "Step 2 of 8: cluster 1: 40 windows" at the previous width)."""
    bar = window.lecture.bar
    bottom = bar.mapTo(window, bar.rect().bottomLeft()).y()
    return bar.caption_fits() and bottom < window.height() and _step_fits(bar)


def _step_fits(bar) -> bool:
    return not bar.step.isVisible() or bar.step.width() >= bar.step.sizeHint().width()


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
    assert _step_fits(bar), f"{where}: the step label is cut off"
    step_pixels = to_array(bar.step.grab().toImage())
    if bar.step.text():
        assert contrast_of(step_pixels) >= MIN_CONTRAST, f"{where}: step label contrast under {MIN_CONTRAST}:1"
    assert bar.caption.font().pixelSize() >= MIN_TEXT_PX or bar.caption.fontInfo().pixelSize() >= MIN_TEXT_PX


def _demo_frames(model: str):
    """(image, [(view, ViewFrame)]) of every view demo ``model`` can show at its first, middle and last step,
    with the demo image's ground truth (``detviewer render``'s own frame building)."""
    from detviewer.cli.render import image_ground_truth, view_frame
    from detviewer.detectors.registry import load_detector
    from detviewer.io.images import load_image
    from detviewer.render.model.primitives import ViewError
    from detviewer.state.nms_replay import Thresholds

    image = load_image(DEMO_IMAGE)
    detector = load_detector(model, device="cpu")
    inference = detector.infer(image)
    gt = image_ground_truth(DEMO_IMAGE.parent / "annotations.json", DEMO_IMAGE).boxes_for(DEMO_IMAGE,
                                                                                           detector.class_names)
    frames = []
    for name in VIEWS:
        def frame(step, name=name):
            return view_frame(name, inference, detector, thresholds=Thresholds(), gt=gt, image=image, step=step)
        try:
            first = frame(0)
        except ViewError:
            continue
        frames += [(name, first if step == 0 else frame(step)) for step in sorted({0, first.step_count - 1})]
    return image, inference.model_name, frames


def _ink_rows(pixels: np.ndarray) -> np.ndarray:
    """Rows of a dark band holding text (a pixel brighter than 128)."""
    return np.flatnonzero(pixels.max(axis=2).max(axis=1) > 128)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_exported_figures_carry_the_slide(model, qapp, figures_dir):
    # File → Export view and `render --lecture` draw render_image: the title, the caption and the legend are on
    # the figure, every text at least 24 px on its 1920 px (labels were ~10 px on a 1600 px figure, no caption)
    from detviewer.render.model.spec import figure_title
    from detviewer.render.qt.export import FIGURE_SIDE, figure_labels, figure_layout, figure_scale, render_image
    from detviewer.render.qt.style import BOX_LABEL_PX, NORMAL, LabelFonts

    image, model_name, frames = _demo_frames(model)
    scale = figure_scale(image)
    for view, frame in frames:
        where = f"{model} {view} step {frame.step + 1}"
        title = figure_title(VIEWS[view].title, frame, model_name)
        layout = figure_layout(image, scale, NORMAL, title, frame.caption)
        assert layout.size[0] == FIGURE_SIDE == 1920
        picture = render_image(image, frame.layers, scale, NORMAL, title=title, legend=frame.legend, dim=frame.dim,
                               caption=frame.caption)
        pixels = to_array(picture)
        assert pixels.shape[:2] == layout.size[::-1]
        assert layout.style.min_text_px >= MIN_TEXT_PX  # title, caption, legend and labels are never smaller
        placement, legend_box = figure_labels(image, frame.layers, scale, NORMAL, legend=frame.legend)
        width, height = layout.size[0], layout.image_height
        assert placement.overlaps() == 0, f"{where}: labels overlap"
        if len(placement.rects):
            x, y, w, h = placement.rects.T
            assert (x >= 0).all() and (y >= 0).all() and (x + w <= width + 0.5).all() \
                and (y + h <= height + 0.5).all(), f"{where}: a label leaves the figure"
            assert (h - 4 >= MIN_TEXT_PX).all(), f"{where}: label text under {MIN_TEXT_PX} px"
        if frame.legend:
            assert legend_box is not None and LabelFonts(layout.style).font(BOX_LABEL_PX)[0].pixelSize() >= MIN_TEXT_PX
            lx, ly, lw, lh = legend_box
            assert lx >= 0 and ly >= 0 and lx + lw <= width + 0.5 and ly + lh <= height + 0.5
        # the title band and the caption band: text measured in pixels, white on black
        title_ink = _ink_rows(pixels[:layout.title_band])
        assert title_ink.max() - title_ink.min() + 1 >= 0.75 * MIN_TEXT_PX, f"{where}: title text too small"
        assert frame.caption and layout.caption_band > 0, f"{where}: the figure has no caption"
        band = pixels[layout.title_band + layout.image_height:]
        ink = _ink_rows(band)
        first_line = ink[: np.argmax(np.diff(ink) > 1) + 1] if (np.diff(ink) > 1).any() else ink
        assert first_line.max() - first_line.min() + 1 >= 0.75 * MIN_TEXT_PX, f"{where}: caption text too small"
        assert contrast_of(band) >= MIN_CONTRAST, f"{where}: caption contrast under {MIN_CONTRAST}:1"
        if frame.step == 0:
            picture.save(str(figures_dir / f"export_{model}_{view}.png"))


def test_exported_figures_leave_the_selection_out_unless_asked(qapp, tmp_path):
    # a candidate selected in the window's NMS list is drawn "selected" (cyan): an exported figure and the NMS
    # steps export leave it out; highlight=True (``render --highlight``) keeps it
    from detviewer.cli.render import view_frame
    from detviewer.detectors.registry import load_detector
    from detviewer.io.images import load_image
    from detviewer.render.qt.export import export_figure, figure_scale, render_image
    from detviewer.render.qt.style import NORMAL
    from detviewer.state.nms_replay import Thresholds

    image = load_image(DEMO_IMAGE)
    detector = load_detector("demo-frcnn", device="cpu")
    inference = detector.infer(image)
    scale = figure_scale(image)
    for view, step in (("nms", 1), ("detections", None)):
        frame = view_frame(view, inference, detector, thresholds=Thresholds(), image=image, step=step,
                           picks={"selected": 0})
        assert "selected" in frame.names()
        plain = [layer for layer in frame.layers if layer.name != "selected"]

        def pixels(layers, frame=frame, **kwargs):
            return to_array(render_image(image, layers, scale, NORMAL, title="t", legend=frame.legend,
                                         caption=frame.caption, **kwargs))

        np.testing.assert_array_equal(pixels(frame.layers), pixels(plain))
        assert (pixels(frame.layers, highlight=True) != pixels(plain)).any()
    from PIL import Image

    path = export_figure(image, frame.layers, tmp_path / "f.png", scale, NORMAL, caption=frame.caption)
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")),
                          to_array(render_image(image, plain, scale, NORMAL, caption=frame.caption)))
