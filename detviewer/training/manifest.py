"""``models/manifest.json``: one entry per shipped checkpoint (name, architecture, classes, input
size, training command and seed, held-out AP figures, sha256)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from detviewer.detectors.demo import DEMO_CLASSES
from detviewer.detectors.registry import model_info

__all__ = ["sha256_of", "update_manifest"]

_ARCHITECTURES = {
    "demo-frcnn": "torchvision FasterRCNN, 4-stage BN conv backbone + FeaturePyramidNetwork (64 ch, strides 4/8/16 + pool)",
    "demo-ssd": "torchvision SSD, 6-stage BN conv backbone, 4 feature maps (strides 8/16/32/64), DefaultBoxGenerator",
    "demo-yolo": "detviewer YoloV1 (S=7, B=2), BN conv backbone with stride-8/16 passthroughs, YOLOv1 loss",
}


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def update_manifest(checkpoint: str | Path, arch: str, meta: dict, command: str) -> Path:
    """Add or replace ``arch``'s entry in ``manifest.json`` beside ``checkpoint``; returns its path."""
    checkpoint = Path(checkpoint)
    manifest_path = checkpoint.parent / "manifest.json"
    manifest = {"format": "detviewer-demo-manifest", "models": []}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
    train = meta.get("train", {})
    entry = {
        "name": arch,
        "file": checkpoint.name,
        "description": model_info(arch).description,
        "architecture": _ARCHITECTURES[arch],
        "classes": list(DEMO_CLASSES),
        "input_size": meta.get("input_size"),
        "params": meta.get("params"),
        "training_command": command,
        "seed": train.get("seed"),
        "iterations": train.get("iterations"),
        "batch_size": train.get("batch_size"),
        "train_minutes": round(meta.get("train_seconds", 0.0) / 60, 1),
        "train_cpu_minutes": round(meta.get("train_cpu_seconds", 0.0) / 60, 1),
        "held_out": meta.get("test_split"),
        "metrics": {k: round(v, 4) for k, v in meta.get("test", {}).items()},
        "size_bytes": checkpoint.stat().st_size,
        "sha256": sha256_of(checkpoint),
    }
    models = [m for m in manifest.get("models", []) if m.get("name") != arch] + [entry]
    manifest["models"] = sorted(models, key=lambda m: m["name"])
    from detviewer.io.atomic import write_text

    write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest_path
