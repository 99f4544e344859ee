"""Menus and file dialogs of the main window. The View menu's list of views comes from the view registry;
every checkable item shows (and changes) the ViewerState."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog

from detviewer.render.model.registry import VIEWS
from detviewer.state.events import DisplayChanged, ViewChanged

__all__ = ["build_menus", "fill_recent", "show_messages", "IMAGE_FILTER", "VIDEO_FILTER"]

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv)"


def _action(menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
    action = QAction(text, menu)
    action.setCheckable(checkable)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if checkable:
        action.toggled.connect(slot)
    else:
        action.triggered.connect(lambda checked=False: slot())
    menu.addAction(action)
    return action


def build_menus(window) -> SimpleNamespace:
    """File / View / Help menus; returns the actions the window updates later."""
    a = SimpleNamespace()
    _file_menu(window, a)
    _view_menu(window, a)
    help_menu = window.menuBar().addMenu("&Help")
    a.shortcuts = _action(help_menu, "Keyboard shortcuts", lambda: _help("show_shortcuts", window), "F1")
    a.about = _action(help_menu, "About detviewer", lambda: _help("show_about", window))
    a.sample_photos = _action(help_menu, "Open the sample photographs", lambda: _open_sample_photos(window))
    a.sample_photos.setToolTip("Five public-domain / CC0 photographs shipped with detviewer (assets/photos/LICENSES.md)")
    return a


def _file_menu(window, a: SimpleNamespace) -> None:
    menu = window.menuBar().addMenu("&File")
    a.open_files = _action(menu, "Open image(s) or video…", lambda: _open_files(window), QKeySequence.StandardKey.Open)
    a.open_folder = _action(menu, "Open folder…", lambda: _open_folder(window), "Ctrl+Shift+O")
    a.open_camera = _action(menu, "Open camera…", lambda: _open_camera(window), "Ctrl+K")
    a.reconnect = _action(menu, "Reconnect camera", window.feed.reconnect_camera, "Ctrl+Shift+K")
    a.reconnect.setEnabled(False)
    a.recent_menu = menu.addMenu("Open recent")
    a.open_dataset = _action(menu, "Open dataset…", lambda: _open_dataset(window), "Ctrl+D")
    a.open_dataset.setToolTip("A COCO file, an Ultralytics data.yaml, or a YOLO / VOC folder: evaluate a model on it")
    a.open_gt = _action(menu, "Open ground truth (COCO JSON)…", lambda: _open_ground_truth(window), "Ctrl+G")
    a.open_gt.setToolTip("Boxes to compare with: true / false positives and misses, anchor labels, SSD matching")
    a.clear_gt = _action(menu, "Close ground truth", window.ground_truth.clear)
    a.clear_gt.setEnabled(False)
    menu.addSeparator()
    a.run_again = _action(menu, "Run the model again", window.feed.resubmit, "F5")
    a.save_screenshot = _action(menu, "Save window image…", lambda: _save_screenshot(window), "Ctrl+Shift+S")
    a.export_view = _action(menu, "Export view…", lambda: _export("export_view_dialog", window), "Ctrl+E")
    a.export_nms = _action(menu, "Export NMS steps…", lambda: _export("export_nms_dialog", window))
    menu.addSeparator()
    a.quit = _action(menu, "Quit", window.close, QKeySequence.StandardKey.Quit)


def _view_menu(window, a: SimpleNamespace) -> None:
    state = window.state
    menu = window.menuBar().addMenu("&View")
    views = menu.addMenu("Show view")
    group = QActionGroup(views)
    a.views = {}
    for name, spec in VIEWS.items():
        action = QAction(spec.title, views)
        action.setCheckable(True)
        action.setChecked(name == state.view)
        action.triggered.connect(lambda _checked=False, n=name: state.set_view(n))
        group.addAction(action)
        views.addAction(action)
        a.views[name] = action
    a.step_mode = _action(menu, "Step through NMS", lambda: state.set_view("detections" if state.view == "nms"
                                                                          else "nms"), "S")
    a.fit = _action(menu, "Fit frame", window.canvas.fit, "F")
    a.lecture = _action(menu, "Lecture mode", window.lecture.toggle, "F11")
    a.lecture.setToolTip("Full screen, large text, arrow keys / clicker step the view (Esc leaves)")
    toolbar = window.addToolBar("Lecture")
    toolbar.setObjectName("lecture_toolbar")
    toolbar.addAction(a.lecture)
    a.show_gt = _action(menu, "Show ground truth", state.set_show_gt, "G", checkable=True)
    a.show_gt.setChecked(state.show_gt)
    a.show_gt.setEnabled(False)
    a.show_suppressed = _action(menu, "Show suppressed boxes (greyed)", state.set_show_suppressed, checkable=True)
    a.messages = _action(menu, "Messages", lambda: show_messages(window), "Ctrl+M")
    menu.addSeparator()
    for dock in window.docks:
        menu.addAction(dock.toggleViewAction())

    def follow(event) -> None:
        if isinstance(event, ViewChanged):
            a.views[event.view].setChecked(True)
        elif isinstance(event, DisplayChanged):
            action = a.show_gt if event.name == "show_gt" else a.show_suppressed
            action.blockSignals(True)
            action.setChecked(getattr(state, event.name))
            action.blockSignals(False)

    state.subscribe(follow)


def show_messages(window):
    """View → Messages: every sentence the window said, with time and severity."""
    from detviewer.gui.messages import MessagesDialog

    dialog = MessagesDialog(window.messages, window)
    dialog.show()
    return dialog


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


def _open_dataset(window) -> None:
    from detviewer.gui.dataset_dialog import ask_dataset

    ask_dataset(window, window.open_dataset)  # a data.yaml, a COCO .json or a folder, in one dialog


def _open_camera(window) -> None:
    device, ok = QInputDialog.getInt(window, "Open camera", "Camera device index:", 0, 0, 63)
    if ok:
        window.open_camera(device)


def _export(name: str, window) -> None:
    from detviewer.gui import export_dialogs

    getattr(export_dialogs, name)(window)


def _help(name: str, window) -> None:
    from detviewer.gui import help_dialogs

    getattr(help_dialogs, name)(window)


def _open_sample_photos(window) -> None:
    from detviewer.resources import sample_photos

    photos = sample_photos()
    if photos:
        window.open_paths(photos, remember=False)
    else:
        window.say("The sample photographs are not installed (assets/photos is missing).")


def _save_screenshot(window) -> None:
    path, _ = QFileDialog.getSaveFileName(window, "Save window image", "detviewer.png", "PNG (*.png)")
    if path:
        from detviewer.gui.messages import ERROR
        from detviewer.io.atomic import OutputError
        from detviewer.render.qt.export import save_qimage

        try:
            save_qimage(window.grab().toImage(), Path(path))
        except OutputError as exc:
            window.say(str(exc), ERROR)
        else:
            window.say(f"Saved the window image to {path}.")
