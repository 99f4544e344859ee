"""The "View" dock, generated from the view registry: which view, its controls, where its steps stand,
its caption and its table. It reads the ViewerState and the presenter's ``Shown`` and changes only the state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from detviewer.render.model.registry import VIEWS
from detviewer.render.model.spec import Control, ViewSpec
from detviewer.state.events import ControlChanged, StateEvent, ViewChanged

if TYPE_CHECKING:
    from detviewer.gui.presenter import Shown, ViewPresenter
    from detviewer.state.viewer_state import ViewerState

__all__ = ["ViewsPanel", "wrapping_label"]

STEP_HINT = "← → step this view · Ctrl+← → (or [ ]) image"


def wrapping_label(text: str = "", selectable: bool = False) -> QLabel:
    """A label that wraps and never widens its dock (its width follows the dock, not the text)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(1)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ViewsPanel(QWidget):
    """state: the ViewerState; presenter: gui.presenter.ViewPresenter."""

    def __init__(self, state: ViewerState, presenter: ViewPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.presenter = state, presenter
        self.combo = QComboBox()
        for name, spec in VIEWS.items():
            self.combo.addItem(spec.title, name)
        self.pages = QStackedWidget()
        self._editors: dict[tuple[str, str], QWidget] = {}
        for spec in VIEWS.values():
            self.pages.addWidget(self._controls_page(spec))
        self.pages.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.back = QPushButton("◀")
        self.forward = QPushButton("▶")
        for button, tip in ((self.back, "Previous step (Left / PageUp)"), (self.forward, "Next step (Right / PageDown)")):
            button.setToolTip(tip)
            button.setFixedWidth(40)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.position = wrapping_label()
        self.position.setStyleSheet("font-weight: bold;")
        self.hint = QLabel(STEP_HINT)
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        self.caption = wrapping_label(selectable=True)
        self.table = QTableWidget(0, 2)
        self.table.horizontalHeader().hide()
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.setMinimumHeight(160)

        top = QFormLayout()
        top.addRow("View", self.combo)
        steps = QHBoxLayout()
        steps.addWidget(self.back)
        steps.addWidget(self.slider, 1)
        steps.addWidget(self.forward)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages)
        layout.addLayout(steps)
        layout.addWidget(self.position)
        layout.addWidget(self.hint)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)

        self.combo.currentIndexChanged.connect(lambda _i: state.set_view(self.combo.currentData()))
        self.back.clicked.connect(lambda: state.step_by(-1))
        self.forward.clicked.connect(lambda: state.step_by(1))
        self.slider.valueChanged.connect(self._on_slider)
        state.subscribe(self._on_state_event)
        presenter.shown_changed.connect(self.display)
        self._sync_view()

    # -- generated controls -------------------------------------------------------------------
    def _controls_page(self, spec: ViewSpec) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        for control in spec.controls:
            editor = self._editor(spec.name, control)
            editor.setToolTip(control.tooltip)
            self._editors[(spec.name, control.name)] = editor
            if control.kind == "bool":
                form.addRow(editor)
            else:
                form.addRow(control.label, editor)
        return page

    def _editor(self, view: str, control: Control) -> QWidget:
        def change(value: object) -> None:
            self.state.set_control(control.name, value, view)

        if control.kind == "choice":
            editor = QComboBox()
            editor.addItems(list(control.choices))
            editor.setCurrentText(str(control.default))
            editor.currentTextChanged.connect(change)
        elif control.kind == "bool":
            editor = QCheckBox(control.label)
            editor.setChecked(bool(control.default))
            editor.toggled.connect(change)
        else:
            editor = QSpinBox()
            editor.setRange(control.minimum, control.maximum)
            editor.setValue(int(control.default))
            editor.setKeyboardTracking(False)
            editor.valueChanged.connect(change)
        return editor

    # -- following the state ---------------------------------------------------------------------
    def set_enabled_views(self, reasons: dict[str, str]) -> None:
        """Grey out the views the model cannot show; ``reasons[name]`` is the sentence why (tooltip)."""
        model = self.combo.model()
        for i in range(self.combo.count()):
            why = reasons.get(self.combo.itemData(i), "")
            model.item(i).setEnabled(not why)
            model.item(i).setToolTip(why)

    def is_enabled(self, name: str) -> bool:
        index = self.combo.findData(name)
        return index >= 0 and self.combo.model().item(index).isEnabled()

    def _on_state_event(self, event: StateEvent) -> None:
        if isinstance(event, ViewChanged):
            self._sync_view()
        elif isinstance(event, ControlChanged):
            self._sync_control(event.view, event.name)

    def _sync_view(self) -> None:
        index = self.combo.findData(self.state.view)
        if index != self.combo.currentIndex():
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(index)
            self.combo.blockSignals(False)
        self.pages.setCurrentIndex(index)
        self.pages.setVisible(bool(VIEWS[self.state.view].controls))

    def editor(self, view: str, name: str) -> QWidget | None:
        """The widget generated for control ``name`` of ``view`` (None when the view has no such control)."""
        return self._editors.get((view, name))

    def _sync_control(self, view: str, name: str) -> None:
        editor = self._editors.get((view, name))
        if editor is None:
            return
        value = self.state.control(name, view)
        editor.blockSignals(True)
        if isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        else:
            editor.setValue(int(value))
        editor.blockSignals(False)

    def display(self, shown: Shown) -> None:
        """Show the presenter's ``Shown``: the step position, the caption and the table."""
        frame = shown.frame
        step, count = (frame.step, frame.step_count) if frame is not None else (0, 1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setValue(step)
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.back.setEnabled(step > 0)
        self.forward.setEnabled(step < count - 1)
        self.position.setText(shown.position_text)
        self.caption.setText(shown.caption)
        rows = frame.table if frame is not None else []
        self.table.setRowCount(len(rows))
        for row, (key, value) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(str(key)))
            self.table.setItem(row, 1, QTableWidgetItem(str(value)))
        self.table.resizeRowsToContents()

    def _on_slider(self, value: int) -> None:
        self.state.set_step(int(value))
