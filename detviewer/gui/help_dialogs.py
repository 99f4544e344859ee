"""Help → Keyboard shortcuts (every key, and what steps and clicks do in each view) and Help → About."""

from __future__ import annotations

import platform
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from detviewer.gui.stepping import LECTURE_KEYS, STEP_KEYS
from detviewer.gui.worker import LoadedModel
from detviewer.render.model.registry import VIEWS

__all__ = ["shortcut_rows", "about_text", "show_shortcuts", "show_about"]

_CLICK_WORDS = {"point": "click a point", "detection": "click a detection", "proposal": "click a proposal",
                "candidate": "click a box to select it"}


def _menu_rows(menu: QMenu, path: str) -> list[tuple[str, str, str]]:
    rows = []
    for action in menu.actions():
        if action.menu() is not None:
            rows += _menu_rows(action.menu(), f"{path} → {action.menu().title().replace('&', '')}")
        elif not action.shortcut().isEmpty():
            rows.append(("Menus", action.shortcut().toString(), f"{path} → {action.text()}"))
    return rows


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(group, keys, what they do): the stepping rule, lecture mode's keys, every shortcut of ``menu_bar``, then
    each view's steps and clicks."""
    rows = [("Steps and images", " / ".join(b.keys), b.description) for b in STEP_KEYS]
    rows += [("Lecture mode", " / ".join(b.keys), b.description) for b in LECTURE_KEYS]
    for action in menu_bar.actions():
        if action.menu() is not None:
            rows += _menu_rows(action.menu(), action.text().replace("&", ""))
    for spec in VIEWS.values():
        click = _CLICK_WORDS.get(spec.click, "")
        text = spec.help + (f" ({click})" if click and click not in spec.help.lower() else "")
        rows.append(("Views", spec.title, text))
    return rows


def about_text(loaded: LoadedModel | None) -> str:
    """Versions of detviewer, Python, Qt and (when loaded) torch, torchvision and onnxruntime, and the device."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    from detviewer import __version__

    lines = [f"detviewer {__version__}", f"Python {platform.python_version()} on {platform.system()}",
             f"PySide6 {pyside_version}, Qt {qVersion()}"]
    for name in ("torch", "torchvision", "onnxruntime"):
        module = sys.modules.get(name)
        if module is not None:
            lines.append(f"{name} {getattr(module, '__version__', '?')}")
    lines.append(f"Model: {loaded.name} on {loaded.device}" if loaded is not None else "Model: none loaded yet")
    torch = sys.modules.get("torch")
    if torch is not None:
        lines.append("CUDA: " + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"))
    return "\n".join(lines)


def show_shortcuts(parent: QWidget, menu_bar: QMenuBar) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle("Keyboard shortcuts")
    dialog.resize(820, 560)
    rows = shortcut_rows(menu_bar)
    table = QTableWidget(len(rows), 3)
    table.setHorizontalHeaderLabels(["", "Keys / view", "What it does"])
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setWordWrap(True)
    for row, values in enumerate(rows):
        for col, text in enumerate(values):
            table.setItem(row, col, QTableWidgetItem(text))
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    table.resizeRowsToContents()
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    layout.addWidget(QLabel("The arrow keys step the current view; Ctrl + arrows (or [ ]) change the image."))
    layout.addWidget(table)
    layout.addWidget(buttons)
    dialog.show()
    return dialog


def show_about(parent: QWidget, loaded: LoadedModel | None) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle("About detviewer")
    label = QLabel("See what an object detector does.\n\n" + about_text(loaded))
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    layout.addWidget(label)
    layout.addWidget(buttons)
    dialog.show()
    return dialog
