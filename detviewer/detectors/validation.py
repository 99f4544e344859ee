"""Checks on what a detector returned, before anything downstream trusts it (Qt-free).

A detector is user-supplied code in the end (a checkpoint, an export, a registered adapter): its result
is checked where it is produced, so that a broken result becomes one sentence and never an exception
deep in the drawing code.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detviewer.core.types import Detections, Inference
from detviewer.errors import DetectorError

__all__ = ["checked_inference"]


def _finite(det: Detections) -> np.ndarray:
    return np.isfinite(det.xyxy).all(axis=1) & np.isfinite(det.scores)


def checked_inference(result: object, detector_name: str) -> tuple[Inference, str]:
    """(the Inference with non-finite boxes dropped, a sentence saying how many were dropped or "").

    Raises DetectorError (one sentence) when ``result`` is not an Inference at all.
    """
    if not isinstance(result, Inference):
        raise DetectorError(f"{detector_name} returned a {type(result).__name__} instead of an Inference; "
                            "its adapter is broken.")
    dropped = []
    changes = {}
    for field in ("detections", "candidates"):
        det = getattr(result, field)
        ok = _finite(det)
        if not ok.all():
            changes[field] = det[ok]
            dropped.append(f"{int((~ok).sum())} {field}")
    if not changes:
        return result, ""
    sentence = (f"{detector_name} returned non-finite boxes or scores (NaN or infinity): dropped "
                f"{' and '.join(dropped)}.")
    return replace(result, **changes), sentence
