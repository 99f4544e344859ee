"""The Evaluation workspace's A / B and anchor-coverage tabs.

Compare: per-class Δ (B − A) of AP, AP50 and recall, the paired bootstrap interval of ΔAP (computed on a thread
of its own once a comparison shows: seconds on large datasets), both error breakdowns, and a list: the images
sorted by Δ ("B got worse" first), or every object B fixed (found, A missed) or broke (A found, B missed); opening
a row draws A's result, B's boxes and the objects only one of them found.
Coverage: for every object, the best IoU any of the model's own anchors reaches at that image's input size;
clicking an object opens its image in the anchors view at that point.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from detviewer.gui.workspace.array_table import ArrayTableModel, Column, fmt
from detviewer.gui.workspace.tabs import table_view

if TYPE_CHECKING:
    from detviewer.evaluation.anchor_suggestion import AnchorSuggestion
    from detviewer.evaluation.bootstrap import BootstrapResult
    from detviewer.evaluation.compare import Comparison, ComparisonSnapshot
    from detviewer.evaluation.coverage import AnchorCoverage, CoverageHit
    from detviewer.evaluation.session import DatasetSession

#: opener(image, overlays, note): opens an image of the dataset with these overlays.
Opener = Callable[[int, list, str], None]

__all__ = ["CompareTab", "CoverageTab", "LIST_MODES", "interval_text"]


def _signed(value: object) -> str:
    v = float(value)
    return "–" if not np.isfinite(v) else f"{v:+.3f}"


#: What the A / B tab's list shows: images by Δ, or the objects B fixed / broke (ComparisonSnapshot.changes()).
LIST_MODES = ("images", "fixed", "broken")


def interval_text(bootstrap: BootstrapResult) -> str:
    """The heading's sentence on ΔAP's interval (a ``BootstrapResult``)."""
    ap, ap50 = bootstrap.ap, bootstrap.ap50
    if not np.isfinite(ap.low):
        return "No class has ground truth: no interval."
    word = "B is better" if ap.low > 0 else "B is worse" if ap.high < 0 else "no clear difference (it holds 0)"
    return (f"ΔAP {ap.delta:+.3f}, {round(100 * bootstrap.confidence)}% interval [{ap.low:+.3f}, {ap.high:+.3f}]; "
            f"ΔAP50 {ap50.delta:+.3f} [{ap50.low:+.3f}, {ap50.high:+.3f}]: {word} (paired bootstrap, "
            f"{bootstrap.resamples} resamples of the images).")


class _IntervalDone(QObject):
    """Carries a finished interval (the Comparison, and an error sentence or "") back to the GUI thread."""

    done = Signal(object, str)


class CompareTab(QWidget):
    """opener(image, overlays, note) opens an image; ``display(comparison_snapshot, session)``."""

    def __init__(self, opener: Opener, parent: QWidget | None = None) -> None:
        from detviewer.charts.compare import ClassDeltaChart, ErrorsCompareChart

        super().__init__(parent)
        self.deltas = ClassDeltaChart()
        self.errors = ErrorsCompareChart()
        self.sort_key = QComboBox()
        self.sort_key.addItem("per-image AP", "ap")
        self.sort_key.addItem("TP − FP − FN", "net")
        self.list_mode = QComboBox()
        for mode, text in zip(LIST_MODES, ("Images, sorted by Δ of", "Objects B fixed", "Objects B broke")):
            self.list_mode.addItem(text, mode)
        self.images = ArrayTableModel(self)
        self.view = table_view(self.images)
        self.heading = QLabel("")
        self.heading.setWordWrap(True)
        self._opener = opener
        self._last = None
        self._changes = None
        self._computing: tuple[object, threading.Event] | None = None  # (Comparison, its stop flag)
        self._interval_error: tuple[object, str] | None = None
        self._interval_done = _IntervalDone(self)
        self._interval_done.done.connect(self._on_interval)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.list_mode)
        top.addWidget(self.sort_key)
        split = QSplitter(Qt.Orientation.Horizontal)  # side by side: each chart has the tab's whole height
        for widget in (self.deltas, self.errors, self.view):
            split.addWidget(widget)
        split.setSizes([600, 600, 500])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.sort_key.currentIndexChanged.connect(lambda _i: self._last and self.display(*self._last))
        self.list_mode.currentIndexChanged.connect(lambda _i: self._last and self.display(*self._last))
        self.view.doubleClicked.connect(lambda index: self.open_row(index.row()))
        self.view.activated.connect(lambda index: self.open_row(index.row()))

    def display(self, snapshot: ComparisonSnapshot, session: DatasetSession) -> None:
        self._last = (snapshot, session)
        self._changes = snapshot.changes()
        names = (session.names.get("A", "A"), session.names.get("B", "B"))
        comparison = snapshot.comparison
        ready = comparison.bootstrap_ready()
        failed = self._interval_error[1] if self._interval_error and self._interval_error[0] is comparison else ""
        if ready is None and not failed:
            self._start_interval(comparison)
        status = (interval_text(ready) if ready is not None else
                  f"ΔAP's bootstrap interval could not be computed: {failed}" if failed else
                  "Computing ΔAP's bootstrap interval…")
        self.heading.setText(f"A = {names[0]}, B = {names[1]}; every Δ is B − A (negative: B got worse). " + status)
        self.list_mode.setItemText(1, f"Objects B fixed ({len(self._changes.fixed)})")
        self.list_mode.setItemText(2, f"Objects B broke ({len(self._changes.broken)})")
        self.deltas.set_deltas(snapshot.classes, session.dataset.class_names, names)
        self.errors.set_results(snapshot.tide_a, snapshot.tide_b, names)
        files = np.asarray([p.name for p in session.dataset.image_paths], object)
        mode = self.list_mode.currentData()
        self.sort_key.setEnabled(mode == "images")
        if mode != "images":
            found = getattr(self._changes, mode)
            classes = np.asarray(session.dataset.class_names, object)
            finder = "B" if mode == "fixed" else "A"
            self.images.set_columns([
                Column("image", files[found.image]), Column("class", classes[found.category]),
                Column(f"{finder}'s score", found.score, fmt()),
                Column("object size (√area, px)", np.sqrt(session.dataset.boxes.xywh[found.gt, 2:].prod(axis=1)),
                       fmt(0))])
            return
        im = snapshot.images
        key = self.sort_key.currentData()
        self.images.set_columns([
            Column("image", files), Column("Δ AP", im.d_ap, _signed), Column("Δ (TP − FP − FN)", im.d_net),
            Column("AP A", im.ap_a, fmt()), Column("AP B", im.ap_b, fmt()),
            Column("only A found", im.a_only), Column("only B found", im.b_only)], rows=im.worst_first(key))

    def _start_interval(self, comparison: Comparison) -> None:
        """The interval on a thread of its own (numpy releases the GIL; the comparison's cache keeps it)."""
        if self._computing is not None:
            if self._computing[0] is comparison:
                return
            self._computing[1].set()  # a new comparison replaced that one
        stop = threading.Event()
        self._computing = (comparison, stop)
        done = self._interval_done

        def run() -> None:
            from detviewer.evaluation.bootstrap import BootstrapStopped

            error = ""
            try:
                comparison.bootstrap(should_stop=stop.is_set)
            except BootstrapStopped:
                return
            except Exception as exc:  # a sentence in the heading, never a traceback from a thread
                error = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(RuntimeError):  # the window is gone
                done.done.emit(comparison, error)

        threading.Thread(target=run, name="ab-interval", daemon=True).start()

    def _on_interval(self, comparison: Comparison, error: str) -> None:
        if self._computing is not None and self._computing[0] is comparison:
            self._computing = None
        if error:
            self._interval_error = (comparison, error)
        if self._last is not None and self._last[0].comparison is comparison:
            self.display(*self._last)

    def open_row(self, row: int) -> None:
        """Open the image of a row (an image, or a fixed / broken object's) with A's and B's boxes."""
        snapshot, session = self._last
        mode, item = self.list_mode.currentData(), self.images.item_at(row)
        note = "A and B together"
        if mode == "images":
            image = item
        else:
            found = getattr(self._changes, mode)
            image = int(found.image[item])
            name = session.dataset.class_names[int(found.category[item])]
            note = (f"a {name} B found (score {found.score[item]:.2f}) and A missed" if mode == "fixed" else
                    f"a {name} A found (score {found.score[item]:.2f}) and B misses")
        self._opener(image, session.comparison_overlays(snapshot, image), note)


class CoverageTab(QWidget):
    """check(): measure coverage (the window runs it off the GUI thread and calls ``display``)."""

    def __init__(self, check: Callable[[], None], open_object: Callable[[CoverageHit], None],
                 parent: QWidget | None = None) -> None:
        from detviewer.charts.coverage import BestIouHistogram, ObjectShapesChart

        super().__init__(parent)
        self.button = QPushButton("Check the model's anchor coverage")
        self.summary = QLabel("For every object: the best IoU any of the model's own anchors reaches at its "
                              "image's input size. Objects under the model's positive threshold train only "
                              "through the best-match rule, or not at all.")
        self.summary.setWordWrap(True)
        self.histogram = BestIouHistogram()
        self.shapes = ObjectShapesChart()
        self.coverage = None
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.histogram)
        split.addWidget(self.shapes)
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.button.clicked.connect(check)
        self.shapes.object_clicked.connect(lambda gt: self.coverage is not None and open_object(self.coverage.hit(gt)))

    def display(self, coverage: AnchorCoverage, suggestion: AnchorSuggestion | None = None) -> None:
        self.coverage = coverage
        self.histogram.set_coverage(coverage, suggestion.coverage if suggestion is not None else None)
        self.shapes.set_coverage(coverage)
        below = float(coverage.share_below)
        self.summary.setText(f"{below:.1%} of the objects are below the model's positive threshold "
                             f"({coverage.positive_iou:.2f}); click one in the right chart to see its image's anchors there."
                             + (f" Suggested: {suggestion.description}" if suggestion is not None else ""))
