"""Download torchvision's pretrained weights into torch's hub cache, with progress and clear errors.

strategy: torchvision's builders load weights through ``torch.hub.load_state_dict_from_url``, which
looks in ``<hub dir>/checkpoints/<file name>`` first. We fetch the file there ourselves (so the GUI
gets progress callbacks and an offline machine gets one sentence), then call the builder with the
weights enum as usual: it finds the file in the cache and verifies its hash.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from detviewer.errors import DetectorError

if TYPE_CHECKING:
    from detviewer.detectors.base import ProgressCallback

_CHUNK = 1 << 20


def cache_path(url: str) -> Path:
    """Where torch.hub keeps the file downloaded from ``url``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def is_cached(url: str) -> bool:
    return cache_path(url).is_file()


def download(url: str, progress: ProgressCallback | None = None, *, model_name: str = "",
             timeout: float = 30.0) -> Path:
    """Fetch ``url`` into the hub cache unless already there; returns the cached path.

    progress(fraction or None, message) is called while bytes arrive. Any network failure raises
    DetectorError with one sentence saying what to do offline.
    """
    target = cache_path(url)
    if target.is_file():
        return target
    if os.environ.get("DETVIEWER_NO_DOWNLOAD") == "1" and not url.startswith("file:"):
        raise DetectorError(_offline_sentence(model_name, url, target, "downloads are disabled (DETVIEWER_NO_DOWNLOAD=1)"))
    target.parent.mkdir(parents=True, exist_ok=True)
    label = model_name or target.name
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
            done = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        fraction = done / total if total else None
                        progress(fraction, f"Downloading {label} weights: {done / 1e6:.1f} MB"
                                 + (f" of {total / 1e6:.1f} MB" if total else ""))
        shutil.move(tmp_name, target)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        if "tmp_name" in locals() and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        reason = getattr(exc, "reason", None) or exc
        raise DetectorError(_offline_sentence(model_name, url, target, f"the download failed ({reason})")) from None
    return target


def _offline_sentence(model_name: str, url: str, target: Path, why: str) -> str:
    return (f"Cannot get the COCO weights for {model_name or 'this model'}: {why}; on a machine with "
            f"network access download {url} and either pass it with --weights PATH or copy it to {target}.")
