"""Menus, file dialogs and keyboard shortcuts of the main window."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QInputDialog

__all__ = ["build_menus", "install_shortcuts", "IMAGE_FILTER", "VIDEO_FILTER"]

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv)"

#: Keys the window routes itself: the NMS stepper when it is on, else file / frame navigation.
ROUTED_KEYS = {
    "Right": "forward", "PgDown": "forward", "Left": "back", "PgUp": "back",
    "Space": "play", "Home": "start", "End": "end",
}


def _action(menu, text: str, slot, shortcut=None) -> QAction:
    action = QAction(text, menu)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda checked=False: slot())
    menu.addAction(action)
    return action


def build_menus(window) -> SimpleNamespace:
    """File / View / Help menus; returns the actions the window updates later."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    a = SimpleNamespace()
    a.open_files = _action(file_menu, "Open image(s) or video…", lambda: _open_files(window), QKeySequence.StandardKey.Open)
    a.open_folder = _action(file_menu, "Open folder…", lambda: _open_folder(window), "Ctrl+Shift+O")
    a.open_camera = _action(file_menu, "Open camera…", lambda: _open_camera(window), "Ctrl+K")
    a.reconnect = _action(file_menu, "Reconnect camera", window.feed.reconnect_camera, "Ctrl+Shift+K")
    a.reconnect.setEnabled(False)
    a.recent_menu = file_menu.addMenu("Open recent")
    a.open_gt = _action(file_menu, "Open ground truth (COCO JSON)…", lambda: _open_ground_truth(window), "Ctrl+G")
    a.open_gt.setToolTip("Boxes to compare with: true / false positives and misses, anchor labels, SSD matching")
    a.clear_gt = _action(file_menu, "Close ground truth", window.ground_truth.clear)
    a.clear_gt.setEnabled(False)
    file_menu.addSeparator()
    a.run_again = _action(file_menu, "Run the model again", window.feed.resubmit, "F5")
    a.save_screenshot = _action(file_menu, "Save window image…", lambda: _save_screenshot(window), "Ctrl+Shift+S")
    a.export_view = _action(file_menu, "Export view…", lambda: _export("export_view_dialog", window), "Ctrl+E")
    a.export_nms = _action(file_menu, "Export NMS steps…", lambda: _export("export_nms_dialog", window))
    file_menu.addSeparator()
    a.quit = _action(file_menu, "Quit", window.close, QKeySequence.StandardKey.Quit)

    view_menu = bar.addMenu("&View")
    a.fit = _action(view_menu, "Fit frame", window.canvas.fit, "F")
    a.step_mode = _action(view_menu, "Step through NMS", lambda: window.nms_panel.set_step_mode(
        not window.nms_panel.step_mode), "S")
    a.lecture = _action(view_menu, "Lecture mode", window.lecture.toggle, "F11")
    a.lecture.setToolTip("Full screen, large text, arrow keys / clicker step the view (Esc leaves)")
    toolbar = window.addToolBar("Lecture")
    toolbar.setObjectName("lecture_toolbar")
    toolbar.addAction(a.lecture)
    a.show_gt = QAction("Show ground truth", view_menu)
    a.show_gt.setCheckable(True)
    a.show_gt.setChecked(True)
    a.show_gt.setEnabled(False)
    a.show_gt.setShortcut(QKeySequence("G"))
    a.show_gt.toggled.connect(window.ground_truth.set_shown)
    view_menu.addAction(a.show_gt)
    a.show_suppressed = QAction("Show suppressed boxes (greyed)", view_menu)
    a.show_suppressed.setCheckable(True)
    view_menu.addAction(a.show_suppressed)
    view_menu.addSeparator()
    for dock in window.docks:
        view_menu.addAction(dock.toggleViewAction())
    return a


def install_shortcuts(window, route) -> list[QShortcut]:
    """Window-wide shortcuts for ROUTED_KEYS; ``route(name)`` decides what each does now."""
    shortcuts = []
    for key, name in ROUTED_KEYS.items():
        sc = QShortcut(QKeySequence(key), window)
        sc.activated.connect(lambda name=name: route(name))
        shortcuts.append(sc)
    return shortcuts


def fill_recent(window, actions: SimpleNamespace, recent: list[str]) -> None:
    menu = actions.recent_menu
    menu.clear()
    for path in recent:
        act = menu.addAction(path)
        act.triggered.connect(lambda checked=False, p=path: window.open_paths([p]))
    menu.setEnabled(bool(recent))


def _open_files(window) -> None:
    paths, _ = QFileDialog.getOpenFileNames(window, "Open images or a video", "",
                                            f"{IMAGE_FILTER};;{VIDEO_FILTER};;All files (*)")
    if paths:
        window.open_paths(paths)


def _open_folder(window) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Open a folder of images")
    if folder:
        window.open_paths([folder])


def _open_ground_truth(window) -> None:
    start = str(window.ground_truth.path.parent) if window.ground_truth.path is not None else ""
    path, _ = QFileDialog.getOpenFileName(window, "Open COCO ground truth", start, "COCO JSON (*.json);;All files (*)")
    if path:
        window.open_ground_truth(path)


def _open_camera(window) -> None:
    device, ok = QInputDialog.getInt(window, "Open camera", "Camera device index:", 0, 0, 63)
    if ok:
        window.open_camera(device)


def _export(name: str, window) -> None:
    from detviewer.gui import export_dialogs

    getattr(export_dialogs, name)(window)


def _save_screenshot(window) -> None:
    path, _ = QFileDialog.getSaveFileName(window, "Save window image", "detviewer.png", "PNG (*.png)")
    if path:
        window.grab().save(str(Path(path)))
