"""The live lecture: lecture mode's playlist. Next / Previous walk every step of every view of every section of the
lecture plan (render.model.lecture_plan) on the image, video frame or camera frame shown; Down / Up jump between
sections; O shows an overview of the sections. A part opens at its first step going forward (at its last going
back). A view the loaded model cannot show is drawn by the first of the lecture's models that can
(gui.lecture_models): the deck loads it and waits for its answer on the same frame; a model that fails to load is
passed over. Outside lecture mode the deck does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from detviewer.errors import DetviewerError
from detviewer.gui.lecture_models import LectureModels, same_model
from detviewer.gui.lecture_overview import Overlay, SectionOverview
from detviewer.gui.messages import WARNING
from detviewer.render.model.deck import object_point, resolve_step
from detviewer.render.model.lecture_plan import LecturePlan, LivePart, live_parts, load_plan, part_range
from detviewer.render.model.registry import VIEWS
from detviewer.state.events import InferenceChanged, StateEvent, ViewChanged

if TYPE_CHECKING:
    from detviewer.gui.presenter import Shown, ViewPresenter
    from detviewer.gui.session import Session

__all__ = ["LiveDeck", "DeckPosition", "PLAN_SETTING", "routed_step_handlers", "choose_lecture_plan"]

PLAN_SETTING = "lecture/plan"  # the lecture plan file the window uses ("" or missing: the built-in plan)


@dataclass(frozen=True)
class DeckPosition:
    """Where the lecture is: section (its title), slide title, part index (in ``LiveDeck.parts``), the step shown
    and the part's (first, last) steps; settled: the part's model and step are on screen."""

    section: str
    title: str
    part: int
    step: int
    first: int
    last: int
    settled: bool

    @property
    def heading(self) -> str:
        return f"{self.section} · {self.title}" if self.title else self.section


class LiveDeck(QObject):
    """session: the window's Session; presenter: its ViewPresenter; host: the window (the keys' scope);
    is_active: lecture mode is on; overlay: returns lecture mode's overlay (the section overview draws on it)."""

    position_changed = Signal(object)  # DeckPosition
    heading_changed = Signal(str, str)  # section, title: what lecture mode's title band says

    def __init__(self, session: Session, presenter: ViewPresenter, host: QWidget, is_active: Callable[[], bool],
                 overlay: Callable[[], Overlay | None] | None = None) -> None:
        super().__init__(host)
        self.session, self.state, self.presenter, self._is_active = session, session.state, presenter, is_active
        self.plan = LecturePlan()
        self.parts: tuple[LivePart, ...] = live_parts(self.plan.deck())
        self.models = LectureModels()
        self.index = -1  # the part shown; -1: not started
        self._range: tuple[int, int] | None = None  # the part's (first, last) steps once resolved
        self._slide_steps: list[int] = []  # the resolved step of each of the part's slides
        self._requested = ""  # the model the deck asked for
        self._reset_part("first")
        self._own_change = False  # the deck is changing the view: not a user's jump
        self._waiting = ""  # "model": a model the part needs is loading; "result": its answer on the frame
        self.overview = SectionOverview(self, host, is_active, overlay)
        self.load_plan_setting()
        presenter.shown_changed.connect(self._on_shown)
        self.state.subscribe(self._on_state_event)
        session.model_ready.connect(self._on_model_ready)
        session.result_shown.connect(self._on_result)
        session.model_failed.connect(self._on_model_failed)

    def _reset_part(self, target: str) -> None:
        """The part at ``index`` is to be settled again, opening at ``target`` ("first", "last" or "keep")."""
        self._target, self._range, self._slide_steps, self._settled = target, None, [], False
        self._entered = False  # _enter chose the part's model (else it was adopted from the screen)

    # -- the plan ------------------------------------------------------------------------------------
    def load_plan_setting(self) -> None:
        path = str(self.session.settings.value(PLAN_SETTING, "") or "")
        if path:
            self.set_plan_file(path, remember=False)

    def set_plan_file(self, path: str, remember: bool = True) -> bool:
        """Use the lecture plan file at ``path`` ("" for the built-in plan); a bad file is one sentence and the
        plan in use stays. remember: kept in the settings for the next start, and said in the status bar."""
        try:
            plan = load_plan(path) if path else LecturePlan()
        except DetviewerError as exc:
            self.session.say(str(exc), WARNING)
            return False
        self.set_plan(plan)
        if remember:
            self.session.settings.setValue(PLAN_SETTING, path)
            where = f"the lecture plan {path}" if path else "the whole lecture"
            count = len(plan.sections)
            self.session.say(f"Lecture mode walks {where}: {count} section{'s' * (count != 1)}.",
                             topic="lecture plan")
        return True

    def set_plan(self, plan: LecturePlan) -> None:
        self.plan, self.parts, self.index = plan, live_parts(plan.deck()), -1
        self._reset_part("first")
        self.models.begin(self.session.model.name if self.session.model else None, plan.models)

    # -- where it is ---------------------------------------------------------------------------------
    @property
    def part(self) -> LivePart | None:
        return self.parts[self.index] if 0 <= self.index < len(self.parts) else None

    @property
    def settled(self) -> bool:
        return self._settled

    def position(self) -> DeckPosition | None:
        part = self.part
        if part is None:
            return None
        step = self.state.step_position(part.view)[0] if self.state.view == part.view else 0
        first, last = self._range or (0, 0)
        title = part.slides[0].title
        for slide, at in zip(part.slides, self._slide_steps, strict=False):
            title = slide.title if at <= step else title  # the slide's title follows the step
        return DeckPosition(part.section, title, self.index, step, first, last, self._settled)

    def sections(self) -> list[tuple[str, int]]:
        """(section title, index of its first part) in the plan's order."""
        found: list[tuple[str, int]] = []
        for i, part in enumerate(self.parts):
            if not found or found[-1][0] != part.section:
                found.append((part.section, i))
        return found

    # -- lecture mode begins and ends ---------------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """Lecture mode began (the view on screen is adopted) or ended (the deck forgets where it was)."""
        self.overview.set_active(on)
        self.index, self._waiting = -1, ""
        self._reset_part("first")
        if on:
            self.adopt()

    def adopt(self) -> None:
        """The lecture's models are the loaded one, then the plan's; the view on screen stays, and when the
        lecture has it, Next and Previous go on from its part (its step kept inside the part's range); else the
        first Next starts the lecture."""
        self.models.begin(self.session.model.name if self.session.model else None, self.plan.models)
        view = self.state.view
        same = [i for i, p in enumerate(self.parts) if p.view == view]
        self.index = next((i for i in same if all(self.state.control(k, view) == v
                                                  for k, v in self.parts[i].controls.items())),
                          same[0] if same else -1)
        self._reset_part("keep")
        self._settle()

    # -- walking ---------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Begin the lecture at its first step; when nothing of the plan can be shown here, the title band says so."""
        if self._enter(0, "first", direction=1):
            return True
        self.heading_changed.emit("", "Nothing in this lecture plan can be shown on this image (its views need "
                                      "ground truth or a model that is not available).")
        return False

    def next(self) -> bool:
        """One step on: the part's next step, else the next part's first step. False at the end or while waiting
        for a model or a view's background input."""
        return self._move(1)

    def previous(self) -> bool:
        return self._move(-1)

    def _move(self, direction: int) -> bool:
        if self._is_active() and self.part is None:
            return self.start()
        if self.part is None or self._blocked():
            return False
        if self._settled and self._range is not None and self.state.view == self.part.view:
            step = self.state.step_position()[0]
            first, last = self._range
            if first <= step + direction <= last:
                self.state.set_step(step + direction)
                self._emit_position()
                return True
        elif not self._entered:  # adopted from the screen and not shown: choose its model now
            return self._enter(self.index, "first" if direction > 0 else "last", direction)
        return self._enter(self.index + direction, "first" if direction > 0 else "last", direction)

    def first_step(self) -> None:
        if self._range is not None and self._settled:
            self.state.set_step(self._range[0])
            self._emit_position()

    def last_step(self) -> None:
        if self._range is not None and self._settled:
            self.state.set_step(self._range[1])
            self._emit_position()

    def next_section(self) -> bool:
        later = [i for _, i in self.sections() if i > self.index]
        return bool(later) and not self._blocked() and self._enter(later[0], "first", 1)

    def previous_section(self) -> bool:
        """The first step of this section; there already: of the previous one."""
        if self._blocked():
            return False
        starts = [i for _, i in self.sections()]
        mine = max((i for i in starts if i <= self.index), default=0)
        position = self.position()
        at_start = position is not None and self.index == mine and position.step <= position.first
        return self._enter(max((i for i in starts if i < mine), default=mine) if at_start else mine, "first", 1)

    def go_to_section(self, number: int) -> bool:
        """The first step of section ``number`` (0-based, in the plan's order)."""
        starts = self.sections()
        return 0 <= number < len(starts) and not self._blocked() and self._enter(starts[number][1], "first", 1)

    def _blocked(self) -> bool:
        """Waiting for something that will come: a model, a frame's answer, a view's background input."""
        return bool(self._waiting) or self.state.inference is None or self.presenter.busy

    # -- entering a part ---------------------------------------------------------------------------------
    def _enter(self, index: int, target: str, direction: int) -> bool:
        """Show part ``index`` (or the nearest one in ``direction`` that can be shown) at its first / last step."""
        loaded = self.session.model.name if self.session.model else None
        while 0 <= index < len(self.parts):
            part = self.parts[index]
            model = None if part.needs_gt and not self.state.has_ground_truth else \
                self.models.choose(part, loaded, self.presenter.model)
            if model is not None:
                break
            index += direction
        else:
            return False
        self.index, self._waiting = index, ""
        self._reset_part(target)
        self._entered = True
        if model and not (loaded and same_model(model, loaded)):
            from detviewer.gui.worker import ModelRequest

            self._waiting, self._requested = "model", model
            device = self.session.model.device if self.session.model is not None else "auto"
            self.session.request_model(ModelRequest(model, "default", "cuda" if device.startswith("cuda") else device))
        self._own_change = True
        try:
            self.state.set_view(part.view)
            for name, value in part.controls.items():
                self.state.set_control(name, value, part.view)
            if part.point == "object":
                inference, truth = self.state.inference, self.state.ground_truth
                point = object_point(truth.as_pair if truth is not None else None,
                                     inference.detections.xyxy if inference is not None else ())
                self.state.set_point(point, part.view)
        finally:
            self._own_change = False
        self._settle()
        self._emit_position()
        return True

    # -- settling: the part's step once its frame can be built ---------------------------------------------
    def _settle(self) -> None:
        part = self.part
        if part is None or self._settled or self._waiting or self.state.view != part.view:
            return
        shown = self.presenter.shown
        if shown.view != part.view or shown.frame is None:
            return
        count = shown.frame.step_count
        labels: list[str] | None = None

        def label_of(i: int) -> str:
            nonlocal labels
            if labels is None:
                labels = self.presenter.step_labels(part.view) or []
            return labels[i] if i < len(labels) else ""

        found = part_range(part, count, label_of)
        if found is None:
            return
        self._range = found
        self._slide_steps = []
        for slide in part.slides:
            try:
                self._slide_steps.append(resolve_step(slide.step, count, label_of))
            except ValueError:
                self._slide_steps.append(count)
        self._settled = True
        if self._target == "keep":  # the step on screen, inside the part
            step = min(max(self.state.step_position(part.view)[0], found[0]), found[1])
        else:
            step = found[0] if self._target == "first" else found[1]
        self.state.set_step(step)
        self._emit_position()

    def _on_shown(self, shown: Shown) -> None:
        if not self._is_active():
            return
        if self.part is not None and not self._settled and not self._own_change:
            self._settle()
        if self.part is None or shown.view != self.part.view:  # a view outside the lecture: its own title
            self.heading_changed.emit("", VIEWS[shown.view].title)
        elif self._settled:
            self._emit_position()  # the slide's title follows the step

    def _on_model_ready(self, _loaded: object) -> None:
        if self._waiting == "model":
            self._waiting = "result"  # the worker answers the frame on screen again

    def _on_result(self, _result: object) -> None:
        if self._waiting == "result":  # the new model's answer (or its error) is on screen
            self._waiting = ""
            self._settle()

    def _on_model_failed(self, _message: str) -> None:
        """The model a part needed did not load (the sentence is in the message log): another one draws the part,
        or the lecture goes on past it."""
        if self._waiting != "model" or self.part is None:
            return
        self._waiting = ""
        self.models.forget(self._requested)
        self._enter(self.index, self._target if self._target != "keep" else "first", 1)

    def _on_state_event(self, event: StateEvent) -> None:
        if not self._is_active() or self.part is None:
            return
        if isinstance(event, InferenceChanged) and self._settled and not self._waiting:
            # another image or frame (Ctrl+Right): the part's steps are counted again, the step kept where it can be
            self._reset_part("keep")
            self._entered = True
            self._settle()
        elif isinstance(event, ViewChanged) and not self._own_change and event.view != self.part.view:
            # the user chose another view: the lecture goes on from that view's part
            index = next((i for i, p in enumerate(self.parts) if p.view == event.view), None)
            self.index = self.index if index is None else index
            self._reset_part("keep")
            self._settle()
            self._emit_position()

    def _emit_position(self) -> None:
        position = self.position()
        if position is not None:
            self.position_changed.emit(position)
            self.heading_changed.emit(position.section, position.title)


def routed_step_handlers(handlers: dict[str, Callable[[], None]], is_active: Callable[[], bool],
                         deck: LiveDeck) -> dict[str, Callable[[], None]]:
    """The window's step-key handlers (gui.stepping.step_handlers), walking the lecture while lecture mode is on."""
    lecture = {"step_forward": deck.next, "step_back": deck.previous, "first_step": deck.first_step,
               "last_step": deck.last_step}
    routed = dict(handlers)
    for action, walk in lecture.items():
        routed[action] = (lambda walk=walk, plain=handlers[action]: walk() if is_active() else plain())  # type: ignore[misc]
    return routed


def choose_lecture_plan(parent: QWidget, deck: LiveDeck) -> None:
    """View → Lecture plan…: pick a plan file (TOML) for lecture mode; a bad one is one sentence."""
    from PySide6.QtWidgets import QFileDialog

    path, _ = QFileDialog.getOpenFileName(parent, "Lecture plan", deck.plan.source,
                                          "Lecture plan (*.toml);;All files (*)")
    if path:
        deck.set_plan_file(path)
