"""Load torch's C++ libraries without holding the GIL, before the worker imports torch.

``import torch`` dlopens libtorch_cpu.so (hundreds of MB, its static initialisers register thousands of
operators) while holding the GIL: 0.3 s on an idle machine, 1.4 s measured on a loaded 2-core one, during which
the GUI thread runs no Python at all, so a click on the window's close button waits. Calling libc's ``dlopen``
through ctypes releases the GIL for the call; once loaded, torch's own dlopen of the same library only bumps a
reference count. Only pure C++ libraries are loaded here (no Python API in their initialisers);
libtorch_python.so is left to torch.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading

__all__ = ["LIBRARIES", "preload_torch_libraries"]

#: In load order; each is skipped when missing (CPU-only, other builds).
LIBRARIES = ("libc10.so", "libtorch_cpu.so", "libtorch.so")


def _torch_lib_folder() -> str | None:
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    folder = os.path.join(os.path.dirname(spec.origin), "lib")
    return folder if os.path.isdir(folder) else None


def _load(folder: str) -> None:
    libc = ctypes.CDLL(None)  # the process' own symbols: libc's dlopen, called with the GIL released
    libc.dlopen.restype = ctypes.c_void_p
    libc.dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    for name in LIBRARIES:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not libc.dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL):
            return  # a library that does not load: torch's import will say why


def preload_torch_libraries() -> threading.Thread | None:
    """Start loading torch's C++ libraries on a daemon thread (None when torch is not installed, or on a
    platform other than Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    folder = _torch_lib_folder()
    if folder is None:
        return None
    thread = threading.Thread(target=_load, args=(folder,), name="torch-preload", daemon=True)
    thread.start()
    return thread
