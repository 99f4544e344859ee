"""Python's cyclic garbage collector runs on the GUI thread only, and never scans the startup objects.

A collection runs on whichever thread happens to allocate; when the worker (building a model, decoding a
frame) collects a cycle that holds a Qt wrapper, the QObject is destroyed on the worker while the GUI
thread destroys another: the two wait for each other (Qt's mutex, the GIL) and the app hangs. Measured
here: a test run froze with the worker in ``gc_collect_main -> QObject::~QObject -> GilState::acquire``
and the GUI thread in ``~QMenu -> QBasicMutex::lockInternal``. So automatic collection is switched off
and a GUI-thread timer collects, generation by generation as Python would (pyqtgraph's GarbageCollector
does the same).

A full collection scans every tracked object: with torch, torchvision and a model loaded that is ~360k
objects and 130 ms, far over a frame. Once the first model is loaded, ``freeze_startup`` moves everything
alive into the permanent generation (``gc.freeze``), and full collections scan only what came later.

During startup (the first STARTUP_S seconds, until the first model is in) the imports on the worker make
~350k objects a second, nearly all for good: collecting them cost the GUI thread 89 + 38 ms (young
generation) and 207 ms (the full collection before the freeze), and the first result came 12 % after the
import floor (bench/bench_first_result.py). So then a young generation over STARTUP_BURST objects is frozen
instead of scanned, and the first freeze collects nothing first. The price: the garbage cycles made by the
imports stay (~9k objects, ~7 MB, measured with demo-frcnn and fasterrcnn_resnet50_fpn); the first result now
comes 1 % after the import floor.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

__all__ = ["collect_on_gui_thread", "collect_pending", "freeze_startup", "what_to_collect", "STARTUP_S",
           "STARTUP_BURST"]

STARTUP_S = 20.0
STARTUP_BURST = 20_000

_collector: GuiThreadCollector | None = None
_frozen = False


def what_to_collect(counts: tuple[int, int, int], threshold: tuple[int, int, int],
                    starting: bool) -> int | str | None:
    """What the collector does with Python's generation ``counts`` (gc.get_count) under ``threshold``
    (gc.get_threshold): a generation to collect (0, 1, 2), "freeze" (``starting``: a startup burst), or None."""
    young, middle, old = counts
    if starting and young > STARTUP_BURST:
        return "freeze"
    if young <= threshold[0]:
        return None
    if middle <= threshold[1]:
        return 0
    return 2 if old > threshold[2] else 1


class GuiThreadCollector(QObject):
    """Collects, from a timer of the thread that made it, the generations whose counts passed Python's own
    thresholds (``gc.get_threshold``)."""

    def __init__(self, interval_ms: int = 1000) -> None:
        super().__init__()
        self.threshold = gc.get_threshold()
        self.startup_ends = time.monotonic() + STARTUP_S
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    @property
    def starting(self) -> bool:
        return not _frozen and time.monotonic() < self.startup_ends

    def check(self) -> None:
        action = what_to_collect(gc.get_count(), self.threshold, self.starting)
        if action == "freeze":
            gc.freeze()
        elif action is not None:
            gc.collect(action)


def collect_on_gui_thread(interval_ms: int = 1000) -> GuiThreadCollector:
    """Install the policy once per process (call it on the GUI thread); returns the collector."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(interval_ms)
    return _collector


def freeze_startup() -> None:
    """Once per process, when the imports and the first model are in: full collections skip them from now.
    After startup what is garbage by then is collected first (one full collection, ~200 ms)."""
    global _frozen
    if not _frozen:
        if _collector is None or not _collector.starting:
            gc.collect()
        _frozen = True
        gc.freeze()


def collect_pending() -> None:
    """Collect now what the timer would (the generations over their thresholds), on the calling thread."""
    if _collector is not None:
        _collector.check()
