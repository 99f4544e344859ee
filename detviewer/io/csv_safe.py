"""CSV for spreadsheets: cells that a spreadsheet would run as a formula are neutralised, files are atomic.

OWASP's rule for CSV injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is prefixed with a single quote, so that Excel / LibreOffice / Sheets show it as text instead of evaluating
it (``=HYPERLINK(...)`` in a class name or a file name). A plain number (``-0.125``, ``+0.031``, ``1e-05``)
is left as it is: no spreadsheet runs it, and a quote would turn a numeric column into text.

    rows = [["class", "AP"], ["=cmd|'/c calc'!A1", "0.5"]]
    write_csv(path, rows, comments=["run A: demo-frcnn, weights default"])
    # -> "# run A: demo-frcnn, weights default\r\nclass,AP\r\n'=cmd|'/c calc'!A1,0.5\r\n"
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from detviewer.io.atomic import write_text

__all__ = ["FORMULA_STARTS", "csv_text", "safe_cell", "write_csv"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text, prefixed with ``'`` when it starts like a formula (see the module)."""
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[object]], comments: Sequence[str] = ()) -> str:
    """Rows (the header first) as CSV text; each comment is a leading ``# ...`` line (one cell, also safe:
    it starts with ``#``). Newlines inside a comment become spaces."""
    out = io.StringIO()
    writer = csv.writer(out)
    for comment in comments:
        writer.writerow(["# " + " ".join(str(comment).split())])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def write_csv(path: str | os.PathLike[str], rows: Iterable[Sequence[object]], comments: Sequence[str] = ()) -> Path:
    """Write :func:`csv_text` to ``path`` atomically (io.atomic: a failed write keeps the previous file and
    raises OutputError with one sentence)."""
    return write_text(path, csv_text(rows, comments))
