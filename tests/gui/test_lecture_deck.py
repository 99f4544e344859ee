"""The whole lecture, live, in the real window: lecture mode's Next walks every step of every view of every section
of the lecture plan on the bundled demo image (loading the model each view needs), Previous walks it back, Down / Up
jump sections, O shows the overview; each step's caption names what is shown and nothing points at a hidden panel."""

from __future__ import annotations

import colorsys
import re

import pytest
from PySide6.QtCore import Qt
from views_helpers import DEMO_IMAGE

from detviewer.render.model.lecture_plan import LecturePlan, live_parts, part_range

#: what a caption must not say in lecture mode, where the docks are hidden
HIDDEN_PANEL = re.compile(r"side panel|\bdock\b|View panel|NMS panel|in the window's|Thresholds panel",
                          re.IGNORECASE)


_COLOUR_WORDS = ("red", "orange", "yellow", "green", "teal", "cyan", "blue", "purple", "violet", "pink", "magenta",
                 "white", "grey", "gray", "black", "brown")
_HUES = (("red", -1, 15), ("red", 340, 361), ("orange", 15, 45), ("brown", 15, 50), ("yellow", 42, 70),
         ("green", 70, 165), ("teal", 150, 195), ("cyan", 170, 200), ("blue", 190, 250), ("purple", 250, 300),
         ("violet", 250, 300), ("pink", 290, 361), ("magenta", 285, 330), ("pink", -1, 10))


def colour_names(rgb) -> set[str]:
    """The words a caption may use for the colour ``rgb`` (0-255): its hue's names, or white / grey / black."""
    hue, light, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    if saturation < 0.18 or not 0.08 <= light <= 0.92:
        return {"white"} if light > 0.8 else {"black"} if light < 0.15 else {"grey", "gray"}
    names = {name for name, lo, hi in _HUES if lo <= hue * 360 <= hi}
    return names | ({"pink"} if light > 0.7 and "red" in names else set())


def caption_colours(caption: str) -> set[str]:
    return {w for w in _COLOUR_WORDS if re.search(rf"\b{w}\b", caption, re.IGNORECASE)}


def _lecture_window(make_window, qtbot, plan: LecturePlan | None = None):
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest("demo-frcnn", "default", "cpu"))
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(DEMO_IMAGE)])
    if plan is not None:
        window.deck.set_plan(plan)
    window.state.set_view("detections")  # not in the lecture: lecture mode keeps it until the first Next
    window.lecture.enter(full_screen=False)
    window.resize(1920, 1080)
    assert window.deck.part is None and window.session.model.name == "demo-frcnn"
    qtbot.keyClick(window, Qt.Key.Key_PageDown)  # the lecture's first step
    _wait_settled(window, qtbot)
    return window


def _wait_settled(window, qtbot) -> None:
    def settled() -> None:
        deck, shown = window.deck, window.presenter.shown
        assert deck.settled and not window.presenter.busy and shown.frame is not None \
            and shown.view == deck.part.view, (deck.part, deck.position(), shown.view, shown.text,
                                               window.session.model.name)

    qtbot.waitUntil(settled, timeout=90000)


def _where(window) -> tuple[int, str, int]:
    position = window.deck.position()
    return position.part, position.title, window.presenter.shown.frame.step


def _expected_range(window) -> tuple[int, int]:
    """The part's (first, last) steps from render.model.lecture_plan and the view's own step labels, not the deck's."""
    part, frame = window.deck.part, window.presenter.shown.frame
    labels = window.presenter.step_labels(part.view) or []
    return part_range(part, frame.step_count, lambda i: labels[i] if i < len(labels) else "")


def _check_step(window) -> None:
    """What the audience sees: the part's view drawn at a step of its range, its caption, no hidden panel."""
    deck, shown = window.deck, window.presenter.shown
    part, position = deck.part, deck.position()
    where = f"{part.section} / {position.title} / {part.view} step {shown.frame.step}"
    assert shown.view == part.view and shown.frame is not None, where
    first, last = _expected_range(window)
    assert (position.first, position.last) == (first, last) and first <= shown.frame.step <= last, where
    caption = window.lecture.bar.caption.text()
    assert caption and caption == shown.frame.caption, where
    assert not HIDDEN_PANEL.search(caption), f"{where}: {caption}"
    if re.search(r"\btable\b", caption):  # the table a caption cites is on the slide
        assert window.lecture.table.isVisible() and window.lecture.table.has_rows(), where
    assert window.lecture.heading.isVisible() and window.lecture.heading.plain_text() == position.heading, where
    if shown.frame.legend:  # what the caption's colours refer to is drawn on the canvas
        assert window.canvas.legend_rect() is not None, where
    legend_colours = set().union(*(colour_names(colour) for _, colour in shown.frame.legend))
    assert caption_colours(caption) <= legend_colours, f"{where}: the caption names colours no legend entry has"


@pytest.mark.slow
def test_next_walks_the_whole_lecture_and_previous_walks_it_back(make_window, qtbot):
    window = _lecture_window(make_window, qtbot)
    deck = window.deck
    assert deck.index == 0 and deck.position().step == 0  # the classic detector's pyramid, its first step
    forward, ranges = [], {}
    while True:
        _check_step(window)
        forward.append(_where(window))
        ranges[deck.index] = _expected_range(window)
        qtbot.keyClick(window, Qt.Key.Key_PageDown)  # a clicker's Next
        _wait_settled(window, qtbot)
        if _where(window) == forward[-1]:
            break  # the last step: Next does nothing
    sections = [p.section for p in deck.parts]
    walked_sections = [deck.parts[part].section for part, _, _ in forward]
    assert walked_sections[0] == sections[0] and walked_sections[-1] == sections[-1]
    assert sorted(set(walked_sections), key=sections.index) == list(dict.fromkeys(sections)), \
        "every section of the plan is walked, in order"
    # every step of every view part: each part's steps are consecutive from its first to its last
    by_part: dict[int, list[int]] = {}
    for part, _, step in forward:
        by_part.setdefault(part, []).append(step)
    for part, steps in by_part.items():
        # every step of the part's range, from its first to its last, once
        assert steps == list(range(ranges[part][0], ranges[part][1] + 1)), (deck.parts[part].view, steps)
        if deck.parts[part].from_start:
            assert steps[0] == 0, deck.parts[part].view  # a view's first part opens at its first step
    assert {"classic-pyramid", "nms", "anchors", "default-boxes", "grid", "map"} <= {deck.parts[p].view
                                                                                   for p in by_part}

    backward = [forward[-1]]
    while backward[-1] != forward[0]:
        qtbot.keyClick(window, Qt.Key.Key_PageUp)
        _wait_settled(window, qtbot)
        _check_step(window)
        backward.append(_where(window))
        assert len(backward) <= len(forward), "Previous walks back the steps Next walked"
    assert backward == forward[::-1]


@pytest.mark.slow
def test_section_keys_the_overview_and_a_plan_that_skips_sections(make_window, qtbot):
    plan = LecturePlan(sections=("nms", "yolo"))
    window = _lecture_window(make_window, qtbot, plan)
    deck = window.deck
    assert [p.section for p in deck.parts] == [p.section for p in live_parts(plan.deck())]
    assert deck.part.section == "NMS" and deck.position().step == 0
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.presenter.shown.frame.step == 2
    qtbot.keyClick(window, Qt.Key.Key_Down)  # next section: YOLO, which demo-frcnn cannot show: demo-yolo loads
    _wait_settled(window, qtbot)
    assert deck.part.section == "YOLO" and window.session.model.name == "demo-yolo"
    assert window.presenter.shown.frame.step == 0
    qtbot.keyClick(window, Qt.Key.Key_Up)  # at a section's first step: the previous section
    _wait_settled(window, qtbot)
    assert deck.part.section == "NMS" and window.presenter.shown.frame.step == 0

    qtbot.keyClick(window, Qt.Key.Key_O)
    overlay = window.lecture.overlay
    assert overlay.isVisible() and deck.overview.open
    qtbot.keyClick(window, Qt.Key.Key_2)  # the second section
    _wait_settled(window, qtbot)
    assert not overlay.isVisible() and deck.part.section == "YOLO"
    qtbot.keyClick(window, Qt.Key.Key_O)  # the overview, then Esc closes it and lecture mode stays
    assert overlay.isVisible() and overlay.current() == 1
    qtbot.keyClick(window, Qt.Key.Key_Up)  # moves the choice
    assert overlay.current() == 0
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not overlay.isVisible() and window.lecture.active
    qtbot.keyClick(window, Qt.Key.Key_Return)  # no overview: Enter does nothing
    assert deck.part.section == "YOLO"


@pytest.mark.parametrize(("rgb", "name"), [((255, 230, 0), "yellow"), ((0, 114, 178), "blue"), ((150, 150, 150), "grey"),
                                           ((255, 255, 255), "white"), ((255, 40, 40), "red"),
                                           ((0, 158, 115), "green"), ((255, 100, 220), "pink")])
def test_colour_names_the_check_uses(rgb, name):
    assert name in colour_names(rgb)
    assert "blue" not in colour_names((255, 230, 0)) and "yellow" not in colour_names((0, 114, 178))


@pytest.mark.slow
def test_the_next_image_keeps_the_lecture_where_it_is(make_window, qtbot):
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest("demo-frcnn", "default", "cpu"))
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(DEMO_IMAGE.parent)])  # the demo folder: four images
    window.deck.set_plan(LecturePlan(sections=("nms", "map")))
    window.lecture.enter(full_screen=False)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    _wait_settled(window, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.deck.part.view == "nms" and window.presenter.shown.frame.step == 2
    first = window.state.frame
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # the next image
    _wait_settled(window, qtbot)
    assert window.state.frame is not first and window.deck.part.view == "nms"
    step = window.presenter.shown.frame.step  # NMS steps begin again on a new result
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    _wait_settled(window, qtbot)
    assert window.deck.part.view == "nms" and window.presenter.shown.frame.step == step + 1
    _check_step(window)


def test_view_lecture_plan_takes_a_plan_file_remembers_it_and_refuses_a_bad_one(make_window, qtbot, tmp_path,
                                                                               monkeypatch, settings):
    from PySide6.QtWidgets import QFileDialog

    plan = tmp_path / "plan.toml"
    plan.write_text('sections = ["map", "nms"]\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('sections = ["nms", "hough"]\n', encoding="utf-8")
    window = make_window()
    chosen = [str(plan)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (chosen[0], ""))
    window.actions_.lecture_plan.trigger()
    assert [p.section for p in window.deck.parts][0] == "mAP" and window.deck.parts[-1].section == "NMS"
    assert "2 sections" in window.status.message_text()
    chosen[0] = str(bad)
    window.actions_.lecture_plan.trigger()  # refused in one sentence; the plan in use stays
    assert "no section called 'hough'" in window.status.message_text()
    assert window.deck.plan.source == str(plan)
    second = make_window(settings=settings)  # the next start uses the remembered plan
    assert second.deck.plan.source == str(plan) and second.deck.parts[0].section == "mAP"
    window.actions_.whole_lecture.trigger()
    assert window.deck.plan.sections == LecturePlan().sections


@pytest.mark.slow
def test_outside_lecture_mode_the_deck_moves_nothing_and_its_keys_are_the_widgets(make_window, qtbot):
    window = _lecture_window(make_window, qtbot, LecturePlan(sections=("sliding-windows", "rcnn")))
    assert window.deck.part.view == "sliding-window"
    for _ in range(20):  # to Selective Search, whose first part shows only its first step
        if window.deck.part.view == "selective-search":
            break
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
        _wait_settled(window, qtbot)
    assert window.deck.part.view == "selective-search" and window.deck.position().last == 0
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.lecture.active and window.deck.part is None
    window.state.set_view("selective-search")
    window.state.set_step(1)  # the crop-and-warp step, outside the lecture part's range
    qtbot.waitUntil(lambda: window.presenter.shown.frame is not None and window.presenter.shown.frame.step == 1,
                    timeout=60000)
    window.state.set_view("detections")
    window.state.set_view("selective-search")
    assert window.state.step_position()[0] == 1, "the deck left the user's step alone"
    index = window.deck.index
    qtbot.keyClick(window, Qt.Key.Key_Down)  # a section key outside lecture mode: nothing
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert window.deck.index == index and not window.lecture.overlay.isVisible()


def _broken_load(info, weights, device, progress):  # the registry's loader signature
    raise RuntimeError("this test model never loads")


@pytest.mark.slow
def test_a_model_that_fails_to_load_is_passed_over_and_next_keeps_working(make_window, qtbot):
    from detviewer.detectors.registry import ModelInfo, register_model, unregister_model

    register_model(ModelInfo("broken-grid", "a YOLO grid model that fails to load", frozenset({"grid"}), "shipped",
                             "test_lecture_deck:_broken_load"))
    try:
        window = _lecture_window(make_window, qtbot, LecturePlan(sections=("nms", "yolo"),
                                                                 models=("broken-grid", "demo-yolo")))
        qtbot.keyClick(window, Qt.Key.Key_Down)  # YOLO: broken-grid is asked first, fails, demo-yolo draws it
        _wait_settled(window, qtbot)
        assert window.deck.part.section == "YOLO" and window.session.model.name == "demo-yolo"
        assert any("this test model never loads" in m.text for m in window.messages.messages)
        qtbot.keyClick(window, Qt.Key.Key_PageDown)
        _wait_settled(window, qtbot)
        assert window.presenter.shown.frame.step == 1
        _check_step(window)
    finally:
        unregister_model("broken-grid")


@pytest.mark.slow
def test_a_plan_nothing_of_which_can_be_shown_says_so(make_window, qtbot):
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest("demo-frcnn", "default", "cpu"))
    photo = DEMO_IMAGE.parents[1] / "photos" / "astronaut.png"  # no ground truth: mAP cannot be shown
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(photo)])
    window.deck.set_plan(LecturePlan(sections=("map",)))
    window.lecture.enter(full_screen=False)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.deck.part is None and window.session.model.name == "demo-frcnn"
    assert "Nothing in this lecture plan can be shown" in window.lecture.heading.plain_text()
