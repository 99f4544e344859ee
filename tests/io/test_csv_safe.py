"""CSV injection (OWASP): formula-like cells are quoted, numbers are not; the file is written atomically."""

from __future__ import annotations

import csv

import pytest

from detviewer.io.atomic import OutputError
from detviewer.io.csv_safe import csv_text, safe_cell, write_csv


@pytest.mark.parametrize(("cell", "written"), [
    ("=1+2", "'=1+2"),
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\tTAB", "'\tTAB"),
    ("\rCR", "'\rCR"),
    ("-", "'-"),
    ("circle", "circle"),
    ("a=b", "a=b"),
    ("", ""),
    ("'=quoted already", "'=quoted already"),
    ("-0.125", "-0.125"),
    ("+0.031", "+0.031"),
    ("-3", "-3"),
    ("1e-05", "1e-05"),
    ("-.5E+3", "-.5E+3"),
    (-0.25, "-0.25"),
    (7, "7"),
    ("–", "–"),  # the tables' "no value" dash is an en dash, not a minus
])
def test_cells_starting_like_a_formula_are_quoted_and_numbers_are_not(cell, written):
    assert safe_cell(cell) == written


def test_a_file_reads_back_with_the_quote_and_the_comments_first(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["class", "AP"], ["=cmd|'/c calc'!A1", -0.5], ["@x", "0.25"]],
                     comments=["run A: =evil\nmodel", "score threshold 0.50"])
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["# run A: =evil model"], ["# score threshold 0.50"], ["class", "AP"],
                    ["'=cmd|'/c calc'!A1", "-0.5"], ["'@x", "0.25"]]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temporary file left


def test_a_failed_write_keeps_the_previous_file_and_says_why(tmp_path, monkeypatch):
    import errno

    from detviewer.io import atomic

    target = tmp_path / "t.csv"
    target.write_text("previous")

    def full_disk(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(OutputError, match=r"Cannot write .*t\.csv: the disk is full\."):
        write_csv(target, [["a"]])
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    assert csv_text([["a", "b"]]) == "a,b\r\n"
