"""How many intra-op threads torch uses for a detector (Qt-free: the window's worker and the CLI share it)."""

from __future__ import annotations

import os

__all__ = ["configure_torch_threads"]


def configure_torch_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads for the calling thread and return the count in use.

    ``requested`` (e.g. ``detect --threads``) wins, then ``DETVIEWER_THREADS=N``; otherwise, when nobody
    chose a count (torch's default equals the core count and OMP_NUM_THREADS is unset), cores - 1 (at
    least 1): on a 2-core machine a 2-thread forward pass shares its cores with the GUI thread and other
    processes and stalls badly (demo-ssd: 0.58 s per image with 2 threads while other work ran, 0.018 s
    with 1). With torch's OpenMP backend the count applies to the calling thread, so call it in the
    thread that runs the model.
    """
    import torch

    forced = os.environ.get("DETVIEWER_THREADS", "").strip()
    if requested is not None and requested > 0:
        torch.set_num_threads(int(requested))
    elif forced.isdigit() and int(forced) > 0:
        torch.set_num_threads(int(forced))
    elif not os.environ.get("OMP_NUM_THREADS") and torch.get_num_threads() == (os.cpu_count() or 1):
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
    return torch.get_num_threads()
