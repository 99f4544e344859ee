"""One job type for both background threads (gui/jobs.py): the worker and the task runner run the same Job, report
typed Progress (numbers, not text parsed back), turn failures into one sentence and can be cancelled."""

from __future__ import annotations

import threading

from gui_fakes import FakeLoader

from detviewer.gui.jobs import Job, Progress


def _background(qtbot):
    from detviewer.gui.background import BackgroundWork
    from detviewer.gui.gc_policy import collect_on_gui_thread
    from detviewer.gui.worker import ModelRequest

    collect_on_gui_thread()  # as the session does first: a collection on a worker thread can deadlock Qt
    background = BackgroundWork(loader=FakeLoader(), lister=lambda: [])
    background.start()
    with qtbot.waitSignal(background.worker.model_loaded, timeout=60000):
        background.worker.request_model(ModelRequest("fake", "none", "cpu"))
    return background


def test_both_threads_run_one_job_type_with_typed_progress(qtbot):
    background = _background(qtbot)
    try:
        seen, done = [], []
        background.progress.connect(lambda job, progress: seen.append((job.key, progress)))

        def count(context):
            for i in range(3):
                context.progress(Progress.of(i + 1, 3, eta_s=3.0 - i))
            return context.detector.name if context.detector is not None else None

        for needs in (True, False):
            background.submit(Job(("count", needs), count, "counting", needs_detector=needs),
                              lambda value, error: done.append((value, error)))
        qtbot.waitUntil(lambda: len(done) == 2, timeout=10000)
        assert sorted(done, key=str) == sorted([("fake", ""), (None, "")], key=str)  # the worker's has the detector
        for needs in (True, False):
            mine = [p for key, p in seen if key == ("count", needs)]
            assert [(p.done, p.total, p.eta_s) for p in mine] == [(1, 3, 3.0), (2, 3, 2.0), (3, 3, 1.0)]
            assert mine[-1].fraction == 1.0
    finally:
        assert background.shutdown(3000)
        background.deleteLater()


def test_a_failing_job_is_one_sentence_and_a_waiting_worker_job_can_be_cancelled(qtbot):
    background = _background(qtbot)
    try:
        done, gate = [], threading.Event()
        background.submit(Job("boom", lambda _c: 1 / 0, "dividing", needs_detector=True),
                          lambda value, error: done.append(error))
        qtbot.waitUntil(lambda: bool(done), timeout=10000)
        assert done == ["Dividing failed: ZeroDivisionError: division by zero."]
        blocker = background.submit(Job("block", lambda _c: gate.wait(5), "waiting", needs_detector=True),
                                    lambda value, error: done.append("blocker"))
        waiting = background.submit(Job("waiting", lambda _c: "ran", "never", needs_detector=True),
                                    lambda value, error: done.append(value))
        background.cancel(waiting)
        gate.set()
        qtbot.waitUntil(lambda: "blocker" in done, timeout=10000)
        qtbot.wait(200)
        assert "ran" not in done and blocker.needs_detector
    finally:
        assert background.shutdown(3000)
        background.deleteLater()
