"""Read a checkpoint's pickle without running it (pickletools only): is it well formed, what would it import.

A PyTorch checkpoint holds its pickle either as ``<root>/data.pkl`` inside a zip archive
(``torch.save`` since 1.6) or at the start of the file (the legacy format, whose first pickle is
torch's magic number). Both functions look at that pickle only and never execute an opcode.
"""

from __future__ import annotations

import contextlib
import io
import pickletools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["pickle_is_well_formed", "imported_globals", "starts_with_torch_magic"]

#: The first pickle of a legacy (non-zip) ``torch.save`` file is this number
#: (``torch.serialization.MAGIC_NUMBER``, copied so that this module needs no torch).
TORCH_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

#: Globals a PyTorch state dict legitimately refers to (storages, tensor rebuilders, containers).
_SAFE_PREFIXES = ("collections.OrderedDict", "argparse.Namespace", "torch._utils.", "torch.Size")


@contextlib.contextmanager
def _pickle_stream(path: Path) -> Iterator[IO[bytes] | None]:
    """The checkpoint's pickle as a binary stream, or None when it cannot be located or read."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                if name is None:
                    yield None
                    return
                with archive.open(name) as stream:
                    yield stream
        else:
            with open(path, "rb") as stream:
                yield stream
    except (OSError, zipfile.BadZipFile):
        yield None


def pickle_is_well_formed(path: str | Path) -> bool:
    """True if the file's (first) pickle has known opcodes, valid arguments and a consistent stack and memo.

    pickletools.dis checks what torch's weights-only unpickler would otherwise trip over with
    "Unsupported operand", IndexError or KeyError on random bytes behind a pickle header.
    True as well when the pickle cannot be located (the caller's own reason stands then).
    """
    with _pickle_stream(Path(path)) as stream:
        if stream is None:
            return True
        try:
            pickletools.dis(stream, out=io.StringIO())
        except Exception:  # dis raises ValueError, UnicodeDecodeError, KeyError ... for damaged data
            return False
    return True


def imported_globals(path: str | Path) -> list[str]:
    """Dotted names the pickle would import beyond what a state dict needs ("builtins.exec", ...).

    A damaged pickle gives the names found before the damage.
    """
    try:
        with _pickle_stream(Path(path)) as stream:
            data = stream.read() if stream is not None else b""
    except OSError:
        return []
    found: list[str] = []
    strings: list[str] = []
    memo: dict[int, str] = {}
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                strings.append(str(arg))  # these opcodes' argument is always a str
            elif op.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                strings.append(memo[arg])
            elif op.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # a damaged pickle: report what was found before the damage
        pass
    return [n for n in found
            if not n.startswith(_SAFE_PREFIXES) and not (n.startswith("torch.") and n.endswith("Storage"))]


def starts_with_torch_magic(path: str | Path) -> bool:
    """True if the file is a zip archive or its first pickle is torch's magic number (a legacy torch.save file)."""
    if zipfile.is_zipfile(path):
        return True
    with _pickle_stream(Path(path)) as stream:
        if stream is None:
            return False
        try:
            return any(op.name == "LONG1" and arg == TORCH_MAGIC_NUMBER
                       for op, arg, _ in pickletools.genops(stream))
        except Exception:  # damaged: not a torch file as far as we can tell
            return False
