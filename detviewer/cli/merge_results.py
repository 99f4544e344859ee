"""``detviewer merge-results a.json b.json ... -o all.json``: join the COCO results files of shards.

Each input is a COCO results list (as ``detect --shard I/N`` writes it, or any engine's). Their
``<name>.images.json`` id -> file mappings, when present, are joined into ``<out>.images.json``; an id
that two mappings give to different files, or an image whose detections come from two shards, is an
error (the shards overlap or were numbered differently), so a merged file never double-counts an image.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detviewer.cli import EXIT_OK
from detviewer.errors import AnnotationError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Join COCO results files (detect --shard outputs) into one.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="RESULTS.json")
    p.add_argument("-o", "--out", type=Path, required=True, help="merged results file")
    return p


def _results(path: Path) -> list:
    from detviewer.io.annotations import read_json

    data = read_json(path)
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list) or not all(isinstance(r, dict) and "image_id" in r for r in data):
        raise AnnotationError(f"{path} is not a COCO results file (a list of {{image_id, category_id, bbox, score}}).")
    return data


def _merge_mappings(paths: list[Path]) -> list[dict] | None:
    from detviewer.io.annotations import read_json
    from detviewer.io.predictions import mapping_path

    found = [(p, mapping_path(p)) for p in paths if mapping_path(p).is_file()]
    if not found:
        return None
    merged: dict = {}
    for results, path in found:
        data = read_json(path)
        entries = data.get("images") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise AnnotationError(f"{path} is not an image mapping ({{\"images\": [{{id, file_name}}, ...]}}).")
        for entry in entries:
            key = (entry.get("id"), entry.get("file_name"), entry.get("frame"))
            old = merged.get(entry.get("id"))
            if old is not None and entry.get("id") is not None and (old.get("file_name"), old.get("frame")) != key[1:]:
                raise AnnotationError(f"image id {entry.get('id')} is {old.get('file_name')} in one shard and "
                                      f"{entry.get('file_name')} in {path}: the shards were not numbered alike.")
            merged[entry.get("id") if entry.get("id") is not None else ("none", len(merged))] = entry
    return sorted(merged.values(), key=lambda e: (e.get("id") is None, e.get("id") or 0))


def run(args) -> int:
    from detviewer.io.predictions import mapping_path

    merged, owner = [], {}
    for n, path in enumerate(args.inputs):
        rows = _results(path)
        for image_id in {r["image_id"] for r in rows if isinstance(r["image_id"], (int, str))}:
            if image_id in owner:
                raise AnnotationError(f"image {image_id!r} has detections in both {args.inputs[owner[image_id]]} "
                                      f"and {path}: the shards overlap.")
            owner[image_id] = n
        merged.extend(rows)
    mapping = _merge_mappings(list(args.inputs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged))
    note = ""
    if mapping is not None:
        mapping_path(args.out).write_text(json.dumps({"images": mapping}, indent=0))
        note = f" and {len(mapping)} image ids to {mapping_path(args.out)}"
    print(f"wrote {len(merged)} detections of {len(owner)} images from {len(args.inputs)} files to {args.out}{note}",
          file=sys.stderr)
    return EXIT_OK
