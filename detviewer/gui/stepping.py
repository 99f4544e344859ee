"""The keyboard rule and automatic stepping, the same in every view.

One rule, shown in Help → Keyboard shortcuts: Right / Space / PageDown, Left / PageUp, Home, End step
*within the current view* (NMS steps, anchor levels, SSD scales, grid cells…; a presenter clicker sends
PageDown / PageUp, slides advance with Space); P plays the steps (or a video, in a one-step view);
Ctrl+Right / Ctrl+Left or ] / [ move to the next / previous image or video frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from detviewer.io.streams import CameraSource, VideoFileSource
from detviewer.state.viewer_state import ViewerState

if TYPE_CHECKING:
    from detviewer.gui.feed import Feed

__all__ = ["KeyBinding", "STEP_KEYS", "LECTURE_KEYS", "install_step_keys", "AutoPlay"]


@dataclass(frozen=True)
class KeyBinding:
    keys: tuple[str, ...]
    action: str
    description: str


STEP_KEYS: tuple[KeyBinding, ...] = (
    KeyBinding(("Right", "Space", "PgDown"), "step_forward", "Next step of the current view (a clicker's forward key)"),
    KeyBinding(("Left", "PgUp"), "step_back", "Previous step of the current view"),
    KeyBinding(("Home",), "first_step", "First step of the current view"),
    KeyBinding(("End",), "last_step", "Last step of the current view"),
    KeyBinding(("P",), "play", "Play / pause the steps of the current view (in a one-step view: the video)"),
    KeyBinding(("Ctrl+Right", "]"), "next_image", "Next image (or video frame)"),
    KeyBinding(("Ctrl+Left", "["), "previous_image", "Previous image (or video frame)"),
)

#: Lecture mode's keys (gui.lecture_deck). The step keys above walk the whole lecture there: every step of every
#: view of every section, in the lecture plan's order; these jump between sections and show what is on offer.
LECTURE_KEYS: tuple[KeyBinding, ...] = (
    KeyBinding(("Right", "Space", "PgDown"), "lecture_next", "Next step of the lecture (into the next view at its end)"),
    KeyBinding(("Left", "PgUp"), "lecture_previous", "Previous step of the lecture"),
    KeyBinding(("Down", "Ctrl+PgDown"), "next_section", "First step of the next section"),
    KeyBinding(("Up", "Ctrl+PgUp"), "previous_section", "First step of this section, then of the previous one"),
    KeyBinding(("O", "Tab"), "overview", "Overview of the sections (number keys or Enter jump, Esc closes)"),
    KeyBinding(("G",), "ground_truth", "Ground truth on / off"),
    KeyBinding(("F1",), "keys_overlay", "These keys, over the slide"),
    KeyBinding(("Esc",), "leave", "Close the overview or these keys; else leave lecture mode"),
)


def install_step_keys(host: QWidget, handlers: dict[str, Callable[[], None]]) -> list[QShortcut]:
    """Shortcuts for STEP_KEYS in ``host`` and its children (the whole window); ``handlers[action]()`` on the key."""
    shortcuts = []
    for binding in STEP_KEYS:
        for key in binding.keys:
            shortcut = QShortcut(QKeySequence(key), host)
            shortcut.activated.connect(handlers[binding.action])
            shortcuts.append(shortcut)
    return shortcuts


def step_handlers(state: ViewerState, feed: Feed, autoplay: AutoPlay) -> dict[str, Callable[[], None]]:
    """The window's handler of each STEP_KEYS action: the state steps the view, the feed changes image."""
    def play() -> None:  # P: the view's steps; in a one-step view, play / pause a video or camera instead
        if state.step_position()[1] <= 1 and isinstance(feed.source, (VideoFileSource, CameraSource)):
            feed.play(not feed.playing)
        else:
            autoplay.toggle()

    return {"step_forward": lambda: state.step_by(1), "step_back": lambda: state.step_by(-1),
            "first_step": lambda: state.set_step(0), "last_step": lambda: state.set_step(10 ** 9),
            "play": play, "next_image": feed.next, "previous_image": feed.previous}


class AutoPlay(QObject):
    """Steps the current view forward at ``speed`` steps per second until its last step."""

    playing_changed = Signal(bool)

    def __init__(self, state: ViewerState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.speed = 2.0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def toggle(self) -> None:
        self.set_playing(not self.playing)

    def set_playing(self, on: bool) -> None:
        if bool(on) == self.playing:
            return
        if on:
            step, count = self.state.step_position()
            if count <= 1:
                return
            if step >= count - 1:
                self.state.set_step(0)  # from the start again
            self._timer.start(int(1000 / self.speed))
        else:
            self._timer.stop()
        self.playing_changed.emit(self.playing)

    def set_speed(self, steps_per_second: float) -> None:
        self.speed = max(0.1, float(steps_per_second))
        if self.playing:
            self._timer.start(int(1000 / self.speed))

    def _tick(self) -> None:
        step, count = self.state.step_position()
        if step >= count - 1:
            self.set_playing(False)
            return
        self.state.step_by(1)
