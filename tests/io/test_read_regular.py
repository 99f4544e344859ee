"""io.limits.read_regular: a regular file's bytes within a limit, else one sentence (never an OSError)."""

from __future__ import annotations

import os

import pytest

from detviewer.errors import DetviewerError
from detviewer.io.limits import read_regular


def test_a_regular_file_within_the_limit_is_read(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"12345")
    assert read_regular(path, 5) == b"12345"


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: p.mkdir(), "is a folder, not a file; a plan must be one"),
    (lambda p: os.mkfifo(p), "is a pipe, not a regular file"),
    (lambda p: p.write_bytes(b"123456"), "more than the 5 bytes detviewer reads from a plan"),
    (lambda p: None, "file not found"),
])
def test_what_is_not_a_small_regular_file_is_one_sentence(tmp_path, make, says):
    path = tmp_path / "x"
    make(path)
    with pytest.raises(DetviewerError) as caught:
        read_regular(path, 5, "plan")
    assert says in str(caught.value) and "\n" not in str(caught.value)
