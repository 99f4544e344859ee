"""Adding a view or a detector is one module plus one registry entry; only the worker touches a detector."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fakes import FakeLoader, ReentryCheckingDetector

from detviewer.render.model.primitives import BoxLayer, ViewFrame, solid
from detviewer.render.model.registry import register, unregister
from detviewer.render.model.spec import Control, Prepare, ViewRequest, ViewSpec


def _toy_build(request: ViewRequest) -> ViewFrame:
    """Draws the first ``count`` candidates in one colour; step k shows box k."""
    count = request.controls["count"]
    cand = request.inference.candidates
    step = 0 if request.step is None else request.step
    boxes = cand.xyxy[:count][step:step + 1]
    layer = BoxLayer("toy_boxes", boxes, solid((0, 200, 255), len(boxes)), np.arange(len(boxes)), labels=("toy",))
    extra = f" · prepared {request.prepared[0]}" if request.prepared is not None else ""
    return ViewFrame([layer], f"Toy view of {count} boxes{extra}.", [("count", str(count))], step, count,
                     f"box {step + 1}")


TOY = ViewSpec("toy", "Toy view", _toy_build, step_count=lambda r: r.controls["count"],
               controls=(Control("count", "Boxes", "int", 3, minimum=1, maximum=5),), help="A test view.")


@pytest.fixture
def toy_view():
    register(TOY)
    yield TOY
    unregister("toy")


def test_a_registered_view_appears_in_the_window_and_in_render(toy_view, make_window, qtbot, tmp_path):
    from gui_fakes import write_image

    from detviewer.cli.render import build_parser

    assert list(build_parser()._option_string_actions["--view"].choices)[-1] == "toy"
    assert "--count" in build_parser()._option_string_actions
    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        window.open_paths([write_image(tmp_path / "a.png")])
    combo = window.views_panel.combo
    assert combo.itemText(combo.count() - 1) == "Toy view"
    assert "Toy view" in [a.text() for a in window.actions_.views.values()]
    combo.setCurrentIndex(combo.count() - 1)
    assert window.state.view == "toy"
    assert [layer.name for layer in window.canvas.layers] == ["toy_boxes"]
    assert window.views_panel.position.text() == "Step 1 of 3: box 1"
    window.views_panel.editor("toy", "count").setValue(5)  # its generated control
    assert window.views_panel.position.text() == "Step 1 of 5: box 1"
    window.state.step_by(2)
    assert window.presenter.shown.frame.step == 2 and window.views_panel.slider.value() == 2


def test_a_registered_detector_loads_by_name_in_the_registry_and_the_window(make_window, qtbot):
    from detviewer.detectors import registry
    from detviewer.gui.worker import ModelRequest, _registry_loader

    info = registry.ModelInfo("toy-detector", "A test detector", frozenset({"proposals"}), "shipped",
                              "gui_fakes:load_toy_detector")
    registry.register_model(info)
    try:
        detector = registry.load_detector("toy-detector", device="cpu")
        assert detector.name == "toy-detector" and detector.capabilities == {"proposals"}
        window = make_window(loader=_registry_loader, load=False)
        with qtbot.waitSignal(window.model_ready, timeout=10000) as blocker:
            window.request_model(ModelRequest("toy-detector", "default", "cpu"))
        assert blocker.args[0].name == "toy-detector"
        assert "toy-detector" in [m.name for m in registry.available_models()]  # what the Model panel lists
        assert window.views_panel.is_enabled("proposals") and not window.views_panel.is_enabled("anchors")
        window.close()
    finally:
        registry.unregister_model("toy-detector")


def _pooling_build(request: ViewRequest) -> ViewFrame:
    return ViewFrame([], f"pooled {request.prepared}", [], 0, 1, "pooled")


def _pooling_prepare(request: ViewRequest) -> Prepare:
    inference, image = request.inference, request.image
    box = inference.candidates.xyxy[0]
    return Prepare(("pool", float(request.replay.thresholds.score)),
                   lambda detector: detector.pool_region(box, inference, image), uses_detector=True,
                   message="Pooling…")


def test_view_inputs_never_enter_the_detector_while_it_infers(make_window, qtbot):
    """Pooling asked for while a stream runs frames through the same detector: never two threads inside it."""
    from detviewer.io.streams import SyntheticSource

    register(ViewSpec("pooling-toy", "Pooling toy", _pooling_build, prepare=_pooling_prepare, help="A test view."))
    try:
        detector = ReentryCheckingDetector(delay=0.01)
        window = make_window(FakeLoader(detector))
        window.feed.open_source(SyntheticSource(160, 120, fps=200))
        window.state.set_view("pooling-toy")
        for k in range(12):  # each new threshold is a new pooling request while frames keep coming
            window.state.set_thresholds(score=0.05 + 0.01 * k)
            qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=5000)
        window.feed.play(False)
        assert detector.pooled >= 12 and detector.calls >= 3
        assert detector.violations == 0
        window.close()
    finally:
        unregister("pooling-toy")


def _broken_build(request: ViewRequest) -> ViewFrame:
    raise RuntimeError("anchor level 'p7' is not a feature map of this model.\nsecond line")


def test_a_view_that_raises_says_so_in_one_sentence_and_the_window_goes_on(make_window, qtbot, tmp_path):
    from gui_fakes import write_image

    register(ViewSpec("broken", "Broken", _broken_build, help="A view with a bug."))
    try:
        window = make_window()
        with qtbot.waitSignal(window.result_shown, timeout=5000):
            window.open_paths([write_image(tmp_path / "a.png")])
        window.state.set_view("broken")
        text = window.presenter.shown.text
        assert text == "The Broken view failed: RuntimeError: anchor level 'p7' is not a feature map of this model."
        window.state.set_view("detections")  # the window still works
        assert window.presenter.shown.frame is not None
    finally:
        unregister("broken")


def test_a_view_that_reads_anchors_has_them_built_off_the_gui_thread(make_window, qtbot, tmp_path):
    """An Inference builds its anchors on first use; the anchors view gets them built in the task runner."""
    import threading
    from dataclasses import replace

    from gui_fakes import FakeDetector, write_image
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    from detviewer.core.types import DeferredAnchors
    from detviewer.ops.anchors import run_generator

    built_on = []
    sets = run_generator(AnchorGenerator(((32,), (64,)), ((0.5, 1.0, 2.0),) * 2), (240, 320), [(30, 40), (15, 20)])

    def build():
        built_on.append(threading.current_thread())
        return sets

    class AnchorDetector(FakeDetector):
        capabilities = frozenset({"anchors"})

        def infer(self, image_rgb):
            return replace(super().infer(image_rgb), anchors=DeferredAnchors(len(sets), build))

    window = make_window(loader=FakeLoader(AnchorDetector()))
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        window.open_paths([write_image(tmp_path / "a.png")])
    assert built_on == []  # the detections view never reads them
    window.state.set_view("anchors")
    qtbot.waitUntil(lambda: window.presenter.shown.frame is not None, timeout=5000)
    assert len(built_on) == 1 and built_on[0] is not threading.main_thread()
    assert window.presenter.shown.frame.step_count == 3  # two levels, then both
    built_on.clear()  # while the anchors view is shown, the worker builds each frame's anchors with its result
    with qtbot.waitSignal(window.result_shown, timeout=5000):
        window.open_paths([write_image(tmp_path / "b.png", value=90)])
    assert window.presenter.shown.frame is not None  # drawn at once, no "Building the anchors…" in between
    assert len(built_on) == 1 and built_on[0] is not threading.main_thread()
