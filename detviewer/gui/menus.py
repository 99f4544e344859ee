"""Menus and file dialogs of the main window. The View menu's list of views comes from the view registry;
every checkable item shows (and changes) the ViewerState.

They act on the session (gui.session.Session) and on a few window-level targets (``MenuTargets``); ``host`` is
only the QMainWindow whose menu bar and tool bar they fill and which parents the dialogs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog, QMainWindow, QMenu, QWidget

from detviewer.render.model.registry import VIEWS, nms_view
from detviewer.state.events import DisplayChanged, StateEvent, ViewChanged

if TYPE_CHECKING:
    from detviewer.gui.session import Session

__all__ = ["build_menus", "fill_recent", "show_messages", "MenuTargets", "IMAGE_FILTER", "VIDEO_FILTER"]

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv)"


def _action(menu: QMenu, text: str, slot: Callable[..., object],
            shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None, checkable: bool = False) -> QAction:
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


@dataclass(frozen=True)
class MenuTargets:
    """What the menus do that is the window's own: fit the canvas, lecture mode, the two figure exports, and
    the docks the View menu toggles."""

    fit: Callable[[], None]
    toggle_lecture: Callable[[], None]
    export_view: Callable[[], object]
    export_nms: Callable[[], object]
    docks: Sequence[QDockWidget]
    lecture_plan: Callable[[], None] = lambda: None  # View → Lecture plan… (choose a plan file)
    whole_lecture: Callable[[], object] = lambda: None  # View → Whole lecture (the built-in plan)


def build_menus(host: QMainWindow, session: Session, targets: MenuTargets) -> SimpleNamespace:
    """File / View / Help menus in ``host``; returns the actions the window updates later."""
    a = SimpleNamespace()
    _file_menu(host, session, targets, a)
    _view_menu(host, session, targets, a)
    help_menu = host.menuBar().addMenu("&Help")
    a.shortcuts = _action(help_menu, "Keyboard shortcuts", lambda: _help().show_shortcuts(host, host.menuBar()), "F1")
    a.about = _action(help_menu, "About detviewer", lambda: _help().show_about(host, session.model))
    a.sample_photos = _action(help_menu, "Open the sample photographs", lambda: _open_sample_photos(session))
    a.sample_photos.setToolTip("Five public-domain / CC0 photographs shipped with detviewer (assets/photos/LICENSES.md)")
    _keep_shortcuts(host, host.menuBar().actions())
    return a


def _keep_shortcuts(host: QWidget, actions: Sequence[QAction]) -> None:
    """Add every action with a shortcut to ``host`` too: a menu's action answers its key only while the menu bar
    is visible, and lecture mode hides the menu bar (G, F11 must still work there)."""
    for action in actions:
        menu = action.menu()
        if isinstance(menu, QMenu):
            _keep_shortcuts(host, menu.actions())
        elif not action.shortcut().isEmpty():
            host.addAction(action)


def _file_menu(host: QMainWindow, session: Session, targets: MenuTargets, a: SimpleNamespace) -> None:
    menu = host.menuBar().addMenu("&File")
    a.open_files = _action(menu, "Open image(s) or video…", lambda: _open_files(host, session),
                           QKeySequence.StandardKey.Open)
    a.open_folder = _action(menu, "Open folder…", lambda: _open_folder(host, session), "Ctrl+Shift+O")
    a.open_camera = _action(menu, "Open camera…", lambda: _open_camera(host, session), "Ctrl+K")
    a.reconnect = _action(menu, "Reconnect camera", session.feed.reconnect_camera, "Ctrl+Shift+K")
    a.reconnect.setEnabled(False)
    a.recent_menu = menu.addMenu("Open recent")
    a.open_dataset = _action(menu, "Open dataset…", lambda: _open_dataset(host, session), "Ctrl+D")
    a.open_dataset.setToolTip("A COCO file, an Ultralytics data.yaml, or a YOLO / VOC folder: evaluate a model on it")
    a.open_gt = _action(menu, "Open ground truth (COCO JSON)…", lambda: _open_ground_truth(host, session), "Ctrl+G")
    a.open_gt.setToolTip("Boxes to compare with: true / false positives and misses, anchor labels, SSD matching")
    a.clear_gt = _action(menu, "Close ground truth", session.ground_truth.clear)
    a.clear_gt.setEnabled(False)
    menu.addSeparator()
    a.run_again = _action(menu, "Run the model again", session.feed.resubmit, "F5")
    a.save_screenshot = _action(menu, "Save window image…", lambda: _save_screenshot(host, session), "Ctrl+Shift+S")
    a.export_view = _action(menu, "Export view…", targets.export_view, "Ctrl+E")
    a.export_nms = _action(menu, "Export NMS steps…", targets.export_nms)
    menu.addSeparator()
    a.quit = _action(menu, "Quit", host.close, QKeySequence.StandardKey.Quit)


def _view_menu(host: QMainWindow, session: Session, targets: MenuTargets, a: SimpleNamespace) -> None:
    state = session.state
    menu = host.menuBar().addMenu("&View")
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
    nms = nms_view()
    a.step_mode = _action(menu, "Step through NMS", lambda: state.set_view("detections" if state.view == nms
                                                                          else nms), "S")
    a.fit = _action(menu, "Fit frame", targets.fit, "F")
    a.lecture = _action(menu, "Lecture mode", targets.toggle_lecture, "F11")
    a.lecture.setToolTip("Full screen, large text, arrow keys / clicker step the view (Esc leaves)")
    a.lecture_plan = _action(menu, "Lecture plan…", targets.lecture_plan)
    a.lecture_plan.setToolTip("A lecture plan file (TOML): which sections lecture mode walks, in which order, with "
                              "which models")
    a.whole_lecture = _action(menu, "Whole lecture (no plan file)", targets.whole_lecture)
    toolbar = host.addToolBar("Lecture")
    toolbar.setObjectName("lecture_toolbar")
    toolbar.addAction(a.lecture)
    a.show_gt = _action(menu, "Show ground truth", state.set_show_gt, "G", checkable=True)
    a.show_gt.setChecked(state.show_gt)
    a.show_gt.setEnabled(False)
    a.show_suppressed = _action(menu, "Show suppressed boxes (greyed)", state.set_show_suppressed, checkable=True)
    a.messages = _action(menu, "Messages", lambda: show_messages(session, host), "Ctrl+M")
    menu.addSeparator()
    for dock in targets.docks:
        menu.addAction(dock.toggleViewAction())

    def follow(event: StateEvent) -> None:
        if isinstance(event, ViewChanged):
            a.views[event.view].setChecked(True)
        elif isinstance(event, DisplayChanged):
            action = a.show_gt if event.name == "show_gt" else a.show_suppressed
            action.blockSignals(True)
            action.setChecked(getattr(state, event.name))
            action.blockSignals(False)

    state.subscribe(follow)


def show_messages(session: Session, parent: QWidget | None = None) -> QWidget:
    """View → Messages: every sentence the window said, with time and severity."""
    from detviewer.gui.messages import MessagesDialog

    dialog = MessagesDialog(session.messages, parent)
    dialog.show()
    return dialog


def fill_recent(actions: SimpleNamespace, recent: list[str], open_paths: Callable[[list[str]], object]) -> None:
    menu = actions.recent_menu
    menu.clear()
    for path in recent:
        act = menu.addAction(path)
        act.triggered.connect(lambda checked=False, p=path: open_paths([p]))
    menu.setEnabled(bool(recent))


def _open_files(host: QWidget, session: Session) -> None:
    paths, _ = QFileDialog.getOpenFileNames(host, "Open images or a video", "",
                                            f"{IMAGE_FILTER};;{VIDEO_FILTER};;All files (*)")
    if paths:
        session.open_paths(paths)


def _open_folder(host: QWidget, session: Session) -> None:
    folder = QFileDialog.getExistingDirectory(host, "Open a folder of images")
    if folder:
        session.open_paths([folder])


def _open_ground_truth(host: QWidget, session: Session) -> None:
    gt = session.ground_truth
    start = str(gt.path.parent) if gt.path is not None else ""
    path, _ = QFileDialog.getOpenFileName(host, "Open COCO ground truth", start, "COCO JSON (*.json);;All files (*)")
    if path:
        session.open_ground_truth(path)


def _open_dataset(host: QWidget, session: Session) -> None:
    from detviewer.gui.dataset_dialog import ask_dataset

    ask_dataset(host, session.open_dataset)  # a data.yaml, a COCO .json or a folder, in one dialog


def _open_camera(host: QWidget, session: Session) -> None:
    device, ok = QInputDialog.getInt(host, "Open camera", "Camera device index:", 0, 0, 63)
    if ok:
        session.open_camera(device)


def _help():  # imported when asked: the dialogs are not needed to start
    from detviewer.gui import help_dialogs

    return help_dialogs


def _open_sample_photos(session: Session) -> None:
    from detviewer.resources import sample_photos

    photos = sample_photos()
    if photos:
        session.open_paths([str(p) for p in photos], remember=False)
    else:
        session.say("The sample photographs are not installed (assets/photos is missing).")


def _save_screenshot(host: QWidget, session: Session) -> None:
    path, _ = QFileDialog.getSaveFileName(host, "Save window image", "detviewer.png", "PNG (*.png)")
    if path:
        from detviewer.gui.messages import ERROR
        from detviewer.io.atomic import OutputError
        from detviewer.render.qt.export import save_qimage

        try:
            save_qimage(host.grab().toImage(), Path(path))
        except OutputError as exc:
            session.say(str(exc), ERROR)
        else:
            session.say(f"Saved the window image to {path}.")
