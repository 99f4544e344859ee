"""A run: one model (with its exact weights) applied to one dataset under one protocol, with its provenance.

The prediction store keeps one row per run; the window's evaluation session holds runs A and B as objects;
every table, chart, CSV and figure names its run(s) by :meth:`RunInfo.label`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["RunInfo"]


@dataclass(frozen=True)
class RunInfo:
    """Provenance of a set of predictions over a dataset.

    model: registry name or export file name; weights_hash: sha256 (hex prefix) of the weights file's
    content, shipped files included ("" for an imported results file); protocol: the evaluation protocol's
    name (e.g. "ultralytics-val", "torchvision-reference", "results-file"); input_size: (H, W) the model was
    run at, or None when it varies per image; dataset: the dataset's path or name; created: Unix time;
    run_id: the prediction store's row id (None when not stored).
    """

    model: str
    weights_hash: str
    protocol: str
    dataset: str
    input_size: tuple[int, int] | None = None
    created: float = field(default_factory=time.time)
    run_id: int | None = None

    def label(self) -> str:
        """A short human name: ``model [weights 1a2b3c4d] · protocol``."""
        weights = f" [weights {self.weights_hash[:8]}]" if self.weights_hash else ""
        return f"{self.model}{weights} · {self.protocol}"
