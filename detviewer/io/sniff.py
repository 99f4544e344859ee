"""What the first bytes of a file that was not what we wanted say it is (Qt-free)."""

from __future__ import annotations

__all__ = ["is_text"]


def is_text(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) reads as UTF-8 text: no NUL byte, and it decodes."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
