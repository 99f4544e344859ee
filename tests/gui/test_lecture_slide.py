"""Lecture mode as a slide at 1920×1080 in the real window: the table the caption cites is beside the canvas, the
image holds still while the captions change, and G, F1 (the keys over the slide) and Esc work with the menu bar
hidden."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt
from views_helpers import DEMO_IMAGE, demo_window, show_view, to_array

from detviewer.render.qt.slide import cited_rows

MIN_TEXT_PX = 24


def _lecture_window(make_window, qtbot, model: str, view: str):
    """A 1920×1080 window in lecture mode with ``model`` on the demo image, the lecture at ``view``'s first part."""
    from detviewer.gui.worker import ModelRequest, _registry_loader

    window = make_window(loader=_registry_loader, load=False)
    with qtbot.waitSignal(window.model_ready, timeout=60000):
        window.request_model(ModelRequest(model, "default", "cpu"))
    with qtbot.waitSignal(window.result_shown, timeout=60000, check_params_cb=lambda r: r.inference is not None):
        window.open_paths([str(DEMO_IMAGE)])
    show_view(qtbot, window, view)
    window.lecture.enter(full_screen=False)
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: window.width() == 1920 and window.height() == 1080, timeout=5000)
    _settle(qtbot, window)
    return window


def _settle(qtbot, window) -> None:
    """Until the lecture's step is drawn and the layout has followed it (the bar's height is a posted request)."""
    qtbot.waitUntil(lambda: window.deck.settled and not window.presenter.busy
                    and window.presenter.shown.frame is not None
                    and window.presenter.shown.view == window.deck.part.view, timeout=90000)
    qtbot.wait(30)


def _next(qtbot, window) -> None:
    qtbot.keyClick(window, Qt.Key.Key_Right)  # the clicker's Next: the lecture's next step
    _settle(qtbot, window)


def _on_window(window, widget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def test_the_rows_the_caption_cites_are_on_the_slide(make_window, qtbot):
    # YOLO's cell step: "its best class is star, P(star) = 1.00 … box 1 conf × P(star)"; the rows were in a
    # dock that lecture mode hides
    window = _lecture_window(make_window, qtbot, "demo-yolo", "grid")
    assert window.presenter.shown.frame.step == 0
    _next(qtbot, window)
    frame = window.presenter.shown.frame
    cited = {frame.table[i][0] for i in cited_rows(frame.table, frame.caption)}
    assert "[13] P(star)" in cited and "P(star)" in frame.caption
    table, canvas = window.lecture.table, window.canvas
    assert table.isVisible()
    assert cited <= set(table.shown_keys())
    keys = [key for key, _ in frame.table]
    assert table.shown_keys() == [k for k in keys if k in table.shown_keys()]  # the view's rows, in its order
    assert "panel" not in table.note()
    # beside the canvas, inside the window, wide enough for a 24 px table, drawn in light text on black
    t, c = _on_window(window, table), _on_window(window, canvas)
    assert t.left() >= c.right() and t.right() <= window.width() and t.width() >= 0.25 * 1920
    assert table.text_px() >= MIN_TEXT_PX
    pixels = to_array(table.grab().toImage())
    assert (pixels.max(axis=2) > 200).mean() > 0.002 and np.median(pixels) < 30
    # a view without rows hides it, and so does leaving lecture mode
    window.lecture.leave()
    assert not table.isVisible()


def test_a_cut_table_keeps_the_rows_the_caption_cites(qtbot):
    from detviewer.gui.lecture_table import LectureTable

    rows = [(f"row {i:02d}", f"value {i}") for i in range(60)]
    table = LectureTable()
    qtbot.addWidget(table)
    table.resize(560, 700)
    table.set_rows(rows, caption="Compare row 58 with row 03: the table has them both.")
    table.show()
    shown = table.shown_keys()
    assert 3 < len(shown) < 60
    assert "row 58" in shown and "row 03" in shown
    left_out = 60 - len(shown)
    assert table.note() == f"+ {left_out} more rows not shown"


def test_the_image_holds_still_as_captions_grow(make_window, qtbot):
    # Next through the Faster R-CNN and Mask R-CNN sections (anchors, sampling, proposals, regression, RoIAlign):
    # captions of one to several lines, steps with and without a table
    window = _lecture_window(make_window, qtbot, "demo-frcnn", "anchors")
    canvas, bar, deck = window.canvas, window.lecture.bar, window.deck
    last = max(i for i, part in enumerate(deck.parts) if part.section == "Mask R-CNN")
    seen: list[tuple] = []
    lines, views = set(), set()
    while True:
        frame, position = window.presenter.shown.frame, deck.position()
        where = f"{window.presenter.shown.view} step {frame.step + 1}"
        views.add(window.presenter.shown.view)
        assert bar.caption.text() == frame.caption
        assert bar.caption_fits(), f"{where}: the caption lost a line"
        assert bar.caption.font().pixelSize() >= MIN_TEXT_PX, where
        lines.add(bar.caption.heightForWidth(bar.caption.width()) // bar.caption.fontMetrics().lineSpacing())
        height, width = window.state.frame.image.shape[:2]
        top_left, bottom_right = canvas.image_to_widget(0, 0), canvas.image_to_widget(width, height)
        seen.append((where, _on_window(window, canvas).getRect(), _on_window(window, bar).getRect(),
                     (round(top_left.x()), round(top_left.y()), round(bottom_right.x()), round(bottom_right.y()))))
        if deck.index == last and position.step >= position.last:
            break
        _next(qtbot, window)
    assert len(views) >= 4 and len(seen) >= 8
    assert len(lines) >= 2, "the captions walked should wrap to different numbers of lines"
    first = seen[0]
    for where, *rest in seen:
        assert rest == list(first[1:]), f"{where}: the canvas, the bar or the image moved ({rest} vs {first[1:]})"


def test_a_long_caption_shrinks_to_24_px_before_the_bar_grows(qtbot):
    from detviewer.gui.lecture import BAR_FONT_PX, MIN_CAPTION_PX, StepBar
    from detviewer.gui.presenter import Shown

    bar = StepBar()
    qtbot.addWidget(bar)
    bar.resize(1920, 100)
    bar.show()
    base = bar.base_height()
    heights = []
    for words in (5, 50, 70, 400):
        bar.display(Shown("nms", None, " ".join(["caption"] * words)))
        bar.resize(1920, bar.height())
        qtbot.wait(10)
        assert bar.caption_fits(), words
        heights.append((bar.height(), bar.caption_px()))
    assert heights[0] == (base, BAR_FONT_PX)  # a short caption: full size, the bar at its height
    assert heights[1][0] == base and heights[2][0] == base  # longer ones: smaller text, the same bar
    assert heights[2][1] < BAR_FONT_PX
    assert heights[3][0] > base and heights[3][1] == MIN_CAPTION_PX  # only at 24 px does the bar grow


def test_g_f1_and_esc_in_lecture_mode(make_window, qtbot):
    from PySide6.QtWidgets import QApplication, QDialog

    from detviewer.gui.help_dialogs import shortcut_rows
    from detviewer.gui.stepping import LECTURE_KEYS

    window = demo_window(make_window, qtbot)
    show_view(qtbot, window, "nms")  # a view of the lecture this model shows: no other model is loaded
    window.lecture.enter(full_screen=False)
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: window.width() == 1920 and window.height() == 1080, timeout=5000)
    _settle(qtbot, window)
    assert not window.menuBar().isVisible()
    shown = window.state.show_gt
    qtbot.keyClick(window, Qt.Key.Key_G)  # the menu bar is hidden: its actions' keys still work
    assert window.state.show_gt is (not shown)
    qtbot.keyClick(window, Qt.Key.Key_G)
    assert window.state.show_gt is shown

    def dialogs():
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()
                and w.windowTitle() == "Keyboard shortcuts"]

    overlay = window.lecture.overlay
    qtbot.keyClick(window, Qt.Key.Key_F1)  # the keys over the slide, not a dialog over the full-screen window
    assert overlay.isVisible() and not dialogs()
    keys = [key for key, _ in overlay.rows()]
    assert [" / ".join(b.keys) for b in LECTURE_KEYS] == keys[:len(LECTURE_KEYS)]
    assert {"Home", "End", "P"} <= set(keys)
    assert overlay.text_px() >= MIN_TEXT_PX
    qtbot.wait(30)
    o, parent = _on_window(window, overlay), _on_window(window, overlay.parentWidget())
    assert parent.contains(o) and abs(o.center().x() - parent.center().x()) <= 1

    qtbot.keyClick(window, Qt.Key.Key_Escape)  # the first Esc closes the overlay
    assert not overlay.isVisible() and window.lecture.active
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # the second leaves
    assert not window.lecture.active and window.menuBar().isVisible()

    qtbot.keyClick(window, Qt.Key.Key_F1)  # outside lecture mode: the dialog, which lists lecture mode's keys
    qtbot.waitUntil(lambda: bool(dialogs()), timeout=5000)
    for dialog in dialogs():
        dialog.close()
    assert not overlay.isVisible()
    groups = {(group, keys) for group, keys, _ in shortcut_rows(window.menuBar())}
    assert {("Lecture mode", " / ".join(b.keys)) for b in LECTURE_KEYS} <= groups


def test_the_overlay_stays_centred_and_highlights_the_current_row(qtbot):
    from PySide6.QtWidgets import QWidget

    from detviewer.gui.lecture_overlay import CURRENT, LectureOverlay

    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(1400, 900)
    parent.show()
    overlay = LectureOverlay(parent)
    rows = [(str(i + 1), f"Section {i + 1}") for i in range(9)]
    overlay.show_rows("Sections", rows, current=4)
    assert overlay.isVisible() and overlay.current() == 4 and overlay.rows() == rows
    for size in ((1400, 900), (1920, 1080), (900, 600)):
        parent.resize(*size)
        qtbot.wait(10)
        g = overlay.geometry()
        assert parent.rect().contains(g) and abs(g.center().x() - parent.rect().center().x()) <= 1
        assert abs(g.center().y() - parent.rect().center().y()) <= 1
        assert overlay.text_px() >= MIN_TEXT_PX
    pixels = to_array(overlay.grab().toImage()).astype(int)
    yellow = np.abs(pixels - np.array([CURRENT.red(), CURRENT.green(), CURRENT.blue()])).sum(axis=2) < 40
    white = pixels.min(axis=2) > 235
    assert yellow.sum() > 30 and white.sum() > 100  # the current row in yellow, the others in white
    overlay.hide()
    assert not overlay.isVisible()
