"""Atomic writes: a failed write leaves the previous file intact, no stray file, and one sentence."""

from __future__ import annotations

import pytest

from detviewer.io.atomic import OutputError, atomic_path, write_bytes, write_text


def test_write_text_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    target.chmod(0o640)
    write_text(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert target.stat().st_mode & 0o777 == 0o640  # the replaced file's mode is kept


def test_new_file_gets_ordinary_permissions_and_parents(tmp_path):
    target = tmp_path / "a" / "b" / "r.json"
    write_bytes(target, b"x")
    assert target.read_bytes() == b"x"
    assert target.stat().st_mode & 0o777 == 0o644


def test_full_disk_keeps_the_previous_file_and_says_why(small_fs):
    target = small_fs / "results.json"
    target.write_text("previous")
    with pytest.raises(OutputError) as err:
        write_bytes(target, b"x" * (1 << 20))
    assert str(err.value) == f"Cannot write {target}: the disk is full."
    assert target.read_text() == "previous"
    assert sorted(p.name for p in small_fs.iterdir()) == ["results.json"]


def test_read_only_filesystem_is_one_sentence(read_only_fs):
    with pytest.raises(OutputError, match=r"^Cannot write .*r\.json: the filesystem is read-only\.$"):
        write_text(read_only_fs / "r.json", "x")


def test_writer_exception_removes_the_temp_file_and_keeps_target(tmp_path):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"
        tmp.write_bytes(b"half")
        raise RuntimeError("painter failed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_a_folder_at_the_target_is_refused(tmp_path):
    (tmp_path / "out.json").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        write_text(tmp_path / "out.json", "x")
