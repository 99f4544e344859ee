"""The Evaluation workspace in its own window: its dock floats, as large as the screen allows, and goes back
into the main window on a second click (or a double click on its title, as any dock)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDockWidget, QPushButton, QWidget

__all__ = ["OWN_WINDOW", "BACK_IN_WINDOW", "own_window_button"]

OWN_WINDOW = "Open in its own window"
BACK_IN_WINDOW = "Put back in the main window"


def _dock_of(widget: QWidget) -> QDockWidget | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def _toggle(widget: QWidget) -> None:
    dock = _dock_of(widget)
    if dock is None:
        return
    if dock.isFloating():
        dock.setFloating(False)
        return
    dock.setFloating(True)
    screen = (dock.screen() or widget.screen()).availableGeometry()
    margin_x, margin_y = screen.width() // 20, screen.height() // 20
    dock.setGeometry(screen.adjusted(margin_x, margin_y, -margin_x, -margin_y))
    dock.show()
    dock.raise_()
    dock.activateWindow()


def own_window_button(workspace: QWidget) -> QPushButton:
    """A button that floats the dock holding ``workspace`` as a large window of its own, and docks it back."""
    button = QPushButton(OWN_WINDOW)
    button.setToolTip("The charts and tables get the whole screen; click again (or double-click the title) to dock")
    button.clicked.connect(lambda: _toggle(workspace))

    def follow(floating: bool) -> None:
        button.setText(BACK_IN_WINDOW if floating else OWN_WINDOW)

    def attach() -> None:
        dock = _dock_of(workspace)
        if dock is not None and not button.property("attached"):
            button.setProperty("attached", True)
            dock.topLevelChanged.connect(follow)

    QTimer.singleShot(0, button, attach)  # the dock is made around the workspace once it is built
    button.pressed.connect(attach)
    return button
