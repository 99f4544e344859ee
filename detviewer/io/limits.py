"""Bounds on what a dataset file may ask of detviewer, and the one way dataset loaders read a file.

A hostile or broken dataset must end in one sentence within seconds and a bounded amount of memory,
never hang or exhaust the machine:

- ``MAX_CLASSES`` (10,000; Objects365 has 365, LVIS 1,203): a data.yaml, COCO file or VOC folder naming
  more classes is refused (the per-class tables grow with the class count).
- :func:`read_regular` opens without blocking (a FIFO with no writer would wait forever), checks that the
  path is a regular file (``/dev/zero`` or a pipe never ends) before reading a byte, and refuses a file
  over its size bound: ``MAX_JSON_BYTES`` for COCO JSON, ``MAX_TEXT_BYTES`` for data.yaml, label, list and
  XML files. :func:`decode_text` drops a UTF-8 byte-order mark (editors on Windows write one).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from detviewer.errors import AnnotationError

__all__ = ["MAX_CLASSES", "MAX_JSON_BYTES", "MAX_TEXT_BYTES", "check_class_count", "read_regular", "decode_text",
           "is_regular_file", "not_regular_reason", "open_regular", "NotRegularFile"]

#: The most classes a dataset may name.
MAX_CLASSES = 10_000
#: The largest COCO JSON file read (COCO's own train2017 instances file is 448 MiB).
MAX_JSON_BYTES = 1 << 30
#: The largest data.yaml, YOLO label, image list, classes.txt or VOC XML file read.
MAX_TEXT_BYTES = 64 << 20


def check_class_count(count: int, source: object) -> None:
    """AnnotationError (one sentence) when ``count`` exceeds MAX_CLASSES."""
    if count > MAX_CLASSES:
        raise AnnotationError(f"{source} names {count:,} classes; detviewer evaluates at most {MAX_CLASSES:,}.")


def not_regular_reason(mode: int) -> str | None:
    """Why a file of ``mode`` (st_mode) is not read as data: None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is {kind}, not a regular file"


def is_regular_file(path: str | os.PathLike) -> bool:
    """True for a regular file (following links); False for anything else, or nothing, at ``path``."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class NotRegularFile(OSError):
    """:func:`open_regular` found something other than a regular file; ``mode`` is its st_mode."""

    def __init__(self, path: str | os.PathLike, mode: int) -> None:
        super().__init__(f"{path} {not_regular_reason(mode)}")
        self.mode = mode


@contextmanager
def open_regular(path: str | os.PathLike) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """(binary file, its stat) of the regular file at ``path``, opened without blocking (a pipe with no writer
    would wait forever) and checked before a byte is read; NotRegularFile for a folder, a device, a pipe or a
    socket. os.open's own errors (FileNotFoundError, PermissionError…) pass through for the caller to word."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):  # before fdopen, which refuses a folder with its own error
        os.close(fd)
        raise NotRegularFile(path, info.st_mode)
    with os.fdopen(fd, "rb") as fh:
        yield fh, info


def read_regular(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; AnnotationError (one sentence)
    for a missing or unreadable file, a folder, a device, a pipe, a socket, or a file over ``limit``."""
    path = Path(path)
    try:
        with open_regular(path) as (fh, info):
            if info.st_size > limit:
                raise AnnotationError(f"{path} is {_mib(info.st_size)}, more than the {_mib(limit)} detviewer reads "
                                      f"from a {what}.")
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found.") from None
    except IsADirectoryError:
        raise AnnotationError(f"{path} is a folder, not a {what}.") from None
    except NotRegularFile as exc:
        raise AnnotationError(f"{exc}; a {what} must be one.") from None
    except OSError as exc:
        raise AnnotationError(f"{path} could not be read: {exc.strerror or exc}.") from None
    if len(data) > limit:  # a file that grew, or one whose size the filesystem does not report (/proc)
        raise AnnotationError(f"{path} holds more than the {_mib(limit)} detviewer reads from a {what}.")
    return data


def decode_text(data: bytes, path: str | os.PathLike, what: str = "text file") -> str:
    """UTF-8 text without a leading byte-order mark; AnnotationError when ``data`` is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnnotationError(f"{path} is not a {what}: it is not UTF-8 text.") from None


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size:,} bytes"
