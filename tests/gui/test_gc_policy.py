"""Python runtime policy of a process with a window: cycles holding Qt objects are collected on the GUI thread, never
on a worker (where it can deadlock); the GIL switch interval favours the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref


def test_garbage_made_on_the_gui_thread_is_not_collected_by_a_busy_worker(make_window, qtbot):
    from PySide6.QtCore import QObject

    from detviewer.gui.gc_policy import collect_on_gui_thread

    make_window(load=False)
    assert not gc.isenabled()  # automatic collection is off once a window exists
    collect_on_gui_thread().startup_ends = 0.0  # past startup, when a burst of young objects is frozen instead

    class Holder:
        pass

    holder = Holder()
    holder.qobject = QObject()
    holder.me = holder  # a cycle: only the cyclic collector can free it
    alive = weakref.ref(holder.qobject)
    del holder

    def allocate():  # enough new containers to trigger several automatic collections
        junk = [[i] for i in range(300_000)]
        del junk

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert alive() is not None, "a worker thread collected a Qt object"
    qtbot.waitUntil(lambda: alive() is None, timeout=5000)  # the GUI-thread timer collects it


def test_after_the_first_model_full_collections_skip_the_startup_objects(make_window):
    make_window()  # loads a (fake) model
    assert gc.get_freeze_count() > 0


def test_a_window_shortens_the_gil_switch_interval_for_its_thread(make_window):
    """Background Python (the task runner drawing an export) hands the GIL back to the window's thread within
    1 ms; the stall this saves is measured by bench/bench_gui_stall.py (export-nms)."""
    import sys

    from detviewer.gui.gil_policy import GUI_SWITCH_INTERVAL_S

    sys.setswitchinterval(0.005)
    make_window(load=False)
    assert sys.getswitchinterval() == GUI_SWITCH_INTERVAL_S < 0.005


def test_what_the_collector_does_with_each_generation_count():
    """As Python's own collector, by its thresholds; while the app starts, a burst of young objects (the
    imports on the worker: they stay for good) is frozen instead of scanned."""
    from detviewer.gui.gc_policy import STARTUP_BURST, what_to_collect

    threshold = (700, 10, 10)
    table = [
        ((500, 3, 3), False, None),
        ((701, 3, 3), False, 0),
        ((701, 11, 3), False, 1),
        ((701, 11, 11), False, 2),
        ((STARTUP_BURST + 1, 3, 3), False, 0),  # after startup a burst is collected like any young generation
        ((STARTUP_BURST + 1, 3, 3), True, "freeze"),
        ((STARTUP_BURST, 11, 11), True, 2),  # a smaller one is collected even while starting
    ]
    for counts, starting, expected in table:
        assert what_to_collect(counts, threshold, starting) == expected, (counts, starting)
