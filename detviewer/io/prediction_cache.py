"""What a model computed on each image of a dataset, kept on disk: one ``.npz`` per image.

The folder is keyed by model name + weights hash (``<root>/<model>-<weights>/``), each file by the
image's content hash (``<sha256 of the file, 24 hex>.npz``): a retrained checkpoint or an edited
image never reuses a stale answer, and a renamed or copied image still hits. A file holds the final
detections and the candidates the model's NMS received (so another NMS IoU can be replayed without the
model) with the NMS parameters, all in original-image pixels. A corrupt file reads as missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path
from typing import cast

import numpy as np

from detviewer.core.types import Detections, Inference, NMSParams
from detviewer.errors import DetviewerError

__all__ = ["PredictionCache", "CachedImage", "file_hash", "weights_key", "default_cache_root"]

_HASH_CHARS = 24
_CHUNK = 1 << 20


def file_hash(path: str | os.PathLike, length: int = _HASH_CHARS) -> str:
    """sha256 of a file's bytes, hex, first ``length`` characters."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def weights_key(weights: str | None) -> str:
    """The weights part of a cache key: a file's content hash, or the name of built-in weights."""
    if weights and Path(weights).is_file():
        return file_hash(weights, 16)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(weights or "default"))


def default_cache_root() -> Path:
    """``$DETVIEWER_CACHE`` or ``~/.cache/detviewer/predictions``."""
    env = os.environ.get("DETVIEWER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "detviewer" / "predictions"


class CachedImage:
    """One image's cached answer: detections and candidates (Detections), nms (NMSParams), image_size (H, W)."""

    __slots__ = ("detections", "candidates", "nms", "image_size")

    def __init__(self, detections: Detections, candidates: Detections, nms: NMSParams,
                 image_size: tuple[int, int]) -> None:
        self.detections, self.candidates, self.nms, self.image_size = detections, candidates, nms, image_size


class PredictionCache:
    """The cache folder of one model + weights. ``path_for(image_hash)``, ``save``, ``load``."""

    def __init__(self, root: str | os.PathLike, model_name: str, weights: str | None) -> None:
        safe_model = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model_name).name or "model")
        self.folder = Path(root) / f"{safe_model}-{weights_key(weights)}"

    def path_for(self, image_hash: str) -> Path:
        return self.folder / f"{image_hash}.npz"

    def save(self, image_hash: str, inference: Inference) -> Path:
        """Write one image's detections and candidates (atomically: a killed run leaves no half file)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DetviewerError(f"Cannot create the prediction cache {self.folder}: {exc.strerror or exc}.") from None
        d, c, nms = inference.detections, inference.candidates, inference.nms
        path = self.path_for(image_hash)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, det_xyxy=d.xyxy, det_scores=d.scores, det_labels=d.labels, cand_xyxy=c.xyxy,
                 cand_scores=c.scores, cand_labels=c.labels, image_size=np.asarray(inference.image_size, np.int64),
                 nms=np.array([nms.iou_threshold, nms.score_threshold, float(nms.class_agnostic),
                               -1.0 if nms.max_detections is None else float(nms.max_detections)]))
        os.replace(tmp, path)
        return path

    def load(self, image_hash: str, class_names: tuple[str, ...] = ()) -> CachedImage | None:
        """The cached answer, or None when absent or unreadable."""
        path = self.path_for(image_hash)
        try:
            with np.load(path, allow_pickle=False) as z:
                det = Detections(z["det_xyxy"], z["det_scores"], z["det_labels"], class_names)
                cand = Detections(z["cand_xyxy"], z["cand_scores"], z["cand_labels"], class_names)
                iou, score, agnostic, max_det = (float(v) for v in z["nms"])
                size = tuple(int(v) for v in z["image_size"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
            return None
        nms = NMSParams(iou, score, bool(agnostic), None if max_det < 0 else int(max_det))
        return CachedImage(det, cand, nms, cast("tuple[int, int]", size))
