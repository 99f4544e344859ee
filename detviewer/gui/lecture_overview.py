"""Lecture mode's section keys and overview: Down / Up (Ctrl+PageDown / Ctrl+PageUp) jump to the next / previous
section of the live deck, O (or Tab) shows the sections over the slide, where a number key or Enter goes to one
and Up / Down move the choice; Esc (lecture mode's) closes it. The keys work only in lecture mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from detviewer.gui.stepping import LECTURE_KEYS
from detviewer.render.model.lecture_plan import LivePart
from detviewer.render.model.registry import VIEWS

__all__ = ["SectionOverview", "Overlay", "Deck", "OVERVIEW_TITLE"]

OVERVIEW_TITLE = "Sections (a number or Enter: go there, Esc: close)"


class Overlay(Protocol):
    """What the overview draws on: lecture mode's LectureOverlay."""

    def show_rows(self, title: str, rows: Sequence[tuple[str, str]], current: int | None = None) -> None: ...

    def hide(self) -> None: ...

    def isVisible(self) -> bool: ...  # noqa: N802 - Qt's name

    def title(self) -> str: ...


class Deck(Protocol):
    """What the overview reads and jumps: gui.lecture_deck.LiveDeck."""

    parts: tuple[LivePart, ...]
    index: int

    def sections(self) -> list[tuple[str, int]]: ...

    def next_section(self) -> bool: ...

    def previous_section(self) -> bool: ...

    def go_to_section(self, number: int) -> bool: ...


class SectionOverview(QObject):
    """deck: the live deck it jumps; host: the keys' scope (the window); is_active: lecture mode is on; overlay: a
    callable returning lecture mode's overlay (None before lecture mode exists)."""

    def __init__(self, deck: Deck, host: QWidget, is_active: Callable[[], bool],
                 overlay: Callable[[], Overlay | None] | None = None) -> None:
        super().__init__(host)
        self.deck, self._is_active, self._overlay = deck, is_active, overlay
        self._choice: int | None = None
        self._keys = self._install_keys(host)

    def _panel(self) -> Overlay | None:
        return self._overlay() if self._overlay is not None else None

    @property
    def open(self) -> bool:
        panel = self._panel()
        return self._choice is not None and panel is not None and panel.isVisible() and panel.title() == OVERVIEW_TITLE

    def rows(self) -> list[tuple[str, str]]:
        """(key, text) per section of the plan: its number key and its title with its views."""
        deck, rows = self.deck, []
        for n, (section, first) in enumerate(deck.sections()):
            views: list[str] = []
            for part in deck.parts[first:]:
                if part.section != section:
                    break
                if VIEWS[part.view].title not in views:
                    views.append(VIEWS[part.view].title)
            rows.append((str(n + 1) if n < 9 else "", f"{section}: {', '.join(views)}"))
        return rows

    def toggle(self) -> None:
        panel = self._panel()
        if panel is None:
            return
        if self.open:
            self.close()
            return
        starts = [i for _, i in self.deck.sections()]
        self._choice = max((n for n, i in enumerate(starts) if i <= self.deck.index), default=0)
        self._show()

    def close(self) -> None:
        panel = self._panel()
        if panel is not None and self.open:
            panel.hide()
        self._choice = None

    def _show(self) -> None:
        panel = self._panel()
        if panel is not None:
            panel.show_rows(OVERVIEW_TITLE, self.rows(), self._choice)

    def _move(self, delta: int) -> None:
        count = len(self.deck.sections())
        self._choice = min(max((self._choice or 0) + delta, 0), max(count - 1, 0))
        self._show()

    def _go(self, number: int | None = None) -> None:
        number = self._choice if number is None else number
        self.close()
        if number is not None:
            self.deck.go_to_section(number)

    # -- keys ---------------------------------------------------------------------------------------------
    def _install_keys(self, host: QWidget) -> list[QShortcut]:
        actions: dict[str, Callable[[], object]] = {
            "next_section": lambda: self._move(1) if self.open else self.deck.next_section(),
            "previous_section": lambda: self._move(-1) if self.open else self.deck.previous_section(),
            "overview": self.toggle,
        }
        shortcuts = [self._shortcut(host, QKeySequence(key), actions[binding.action])
                     for binding in LECTURE_KEYS if binding.action in actions for key in binding.keys]

        def go(number: int | None = None) -> None:
            if self.open:
                self._go(number)

        shortcuts += [self._shortcut(host, QKeySequence(enter), go) for enter in (Qt.Key.Key_Return, Qt.Key.Key_Enter)]
        shortcuts += [self._shortcut(host, QKeySequence(str(n)), partial(go, n - 1)) for n in range(1, 10)]
        return shortcuts

    def _shortcut(self, host: QWidget, keys: QKeySequence, slot: Callable[[], object]) -> QShortcut:
        shortcut = QShortcut(keys, host)
        shortcut.setEnabled(False)  # only in lecture mode: elsewhere arrows and digits are the widgets'
        shortcut.activated.connect(lambda: slot() if self._is_active() else None)
        return shortcut

    def set_active(self, on: bool) -> None:
        for shortcut in self._keys:
            shortcut.setEnabled(on)
        if not on:
            self._choice = None
