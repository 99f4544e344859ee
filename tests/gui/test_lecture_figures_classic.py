"""The classic detectors on a shipped photograph in the real window's lecture mode at 1920×1080: every step of the
image pyramid, the windows and the grouping (both modes) readable as the lecture-figure test demands (labels apart,
inside the canvas, ≥ 24 px; caption contrast ≥ 7:1); and Help → Open the sample photographs opens the photos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_lecture_figures import _bar_settled, _check_figure

from detviewer.resources import assets_dir, sample_photos

ASTRONAUT = assets_dir() / "photos" / "astronaut.png"
CLASSIC_VIEWS = ("classic-pyramid", "classic-windows", "classic-grouping")


@pytest.fixture(scope="module")
def figures_dir(tmp_path_factory) -> Path:
    """DETVIEWER_FIGURES=folder keeps the grabbed figures for a person to look at; else pytest's tmp folder."""
    folder = os.environ.get("DETVIEWER_FIGURES")
    out = Path(folder) if folder else tmp_path_factory.mktemp("classic_figures")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _open(window, qtbot, model: str, path) -> None:
    from detviewer.gui.worker import ModelRequest

    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest(model, "default", "cpu"))
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(path)])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["haar-frontalface", "hog-people"])
def test_the_classic_views_are_readable_in_lecture_mode(model, make_window, qtbot, figures_dir):
    from detviewer.gui.worker import _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    _open(window, qtbot, model, ASTRONAUT)
    assert window.state.inference.classic is not None
    window.lecture.enter(full_screen=False)
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: window.width() == 1920, timeout=5000)
    checked = 0
    for name, controls in [(v, {}) for v in CLASSIC_VIEWS] + [("classic-grouping", {"mode": "nms"})]:
        assert window.views_panel.is_enabled(name), name
        window.state.set_view(name)
        for key, value in controls.items():
            window.state.set_control(key, value)
        qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=60000)
        count = window.presenter.shown.frame.step_count
        for step in sorted({0, 1, count // 2, count - 1} & set(range(count))):
            window.state.set_step(step)
            qtbot.waitUntil(lambda step=step: window.presenter.shown.frame is not None
                            and window.presenter.shown.frame.step == step, timeout=60000)
            qtbot.waitUntil(lambda: _bar_settled(window), timeout=5000)
            _check_figure(window, f"{model} {name} {controls} step {step + 1}")
            window.grab().save(str(figures_dir / f"{model}_{name}_{'_'.join(controls.values())}_{step + 1:02d}.png"))
            checked += 1
    assert checked >= 12


def test_help_opens_the_sample_photographs(make_window, qtbot):
    window = make_window()
    photos = sample_photos()
    assert len(photos) == 5
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        window.actions_.sample_photos.trigger()
    assert [p.name for p in window.feed.source.paths] == [p.name for p in photos]
