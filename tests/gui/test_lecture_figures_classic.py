"""The shipped photographs in the real window's lecture mode at 1920×1080, as the lecture-figure test demands
(labels apart, inside the canvas, ≥ 24 px; caption and step contrast ≥ 7:1; captions never cut): every photo with
a classic detector's views (the image pyramid, the windows and the grouping in both modes), the astronaut with
both detectors at four steps of each view, the others at their first and last step; one photo with a CNN's views;
and Help → Open the sample photographs opens the photos.

DETVIEWER_FIGURES=folder keeps the grabbed figures for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_lecture_figures import _bar_settled, _check_figure

from detviewer.resources import assets_dir, sample_photos

PHOTOS = assets_dir() / "photos"
ASTRONAUT = PHOTOS / "astronaut.png"
CLASSIC_VIEWS = [(view, {}) for view in ("classic-pyramid", "classic-windows", "classic-grouping")] \
    + [("classic-grouping", {"mode": "nms"})]
#: (photo, classic detector, steps of each view: "four" = first, second, middle, last; "ends" = first and last).
#: A face cascade on the photos with faces (and on coffee, where every window it accepts is a false one), the cat
#: face cascade on the cat, HOG's people detector on the astronaut and on the rocket.
CLASSIC_CASES = [
    ("astronaut.png", "haar-frontalface", "four"),
    ("astronaut.png", "hog-people", "four"),
    ("camera.png", "haar-frontalface", "ends"),
    ("chelsea.jpg", "haar-catface", "ends"),
    ("coffee.jpg", "haar-frontalface", "ends"),
    ("rocket.jpg", "hog-people", "ends"),
]
#: a CNN's views on a photograph (the demo models were trained on shapes: what they show of a photo is its anchors,
#: its proposals, its candidates and their suppression, all of which the slide must still draw readably)
CNN_PHOTO, CNN_MODEL = "chelsea.jpg", "demo-frcnn"
CNN_VIEWS = ("anchors", "proposals", "nms", "detections")


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


def _lecture_window(make_window, qtbot, model: str, photo: Path, view: str):
    """The window with ``model`` on ``photo`` in lecture mode at 1920×1080, opened on ``view``: the live deck
    begins at that view's part, which ``model`` can show (it loads another model for a view that it cannot)."""
    from detviewer.gui.worker import _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    _open(window, qtbot, model, photo)
    window.state.set_view(view)
    window.lecture.enter(full_screen=False)
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: window.width() == 1920, timeout=5000)
    return window


def _check_steps(window, qtbot, figures_dir: Path, where: str, model: str, name: str, controls: dict,
                 steps: str) -> int:
    """Show view ``name`` with ``controls``, check its steps ("four" / "ends") drawn by ``model``, save each grab;
    how many were checked."""
    assert window.views_panel.is_enabled(name), f"{where}: {name} is disabled"
    window.state.set_view(name)
    for key, value in controls.items():
        window.state.set_control(key, value)
    qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=60000)
    count = window.presenter.shown.frame.step_count
    wanted = {0, 1, count // 2, count - 1} if steps == "four" else {0, count - 1}
    for step in sorted(wanted & set(range(count))):
        window.state.set_step(step)
        qtbot.waitUntil(lambda step=step: window.presenter.shown.frame is not None
                        and window.presenter.shown.frame.step == step, timeout=60000)
        qtbot.waitUntil(lambda: _bar_settled(window), timeout=5000)
        assert window.state.inference.model_name == model, f"{where}: the deck swapped the model for {name}"
        _check_figure(window, f"{where} {name} {controls} step {step + 1}")
        window.grab().save(str(figures_dir / f"{where}_{name}_{'_'.join(controls.values())}_{step + 1:02d}.png"))
    return len(wanted & set(range(count)))


def test_every_shipped_photo_is_checked():
    # a photo added to assets/photos gets a case here (the lecture may open it)
    checked = {photo for photo, _, _ in CLASSIC_CASES} | {CNN_PHOTO}
    assert {p.name for p in sample_photos()} <= checked
    assert {"astronaut.png", "camera.png", "chelsea.jpg", "coffee.jpg"} <= {p.name for p in sample_photos()}


@pytest.mark.slow
@pytest.mark.parametrize(("photo", "model", "steps"), CLASSIC_CASES)
def test_the_classic_views_are_readable_in_lecture_mode(photo, model, steps, make_window, qtbot, figures_dir):
    window = _lecture_window(make_window, qtbot, model, PHOTOS / photo, CLASSIC_VIEWS[0][0])
    assert window.state.inference.classic is not None
    where = f"{Path(photo).stem}_{model}"
    checked = sum(_check_steps(window, qtbot, figures_dir, where, model, name, controls, steps)
                  for name, controls in CLASSIC_VIEWS)
    assert checked >= (12 if steps == "four" else 6)


@pytest.mark.slow
def test_a_cnns_views_are_readable_on_a_photo_in_lecture_mode(make_window, qtbot, figures_dir):
    window = _lecture_window(make_window, qtbot, CNN_MODEL, PHOTOS / CNN_PHOTO, CNN_VIEWS[0])
    where = f"{Path(CNN_PHOTO).stem}_{CNN_MODEL}"
    checked = sum(_check_steps(window, qtbot, figures_dir, where, CNN_MODEL, name, {}, "ends") for name in CNN_VIEWS)
    assert checked >= 2 * len(CNN_VIEWS) - 1


def test_help_opens_the_sample_photographs(make_window, qtbot):
    window = make_window()
    photos = sample_photos()
    assert len(photos) == 5
    with qtbot.waitSignal(window.result_shown, timeout=10000):
        window.actions_.sample_photos.trigger()
    assert [p.name for p in window.feed.source.paths] == [p.name for p in photos]
