"""NMS stepper panel: step / play controls, one-line narration and the candidate table.

The table is a QTableView over ``CandidateTableModel``, which reads the session's arrays on
demand, so 10k candidates cost nothing until their rows are on screen.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QStyle, QTableView,
    QToolButton, QVBoxLayout, QWidget,
)

from detviewer.state.session import FILTERED, KEPT, PENDING, SUPPRESSED, Session

__all__ = ["NMSPanel", "CandidateTableModel"]

_COLUMNS = ("#", "class", "score", "state")
_STATE_COLOURS = {KEPT: QColor(60, 170, 80, 70), SUPPRESSED: QColor(220, 60, 60, 55), FILTERED: QColor(128, 128, 128, 40)}
_CURRENT = QColor(255, 220, 0, 120)


class CandidateTableModel(QAbstractTableModel):
    """Rows = candidates by descending score; columns: index, class, score, state at this step."""

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows = np.zeros(0, np.int64)
        self.states = np.zeros(0, np.int8)
        self._row_of = np.zeros(0, np.int64)

    def reset(self) -> None:
        """Candidates or thresholds changed: recompute the row order and the states."""
        self.beginResetModel()
        self.rows = self.session.sorted_candidates()
        self._row_of = np.empty(len(self.rows), np.int64)
        self._row_of[self.rows] = np.arange(len(self.rows))
        self.states = self.session.states()
        self.endResetModel()

    def refresh_states(self) -> None:
        """Only the stepper moved: repaint the state column."""
        self.states = self.session.states()
        if len(self.rows):
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(_COLUMNS) - 1))

    def row_of(self, candidate: int) -> int:
        return int(self._row_of[candidate]) if 0 <= candidate < len(self._row_of) else -1

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return _COLUMNS[section]
        return None

    def state_text(self, candidate: int) -> str:
        state = int(self.states[candidate]) if len(self.states) else PENDING
        if state == KEPT:
            return "kept"
        if state == SUPPRESSED:
            step, iou = self.session.suppressed_by(candidate)
            kept = self.session.trace.steps[step - 1].kept
            return f"suppressed by #{kept} (IoU {iou:.2f})"  # "#k": the kept box's candidate number
        if state == FILTERED:
            return "below score"
        return "pending"

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        i = int(self.rows[index.row()])
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            cand = self.session.candidates
            if col == 0:
                return str(i)
            if col == 1:
                return cand.name_of(cand.labels[i])
            if col == 2:
                trace = self.session.trace
                score = float(trace.scores[i]) if trace is not None else float(cand.scores[i])
                return f"{score:.3f}"
            return self.state_text(i)
        if role == Qt.ItemDataRole.BackgroundRole:
            step = self.session.current_step()
            if step is not None and self.session.step_mode and step.kept == i:
                return QBrush(_CURRENT)
            colour = _STATE_COLOURS.get(int(self.states[i])) if len(self.states) else None
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.UserRole:
            return i
        return None


class NMSPanel(QWidget):
    """Drives ``session``'s stepper; ``step_mode_changed(bool)`` tells the window who owns the arrow keys."""

    step_mode_changed = Signal(bool)

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.step_mode = False
        self.mode_button = QPushButton("Step through NMS")
        self.mode_button.setCheckable(True)
        self.mode_button.setToolTip("Arrow keys / Space / PageUp / PageDown step while this is on")
        icon = self.style().standardIcon
        self._play_icon = icon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = icon(QStyle.StandardPixmap.SP_MediaPause)
        self.start_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSkipBackward), "Jump to the start (Home)")
        self.back_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSeekBackward), "Step back (Left / PageUp)")
        self.play_button = self._tool(self._play_icon, "Play / pause the steps (Space)")
        self.play_button.setCheckable(True)
        self.forward_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSeekForward),
                                         "Step forward (Right / PageDown)")
        self.end_button = self._tool(icon(QStyle.StandardPixmap.SP_MediaSkipForward), "Jump to the end (End)")
        self.speed_box = QDoubleSpinBox()
        self.speed_box.setRange(0.25, 30.0)
        self.speed_box.setValue(2.0)
        self.speed_box.setSuffix(" steps/s")
        self.step_label = QLabel("Step 0 / 0")
        self.narration = QLabel("No result yet.")
        self.narration.setWordWrap(True)
        self.narration.setMinimumHeight(36)
        self.table_model = CandidateTableModel(session, self)
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
        controls.addWidget(self.step_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mode_button)
        layout.addLayout(controls)
        layout.addWidget(self.narration)
        layout.addWidget(self.table, 1)

        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_play_tick)
        self.mode_button.toggled.connect(self.set_step_mode)
        self.start_button.clicked.connect(lambda: self._stepper(session.to_start))
        self.back_button.clicked.connect(lambda: self._stepper(session.step_back))
        self.forward_button.clicked.connect(lambda: self._stepper(session.step_forward))
        self.end_button.clicked.connect(lambda: self._stepper(session.to_end))
        self.play_button.toggled.connect(self._on_play_toggled)
        self.speed_box.valueChanged.connect(self._on_speed_changed)
        self.table.clicked.connect(self._on_row_clicked)

    @staticmethod
    def _tool(icon, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setToolTip(tip)
        return button

    # -- mode and stepping ---------------------------------------------------------------------
    def set_step_mode(self, on: bool) -> None:
        """Enter (from step 0) or leave (back to the final result) the step-by-step view."""
        on = bool(on)
        if self.mode_button.isChecked() != on:
            self.mode_button.setChecked(on)  # re-enters through toggled
            return
        if on == self.step_mode:
            return
        self.step_mode = on
        if not on:
            self.play_button.setChecked(False)
        self.session.set_step_mode(on)
        self.step_mode_changed.emit(on)

    def _stepper(self, action) -> None:
        if not self.step_mode:
            self.set_step_mode(True)
        action()

    def toggle_play(self) -> None:
        self.play_button.setChecked(not self.play_button.isChecked())

    def _on_play_toggled(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)
        if playing:
            if not self.step_mode:
                self.set_step_mode(True)
            if self.session.step >= self.session.step_count:
                self.session.to_start()
            self._timer.start(int(1000 / self.speed_box.value()))
        else:
            self._timer.stop()

    def _on_speed_changed(self, value: float) -> None:
        if self._timer.isActive():
            self._timer.start(int(1000 / value))

    def _on_play_tick(self) -> None:
        if self.session.step >= self.session.step_count:
            self.play_button.setChecked(False)
            return
        self.session.step_forward()

    # -- views -----------------------------------------------------------------------------------
    def refresh(self, kind: str) -> None:
        """Session changed (``kind`` from core.session): update table, labels and narration."""
        if kind in ("inference", "trace"):
            self.table_model.reset()
        elif kind == "step":
            self.table_model.refresh_states()
        self.step_label.setText(f"Step {self.session.step} / {self.session.step_count}")
        self.narration.setText(self.session.narration())
        if kind == "step":
            step = self.session.current_step()
            if step is not None:
                self._scroll_to(step.kept)
        if kind == "selection" and self.session.selected is not None:
            self._scroll_to(self.session.selected, select=True)

    def _scroll_to(self, candidate: int, select: bool = False) -> None:
        row = self.table_model.row_of(candidate)
        if row < 0:
            return
        if select:
            self.table.selectRow(row)
        # After a model reset the view lays rows out lazily; scroll once that has happened.
        QTimer.singleShot(0, lambda: self.table.scrollTo(self.table_model.index(row, 0),
                                                         QAbstractItemView.ScrollHint.PositionAtCenter))

    def _on_row_clicked(self, index: QModelIndex) -> None:
        self.session.select(self.table_model.data(index, Qt.ItemDataRole.UserRole))
