"""Filesystems that refuse writes, for the atomic-output tests: a small tmpfs (``small_fs``, fill it with
:func:`fill_up`) and a read-only one (``read_only_fs``). Mounting needs root: elsewhere the tests skip."""

from __future__ import annotations

import errno
import subprocess
import uuid
from pathlib import Path

import pytest

__all__ = ["small_fs", "read_only_fs", "fill_up", "tmpfs"]


def tmpfs(tmp_path: Path, size: str, read_only: bool = False) -> Path:
    """A small tmpfs mounted under tmp_path (root only; the test is skipped elsewhere)."""
    mount = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    opts = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    return mount


def fill_up(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` with one filler file until it is full; the filler's path."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    while True:  # a last partial block
        try:
            with open(filler, "ab", buffering=0) as fh:
                fh.write(b"\0")
        except OSError:
            break
    return filler


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs; unmounted afterwards."""
    mount = tmpfs(tmp_path, "64k")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def read_only_fs(tmp_path):
    """A read-only tmpfs (nothing can be created in it); unmounted afterwards."""
    mount = tmpfs(tmp_path, "64k", read_only=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=False)
