"""The worker's hand-off thread (gui.worker._HandOff): a frame's NMS replay runs there while the worker runs the
next forward. Calls run in order, one at a time; the producer is at most one call ahead; close drops what has not
started; drain waits for the running call."""

from __future__ import annotations

import threading
import time

from detviewer.gui.worker import _HandOff


def test_calls_run_in_order_on_another_thread() -> None:
    hand_off = _HandOff("test")
    seen: list[tuple[int, str]] = []
    for k in range(20):
        hand_off.put(lambda k=k: seen.append((k, threading.current_thread().name)))
    hand_off.drain()
    hand_off.close()
    hand_off.join(2.0)
    assert [k for k, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"test"}


def test_put_returns_while_the_previous_call_runs_and_waits_for_the_one_before() -> None:
    hand_off = _HandOff("test")
    release = threading.Event()
    started = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(5.0)

    hand_off.put(slow)
    assert started.wait(5.0)
    t0 = time.perf_counter()
    second = threading.Thread(target=hand_off.put, args=(lambda: None,))
    second.start()
    second.join(0.2)
    assert second.is_alive(), "put must wait while the previous call still runs (no backlog)"
    release.set()
    second.join(5.0)
    assert not second.is_alive() and time.perf_counter() - t0 < 5.0
    hand_off.close()
    hand_off.join(2.0)


def test_close_drops_what_has_not_started_and_refuses_more() -> None:
    hand_off = _HandOff("test")
    ran: list[str] = []
    hand_off.close()
    hand_off.put(lambda: ran.append("late"))
    hand_off.drain()
    time.sleep(0.05)
    assert ran == []
