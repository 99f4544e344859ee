"""NMS panel: step controls for the "NMS step by step" view, its narration and the candidate table.

The table is a QTableView over ``CandidateTableModel``, which reads the state's NMS replay on demand,
so 10k candidates cost nothing until their rows are on screen. Everything it shows comes from the
ViewerState and the presenter's ``Shown`` (the same step text as the View dock and lecture mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from detviewer.core.types import FILTERED, KEPT, NMS_STATE_NAMES, PENDING, SUPPRESSED
from detviewer.gui.panels.views_panel import wrapping_label
from detviewer.render.model.registry import nms_view
from detviewer.state.events import (
    FrameChanged,
    InferenceChanged,
    SelectionChanged,
    StateEvent,
    StepChanged,
    ThresholdsChanged,
    ViewChanged,
)

if TYPE_CHECKING:
    from detviewer.gui.presenter import Shown, ViewPresenter
    from detviewer.gui.stepping import AutoPlay
    from detviewer.state.viewer_state import ViewerState

__all__ = ["NMSPanel", "CandidateTableModel", "NMS_VIEW"]

NMS_VIEW = nms_view()
_COLUMNS = ("#", "class", "score", "state")
_STATE_BRUSHES = {KEPT: QBrush(QColor(60, 170, 80, 70)), SUPPRESSED: QBrush(QColor(220, 60, 60, 55)),
                  FILTERED: QBrush(QColor(128, 128, 128, 40))}
_CURRENT_BRUSH = QBrush(QColor(255, 220, 0, 120))
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.UserRole})


class CandidateTableModel(QAbstractTableModel):
    """Rows = candidates by falling score; columns: index, class, score, state at the NMS step shown."""

    def __init__(self, state: ViewerState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.rows = np.zeros(0, np.int64)
        self.states = np.zeros(0, np.int8)
        self.step = 0
        self.current = -1  # the candidate kept at the step shown (highlighted), -1 for none
        self._row_of = np.zeros(0, np.int64)

    def nms_step(self) -> int:
        """The step the table shows: the NMS view's, or the final result in any other view."""
        replay = self.state.replay
        if self.state.view != NMS_VIEW:
            return replay.step_count
        step = self.state.choices(NMS_VIEW).step
        return replay.clamp(0 if step is None else step)

    def reset(self) -> None:
        """New candidates or thresholds: recompute the row order and the states."""
        self.beginResetModel()
        replay = self.state.replay
        self.rows = replay.sorted_candidates()
        self._row_of = np.empty(len(self.rows), np.int64)
        self._row_of[self.rows] = np.arange(len(self.rows))
        self.step = self.nms_step()
        self.states = replay.states(self.step)
        self.current = self._current_at(self.step)
        self.endResetModel()

    def _current_at(self, step: int) -> int:
        current = self.state.replay.step(step) if self.state.view == NMS_VIEW else None
        return -1 if current is None else int(current.kept)

    def refresh_states(self) -> None:
        """Only the step moved: repaint the rows whose state changed."""
        step = self.nms_step()
        states = self.state.replay.states(step)
        if len(states) != len(self.states):
            self.reset()
            return
        current = self._current_at(step)
        changed = set(np.flatnonzero(states != self.states).tolist()) | {self.current, current}
        rows = [self.row_of(i) for i in changed if i >= 0]
        self.states, self.step, self.current = states, step, current
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(_COLUMNS) - 1))

    def row_of(self, candidate: int) -> int:
        return int(self._row_of[candidate]) if 0 <= candidate < len(self._row_of) else -1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return _COLUMNS[section]
        return None

    def state_text(self, candidate: int) -> str:
        state = int(self.states[candidate]) if len(self.states) else PENDING
        if state == SUPPRESSED:
            step, iou = self.state.replay.suppressed_by(candidate)
            kept = int(self.state.replay.kept[step - 1])
            return f"suppressed by #{kept + 1} (IoU {iou:.2f})"
        return NMS_STATE_NAMES[state]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role not in _ROLES or not index.isValid():  # the view asks for ~10 roles per cell on every paint
            return None
        i = int(self.rows[index.row()])
        col = index.column()
        replay = self.state.replay
        if i >= len(replay):  # the view asks before the model reset reached it
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            cand = replay.candidates
            if col == 0:
                return str(i + 1)  # candidates are numbered from 1 on screen
            if col == 1:
                return cand.name_of(cand.labels[i])
            if col == 2:
                return f"{float(replay.scores[i]):.3f}"
            return self.state_text(i)
        if role == Qt.ItemDataRole.BackgroundRole:
            if i == self.current:
                return _CURRENT_BRUSH
            return _STATE_BRUSHES.get(int(self.states[i])) if len(self.states) else None
        if role == Qt.ItemDataRole.UserRole:
            return i
        return None


class NMSPanel(QWidget):
    """state: the ViewerState; presenter: its ViewPresenter; autoplay: the window's gui.stepping.AutoPlay."""

    def __init__(self, state: ViewerState, presenter: ViewPresenter, autoplay: AutoPlay,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.presenter, self.autoplay = state, presenter, autoplay
        self.mode_button = QPushButton("Step through NMS")
        self.mode_button.setCheckable(True)
        self.mode_button.setToolTip("Show the 'NMS step by step' view (S)")
        icon = self.style().standardIcon
        self._play_icon = icon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = icon(QStyle.StandardPixmap.SP_MediaPause)
        self.start_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSkipBackward), "First step (Home)")
        self.back_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSeekBackward), "Step back (Left / PageUp)")
        self.play_button = self._tool(self._play_icon, "Play / pause the steps (P)")
        self.forward_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSeekForward),
                                         "Step forward (Right / PageDown)")
        self.end_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSkipForward), "Last step (End)")
        self.speed_box = QDoubleSpinBox()
        self.speed_box.setRange(0.25, 30.0)
        self.speed_box.setValue(autoplay.speed)
        self.speed_box.setSuffix(" steps/s")
        self.step_label = wrapping_label()
        self.step_label.setStyleSheet("font-weight: bold;")
        self.narration = wrapping_label(selectable=True)
        self.narration.setMinimumHeight(36)
        self.table_model = CandidateTableModel(state, self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # ResizeToContents reads every row
        for column, width in enumerate((44, 74, 48)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.table.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        controls = QHBoxLayout()
        for w in (self.start_button, self.back_button, self.play_button, self.forward_button, self.end_button):
            controls.addWidget(w)
        controls.addWidget(self.speed_box)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mode_button)
        layout.addLayout(controls)
        layout.addWidget(self.step_label)
        layout.addWidget(self.narration)
        layout.addWidget(self.table, 1)

        self.mode_button.toggled.connect(self._on_mode_toggled)
        self.start_button.clicked.connect(lambda: self._in_nms(lambda: state.set_step(0)))
        self.back_button.clicked.connect(lambda: self._in_nms(lambda: state.step_by(-1)))
        self.forward_button.clicked.connect(lambda: self._in_nms(lambda: state.step_by(1)))
        self.end_button.clicked.connect(lambda: self._in_nms(lambda: state.set_step(10 ** 9)))
        self.play_button.clicked.connect(lambda: self._in_nms(autoplay.toggle))
        autoplay.playing_changed.connect(self._on_playing_changed)
        self.speed_box.valueChanged.connect(autoplay.set_speed)
        self.table.clicked.connect(lambda index: state.select(self.table_model.data(index, Qt.ItemDataRole.UserRole)))
        state.subscribe(self._on_state_event)
        presenter.shown_changed.connect(self._on_shown)

    @staticmethod
    def _tool(icon: QIcon, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setToolTip(tip)
        return button

    # -- user actions --------------------------------------------------------------------------
    def _in_nms(self, action: Callable[[], object]) -> None:
        self.state.set_view(NMS_VIEW)
        action()

    def _on_mode_toggled(self, on: bool) -> None:
        if on != (self.state.view == NMS_VIEW):
            self.state.set_view(NMS_VIEW if on else "detections")

    def _on_playing_changed(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)

    # -- following the state ---------------------------------------------------------------------
    def _on_state_event(self, event: StateEvent) -> None:
        if isinstance(event, (FrameChanged, InferenceChanged, ThresholdsChanged)):
            self.table_model.reset()
        elif isinstance(event, (StepChanged, ViewChanged)):
            self.table_model.refresh_states()
        if isinstance(event, ViewChanged):
            self.mode_button.blockSignals(True)
            self.mode_button.setChecked(event.view == NMS_VIEW)
            self.mode_button.blockSignals(False)
        if isinstance(event, SelectionChanged) and event.index is not None:
            self._scroll_to(event.index, select=True)

    def _on_shown(self, shown: Shown) -> None:
        replay = self.state.replay
        if shown.view == NMS_VIEW:
            self.step_label.setText(shown.position_text)
            self.narration.setText(shown.caption)
            current = replay.step(shown.frame.step) if shown.frame is not None else None
            if current is not None:
                self._scroll_to(int(current.kept))
        else:
            self.step_label.setText(f"Final result ({replay.step_count} NMS steps)")
            self.narration.setText(replay.narration(replay.step_count, stepping=False))

    def _scroll_to(self, candidate: int, select: bool = False) -> None:
        row = self.table_model.row_of(candidate)
        if row < 0:
            return
        if select:
            self.table.selectRow(row)
        # After a model reset the view lays rows out lazily; scroll once that has happened.
        QTimer.singleShot(0, lambda: self.table.scrollTo(self.table_model.index(row, 0),
                                                         QAbstractItemView.ScrollHint.PositionAtCenter))
