"""Atomic writes: every file written for the user goes through here.

A write goes to a temporary file in the target's folder (same filesystem, so the rename is atomic), is
flushed and fsynced, then renamed over the target. A failed write leaves the previous file as it was and
no stray temporary file, and raises :class:`OutputError` with one sentence (disk full, permission, ...).

    write_text(path, text)                      # str, UTF-8
    write_bytes(path, data)
    with atomic_path(path) as tmp:              # for writers that want a path (QImage.save, savefig, PIL)
        image.save(str(tmp))
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from detviewer.errors import DetviewerError

__all__ = ["OutputError", "atomic_path", "write_bytes", "write_text", "why_not_written"]


class OutputError(DetviewerError):
    """A file for the user could not be written; the message names it and why."""


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the filesystem is read-only",
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "a part of its path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def why_not_written(path: str | os.PathLike[str], exc: BaseException) -> str:
    """One sentence: ``Cannot write PATH: REASON.``"""
    reason = _REASONS.get(getattr(exc, "errno", None) or -1) if isinstance(exc, OSError) else None
    if reason is None:
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip()) or type(exc).__name__
    return f"Cannot write {path}: {reason.rstrip('.')}."


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it is fsynced and renamed over ``path``.

    The temporary name keeps the target's suffix (``.name.XXXX.tmp.png``) so that writers choosing a format
    by extension (QImage.save, matplotlib, PIL) still do. On any exception the temporary file is removed and
    the target is untouched; an OSError becomes :class:`OutputError`. A writer that reports failure by its
    return value (QImage.save) must raise itself.
    """
    target = Path(path)
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder", str(target))
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644  # mkstemp's 0600 is not the user's
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
        os.fchmod(fd, mode)
        os.close(fd)
    except OSError as exc:
        raise OutputError(why_not_written(target, exc)) from None
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(why_not_written(target, exc)) from None
    except BaseException:
        _remove(tmp)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring); the target's Path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see the module docstring); the target's Path."""
    return write_bytes(path, text.encode(encoding))


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
