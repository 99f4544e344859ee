"""export_tables' anchor-coverage CSV: per class and per size, numbers as the coverage table gives them."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np

from detviewer.evaluation.coverage import CoverageTable
from detviewer.gui.workspace.export_tables import RunSource, _coverage_rows, _tide_rows


def test_coverage_rows_are_one_per_class_and_per_size_with_the_table_numbers():
    by_class = CoverageTable(("=cat", "dog"), np.array([4, 0]), np.array([1, 0]), np.array([0.25, np.nan]),
                             np.array([0.61234, np.nan]))
    by_size = CoverageTable(("small", "medium", "large"), np.array([2, 1, 1]), np.array([1, 0, 0]),
                            np.array([0.5, 0.0, 0.0]), np.array([0.4, 0.7, 0.8]))
    coverage = SimpleNamespace(by_class=lambda: by_class, by_size=lambda: by_size)
    rows = _coverage_rows(coverage)
    assert rows[0] == ["group", "name", "objects", "below the positive IoU", "share below", "mean best IoU"]
    assert rows[1] == ["class", "=cat", 4, 1, "0.2500", "0.6123"]
    assert rows[2] == ["class", "dog", 0, 0, "", ""]  # no object: no share, no mean
    assert [r[:3] for r in rows[3:]] == [["size", "small", 2], ["size", "medium", 1], ["size", "large", 1]]


def test_tide_rows_and_run_sources(tmp_path):
    from detviewer.io.csv_safe import write_csv

    tide = SimpleNamespace(main_dap={"cls": 1.5, "loc": 0.25, "both": 0.0, "dupe": 0.0, "bkg": 2.0, "missed": 3.0},
                           counts={"cls": 3, "loc": 1, "both": 0, "dupe": 0, "bkg": 4, "missed": 2},
                           fp_dap=4.0, fn_dap=5.5, ap=61.25)
    rows = _tide_rows(tide)
    assert rows[1] == ["classification", "1.500", 3] and rows[-1] == ["AP (x 100)", "61.250", ""]
    path = write_csv(tmp_path / "t.csv", rows, comments=[RunSource("demo-frcnn", "default").describe(),
                                                         RunSource("r.json", results_file="/x/r.json").describe()])
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    assert lines[:2] == [["# model demo-frcnn, weights default"], ["# results file /x/r.json"]]


def test_the_confusion_csv_is_a_grid_and_beyond_the_dense_limit_one_row_per_cell():
    from detviewer.evaluation.confusion import DENSE_LIMIT, ConfusionMatrix
    from detviewer.gui.workspace.export_tables import _confusion_rows

    def snapshot(k):
        matrix = ConfusionMatrix(k, np.array([0, 1, k]), np.array([0, k, 1]), np.array([5, 2, 3]), 0.5, 0.5)
        return SimpleNamespace(confusion=matrix)

    rows = _confusion_rows(snapshot(2), ["a", "b"])
    assert rows == [["predicted \\ true", "a", "b", "background"], ["a", 5, 0, 0], ["b", 0, 0, 2],
                    ["background", 0, 3, 0]]
    k = DENSE_LIMIT + 5
    names = [f"c{i}" for i in range(k)]
    rows = _confusion_rows(snapshot(k), names)
    assert rows == [["predicted", "true", "count"], ["c0", "c0", 5], ["c1", "background", 2], ["background", "c1", 3]]
