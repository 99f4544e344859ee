"""Export tables: every tab of the Evaluation workspace as CSV files in one folder, each naming its run(s).

    classes.csv           per-class AP / AP50 / P / R / F1 / TP / FP / FN (the Metrics tab, as sorted)
    coco.csv              pycocotools' 12 numbers
    confusion.csv         the confusion matrix [predicted, true] (counts, background last; beyond 1,023 classes
                          one row per non-zero cell)
    tide.csv              TIDE's breakdown: dAP and count per error type
    images.csv            the Images tab (as filtered and sorted)
    compare_classes.csv   when comparing: per class A, B and B − A of AP, AP50, recall
    compare_errors.csv    when comparing: both TIDE breakdowns side by side
    compare_images.csv    when comparing: the A / B tab's images (as sorted)
    coverage.csv          when measured: anchor coverage per class and per object size

Every file starts with ``# `` comment rows: the dataset, each run (model and weights, or the results file) and
the thresholds. Cells are CSV-injection safe and every file is written atomically (io.csv_safe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, SupportsFloat

import numpy as np

from detviewer.core.metrics import COCO_STAT_NAMES
from detviewer.evaluation.errors import ERROR_NAMES, ERROR_TYPES
from detviewer.io.atomic import write_text
from detviewer.io.csv_safe import csv_text

if TYPE_CHECKING:
    from detviewer.evaluation.compare import ComparisonSnapshot
    from detviewer.evaluation.coverage import AnchorCoverage
    from detviewer.evaluation.dataset_evaluation import EvaluationSnapshot
    from detviewer.evaluation.session import DatasetSession
    from detviewer.evaluation.tide import TideResult

__all__ = ["RunSource", "TableExport", "export_tables"]

COCO_LABELS = {"AP": "AP @[.5:.95]", "AP50": "AP @ .50", "AP75": "AP @ .75", "AP_small": "AP small",
               "AP_medium": "AP medium", "AP_large": "AP large", "AR1": "AR max 1", "AR10": "AR max 10",
               "AR100": "AR max 100", "AR_small": "AR small", "AR_medium": "AR medium", "AR_large": "AR large"}


@dataclass(frozen=True)
class RunSource:
    """What produced one side's predictions: a model run (model name, weights: a path or "default") or a
    results file (its path)."""

    model: str
    weights: str = ""
    results_file: str = ""

    def describe(self) -> str:
        if self.results_file:
            return f"results file {self.results_file}"
        return f"model {self.model}, weights {self.weights or 'default'}"


@dataclass(frozen=True)
class TableExport:
    """What to export. session: the workspace's DatasetSession (run A at least); shown: the tables as the tabs
    show them, ``name -> rows`` (header first; "classes", "images", "compare_images"); runs: side -> RunSource;
    score / nms_iou: the window's thresholds; match_iou: the IoU a detection needs to find an object;
    coverage: an AnchorCoverage when one was measured."""

    session: DatasetSession
    shown: Mapping[str, Sequence[Sequence[object]]]
    runs: Mapping[str, RunSource]
    score: float
    nms_iou: float
    match_iou: float = 0.5
    coverage: AnchorCoverage | None = None


def _num(value: SupportsFloat, digits: int = 4) -> str:
    """A float with ``digits`` decimals; "" for NaN and for COCO's -1 ("no ground truth")."""
    v = float(value)
    return "" if not np.isfinite(v) or v == -1 else f"{v:.{digits}f}"


def _run_line(export: TableExport, side: str) -> str:
    session = export.session
    source = export.runs.get(side)
    name = session.names.get(side, side)
    return f"run {side}: {source.describe() if source is not None else name}"


def _comments(export: TableExport, sides: Sequence[str], what: str) -> list[str]:
    return [f"detviewer · {what}", f"dataset: {export.session.dataset.summary()}",
            *(_run_line(export, side) for side in sides),
            f"score threshold {export.score:.2f} · NMS IoU {export.nms_iou:.2f} · "
            f"a detection finds an object at IoU >= {export.match_iou:.2f}"]


def _coco_rows(snapshot: EvaluationSnapshot) -> list[Sequence[object]]:
    stats = snapshot.coco.stats
    return [["metric", "name", "value"], *([name, COCO_LABELS.get(name, name), _num(stats[name])]
                                           for name in COCO_STAT_NAMES)]


def _confusion_rows(snapshot: EvaluationSnapshot, class_names: Sequence[str]) -> list[Sequence[object]]:
    """The (K + 1)² grid [predicted, true] up to DENSE_LIMIT rows; beyond, one row per non-zero cell
    (predicted, true, count), as the matrix itself is kept (evaluation.confusion)."""
    from detviewer.evaluation.confusion import DENSE_LIMIT

    matrix = snapshot.confusion
    labels = [*class_names, "background"]
    if len(labels) > DENSE_LIMIT:
        return [["predicted", "true", "count"],
                *([labels[p], labels[t], int(v)] for p, t, v in zip(matrix.predicted.tolist(), matrix.true.tolist(),
                                                                   matrix.values.tolist()))]
    counts = matrix.dense()
    return [["predicted \\ true", *labels], *([labels[p], *(int(c) for c in counts[p])] for p in range(len(labels)))]


def _tide_rows(tide: TideResult) -> list[Sequence[object]]:
    rows: list[Sequence[object]] = [["error", "dAP", "count"]]
    rows += [[name, _num(tide.main_dap[t], 3), int(tide.counts[t])] for name, t in zip(ERROR_NAMES, ERROR_TYPES)]
    rows += [["false positives (all)", _num(tide.fp_dap, 3), ""], ["false negatives (all)", _num(tide.fn_dap, 3), ""],
             ["AP (x 100)", _num(tide.ap, 3), ""]]
    return rows


def _compare_class_rows(comparison: ComparisonSnapshot, class_names: Sequence[str]) -> list[Sequence[object]]:
    c = comparison.classes
    header = ["class", "objects", "AP A", "AP B", "Δ AP", "AP50 A", "AP50 B", "Δ AP50", "recall A", "recall B",
              "Δ recall"]
    rows: list[Sequence[object]] = [header]
    for k, name in enumerate(class_names):
        rows.append([name, int(c.n_gt[k]), _num(c.ap_a[k]), _num(c.ap_b[k]), _num(c.d_ap[k]), _num(c.ap50_a[k]),
                     _num(c.ap50_b[k]), _num(c.d_ap50[k]), _num(c.recall_a[k]), _num(c.recall_b[k]),
                     _num(c.d_recall[k])])
    return rows


def _compare_error_rows(comparison: ComparisonSnapshot) -> list[Sequence[object]]:
    a, b = comparison.tide_a, comparison.tide_b
    rows: list[Sequence[object]] = [["error", "dAP A", "dAP B", "Δ dAP", "count A", "count B"]]
    for name, t in zip(ERROR_NAMES, ERROR_TYPES):
        rows.append([name, _num(a.main_dap[t], 3), _num(b.main_dap[t], 3), _num(b.main_dap[t] - a.main_dap[t], 3),
                     int(a.counts[t]), int(b.counts[t])])
    rows.append(["false positives (all)", _num(a.fp_dap, 3), _num(b.fp_dap, 3), _num(b.fp_dap - a.fp_dap, 3), "", ""])
    rows.append(["false negatives (all)", _num(a.fn_dap, 3), _num(b.fn_dap, 3), _num(b.fn_dap - a.fn_dap, 3), "", ""])
    rows.append(["AP (x 100)", _num(a.ap, 3), _num(b.ap, 3), _num(b.ap - a.ap, 3), "", ""])
    return rows


def _coverage_rows(coverage: AnchorCoverage) -> list[Sequence[object]]:
    rows: list[Sequence[object]] = [["group", "name", "objects", "below the positive IoU", "share below", "mean best IoU"]]
    for group, table in (("class", coverage.by_class()), ("size", coverage.by_size())):
        for k, name in enumerate(table.names):
            rows.append([group, name, int(table.n[k]), int(table.below[k]), _num(table.share_below[k]),
                         _num(table.mean_iou[k])])
    return rows


def export_tables(folder: str | Path, export: TableExport) -> list[Path]:
    """Every table into CSV files in ``folder`` (see the module docstring); the paths written. All texts are
    built before the first write; each write is atomic (OutputError, one sentence, on failure)."""
    session = export.session
    names = list(session.dataset.class_names)
    snapshot = session.snapshot("A", export.score, export.match_iou)
    a = ["A"]
    files: dict[str, str] = {
        "classes.csv": csv_text(export.shown["classes"], _comments(export, a, "per-class metrics (the Metrics tab)")),
        "coco.csv": csv_text(_coco_rows(snapshot), _comments(export, a, "pycocotools' 12 COCO numbers")),
        "confusion.csv": csv_text(_confusion_rows(snapshot, names),
                                  _comments(export, a, "confusion matrix [predicted, true], counts")),
        "tide.csv": csv_text(_tide_rows(snapshot.tide), _comments(export, a, "TIDE error breakdown")),
        "images.csv": csv_text(export.shown["images"], _comments(export, a, "per-image results (the Images tab)")),
    }
    if session.comparing:
        comparison = session.compare(export.score, export.match_iou)
        ab = ["A", "B"]
        files["compare_classes.csv"] = csv_text(_compare_class_rows(comparison, names),
                                                _comments(export, ab, "A / B per class, every Δ is B − A"))
        files["compare_errors.csv"] = csv_text(_compare_error_rows(comparison),
                                               _comments(export, ab, "A / B TIDE error breakdowns, Δ is B − A"))
        if "compare_images" in export.shown:
            files["compare_images.csv"] = csv_text(export.shown["compare_images"],
                                                   _comments(export, ab, "A / B per image (the Compare tab)"))
    if export.coverage is not None:
        coverage = export.coverage
        comments = _comments(export, [], "anchor coverage")[:2] + [
            f"model {coverage.model}: anchors labelled by {coverage.rule}, positive at IoU >= "
            f"{coverage.positive_iou:.2f}"]
        files["coverage.csv"] = csv_text(_coverage_rows(coverage), comments)
    folder = Path(folder)
    return [write_text(folder / name, text) for name, text in files.items()]
